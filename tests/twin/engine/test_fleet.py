"""Fleets: a migration and a batch job sent to another site followed by hand, the fleet LP's
batch terms by hand, routing that conserves every region's tokens, and a fleet without links
that runs exactly like its sites alone."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest

from models.transfer import transfer_energy_mwh, transfer_s
from models.workloads import BatchJob, TrainingJob
from tests.conftest import SCENARIOS
from tests.tolerances import HAND_ATOL, HAND_REL
from twin.dispatch import make_strategy
from twin.dispatch.fleet import FleetRule, FleetView
from twin.engine import SiteLink, simulate_fleet
from twin.engine.fleet import RegionDemand, route_slice
from twin.engine.records import join_task_records
from twin.engine.site import SimulationError
from twin.inputs import interactive_tokens

from .test_engine import tiny_site

GB, GBIT_S, KWH_PER_GB = 450.0, 2.0, 0.01


class MoveAtSlice(FleetRule):
    """A scripted fleet strategy: moves one job at one slice, routes to the nearest."""

    name = "scripted"

    def __init__(self, job_id: str, dest: str, k: int):
        self.job_id, self.dest, self.k = job_id, dest, k

    def route(self, view: FleetView, region, reachable):
        return [(site, 1.0) for site, _ in reachable]

    def migrations(self, view: FleetView):
        return [(self.job_id, self.dest)] if view.slice_index == self.k else []


def _job(**over) -> TrainingJob:
    base = dict(job_id="J", gpus=2, tokens=10800.0, j_per_token=1400.0, tokens_per_s=1.0,
                release_slice=0, deadline_slice=None, checkpoint_interval_s=1e9,
                checkpoint_s=600.0, restart_s=300.0, pausable=True, checkpoint_gb=GB)
    base.update(over)
    return TrainingJob(**base)


def test_migration_by_hand():
    # 3 h of compute on 2 GPUs. Slice 0 at A: 3,600 tokens. At 3,600 s the fleet moves it:
    # a checkpoint until 4,200 s, the 450 GB cross a 2 Gbit/s link in 1,800 s (to 6,000 s),
    # a reload at B until 6,300 s, and the 7,200 tokens left take until 13,500 s.
    a = tiny_site(n=4, name="A", batch_energy=None, training_jobs=(_job(),))
    b = tiny_site(n=4, name="B", batch_energy=None)
    link = SiteLink(latency_ms=30.0, bandwidth_gbit_s=GBIT_S, energy_kwh_per_gb=KWH_PER_GB)
    runs, fleet = simulate_fleet([(a, make_strategy("greedy")), (b, make_strategy("greedy"))],
                                 [], {frozenset(("A", "B")): link}, MoveAtSlice("J", "B", 1))
    assert transfer_s(GB, GBIT_S) == 1800.0
    (m,) = fleet.migrations
    assert (m.origin, m.destination, m.start_s, m.end_s) == ("A", "B", 4200.0, 6000.0)
    assert runs[0].events == [("J released", 0.0), ("J start", 0.0), ("J checkpoint", 3600.0),
                              ("J paused", 4200.0), ("J migrates to B", 4200.0)]
    assert runs[1].events == [("J arrived from A", 6000.0), ("J resume", 6000.0),
                              ("J done", 13500.0)]
    per_site = {r.site: r.task_energy.groupby("site")[["it_mwh", "tokens_in"]].sum()
                for r in runs}
    assert per_site["A"].at["A", "tokens_in"] == pytest.approx(3600.0, rel=HAND_REL)
    assert per_site["B"].at["B", "tokens_in"] == pytest.approx(7200.0, rel=HAND_REL)
    host = 1.35e-6 / 3600.0  # MWh per J with the toy GPU's 35% host overhead
    each_end = transfer_energy_mwh(GB, KWH_PER_GB)
    assert each_end == pytest.approx(0.0045, rel=HAND_REL)
    # A: 3,600 tokens x 1,400 J (2 GPUs at 700 W, 1 token/s), a 600 s checkpoint on 2 GPUs
    # at 75 W, the transfer's end
    assert per_site["A"].at["A", "it_mwh"] == pytest.approx(
        (3600 * 1400 + 600 * 2 * 75) * host + each_end, abs=HAND_ATOL)
    # B: 7,200 tokens, a 300 s reload on 2 GPUs at 75 W, the transfer's end
    assert per_site["B"].at["B", "it_mwh"] == pytest.approx(
        (7200 * 1400 + 300 * 2 * 75) * host + each_end, abs=HAND_ATOL)
    # one task, recorded once (at its home), with its overhead at both sites
    tasks = pd.concat([r.tasks for r in runs if len(r.tasks)]).set_index("task_id")
    assert list(tasks.index) == ["J"]
    assert tasks.at["J", "overhead_gpu_s"] == pytest.approx(2 * (600 + 300), rel=HAND_REL)
    assert bool(tasks.at["J", "deadline_met"])
    # the transfer is in the slice it ran in, at both ends
    for r in runs:
        te = r.task_energy.set_index("time")["it_mwh"]
        assert te.index.min() <= a.index[1] <= te.index.max()


class SendAtRelease(FleetRule):
    """A scripted fleet strategy: sends a share of every batch job released to one site."""

    name = "scripted"

    def __init__(self, dest: str, share: float):
        self.dest, self.share = dest, share

    def route(self, view: FleetView, region, reachable):
        return [(site, 1.0) for site, _ in reachable]

    def migrations(self, view: FleetView):
        return []

    def batch_moves(self, view: FleetView):
        return [(b.job_id, self.dest, self.share) for b in view.released]


def _sent_quarter(share: float = 0.25, links=True):
    # X: 4.32e6 J of work (both GPUs for one 60-min slice), 450 GB of data, due at 3 h
    job = BatchJob("X", 0, 3, 0.0, 4.32e6, data_gb=GB)
    a = tiny_site(n=4, name="A", jobs=(job,))
    b = tiny_site(n=4, name="B")
    link = SiteLink(latency_ms=30.0, bandwidth_gbit_s=GBIT_S, energy_kwh_per_gb=KWH_PER_GB)
    return simulate_fleet([(a, make_strategy("no_control")), (b, make_strategy("no_control"))],
                          [], {frozenset(("A", "B")): link} if links else {},
                          SendAtRelease("B", share))


def test_batch_share_sent_by_hand():
    # A quarter of X is sent to B at its release: 112.5 GB over 2 Gbit/s take 450 s, so it
    # joins B's queue at the next slice start (3,600 s) and runs there on both GPUs for
    # 1.08e6 J / 4.32e6 J x 3,600 s = 900 s. The 3.24e6 J left at A take 2,700 s.
    runs, fleet = _sent_quarter()
    (m,) = fleet.batch_moves
    assert (m.origin, m.destination, m.share, m.start_s, m.end_s, m.arrival_slice) == (
        "A", "B", 0.25, 0.0, 450.0, 1)
    assert m.gb == pytest.approx(112.5, rel=HAND_REL)
    assert runs[0].events == [("X sends 0.25 to B", 0.0), ("X released", 0.0),
                              ("X start", 0.0), ("X done", 2700.0)]
    assert runs[1].events == [("X released", 3600.0), ("X start", 3600.0), ("X done", 4500.0)]
    host = 1.35e-6 / 3600.0  # MWh per J with the toy GPU's 35% host overhead
    each_end = transfer_energy_mwh(112.5, KWH_PER_GB)
    assert each_end == pytest.approx(0.001125, rel=HAND_REL)
    for run, work_j, tokens in ((runs[0], 3.24e6, 3.24e6), (runs[1], 1.08e6, 1.08e6)):
        te = run.task_energy
        assert te["it_mwh"].sum() == pytest.approx(work_j * host + each_end, abs=HAND_ATOL)
        assert te["tokens_out"].sum() == pytest.approx(tokens, rel=HAND_REL)
        # the data's transfer energy is in slice 0 at both ends (it ran from 0 to 450 s)
        moved = te[te["tokens_out"] == 0.0]
        assert list(moved["time"]) == [run.meters["time"].iloc[0]]
        assert run.batch_transfer_mwh == {"X": pytest.approx(each_end, rel=HAND_REL)}
    # one task, released at A, met at both sites
    tasks = join_task_records([r.tasks for r in runs])
    assert list(tasks.index) == ["X"]
    assert tasks.at["X", "site"] == "A" and bool(tasks.at["X", "deadline_met"])
    assert tasks.at["X", "tokens_late"] == 0.0


def test_batch_moves_a_fleet_may_not_make_are_refused():
    with pytest.raises(SimulationError, match=r"moves batch job 'X' \(1\.5 of it\) to 'B'"):
        _sent_quarter(share=1.5)
    with pytest.raises(SimulationError, match=r"moves batch job 'X' \(0\.25 of it\) to 'B'"):
        _sent_quarter(links=False)


def test_fleet_lp_batch_terms_by_hand():
    # X released at slice 1, due at the start of slice 4, 450 GB over a 2 Gbit/s link: its data
    # takes 1,800 s, half of slice 1, so it could join B's queue in slice 2. Sent whole, it
    # leaves A's account in slice 1 (4.32e6 J at 600 W = 7,200 GPU-s) and A's work that may
    # wait after slices 1 and 2; it joins B's in slice 2 and may wait after slice 2 there (done
    # by the start of slice 4 means it may not wait after slice 3). The transfer's energy,
    # 4.5 kWh at each end, is all in slice 1.
    from twin.optimize.fleet_plan import batch_sends
    job = BatchJob("X", 1, 4, 0.0, 4.32e6, data_gb=GB)
    a, b = tiny_site(n=6, name="A", jobs=(job,)), tiny_site(n=6, name="B")
    link = SiteLink(latency_ms=30.0, bandwidth_gbit_s=GBIT_S, energy_kwh_per_gb=KWH_PER_GB)
    (send,) = batch_sends(job, 0, [a, b], {frozenset(("A", "B")): link}, 0, 6)
    assert send.dest == 1
    assert send.released_gpu_s.tolist() == [[0, -7200, 0, 0, 0, 0], [0, 0, 7200, 0, 0, 0]]
    assert send.may_wait_gpu_s.tolist() == [[0, -7200, -7200, 0, 0, 0], [0, 0, 7200, 0, 0, 0]]
    assert send.it_mwh.tolist() == [[0, 0.0045, 0, 0, 0, 0]] * 2
    # a window that ends before the data could arrive offers no send
    assert batch_sends(job, 0, [a, b], {frozenset(("A", "B")): link}, 0, 2) == ()


def _regions(n: int) -> list[RegionDemand]:
    rng = np.random.default_rng(3)
    out = rng.uniform(0.0, 1e6, n).round()
    return [RegionDemand("near", out * 3.0, out, 20.0, (("A", 2.0),)),
            RegionDemand("far", out * 5.0, out * 2.0, 60.0, (("A", 2.0), ("B", 35.0)))]


def test_route_slice_conserves_tokens_and_respects_room():
    # 2 GPUs per site, 60-min slices: 7,200 GPU-s. A 1-GPU training pool leaves 3,600 GPU-s
    # per site for requests. Tokens read as joules at 600 W: 1 token out = 1/600 GPU-s.
    n = 6
    sites = {name: tiny_site(n=n, name=name, pool_gpus=1) for name in ("A", "B")}
    regions = _regions(n)
    spilled = 0
    for k in range(n):
        orders = [[("A", 1.0)], [("A", 1.0), ("B", 1.0)]]
        parts = route_slice(k, regions, orders, sites, {"A": 0.0, "B": 0.0})
        frame = pd.DataFrame(parts, columns=["region", "site", "tin", "tout", "ms"])
        for r in regions:
            mine = frame[frame["region"] == r.name]
            assert mine["tout"].sum() == r.tokens_out[k]  # exactly: the last takes the rest
            assert mine["tin"].sum() == pytest.approx(r.tokens_in[k], rel=1e-15)
            assert set(mine["site"]) <= {s for s, _ in r.reachable}
        busy = frame.groupby("site")["tout"].sum() / 600.0
        assert (busy <= 3600.0 * (1 + 1e-12)).all()
        spilled += "B" in set(frame["site"])
    assert 0 < spilled < n  # A's room binds in some slices, not in all


def test_route_slice_refuses_what_no_site_can_serve():
    sites = {name: tiny_site(n=1, name=name, pool_gpus=2) for name in ("A", "B")}
    regions = [RegionDemand("r", np.zeros(1), np.array([1.0]), 60.0, (("A", 2.0),))]
    with pytest.raises(Exception, match="region 'r' has 100.0% of its requests left"):
        route_slice(0, regions, [[("A", 1.0)]], sites, {"A": 0.0, "B": 0.0})


def _two_sites(days: int = 7) -> dict:
    from twin.scenario import load_raw
    raw = load_raw(SCENARIOS / "western_hub.yaml")
    raw["horizon_days"] = days
    a = raw["sites"][0]
    a["grid"].pop("network", None)
    b = copy.deepcopy(a)
    b["name"] = "campus2"
    b["workload"]["interactive"]["seed"] = 5
    b["pv"]["dc_mw"] = 100
    raw["sites"] = [a, b]
    return raw


@pytest.mark.parametrize("strategy", ["greedy", "oracle", "mpc"])
def test_fleet_without_links_runs_like_its_sites_alone(strategy):
    from twin.run import simulate
    from twin.scenario import from_dict
    raw = _two_sites()
    alone = simulate(from_dict(raw, SCENARIOS), strategy)
    fleet = simulate(from_dict({**raw, "fleet": {}}, SCENARIOS), strategy)
    cols = [c for c in alone.meters.columns if c.endswith("_mwh")]
    assert np.array_equal(alone.meters[cols].to_numpy(), fleet.meters[cols].to_numpy())
    assert alone.summary["gti"] == fleet.summary["gti"]


@pytest.fixture(scope="module")
def east_west():
    from twin.run import simulate
    from twin.scenario import from_dict, load

    # the shipped scenario's first 14 of its 28 days: the suite's time budget (15 min, 2 cores)
    base = load(SCENARIOS / "east_west.yaml")
    scn = from_dict({**base.model_dump(mode="json", exclude={"base_dir"}), "horizon_days": 14},
                    base.base_dir)
    return scn, {name: simulate(scn, name) for name in ("no_control", "greedy", "mpc",
                                                        "oracle")}


def test_east_west_tokens_conserved_per_region_and_slice(east_west):
    scn, runs = east_west
    for name, run in runs.items():
        index = run.inputs[0].index
        served = run.routing.groupby(["region", "time"])[["tokens_in", "tokens_out"]].sum()
        for r in scn.fleet.regions:
            tin, tout = interactive_tokens(scn, r.interactive, index, r.utc_offset_h)
            got = served.loc[r.name].reindex(index, fill_value=0.0)
            assert np.allclose(got["tokens_out"], tout, rtol=1e-12, atol=0), (name, r.name)
            assert np.allclose(got["tokens_in"], tin, rtol=1e-12, atol=0), (name, r.name)
        bound = {r.name: r.latency_bound_ms for r in scn.fleet.regions}
        assert (run.routing["latency_ms"] <= run.routing["region"].map(bound)).all()
        # every routed token is in the serving site's interactive tasks
        te = run.task_energy[run.task_energy["task_id"].str.contains("@")]
        assert te["tokens_out"].sum() == pytest.approx(run.routing["tokens_out"].sum(),
                                                      rel=1e-12)


def test_east_west_greedy_moves_work_west_and_raises_fleet_gti(east_west):
    _, runs = east_west
    base, greedy = runs["no_control"].summary, runs["greedy"].summary
    assert greedy["gti"]["gti_slice"] > base["gti"]["gti_slice"] + 0.1
    for s in (base, greedy):
        assert s["kpis"]["deadline_misses"] == 0
        for region in s["fleet"]["regions"].values():
            assert region["tokens_out_beyond_bound"] == 0.0
    assert base["fleet"]["migrations"] == 0 and base["fleet"]["batch_moves"] == 0
    assert base["fleet"]["regions"]["east_api"]["share_served_away_from_nearest"] == 0.0
    assert greedy["fleet"]["migrations"] >= 1
    assert greedy["fleet"]["regions"]["east_api"]["share_served_away_from_nearest"] > 0.5
    assert greedy["fleet"]["regions"]["east_chat"]["share_served_away_from_nearest"] == 0.0


def test_east_west_fleet_optimizers_plan_routing_and_training_as_one_lp(east_west):
    _, runs = east_west
    base = runs["no_control"].summary
    oracle, mpc = runs["oracle"].summary, runs["mpc"].summary
    assert oracle["fleet"]["strategy"] == "fleet_oracle"
    assert mpc["fleet"]["strategy"] == "fleet_mpc"
    for s in (oracle, mpc):
        assert s["gti"]["gti_slice"] > base["gti"]["gti_slice"] + 0.1
        assert s["kpis"]["cost_total"] < base["kpis"]["cost_total"]
        assert s["kpis"]["deadline_misses"] == 0  # the oracle meets every one, so must mpc
        assert s["fleet"]["regions"]["east_chat"]["share_served_away_from_nearest"] == 0.0
        assert s["fleet"]["regions"]["east_api"]["share_served_away_from_nearest"] > 0.9
        for region in s["fleet"]["regions"].values():
            assert region["tokens_out_beyond_bound"] == 0.0
    # the east's batch jobs run in the west, sent when released (all of them, whole: the
    # west's surplus is free); each is one task whose tokens add up over the sites
    for name in ("oracle", "mpc"):
        fleet, run = runs[name].summary["fleet"], runs[name]
        assert fleet["batch_moves"] >= 12  # of the 14 days' jobs
        assert all(m["origin"] == "east" and m["destination"] == "west"
                   for m in fleet["batch_sent"])
        jobs = {j.job_id: j for j in run.inputs[0].batch_jobs}
        te = run.task_energy[run.task_energy["task_id"].isin(list(jobs))]
        served = te.groupby("task_id")["tokens_out"].sum()
        assert np.allclose(served.reindex(list(jobs)).to_numpy(),
                           [j.tokens_out for j in jobs.values()], rtol=1e-9, atol=0)
        tasks = run.tasks.set_index("task_id").loc[fleet["batch_jobs_moved"]]
        assert (tasks["sites"] == "east,west").all() and (tasks["site"] == "east").all()
        assert tasks["deadline_met"].all()
    # the oracle is the bound on its objective (cost); the plan's flows and the engine's agree
    assert oracle["kpis"]["cost_total"] <= mpc["kpis"]["cost_total"] + 1.0
    plan = oracle["fleet"]["plan"]["plan_gti_slice_gti_core"]
    assert oracle["gti"]["gti_slice"] == pytest.approx(plan, abs=0.01)


def test_migrated_job_is_one_task_with_the_energy_weighted_ratio(east_west):
    _, runs = east_west
    run = runs["greedy"]
    job = run.summary["fleet"]["migrated_jobs"][0]
    te = run.task_energy[run.task_energy["task_id"] == job]
    assert set(te["site"]) == {"east", "west"}
    assert (run.tasks["task_id"] == job).sum() == 1
    # R_task = sum_{s,t} e(s,t) R_dc(s,t) / sum e, with e the task's energy plus its share of
    # the slice's idle IT energy (spec section 7)
    r_dc = pd.concat([s.slices.assign(site=s.site)[["site", "time", "r_dc", "it_mwh"]]
                      for s in run.scores])
    merged = te.merge(r_dc, on=["site", "time"], suffixes=("", "_slice"))
    tasks_per_slice = run.task_energy.groupby(["site", "time"])["it_mwh"].sum().rename("all")
    merged = merged.join(tasks_per_slice, on=["site", "time"])
    e = merged["it_mwh"] * merged["it_mwh_slice"] / merged["all"]
    expected = float((e * merged["r_dc"]).sum() / e.sum())
    got = float(run.tasks.set_index("task_id").at[job, "r_task"])
    assert got == pytest.approx(expected, rel=1e-9)
    per_site = merged.assign(e=e).groupby("site").apply(
        lambda g: (g["e"] * g["r_dc"]).sum() / g["e"].sum(), include_groups=False)
    assert per_site.min() < got < per_site.max()


def test_fleet_scenario_errors_name_the_field():
    from twin.scenario import ScenarioError, from_dict, load_raw
    raw = load_raw(SCENARIOS / "east_west.yaml")
    cases = [
        (("links", 0, "between"), ["east_chat", "nowhere"], "fleet.links[0].between: 'nowhere'"),
        (("regions", 0, "latency_bound_ms"), 1.0,
         "fleet.regions[0].latency_bound_ms = 1: no site is linked to region 'east_chat'"),
        (("regions", 0, "interactive", "model"), "llama-3.1-8b",
         "fleet.regions[0].interactive.model = 'llama-3.1-8b': site 'east' serves"),
    ]
    for path, value, message in cases:
        bad = copy.deepcopy(raw)
        node = bad["fleet"]
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
        with pytest.raises(ScenarioError, match=re.escape(message)):
            from_dict(bad, SCENARIOS)



def test_verify_recomputes_every_cross_site_task_and_catches_an_edit(east_west, tmp_path):
    from twin.report import run_files
    from twin.results import write_run
    from twin.verify import verify_run
    scn, runs = east_west
    run = runs["greedy"]
    out = write_run(tmp_path / "run", run.summary, run.meters, files=run_files(scn, run),
                    **run.tables())
    assert verify_run(out) == []
    # move a slice of the migrated job's energy from the west to the east: R_task changes
    job = run.summary["fleet"]["migrated_jobs"][0]
    te = pd.read_parquet(out / "task_energy.parquet")
    i = te.index[(te["task_id"] == job) & (te["site"] == "west")][0]
    te.loc[i, "site"] = "east"
    te.to_parquet(out / "task_energy.parquet", index=False)
    assert [p[1] for p in verify_run(out) if p[0] == "r_task"] == [job]


def test_sizing_a_fleet_site_is_refused_with_a_line_that_says_why(tmp_path):
    # sized alone, a fleet site would lose the requests the router sends it: refused before
    # any work, nothing written
    from tests.twin.test_cli import aidc
    r = aidc("size", SCENARIOS / "east_west.yaml", "--out", tmp_path / "size")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "fleet: sizing plans" in lines[0]
    assert not (tmp_path / "size").exists()
