"""Sizing: hand-derivable optima, the shapes of the default scenario's cost curve, and
infeasible targets reported with the binding limit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.conftest import SCENARIOS
from tests.test_optimizer import four_hours
from twin.optimize.sizing import Sizer, SizingCosts, TechCost, crf
from twin.scenario import load
from twin.size_run import parse_frontier, size

COSTS = SizingCosts(pv=TechCost(100.0), wind=TechCost(100.0, 0.0), bess_power=TechCost(50.0),
                    bess_energy=TechCost(20.0))


def flat_load(**over):
    """4 hourly slices of 1 MWh IT, free grid energy, exports allowed, no battery yet."""
    return dataclasses.replace(four_hours([0.0] * 4), battery=None, max_export=10.0, **over)


def test_capital_recovery_factor():
    # 10% over 10 years: 0.1 * 1.1**10 / (1.1**10 - 1) = 0.162745...
    assert crf(0.10, 10) == pytest.approx(0.1627453949, rel=1e-9)
    assert crf(0.0, 20) == pytest.approx(0.05)


@pytest.mark.parametrize("method", ["slice", "aggregate"])
def test_one_technology_with_a_flat_capacity_factor(method):
    # PV delivers 0.25 MWh per MW every hour against 1 MWh of load: a target x needs exactly
    # x / 0.25 MW under either method, at 100 $/MW-year
    s = Sizer(flat_load(), np.full(4, 0.25), np.zeros(4), COSTS, method, 0.5)
    for target in (0.5, 0.8):
        r = s.solve(target)
        assert r.status == "optimal"
        assert r.pv_mw == pytest.approx(target / 0.25, abs=1e-6)
        assert r.annual_cost == pytest.approx(100.0 * target / 0.25, abs=1e-6)
        assert r.bess_mwh == pytest.approx(0.0, abs=1e-6)


def test_day_and_night_separate_the_methods():
    # PV delivers 1 MWh per MW by day and nothing by night. Aggregate: P * 2 >= x * 4, so
    # x = 0.75 needs P = 1.5 and no battery. Time-slice: by day IT is green up to 1 MWh, so
    # 0.5 needs P = 1; above it the night needs stored green.
    day = np.array([1.0, 0.0, 1.0, 0.0])
    agg = Sizer(flat_load(), day, np.zeros(4), COSTS, "aggregate", 0.75).solve(0.75)
    assert agg.pv_mw == pytest.approx(1.5, abs=1e-6) and agg.bess_mwh == pytest.approx(0, abs=1e-6)
    sl = Sizer(flat_load(), day, np.zeros(4), COSTS, "slice", 0.5)
    assert sl.solve(0.5).pv_mw == pytest.approx(1.0, abs=1e-6)
    r = sl.solve(0.75)
    # each night needs 0.5 MWh of green from a store charged at 95% and discharged at 95%:
    # 0.5 / 0.9025 MWh charged from the day's surplus, so P = 1 + 0.5 / 0.9025
    assert r.pv_mw == pytest.approx(1 + 0.5 / 0.9025, abs=1e-6)
    assert r.bess_mw == pytest.approx(0.5 / 0.9025, abs=1e-6)
    assert r.annual_cost > agg.annual_cost


def test_a_capacity_limit_makes_a_target_infeasible_and_is_named():
    limited = dataclasses.replace(COSTS, pv=TechCost(100.0, 2.0))
    r = Sizer(flat_load(), np.full(4, 0.25), np.zeros(4), limited, "slice", 0.8).solve(0.8)
    assert r.status.startswith("infeasible: pv at its max")
    assert "highest reachable GTI is 0.5000" in r.status


@pytest.fixture(scope="module")
def week_frontiers():
    scn = load(SCENARIOS / "western_hub.yaml")
    targets = parse_frontier("0.6:1.0:0.1")
    return {m: size(scn, targets, m, horizon_days=7, recheck_strategy=None)
            for m in ("slice", "aggregate")}


def test_default_scenario_cost_curve_shapes(week_frontiers):
    sl, ag = (week_frontiers[m]["frontier"] for m in ("slice", "aggregate"))
    assert (sl["status"] == "optimal").all() and (ag["status"] == "optimal").all()
    # cost never falls as the target rises
    assert (np.diff(sl["annual_cost"]) >= -1e-6).all()
    assert (np.diff(ag["annual_cost"]) >= -1e-6).all()
    # the time-slice plant is never cheaper than the aggregate plant for the same target
    assert (sl["annual_cost"].to_numpy() >= ag["annual_cost"].to_numpy() - 1e-6).all()
    # batteries enter only above some target: none at 0.6, some at 1.0
    enters = week_frontiers["slice"]["battery_enters_at"]
    assert enters is not None and 0.6 < enters <= 1.0
    assert sl["bess_mwh"].iloc[0] < 1e-3 < sl["bess_mwh"].iloc[-1]
    assert week_frontiers["slice"]["marginal_cost_last_percent"] > 0


def test_frontier_syntax_is_checked():
    assert parse_frontier("0.5:0.7:0.1") == [0.5, 0.6, 0.7]
    from twin.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"--frontier = '0.5-1.0'"):
        parse_frontier("0.5-1.0")


def test_a_solve_that_hits_the_time_limit_says_so_instead_of_failing():
    s = Sizer(flat_load(), np.full(4, 0.25), np.zeros(4), COSTS, "slice", 0.5, time_limit_s=0.0)
    r = s.solve(0.5)
    assert r.status.startswith("not solved: HiGHS returned Time limit reached (0.0 s)")
    assert np.isnan(r.annual_cost)
