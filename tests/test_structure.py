"""The house rules of CONVENTIONS.md that a machine can check: files under 600 lines, functions
under 100 in the twin and the models (gti_core's storage recursion, 121 lines, is the one longer
function left), and no ability discovered by ``hasattr`` outside the command line."""

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
