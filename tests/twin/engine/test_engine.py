"""The SimPy engine on a site small enough to follow by hand, and the invariants on a real week."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

from gti_core.meters import MeterError, balance_gap_mwh, check_meters
from models.datacenter import GPUType
from models.tokens import TokenEnergy
from models.workloads import BatchJob, TrainingJob
from tests.conftest import SCENARIOS, meter_table
from tests.tolerances import FLOAT_REL
from twin.dispatch import Setpoints, make_strategy
from twin.dispatch.base import RuleStrategy
from twin.engine import SimulationError, simulate_site
from twin.inputs import SiteInputs

# 1 output token = 1 J of GPU energy, no prompt tokens: tokens read as joules.
JOULE_TOKENS = TokenEnergy("toy", "toy-gpu", 1, 1, 0.0, 1.0, "test")
TOY_GPU = GPUType(idle_w=75.0, serving_w=600.0, host_overhead_fraction=0.35, source="test",
                  tdp_w=700.0, peak_bf16_flops=989.4e12, hbm_bytes_per_s=3.35e12,
                  memory_bytes=80e9)


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
    assert tasks.loc["B", "tokens_late"] == pytest.approx(2.16e6)
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
    with pytest.raises(SimulationError, match=r"grid.max_import_mw = 1 or the limit in force"):
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
    assert te["it_mwh"].sum() == pytest.approx(expected, rel=FLOAT_REL)
    # a strategy that does not exist is refused by name
    with pytest.raises(ValueError, match="strategy = 'nope'"):
        make_strategy("nope")


def test_the_battery_invariants_catch_a_content_the_flows_do_not_give(week_run):
    # the invariants recompute the battery's recursion from the metered flows: a recorded
    # content 1 MWh off in one slice is refused, naming the slice
    from twin.invariants import InvariantError, check_soc_recursion

    inp, run = week_run.inputs[0], week_run.runs[0]
    check_soc_recursion(run, inp)
    bad = dataclasses.replace(run, soc_mwh=run.soc_mwh.copy())
    bad.soc_mwh[100] += 1.0
    with pytest.raises(InvariantError, match=re.escape(str(inp.index[100]))):
        check_soc_recursion(bad, inp)


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


# --- training jobs: GPUs held from a SimPy container, checkpoints, pause and resume ---------------

#: 1 GPU, 1 token per second (so tokens read as compute seconds), 700 J per token (board power),
#: a checkpoint after every 2,400 s of compute taking 720 s, a reload of 300 s after a pause.
TRAIN = TrainingJob("T", gpus=1, tokens=7200.0, j_per_token=700.0, tokens_per_s=1.0,
                    release_slice=0, deadline_slice=None, checkpoint_interval_s=2400.0,
                    checkpoint_s=720.0, restart_s=300.0)
#: a batch job of 7,920 GPU-seconds at 600 W, due at the end of slice 1 (7,200 s)
DUE = BatchJob("B", 0, 2, 0.0, 7920 * 600.0)


class PauseTrainingInSlice1(RuleStrategy):
    """Greedy, except that it pauses every training job in slice 1."""

    name = "pause-in-slice-1"

    def decide(self, obs):
        g = make_strategy("greedy").decide(obs)
        return Setpoints(g.batch_gpu_seconds, g.bess_charge_mwh, g.bess_discharge_mwh,
                         frozenset(t.job_id for t in obs.training) if obs.slice_index == 1
                         else frozenset())


def test_event_log_of_a_training_job_paused_to_let_a_batch_job_meet_its_deadline():
    # Slice 0 (0-3,600 s): T holds 1 GPU: computes 0-2,400, checkpoints 2,400-3,120, computes on.
    # B gets the other GPU: 3,600 GPU-s. Slice 1: the strategy pauses T at 3,600: it writes a
    # checkpoint (3,600-4,320) and frees its GPU, so B has 7,200 - 720 = 6,480 GPU-s for the
    # 4,320 it still needs and, as a fluid over them, finishes at 3,600 + 3,600 * 4,320 / 6,480
    # = 6,000 s, before its deadline. Slice 2: T resumes at 7,200, reloads until 7,500, has done
    # 2,400 + 480 = 2,880 tokens, so computes 2,400 more to 9,900, checkpoints to 10,620 and
    # finishes the last 1,920 at 12,540 s.
    run = simulate_site(tiny_site(jobs=[DUE], training_jobs=(TRAIN,)), PauseTrainingInSlice1())
    assert run.events == [
        ("T released", 0.0), ("B released", 0.0), ("T start", 0.0), ("B start", 0.0),
        ("T checkpoint", 2400.0), ("T checkpoint", 3600.0), ("T paused", 4320.0),
        ("B done", 6000.0), ("T resume", 7200.0), ("T checkpoint", 9900.0), ("T done", 12540.0)]
    tasks = run.tasks.set_index("task_id")
    assert bool(tasks.at["B", "deadline_met"]) and bool(tasks.at["T", "deadline_met"])
    assert tasks.at["T", "kind"] == "training"
    # three checkpoints of 720 s and one reload of 300 s, on 1 GPU
    assert tasks.at["T", "overhead_gpu_s"] == pytest.approx(3 * 720 + 300)
    te = run.task_energy[run.task_energy["task_id"] == "T"]
    assert te["tokens_in"].tolist() == pytest.approx([2880.0, 0.0, 2580.0, 1740.0])
    # slice 1: T's checkpoint (720 s at 75 W idle), B's 4,320 s at 600 W, 2,160 s idle at 75 W
    assert run.meters["it_mwh"].iloc[1] == pytest.approx(
        (720 * 75 + 4320 * 600 + 2160 * 75) * 1.35 / 3.6e9)
    # slice 0: T computes 2,880 s at 700 W and checkpoints 720 s; B 3,600 s at 600 W
    assert run.meters["it_mwh"].iloc[0] == pytest.approx(
        (2880 * 700 + 720 * 75 + 3600 * 600) * 1.35 / 3.6e9)
    assert np.abs(balance_gap_mwh(run.meters)).max() < 1e-15


def test_without_the_pause_the_batch_job_misses_its_deadline_and_reports_tokens_late():
    # Greedy never pauses: T holds its GPU through slice 1, B gets 3,600 of the 4,320 GPU-s it
    # needs, misses 7,200 s and finishes the last 720 GPU-s in slice 2, where T holds its GPU
    # until it finishes at 8,640: B runs on 5,760 free GPU-s and is done at 7,200 + 3,600 * 720
    # / 5,760 = 7,650 s. Its 720 GPU-s x 600 W = 432,000 output tokens are late.
    run = simulate_site(tiny_site(jobs=[DUE], training_jobs=(TRAIN,)), make_strategy("greedy"))
    assert run.events == [
        ("T released", 0.0), ("B released", 0.0), ("T start", 0.0), ("B start", 0.0),
        ("T checkpoint", 2400.0), ("T checkpoint", 5520.0), ("B deadline missed", 7200.0),
        ("B done", 7650.0), ("T done", 8640.0)]
    tasks = run.tasks.set_index("task_id")
    assert not bool(tasks.at["B", "deadline_met"])
    assert tasks.at["B", "tokens_late"] == pytest.approx(432_000.0)


def test_training_jobs_queue_for_gpus_and_a_late_one_reports_its_late_tokens():
    # two jobs of 2 GPUs on a 2-GPU fleet: the second waits for the first to free the GPUs
    a = dataclasses.replace(TRAIN, job_id="A", gpus=2, tokens=3000.0, tokens_per_s=1.0,
                            checkpoint_interval_s=math.inf)
    b = dataclasses.replace(a, job_id="B2", deadline_slice=1)
    run = simulate_site(tiny_site(training_jobs=(a, b)), make_strategy("greedy"))
    assert run.events == [
        ("A released", 0.0), ("B2 released", 0.0), ("A start", 0.0), ("A done", 3000.0),
        ("B2 start", 3000.0), ("B2 deadline missed", 3600.0), ("B2 done", 6000.0)]
    tasks = run.tasks.set_index("task_id")
    assert tasks.at["B2", "tokens_late"] == pytest.approx(2400.0)  # trained after 3,600 s
    assert bool(tasks.at["A", "deadline_met"]) and not bool(tasks.at["B2", "deadline_met"])


def test_a_training_job_larger_than_the_pool_is_refused():
    big = dataclasses.replace(TRAIN, gpus=3)
    with pytest.raises(SimulationError, match=r"training job T: needs 3 GPUs, but only 2"):
        simulate_site(tiny_site(training_jobs=(big,)), make_strategy("greedy"))


def test_two_sites_in_one_environment_run_as_each_does_alone():
    # The default campus (greedy) and the Colorado desert site (threshold), 3 days each, share
    # one SimPy environment and no process: each site's meters, task energy and task records
    # are those of running it alone, to the last digit.
    from twin.engine import simulate_sites
    from twin.inputs import build_site_inputs
    from twin.run import accounting_params, strategy_options
    from twin.scenario import from_dict, load

    def site(file: str, strategy: str):
        scn = load(SCENARIOS / file)
        raw = scn.model_dump(exclude={"base_dir"})
        raw["horizon_days"] = 3
        scn = from_dict(raw, base_dir=scn.base_dir)
        inp = build_site_inputs(scn, 0)
        return inp, lambda: make_strategy(strategy, strategy_options(
            scn, accounting_params(scn, inp)))

    (a, new_a), (b, new_b) = site("western_hub.yaml", "greedy"), site("colorado_desert.yaml",
                                                                      "threshold")
    b = dataclasses.replace(b, name="desert")  # both scenarios call their site "campus"
    together = simulate_sites([(a, new_a()), (b, new_b())])
    alone = [simulate_site(a, new_a()), simulate_site(b, new_b())]
    for shared, single in zip(together, alone, strict=True):
        pd.testing.assert_frame_equal(shared.meters, single.meters, check_exact=True)
        pd.testing.assert_frame_equal(shared.task_energy, single.task_energy, check_exact=True)
        pd.testing.assert_frame_equal(shared.tasks, single.tasks, check_exact=True)
        np.testing.assert_array_equal(shared.soc_mwh, single.soc_mwh)
        assert shared.events == single.events
    assert together[0].meters["site"].iloc[0] != together[1].meters["site"].iloc[0]


def test_a_checkpoint_due_in_less_than_the_clock_resolves_is_written():
    # 2e-11 s after 525,003.68 s is the same float: a compute segment that short does not
    # move the clock. Counting what was computed (not what the clock moved) writes the
    # checkpoint instead of computing zero-length segments forever.
    import simpy

    from twin.engine.training import TrainingRun

    t0 = 525003.68
    env = simpy.Environment(initial_time=t0)
    assert t0 + 2e-11 == t0
    job = TrainingJob("J", 2, 1e6, 600.0, 1.0, 0, None, 7200.0, 60.0, 60.0, True)
    events = []
    run = TrainingRun(env, job, simpy.Container(env, 2, init=2), 900.0,
                      lambda name, t: events.append((name, t)))
    run.since_checkpoint_s = 7200.0 - 2e-11
    for _ in range(100):  # a bounded number of events: a regression fails, it does not hang
        if env.peek() > t0 + 100.0:
            break
        env.step()
    assert ("J checkpoint", t0) in events
    assert len(run.segments) <= 3  # the sliver, the checkpoint, the compute after it
