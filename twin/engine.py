"""The SimPy engine: a workload process, an EMS process and a metering process per site.

Every slice the workload process releases batch jobs and posts the slice's demand; the EMS process
observes the site, asks the strategy for setpoints, serves work on the GPUs and settles the bus
(battery, grid, curtailment); the metering process records the slice's meter row. The processes
talk through SimPy stores, so the order within a slice is the order of the messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from gti_core.meters import ENERGY_COLUMNS
from models.battery import battery_step, max_charge_mwh, max_discharge_mwh
from models.datacenter import J_PER_MWH, it_energy_mwh
from models.tokens import gpu_energy_j
from models.workloads import BatchJob
from twin.dispatch.base import Observation, Setpoints, Strategy
from twin.inputs import SiteInputs

#: Work smaller than this is treated as done (floating-point remainder of a split job) [J].
DONE_TOLERANCE_J = 1e-3


class SimulationError(RuntimeError):
    """The site cannot be operated as configured; the message names the limit and the time."""


@dataclass
class _Job:
    job: BatchJob
    total_j: float
    remaining_j: float
    served_in: float = 0.0
    served_out: float = 0.0
    start_slice: int | None = None
    end_slice: int | None = None
    late: bool = False
    tokens_out_late: float = 0.0


@dataclass
class SiteRun:
    """The physical record of one site's simulation."""

    site: str
    meters: pd.DataFrame
    task_energy: pd.DataFrame  # task_id, site, time, it_mwh, tokens_in, tokens_out
    tasks: pd.DataFrame  # one row per task: kind, start, end, deadline, deadline_met, tokens_late
    soc_mwh: np.ndarray  # battery content at the end of each slice
    events: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _Demand:
    k: int
    released: tuple[BatchJob, ...]


@dataclass(frozen=True)
class _Flows:
    k: int
    pv: float
    wind: float
    curtailed: float
    grid_import: float
    grid_export: float
    charge: float
    discharge: float
    it: float
    cooling: float
    aux: float


def settle_bus(obs: Observation, batch_gpu_seconds: float, sp: Setpoints,
               pv_avail: float, wind_avail: float) -> tuple[float, float, float, float, float,
                                                            float, float]:
    """Close the site bus for one slice; returns (pv, wind, curtailed, import, export, charge,
    discharge) [MWh].

    The battery setpoints are capped at the battery's limits; the grid covers any deficit up to
    ``max_import_mwh`` (grid charging is cut first when the limit binds); surplus is exported up
    to ``max_export_mwh`` and the rest is curtailed from PV and wind in proportion to what they
    offered.
    """
    facility = obs.facility_mwh(batch_gpu_seconds)
    charge = min(max(sp.bess_charge_mwh, 0.0), obs.max_charge_mwh)
    discharge = min(max(sp.bess_discharge_mwh, 0.0), obs.max_discharge_mwh)
    surplus = pv_avail + wind_avail + discharge - facility - charge
    if surplus < 0.0 and -surplus > obs.max_import_mwh:
        cut = min(charge, -surplus - obs.max_import_mwh)
        charge -= cut
        surplus += cut
        if -surplus > obs.max_import_mwh * (1.0 + 1e-12):
            raise SimulationError(
                f"slice {obs.slice_index}: the site needs {-surplus / obs.dt_h:.3f} MW from the "
                f"grid, above grid.max_import_mw = {obs.max_import_mwh / obs.dt_h:g}")
    grid_import = max(-surplus, 0.0)
    grid_export = min(max(surplus, 0.0), obs.max_export_mwh)
    curtailed = max(surplus, 0.0) - grid_export
    offered = pv_avail + wind_avail
    pv_share = pv_avail / offered if offered > 0.0 else 0.0
    pv = pv_avail - curtailed * pv_share
    wind = wind_avail - curtailed * (1.0 - pv_share)
    return pv, wind, curtailed, grid_import, grid_export, charge, discharge


