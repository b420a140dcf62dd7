"""The SimPy engine on a site small enough to follow by hand, and the invariants on a real week."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from gti_core.meters import MeterError, balance_gap_mwh, check_meters
from models.datacenter import GPUType
from models.tokens import TokenEnergy
from models.workloads import BatchJob
from tests.conftest import meter_table
from twin.dispatch import make_strategy
from twin.engine import SimulationError, simulate_site
from twin.inputs import SiteInputs

# 1 output token = 1 J of GPU energy, no prompt tokens: tokens read as joules.
JOULE_TOKENS = TokenEnergy("toy", "toy-gpu", 1, 1, 0.0, 1.0, "test")
TOY_GPU = GPUType(idle_w=75.0, serving_w=600.0, host_overhead_fraction=0.35, source="test")


def tiny_site(n=4, jobs=(), **over) -> SiteInputs:
    """2 GPUs, 60-minute slices (7,200 GPU-s = 4.32e6 J of batch work per slice), no interactive
    load, no renewables, no battery, a 1 MW grid connection."""
    zeros = np.zeros(n)
    base = dict(
        name="toy", index=pd.date_range("2023-01-01", periods=n, freq="60min", tz="UTC"),
        slice_minutes=60, weather_source="none", utc_offset_h=0.0, pv_ac_mw=0.0,
        wind_nameplate_mw=0.0, pv_avail_mw=zeros, wind_avail_mw=zeros, temp_air_c=zeros,
        cooling_fraction=np.full(n, 0.1), aux_fraction=0.05, price_usd_per_mwh=np.full(n, 50.0),
        export_price_usd_per_mwh=0.0, grid_share=np.full(n, 0.5), grid_carbon_kg_per_mwh=zeros,
        max_import_mw=1.0, max_export_mw=0.0, gpu=TOY_GPU, gpus=2,
        interactive_energy=JOULE_TOKENS, interactive_tokens_in=zeros, interactive_tokens_out=zeros,
        batch_energy=JOULE_TOKENS, batch_jobs=tuple(jobs), battery=None, initial_soc_mwh=0.0,
        initial_green_fraction=0.0)
    base.update(over)
    return SiteInputs(**base)


def test_event_log_of_two_jobs_one_deadline_missed():
    # A: 6.48e6 J (1.5 slices of both GPUs), released at 0, due at 7,200 s.
    # B: 4.32e6 J (1 slice), released at 3,600 s, due at 7,200 s.
    # Slice 0: A takes all 4.32e6 J. Slice 1 (EDF, tie by id): A needs 2.16e6 J, half the
    # slice, so it finishes at 3,600 + 1,800 = 5,400 s and B starts then, getting 2.16e6 J.
    # At 7,200 s B still needs 2.16e6 J: deadline missed; it finishes half way, at 9,000 s.
    jobs = [BatchJob("A", 0, 2, 0.0, 6.48e6), BatchJob("B", 1, 2, 0.0, 4.32e6)]
    run = simulate_site(tiny_site(jobs=jobs), make_strategy("greedy"))
    assert run.events == [
        ("A released", 0.0), ("A start", 0.0), ("B released", 3600.0), ("A done", 5400.0),
        ("B start", 5400.0), ("B deadline missed", 7200.0), ("B done", 9000.0)]
    tasks = run.tasks.set_index("task_id")
    assert bool(tasks.loc["A", "deadline_met"]) and not bool(tasks.loc["B", "deadline_met"])
    assert tasks.loc["B", "tokens_out_late"] == pytest.approx(2.16e6)
    # IT energy per slice: busy GPU energy + idle GPU-seconds at 75 W, times 1.35 host overhead.
    # slice 2: B uses 2.16e6 J = 3,600 GPU-s busy, 3,600 GPU-s idle -> (2.16e6 + 2.7e5)*1.35/3.6e9.
    assert run.meters["it_mwh"].iloc[2] == pytest.approx((2.16e6 + 3600 * 75) * 1.35 / 3.6e9)
    # slice 3: all idle: 7,200 * 75 * 1.35 / 3.6e9
    assert run.meters["it_mwh"].iloc[3] == pytest.approx(7200 * 75 * 1.35 / 3.6e9)
    assert np.abs(balance_gap_mwh(run.meters)).max() < 1e-15


def test_import_above_the_poi_limit_is_an_error_naming_the_limit():
    # 2 GPUs fully busy draw 2*600*1.35 = 1,620 W... scale the fleet up to exceed 1 MW.
    jobs = [BatchJob("big", 0, 4, 0.0, 1e12)]
    site = tiny_site(jobs=jobs, gpus=2000)
    with pytest.raises(SimulationError, match=r"above grid.max_import_mw = 1"):
        simulate_site(site, make_strategy("greedy"))


def test_greedy_charges_only_from_surplus_and_discharges_on_deficit():
    from models.battery import BatteryParams
    bat = BatteryParams(power_mw=1.0, energy_mwh=2.0, charge_efficiency=1.0,
                        discharge_efficiency=1.0, min_soc_mwh=0.0, max_soc_mwh=2.0,
                        self_discharge_per_slice=0.0)
    pv = np.array([0.5, 0.0, 0.0, 0.0])  # MW for 1 h
    run = simulate_site(tiny_site(pv_avail_mw=pv, battery=bat), make_strategy("greedy"))
    m = run.meters
    idle_it = 7200 * 75 * 1.35 / 3.6e9  # 2.7e-4 MWh, facility = 1.15 * that
    facility = idle_it * 1.15
    assert m["bess_charge_mwh"].iloc[0] == pytest.approx(0.5 - facility)
    assert m["grid_import_mwh"].iloc[0] == 0.0
    assert m["bess_discharge_mwh"].iloc[1] == pytest.approx(facility)
    assert m["grid_import_mwh"].iloc[1] == pytest.approx(0.0, abs=1e-15)


def test_check_meters_names_column_and_first_bad_row():
    good = meter_table([{"pv_mwh": 2, "it_mwh": 2}] * 3)
    check_meters(good)
    bad = good.copy()
    bad.loc[1, "pv_mwh"] = 2.5
    with pytest.raises(MeterError, match=r"energy balance does not close by 0.5 MWh at row 1"):
        check_meters(bad)
    neg = good.copy()
    neg.loc[2, "grid_export_mwh"] = -1.0
    with pytest.raises(MeterError, match=r"grid_export_mwh = -1.0: must be >= 0 at row 2"):
        check_meters(neg)
    with pytest.raises(MeterError, match=r"column 'aux_mwh' is missing"):
        check_meters(good.drop(columns="aux_mwh"))


def test_week_of_the_default_scenario_holds_every_invariant(week_run):
    r = week_run
    m = r.meters
    assert len(m) == 7 * 96
    assert np.abs(balance_gap_mwh(m)).max() <= 1e-9 * m["facility_mwh"].max()
    inp, run, score = r.inputs[0], r.runs[0], r.scores[0]
    assert (run.soc_mwh <= inp.battery.max_soc_mwh + 1e-9).all()
    # green conservation through storage
    s = score.slices
    assert s["green_out_mwh"].sum() <= 0.95 * 0.95 * s["g_charge"].sum() + 1e-9
    # tokens x energy per token = task energy (llama-3.1-70b, host overhead 0.35)
    te = run.task_energy
    e = inp.interactive_energy
    expected = (te["tokens_in"].sum() * e.input_j_per_token
                + te["tokens_out"].sum() * e.output_j_per_token) * 1.35 / 3.6e9
    assert te["it_mwh"].sum() == pytest.approx(expected, rel=1e-12)
    # a strategy that does not exist is refused by name
    with pytest.raises(ValueError, match="strategy = 'nope'"):
        make_strategy("nope")


def test_inputs_are_immutable_records():
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny_site().gpus = 3


def test_a_fleet_too_small_for_the_interactive_stream_is_refused_by_field():
    from tests.conftest import SCENARIOS
    from twin.run import simulate
    from twin.scenario import ScenarioError, from_dict, load

    scn = load(SCENARIOS / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = 1
    raw["sites"][0]["datacenter"]["nodes"] = 1000
    with pytest.raises(ScenarioError, match=r"sites\[0\]\.workload\.interactive\."
                                            r"peak_output_tokens_per_s: the stream needs"):
        simulate(from_dict(raw, base_dir=scn.base_dir))


def test_a_slice_of_prompt_tokens_only_is_still_an_interactive_task():
    # slice 1 serves 1e6 prompt tokens and generates none (JOULE_TOKENS prices prompts at 0 J, so
    # price them here at 1 J): it uses GPU energy, so it is a task with a record and a kind
    prompt = dataclasses.replace(JOULE_TOKENS, input_j_per_token=1.0)
    tin = np.array([0.0, 1e6, 0.0, 0.0])
    run = simulate_site(tiny_site(interactive_energy=prompt, interactive_tokens_in=tin),
                        make_strategy("greedy"))
    assert run.task_energy["task_id"].tolist() == ["toy-interactive-000001"]
    assert run.tasks.set_index("task_id").at["toy-interactive-000001", "kind"] == "interactive"
