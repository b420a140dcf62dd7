"""Reference pages generated from the code at every build (mkdocs-gen-files): the scenario
schema, the command line, the run folder's files and columns, and the benchmark records.
The generators live in twin/docs_reference.py, where the test suite checks them."""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.docs_reference import (  # noqa: E402
    cli_markdown,
    performance_markdown,
    run_folder_markdown,
    schema_markdown,
)

PAGES = {
    "reference/scenario.md": schema_markdown,
    "reference/cli.md": cli_markdown,
    "reference/run-folder.md": run_folder_markdown,
    "reference/benchmarks.md": lambda: performance_markdown(ROOT / "benchmarks" / "results"),
}

for name, make in PAGES.items():
    with mkdocs_gen_files.open(name, "w") as f:
        f.write(make())