def simulate_site(inp: SiteInputs, strategy: Strategy) -> SiteRun:
    """Run one site through the horizon with SimPy.

    Parameters
    ----------
    inp : SiteInputs
        The site's per-slice inputs and parameters.
    strategy : Strategy
        Asked for setpoints once per slice.

    Returns
    -------
    SiteRun
        Meter rows, task energy per slice, per-task records, battery content and the event log.
    """
    env = simpy.Environment()
    demand = simpy.Store(env, capacity=1)
    readings = simpy.Store(env, capacity=1)
    n, dt_h, dt_s = inp.n, inp.dt_h, inp.slice_minutes * 60.0
    gpu, host = inp.gpu, 1.0 + inp.gpu.host_overhead_fraction
    cap_s = inp.gpu_seconds_per_slice
    it_per_batch_s = (gpu.serving_w - gpu.idle_w) * host / J_PER_MWH
    inter_j = gpu_energy_j(inp.interactive_tokens_in, inp.interactive_tokens_out,
                           inp.interactive_energy)
    inter_busy_s = inter_j / gpu.serving_w
    # one interactive task per slice that serves any (spec section 7: a stream within one slice)
    inter_ids = {int(k): f"{inp.name}-interactive-{k:06d}" for k in np.flatnonzero(inter_j > 0)}
    releases: dict[int, list[BatchJob]] = {}
    for job in inp.batch_jobs:
        releases.setdefault(job.release_slice, []).append(job)
    bat = inp.battery
    meter = np.zeros((n, len(ENERGY_COLUMNS)))
    soc_trace = np.zeros(n)
    events: list[tuple[str, float]] = []
    te_rows: list[tuple[str, int, float, float, float]] = []
    jobs: list[_Job] = []  # every job released, for the task records
    queue: list[_Job] = []  # released and unfinished, earliest deadline first
    state = {"soc": inp.initial_soc_mwh}

    def workload_process():
        for k in range(n):
            yield demand.put(_Demand(k, tuple(releases.get(k, ()))))
            yield env.timeout(dt_s)

    def serve_batch(k: int, gpu_seconds: float, free_s: float) -> float:
        """Give ``gpu_seconds`` to queued jobs, earliest deadline first; returns GPU energy [J].

        Within the slice the granted work runs on every free GPU from the slice's start, through
        the queue as a fluid: a job that gets the energy between ``u0`` and ``u1`` runs from
        ``now + dt * u0 / C`` to ``now + dt * u1 / C`` with ``C`` the free GPUs' energy per
        slice; its start and completion are logged at those instants.
        """
        budget_j = gpu_seconds * gpu.serving_w
        capacity_j = free_s * gpu.serving_w
        used_j = 0.0
        for js in list(queue):
            if budget_j - used_j <= DONE_TOLERANCE_J:
                break
            use = min(budget_j - used_j, js.remaining_j)
            if js.start_slice is None:
                js.start_slice = k
                events.append((f"{js.job.job_id} start", env.now + dt_s * used_j / capacity_j))
            js.remaining_j -= use
            used_j += use
            if js.remaining_j <= DONE_TOLERANCE_J:
                tin = js.job.tokens_in - js.served_in
                tout = js.job.tokens_out - js.served_out
                js.remaining_j = 0.0
                js.end_slice = k
                queue.remove(js)
                events.append((f"{js.job.job_id} done", env.now + dt_s * used_j / capacity_j))
            else:
                frac = use / js.total_j
                tin, tout = js.job.tokens_in * frac, js.job.tokens_out * frac
            js.served_in += tin
            js.served_out += tout
            if js.late:
                js.tokens_out_late += tout
            te_rows.append((js.job.job_id, k, use * host / J_PER_MWH, tin, tout))
        return used_j

    def ems_process():
        e = inp.batch_energy
        while True:
            d = yield demand.get()
            k = d.k
            for job in d.released:
                total = float(gpu_energy_j(job.tokens_in, job.tokens_out, e))
                jobs.append(_Job(job, total, total))
                queue.append(jobs[-1])
                events.append((f"{job.job_id} released", env.now))
            if d.released:
                queue.sort(key=lambda j: (j.job.deadline_slice, j.job.job_id))
            for js in queue:
                if not js.late and js.job.deadline_slice == k:
                    js.late = True
                    events.append((f"{js.job.job_id} deadline missed", env.now))
            free_s = max(cap_s - inter_busy_s[k], 0.0)
            backlog_s = sum(j.remaining_j for j in queue) / gpu.serving_w
            due_s = sum(j.remaining_j for j in queue
                        if j.job.deadline_slice == k + 1) / gpu.serving_w
            soc = state["soc"]
            obs = Observation(
                slice_index=k, dt_h=dt_h,
                pv_avail_mwh=inp.pv_avail_mw[k] * dt_h,
                wind_avail_mwh=inp.wind_avail_mw[k] * dt_h,
                it_fixed_mwh=it_energy_mwh(inter_j[k], free_s, gpu),
                it_mwh_per_batch_gpu_second=it_per_batch_s,
                nonit_per_it=inp.cooling_fraction[k] + inp.aux_fraction,
                free_gpu_seconds=free_s,
                batch_backlog_gpu_seconds=backlog_s,
                batch_due_gpu_seconds=due_s,
                soc_mwh=soc,
                max_charge_mwh=max_charge_mwh(soc, bat, dt_h) if bat else 0.0,
                max_discharge_mwh=max_discharge_mwh(soc, bat, dt_h) if bat else 0.0,
                max_import_mwh=inp.max_import_mw * dt_h,
                max_export_mwh=inp.max_export_mw * dt_h,
                price_usd_per_mwh=float(inp.price_usd_per_mwh[k]),
                grid_share=float(inp.grid_share[k]),
            )
            sp = strategy.decide(obs)
            batch_s = min(max(sp.batch_gpu_seconds, 0.0), free_s, backlog_s)
            batch_j = serve_batch(k, batch_s, free_s) if batch_s > 0.0 else 0.0
            batch_s = batch_j / gpu.serving_w
            pv, wind, curt, imp, exp, chg, dis = settle_bus(
                obs, batch_s, sp, obs.pv_avail_mwh, obs.wind_avail_mwh)
            it = it_energy_mwh(inter_j[k] + batch_j, free_s - batch_s, gpu)
            if k in inter_ids:
                te_rows.append((inter_ids[k], k, inter_j[k] * host / J_PER_MWH,
                                inp.interactive_tokens_in[k], inp.interactive_tokens_out[k]))
            state["soc"] = battery_step(soc, chg, dis, bat) if bat else 0.0
            yield readings.put(_Flows(k, pv, wind, curt, imp, exp, chg, dis, it,
                                      it * inp.cooling_fraction[k], it * inp.aux_fraction))

    def meter_process():
        while True:
            f = yield readings.get()
            facility = f.it + f.cooling + f.aux
            meter[f.k] = (f.pv, f.wind, f.curtailed, f.grid_import, f.grid_export, f.charge,
                          f.discharge, f.it, f.cooling, f.aux, facility)
            soc_trace[f.k] = state["soc"]

    env.process(workload_process())
    env.process(ems_process())
    env.process(meter_process())
    env.run()

    meters = pd.DataFrame(meter, columns=list(ENERGY_COLUMNS))
    meters.insert(0, "time", inp.index)
    meters.insert(1, "site", inp.name)
    meters.insert(2, "grid_share", inp.grid_share)
    return SiteRun(
        site=inp.name,
        meters=meters,
        task_energy=_task_energy_frame(te_rows, inp),
        tasks=_task_records(inp, inter_ids, jobs),
        soc_mwh=soc_trace,
        events=events,
    )


