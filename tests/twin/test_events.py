"""Events: an outage mid-slice followed by hand (shed, then gensets after their start delay),
seeded failures, the shipped outage and demand-response scenarios, and bad event definitions
refused at the boundary."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml

from gti_core.meters import balance_gap_mwh, check_meters
from models.backup import GensetParams
from models.events import Failures, Outage, SiteEvents, unit_downtimes
from tests.conftest import SCENARIOS
from tests.tolerances import HAND_ATOL
from twin.dispatch import make_strategy
from twin.engine import simulate_site

from .engine.test_engine import tiny_site

#: IT energy of the toy site's 2 idle GPUs over an hour: 7,200 GPU-s x 75 W x 1.35 [MWh].
IDLE_IT_MWH = 7200 * 75 * 1.35 / 3.6e9
FACILITY_MWH = IDLE_IT_MWH * 1.15  # cooling 0.10 and aux 0.05 of IT


def _outage_site(**over):
    # three 60-minute slices, the grid down from 1,800 s to 5,400 s
    return tiny_site(n=3, events=SiteEvents(outages=(Outage(1800.0, 5400.0),)), **over)


def test_outage_mid_slice_sheds_idle_servers_by_hand():
    # No battery, no backup: in each half slice without the grid the idle servers are powered
    # off (the default shedding order ends with interactive work), so half of slices 0 and 1
    # is unserved and the other half imported.
    run = simulate_site(_outage_site(), make_strategy("greedy"))
    m = run.meters
    assert m["grid_import_mwh"].tolist() == pytest.approx(
        [FACILITY_MWH / 2, FACILITY_MWH / 2, FACILITY_MWH], abs=HAND_ATOL)
    assert m["unserved_mwh"].tolist() == pytest.approx(
        [FACILITY_MWH / 2, FACILITY_MWH / 2, 0.0], abs=HAND_ATOL)
    assert m["backup_mwh"].tolist() == [0.0, 0.0, 0.0]
    assert [e for e in run.events] == [("grid outage start", 1800.0), ("grid outage end", 5400.0)]
    check_meters(m)


def test_gensets_take_the_load_after_their_start_delay_by_hand():
    # One 1 MW set starts 10 s into the outage (no UPS): the first 10 s are shed, the rest of
    # the outage runs on the set; it burns 250 l/MWh.
    sets = GensetParams(units=1, unit_mw=1.0, min_load_fraction=0.0, start_delay_s=10.0,
                        fuel_l_per_mwh=250.0, emission_kg_per_mwh=700.0, tank_l=1000.0)
    run = simulate_site(_outage_site(backup=sets), make_strategy("greedy"))
    m = run.meters
    per_s = FACILITY_MWH / 3600.0
    assert m["unserved_mwh"].tolist() == pytest.approx([10 * per_s, 0.0, 0.0], abs=HAND_ATOL)
    assert m["backup_mwh"].tolist() == pytest.approx([1790 * per_s, 1800 * per_s, 0.0],
                                                     abs=HAND_ATOL)
    assert m["grid_import_mwh"].tolist() == pytest.approx(
        [1800 * per_s, 1800 * per_s, FACILITY_MWH], abs=HAND_ATOL)
    assert ("gensets online", 1810.0) in run.events and ("gensets stop", 5400.0) in run.events
    r = run.resilience
    assert r["genset_mwh"] == pytest.approx(3590 * per_s, abs=HAND_ATOL)
    assert r["fuel_l"] == pytest.approx(250.0 * 3590 * per_s, rel=1e-9)
    assert np.abs(balance_gap_mwh(m)).max() < 1e-15
    # the backup is grey: under it_first the slices' green is 0 (no renewables, alpha aside)


def test_a_seed_gives_the_same_failures_and_another_seed_moves_them():
    f = Failures("grid", 1, mtbf_s=20 * 3600.0, mttr_s=3 * 3600.0, distribution="weibull",
                 weibull_shape=1.5)
    a = unit_downtimes(4, 0, 0, f, 14 * 86400.0)
    assert a == unit_downtimes(4, 0, 0, f, 14 * 86400.0) and len(a) >= 5
    assert a != unit_downtimes(5, 0, 0, f, 14 * 86400.0)
    # the failures as a run sees them: the grid down in each drawn window, to the last digit
    runs = [simulate_site(tiny_site(n=24 * 14, events=SiteEvents(failures=(f,), seed=seed)),
                          make_strategy("greedy")) for seed in (4, 4, 5)]
    assert runs[0].meters.equals(runs[1].meters) and runs[0].events == runs[1].events
    assert runs[0].events != runs[2].events
    down = [t for name, t in runs[0].events if name == "grid feed 0 failed"]
    assert down == [start for start, _ in a]


@pytest.fixture(scope="module")
def outage_run():
    from twin.run import simulate
    from twin.scenario import load
    return simulate(load(SCENARIOS / "grid_outage.yaml"))


def test_grid_outage_scenario_islands_for_six_hours(outage_run, tmp_path):
    from twin.report import run_files
    from twin.results import write_run
    from twin.verify import verify_run
    run = outage_run
    m = run.meters.set_index("time")
    window = m.loc["2023-07-11 02:00":"2023-07-11 07:45"]
    assert len(window) == 24
    assert (window["grid_import_mwh"] == 0.0).all() and (window["grid_export_mwh"] == 0.0).all()
    # the EMS held charge for it in the day before: the battery carries the whole night (the
    # gensets come online and stand by); nothing is shed
    soc = pd.Series(run.runs[0].soc_mwh, index=m.index)
    assert soc.loc["2023-07-11 01:45"] >= window["bess_discharge_mwh"].sum() / 0.95
    assert window["bess_discharge_mwh"].sum() == pytest.approx(window["facility_mwh"].sum()
                                                               - window["wind_mwh"].sum())
    assert m["unserved_mwh"].sum() == 0.0 and m["backup_mwh"].sum() == 0.0
    events = run.tables()["events"].set_index("event")["time_s"]
    assert events["grid outage start"] == 10 * 86400 + 2 * 3600
    assert events["grid outage end"] == 10 * 86400 + 8 * 3600
    assert events["gensets online"] == events["grid outage start"] + 10.0
    res = run.summary["sites"]["campus"]["resilience"]
    assert res["grid_down_h"] == pytest.approx(6.0)
    assert res["gti_slice_grid_up"] > 0.0 and res["fuel_l"] == 0.0
    assert run.summary["kpis"]["deadline_misses"] == 0
    out = write_run(tmp_path / "run", run.summary, run.meters, files=run_files(run.scenario, run),
                    **run.tables())
    assert verify_run(out) == []
    page = (out / "report.html").read_text()
    section = page[page.index('<section id="events">'):page.index('<section id="dispatch">')]
    assert "grid outage start" in section and "gensets online" in section
    assert f"{res['gti_slice_grid_up']:.4f}" in section


def test_demand_response_lowers_import_against_the_same_run_without_the_call():
    from twin.run import simulate
    from twin.scenario import from_dict, load_raw
    raw = load_raw(SCENARIOS / "demand_response.yaml")
    with_call = simulate(from_dict(raw, SCENARIOS))
    quiet = copy_without_events(raw)
    without = simulate(from_dict(quiet, SCENARIOS))
    window = slice("2023-01-19 11:00", "2023-01-19 14:45")
    imp = [r.meters.set_index("time").loc[window, "grid_import_mwh"].sum()
           for r in (with_call, without)]
    assert imp[0] < imp[1] - 20.0 * 4 * 0.9  # at least 90% of 20 MW over 4 h less
    (call,) = with_call.summary["sites"]["campus"]["resilience"]["demand_response"]
    assert call["asked_mw"] == 20.0 and call["delivered_share"] == pytest.approx(1.0)
    assert call["delivered_mw"] >= call["asked_mw"]
    assert call["payment_usd"] == pytest.approx(20.0 * 4 * 400.0)


def copy_without_events(raw: dict) -> dict:
    out = yaml.safe_load(yaml.safe_dump(raw))
    out["sites"][0].pop("events")
    return out


@pytest.mark.parametrize("path, value, message", [
    (("outages", 0, "end"), "2023-07-11T01:00:00Z",
     "sites[0].events.outages[0]: end = 2023-07-11 01:00:00+00:00: not after its start"),
    (("outages", 0), {"start": "2024-07-11T01:00:00Z", "end": "2024-07-11T03:00:00Z"},
     "sites[0].events.outages[0]: 2024-07-11 01:00:00+00:00 .. 2024-07-11 03:00:00+00:00 is "
     "not within the horizon 2023-07-01 00:00:00+00:00 .. 2023-07-31 00:00:00+00:00"),
    (("failures",), [{"component": "grid", "mtbf_h": -3, "mttr_h": 2}],
     "sites[0].events.failures[0].mtbf_h = -3: Input should be greater than 0"),
])
def test_bad_event_definitions_exit_2_with_one_line_naming_the_field(tmp_path, path, value,
                                                                       message):
    from tests.twin.test_cli import aidc
    raw = yaml.safe_load((SCENARIOS / "grid_outage.yaml").read_text())
    node = raw["sites"][0]["events"]
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    scn = tmp_path / "bad.yaml"
    scn.write_text(yaml.safe_dump(raw))
    r = aidc("run", scn, "--out", tmp_path / "out")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_events_in_a_fleet_are_refused_for_now():
    from twin.scenario import ScenarioError, from_dict, load_raw
    raw = load_raw(SCENARIOS / "east_west.yaml")
    raw["sites"][0]["events"] = {"outages": [{"start": "2023-05-02T00:00:00Z",
                                              "end": "2023-05-02T02:00:00Z"}]}
    with pytest.raises(ScenarioError, match=r"sites\[0\].events: events are not simulated"):
        from_dict(raw, SCENARIOS)


def test_lp_plans_an_outage_with_battery_and_gensets_by_hand():
    # four_hours: 1 MWh of load each hour, a 1 MW / 2 MWh battery at 90% each way, empty.
    # The grid is down in hours 2 and 3; a 0.5 MW genset may run then, fuel for 0.5 MWh, at
    # 300 $/MWh. Cheapest: charge the full 1 MW in hours 0 and 1 (1.8 MWh stored) and
    # discharge 0.81 + 0.81 in hours 2 and 3... the power limit (1 MW) and the content
    # (1.62 MWh deliverable) leave 0.38 MWh, which the genset covers (within its 0.5 MWh of
    # fuel); nothing is shed.
    from tests.twin.optimize.test_optimizer import four_hours, solve
    d = dataclasses.replace(four_hours([20, 20, 20, 20]),
                            max_import_mwh=np.array([10.0, 10.0, 0.0, 0.0]),
                            backup_mwh=np.array([0.0, 0.0, 0.5, 0.5]), backup_fuel_mwh=0.5,
                            backup_usd_per_mwh=300.0)
    v = solve(d, "cost")
    np.testing.assert_allclose(v.import_mwh[2:], [0.0, 0.0], atol=HAND_ATOL)
    np.testing.assert_allclose(v.charge_mwh[:2], [1.0, 1.0], atol=HAND_ATOL)
    assert v.discharge_mwh[2:].sum() == pytest.approx(1.62, abs=HAND_ATOL)
    assert v.backup_mwh.sum() == pytest.approx(0.38, abs=HAND_ATOL)
    assert v.unserved_mwh.sum() == pytest.approx(0.0, abs=HAND_ATOL)


def test_lp_demand_response_baseline_is_the_plans_own_import():
    # A call over hour 3 (slice 3), baseline = hour 2's import (the "days before" fall outside
    # a 4-hour horizon, so the hour before it); cut asked 0.5 MWh. With a 20 $/MWh price and a
    # 1000 $/MWh shortfall, the plan imports at most baseline - 0.5 in hour 3: the battery,
    # charged in hours 0-1, gives it.
    from tests.twin.optimize.test_optimizer import four_hours, solve
    from twin.optimize.data import DemandResponseData
    call = DemandResponseData(np.array([3]), np.array([1.0]), (np.array([2]),), 0.5, 1000.0)
    v = solve(dataclasses.replace(four_hours([20, 20, 20, 20]), dr_calls=(call,)), "cost")
    assert v.import_mwh[3] <= v.import_mwh[2] - 0.5 + HAND_ATOL


def _two_island_site():
    from models.battery import BatteryParams
    bat = BatteryParams(power_mw=1.0, energy_mwh=3.0, charge_efficiency=1.0,
                        discharge_efficiency=1.0, min_soc_mwh=0.5, max_soc_mwh=3.0,
                        self_discharge_per_slice=0.0)
    sets = GensetParams(units=1, unit_mw=0.5, min_load_fraction=0.0, start_delay_s=0.0,
                        fuel_l_per_mwh=250.0, emission_kg_per_mwh=700.0, tank_l=10000.0)
    return tiny_site(n=8, battery=bat, backup=sets)


def test_island_simulation_by_hand():
    # 1 MWh of load that cannot wait each hour, no renewables, 2.5 MWh stored (2 above the
    # floor, 1 MW): the battery carries hours 0 and 1; from hour 2 the 0.5 MW set leaves 0.5
    # MWh short, so the site survives 2 h of a 4-hour outage and sheds 1 MWh.
    from twin.resilience import IslandState, required_backup_mw, simulate_outages
    inp = _two_island_site()
    state = IslandState(np.ones(8), np.zeros(8), np.full(8, 2.5), np.full(8, 0.4))
    out = simulate_outages(inp, state, np.array([0]), 4.0).iloc[0]
    assert out["survived_h"] == 2.0 and not out["survived"]
    assert out["shed_mwh"] == pytest.approx(1.0) and out["backup_mwh"] == pytest.approx(1.0)
    assert out["fuel_l"] == pytest.approx(250.0)
    # what was served: 2 MWh from a store 40% green, 1 MWh of diesel: 0.8 / 3 green
    assert out["green_share_served"] == pytest.approx(0.8 / 3.0)
    # a 1 MW set carries hours 2 and 3: the least rating with which no start sheds
    ok = simulate_outages(inp, state, np.array([0]), 4.0, backup_mw=1.0, fuel_mwh=4.0)
    assert bool(ok["survived"].iloc[0])
    mw, _ = required_backup_mw(inp, state, 4.0)
    assert 1.0 <= mw <= 1.01


def test_resilience_command_writes_its_table_and_summary(tmp_path):
    from tests.twin.test_cli import aidc
    r = aidc("resilience", SCENARIOS / "grid_outage.yaml", "--outage-hours", "4,8",
             "--sample", "40", "--seed", "3", "--out", tmp_path / "res")
    assert r.returncode == 0, r.stderr
    table = pd.read_parquet(tmp_path / "res" / "resilience.parquet")
    assert len(table) == 80 and set(table["outage_h"]) == {4.0, 8.0}
    assert (table["survived_h"] <= table["outage_h"]).all()
    assert ((table["survived_h"] == table["outage_h"]) == table["survived"]).all()
    summary = yaml.safe_load((tmp_path / "res" / "summary.json").read_text())
    four = summary["outages"][0]
    assert four["survived_share"] == pytest.approx(table[table["outage_h"] == 4.0]["survived"]
                                                   .mean())
    assert (tmp_path / "res" / "report.html").stat().st_size > 100_000  # plotly inline
    bad = aidc("resilience", SCENARIOS / "grid_outage.yaml", "--outage-hours", "4,-2",
               "--out", tmp_path / "bad")
    assert bad.returncode == 2 and "--outage-hours = '4,-2'" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_a_site_sized_to_survive_8_hours_sheds_nothing_in_an_outage_at_its_worst_hour(
        tmp_path):
    from tests.twin.test_cli import aidc
    from twin.run import simulate
    from twin.scenario import from_dict
    r = aidc("size", SCENARIOS / "grid_outage.yaml", "--target", "0.8", "--horizon-days", "14",
             "--survive-hours", "8", "--out", tmp_path / "size")
    assert r.returncode == 0, r.stderr
    summary = yaml.safe_load((tmp_path / "size" / "summary.json").read_text())
    sv = summary["survive"]
    assert sv["units"] * sv["unit_mw"] >= sv["required_mw"] > 0.0
    raw = yaml.safe_load((tmp_path / "size" / "sized_scenario.yaml").read_text())
    start = pd.Timestamp(sv["worst_start"])
    raw["sites"][0]["events"]["outages"] = [
        {"start": str(start), "end": str(start + pd.Timedelta(hours=8))}]
    run = simulate(from_dict(raw, SCENARIOS))
    assert run.summary["sites"]["campus"]["resilience"]["grid_down_h"] == pytest.approx(8.0)
    assert run.summary["kpis"]["unserved_mwh"] == 0.0
    assert run.summary["kpis"]["backup_mwh"] > 0.0
