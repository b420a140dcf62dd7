"""A corpus of bad input (tests/data/bad/cases.csv): every case a one-line refusal.

Each case runs the command line in process (typer's runner; the same app as ``aidc-twin``)
and must exit with its code, print exactly one line on stderr that starts ``error:`` and holds
the expected text, print no traceback, and write nothing: the fresh folder stays empty and the
corpus folder unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shlex

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import ROOT, SCENARIOS
from twin.cli import app
from twin.overrides import with_overrides

BAD = ROOT / "tests" / "data" / "bad"
CASES = list(csv.DictReader((BAD / "cases.csv").open()))


def _folder_state() -> dict[str, str]:
    return {str(p.relative_to(BAD)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(BAD.rglob("*")) if p.is_file()}


def _value(v):
    """A corpus value: ``inf`` and ``nan`` as numbers, ``BAD/x`` a file of the corpus."""
    if v in ("inf", "-inf", "nan"):
        return float(v)
    if isinstance(v, str) and v.startswith("BAD/"):
        return str(BAD / v[4:])
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    return v


def _scenario(tmp_path, overrides: dict):
    raw = yaml.safe_load((SCENARIOS / "western_hub.yaml").read_text())
    raw["horizon_days"] = 1
    raw = with_overrides(raw, {k: _value(v) for k, v in overrides.items()})
    path = tmp_path / "scenario" / "case.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_corpus_holds_a_hundred_cases_with_distinct_names():
    assert len(CASES) >= 100
    assert len({c["case"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "fresh"
    out.mkdir()
    scn = _scenario(tmp_path, json.loads(case["set"]) if case["set"] else {})
    command = case["command"].format(scn=scn, bad=BAD, tmp=out, root=ROOT)
    before = _folder_state()
    r = CliRunner().invoke(app, shlex.split(command))
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == int(case["code"]), (command, r.stderr, r.exception)
    assert "Traceback" not in r.stderr + r.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert case["expected"] in lines[0], lines[0]
    assert list(out.iterdir()) == [] or [p.name for p in out.iterdir()] == ["r.duckdb"], \
        list(out.iterdir())
    assert _folder_state() == before
    assert not (tmp_path / "results").exists()