def _task_energy_frame(rows: list, inp: SiteInputs) -> pd.DataFrame:
    te = pd.DataFrame(rows, columns=["task_id", "k", "it_mwh", "tokens_in", "tokens_out"])
    te.insert(1, "site", inp.name)
    te.insert(2, "time", inp.index[te["k"].to_numpy(dtype=np.int64)])
    return te.drop(columns="k")


def _task_records(inp: SiteInputs, inter_ids: dict[int, str], jobs: list[_Job]) -> pd.DataFrame:
    """Per-task facts only the engine knows: kind, deadline, whether it was met, tokens late."""
    end = inp.index + pd.Timedelta(minutes=inp.slice_minutes)
    k = list(inter_ids)
    rows = {
        "task_id": list(inter_ids.values()),
        "site": [inp.name] * len(k),
        "kind": ["interactive"] * len(k),
        "deadline": [end[i] for i in k],
        "deadline_met": [True] * len(k),
        "tokens_out_late": [0.0] * len(k),
    }
    horizon_end = end[-1]
    for js in jobs:
        rows["task_id"].append(js.job.job_id)
        rows["site"].append(inp.name)
        rows["kind"].append("batch")
        rows["deadline"].append(end[js.job.deadline_slice - 1] if js.job.deadline_slice > 0
                                else horizon_end)
        rows["deadline_met"].append(js.end_slice is not None and not js.late)
        rows["tokens_out_late"].append(js.tokens_out_late
                                       + (js.job.tokens_out - js.served_out))
    return pd.DataFrame(rows)
