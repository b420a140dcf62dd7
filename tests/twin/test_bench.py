"""The dispatch benchmark: every strategy on every scenario, ratios to no_control, and a table
that is the same to the last digit when the suite runs again."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.twin.test_cli import aidc
from twin.bench import TABLE_COLUMNS, TIMING_COLUMNS, load_suite
from twin.overrides import with_overrides
from twin.scenario import ScenarioError, load_raw

SMOKE = ROOT / "tests" / "data" / "bench_smoke.yaml"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    for k in (1, 2):
        r = aidc("bench", "--suite", SMOKE, "--out", tmp / f"run{k}")
        assert r.returncode == 0, r.stderr
    return tmp / "run1", tmp / "run2"


def test_every_strategy_runs_on_every_scenario_against_no_control(two_runs):
    table = pd.read_csv(two_runs[0] / "table.csv")
    assert list(table.columns) == TABLE_COLUMNS
    # no_control joins the suite's strategies as the baseline of the ratios
    assert table[["scenario", "strategy"]].values.tolist() == [
        [sc, st] for sc in ("default", "tight_export") for st in ("no_control", "greedy", "mpc")]
    assert (table["status"] == "ok").all()
    base = table[table["strategy"] == "no_control"]
    assert (base["cost_usd_vs_no_control"] == 1.0).all()
    assert (base["gti_slice_gain_points"] == 0.0).all()
    for _, r in table.iterrows():
        b = base[base["scenario"] == r["scenario"]].iloc[0]
        assert r["cost_usd_vs_no_control"] == pytest.approx(r["cost_usd"] / b["cost_usd"])
        assert r["gti_slice_gain_points"] == pytest.approx(100 * (r["gti_slice"]
                                                                  - b["gti_slice"]))
    # behind 10 MW of export the surplus PV is curtailed unless a strategy stores it
    curt = table.set_index(["scenario", "strategy"])["curtailed_mwh"]
    assert curt["tight_export", "no_control"] > 100.0
    assert curt["tight_export", "greedy"] < curt["tight_export", "no_control"]
    # and a strategy that uses the battery imports less than one that leaves it idle
    imp = table.set_index(["scenario", "strategy"])["grid_import_mwh"]
    assert imp["default", "greedy"] < imp["default", "no_control"]
    md = (two_runs[0] / "table.md").read_text()
    assert "## Leaderboard" in md and "## tight_export" in md and "cpus" not in md
    assert "<script" in (two_runs[0] / "leaderboard.html").read_text()


def test_a_second_run_of_the_suite_gives_the_same_table_to_the_last_digit(two_runs):
    a, b = (pd.read_csv(d / "table.csv").drop(columns=TIMING_COLUMNS) for d in two_runs)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_dotted_overrides_reach_the_field_and_name_a_bad_path():
    raw = load_raw(ROOT / "scenarios" / "western_hub.yaml")
    out = with_overrides(raw, {"sites.0.battery.energy_mwh": 400, "horizon_days": 3})
    assert out["sites"][0]["battery"]["energy_mwh"] == 400 and out["horizon_days"] == 3
    assert raw["sites"][0]["battery"]["energy_mwh"] == 800  # the original is untouched
    with pytest.raises(ScenarioError, match=r"sites\.2\.pv\.dc_mw: sites is a list of 1"):
        with_overrides(raw, {"sites.2.pv.dc_mw": 1})


def test_a_suite_with_an_unknown_strategy_or_field_exits_2(tmp_path):
    with pytest.raises(ScenarioError, match="'fastest' is not a strategy"):
        load_suite(str(SMOKE), ["fastest"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("base: ../../scenarios", f"base: {ROOT}/scenarios")
                   .replace("sites.0.grid.max_export_mw", "sites.0.grid.max_export_kw"))
    r = aidc("bench", "--suite", bad, "--out", tmp_path / "out")
    assert r.returncode == 2
    assert "scenarios[1] (tight_export)" in r.stderr and "max_export_kw" in r.stderr
    assert not (tmp_path / "out").exists()
