"""The documentation: generated reference pages that cannot drift from the code, examples that
run, and a README that is a front door (the rest lives in docs/)."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.conftest import ROOT
from twin.docs_reference import performance_markdown, schema_markdown, unit_of
from twin.scenario import Scenario

DOCS = ROOT / "docs"
#: The README's sections before it became a front door; each now lives in docs/.
MOVED_SECTIONS = (
    "Quick start", "The default scenario", "Supply: weather, PV, wind, and the grid connection",
    "Accounting", "Interactive load from a request trace",
    "Compute: token energy, the fleet and its jobs", "Scoring a real site",
    "Trust: a certificate registry, a GTI ledger, per-inference offsets", "Command line",
    "Sizing a plant (planners)", "Green-power rules (policy teams)",
    "Dispatch strategies and the optimizer",
    "Fleets: several sites, work that moves (researchers, policy teams)",
    "Events: outages, failures, backup, demand response (planners, grid operators)",
    "Batteries that age (planners)", "Reports", "The GTI badge",
    "Benchmarking dispatch strategies (researchers)",
    "Sweeps at scale (Dask) and the run catalog", "Layout", "Performance",
    "Data and licences")


def _models_in(annotation) -> list[tuple[type, bool]]:
    """The pydantic models an annotation holds, each with whether it is a list's item."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    if origin in (list, tuple):
        return [(m, True) for m, _ in _models_in(typing.get_args(annotation)[0])]
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(annotation) for x in _models_in(a)]
    return []


def model_fields(model: type[BaseModel], prefix: str = "", seen=()) -> dict:
    """Every field of the pydantic models, by path, walked through ``model_fields``."""
    out = {}
    for name, f in model.model_fields.items():
        if f.exclude:
            continue
        path = f"{prefix}{name}"
        out[path] = f
        for inner, listed in _models_in(f.annotation):
            if inner not in seen:
                out.update(model_fields(inner, f"{path}[]." if listed else f"{path}.",
                                        (*seen, inner)))
    return out


def page_rows(text: str) -> dict[str, tuple[str, str]]:
    """The schema page's rows: path -> (default, unit)."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| `([^`]+)` \| .*? \| `(.*?)` \| .*? \| (.*?) \| .*\|$", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_the_schema_page_lists_every_field_with_its_unit_and_default():
    rows = page_rows(schema_markdown())
    fields = model_fields(Scenario)
    assert set(rows) == set(fields) and len(fields) > 250
    for path, f in fields.items():
        default, unit = rows[path]
        assert unit, path
        if f.is_required():
            assert default == "required", path
        elif isinstance(f.default, BaseModel | dict):
            assert default == "(block defaults)", path
        elif f.default_factory is None:
            dumped = f.default.model_dump(mode="json") if isinstance(f.default, BaseModel) \
                else f.default
            assert json.loads(default) == json.loads(json.dumps(dumped, default=str)), path
    # units by name and by description
    assert rows["sites[].battery.energy_mwh"][1] == "MWh"
    assert rows["sites[].battery.charge_efficiency"][1] == "fraction"
    assert rows["sites[].grid.max_import_mw"][1] == "MW"
    assert unit_of("x", "a price [$/MWh]") == "$/MWh"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize("page", ["python-api.md", "guides/gym.md"])
def test_the_pages_examples_run(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = python_blocks(DOCS / page)
    assert blocks
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, f"{page} example", "exec"), namespace)  # noqa: S102


def test_the_readme_is_a_front_door_and_its_old_sections_live_in_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme) < 12_000
    headings = set()
    for page in DOCS.rglob("*.md"):
        headings.update(re.findall(r"^#{1,3} (.+)$", page.read_text(), flags=re.M))
    missing = [s for s in MOVED_SECTIONS if s not in headings]
    assert missing == []
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):  # the README's links into docs/
        assert (ROOT / link).is_file(), link


def test_the_specification_page_is_the_projects_spec():
    spec = ROOT.parent / "shared" / "spec" / "GTI_ACCOUNTING.md"
    if not spec.is_file():
        pytest.skip("../shared is not beside the project")
    assert (DOCS / "spec.md").read_text() == spec.read_text()


def test_the_performance_page_holds_every_benchmark_record():
    results = ROOT / "benchmarks" / "results"
    page = performance_markdown(results)
    for path in results.glob("*.json"):
        assert f"## {path.stem}" in page
    assert "three_years_median_s" in page  # a figure of ageing.json


def test_the_site_builds_strict_and_reads_in_a_browser(tmp_path):
    import os
    import subprocess
    import sys

    from tests.twin.test_report import ARGS, CHROMIUM

    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                        str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stderr
    import functools
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    # served as a reader would have it (the search index does not load from file://)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(tmp_path / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/reference/scenario.html")
        assert page.locator("h1").first.inner_text().rstrip("¶") == "Scenario schema"
        cells = page.locator("td code").all_inner_texts()
        assert "sites[].battery.energy_mwh" in cells
        page.goto(f"{base}/guides/gym.html")
        nav = page.locator("nav.md-nav--primary").first.inner_text()
        assert "Gymnasium environment" in nav and "Scenario schema" in nav
        index = page.request.get(f"{base}/search/search_index.json").json()
        assert any(d["location"].startswith("reference/scenario.html") for d in index["docs"])
        browser.close()
    server.shutdown()
    assert errors == []
