"""The house rules of CONVENTIONS.md that a machine can check: files under 600 lines, functions
under 100 in the twin and the models, and no ability discovered by ``hasattr`` outside the
command line."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PACKAGES = ("models", "gti_core", "twin")
MAX_FUNCTION_LINES = 100
MAX_FILE_LINES = 600


def _sources():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_and_files_stay_short(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_FILE_LINES, f"{path.name} has more than 600 lines"
    if path.relative_to(ROOT).parts[0] == "gti_core":
        return
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            assert lines <= MAX_FUNCTION_LINES, f"{path.name}:{node.lineno} {node.name}() " \
                                                f"is {lines} lines long"


def test_no_hasattr_outside_the_command_line():
    found = []
    for path in _sources():
        if path.relative_to(ROOT).as_posix() == "twin/cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "hasattr":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_scoring_a_meter_table_imports_no_supply_or_grid_model():
    # score and verify read meters and a scenario's accounting: importing pvlib (about 1.2 s)
    # or pandapower (about 3 s) for them was time spent on nothing. A fresh interpreter, since
    # this one has imported everything already.
    import subprocess
    import sys

    code = ("import sys, twin.cli, twin.scenario, twin.site_score, twin.verify; "
            "print(sorted(m for m in ('pvlib', 'pandapower', 'windpowerlib', 'pyomo') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
