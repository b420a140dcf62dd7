"""The SimPy engine: workload, EMS, metering and one process per training job, per site.

Every slice the workload process releases batch and training jobs and posts the slice's demand. The
EMS process observes the site at the slice start, asks the strategy for setpoints (battery, batch
GPU-seconds, which training jobs to pause) and passes pause and resume orders to the training
processes; at the slice end it settles what happened: training GPU time from the processes' logs,
batch work on the GPUs left free, and the bus (battery, grid, curtailment). The metering process
records the slice's meter row. Processes talk through SimPy stores; training jobs queue for GPUs
at a SimPy container holding the GPUs that interactive inference's peak leaves.

A training job runs in segments: compute (GPUs at board power, progress at its token rate),
checkpoint writes and checkpoint reloads (GPUs held, at idle power, no progress). It writes a
checkpoint every ``checkpoint_interval_s`` of compute; a pause order interrupts it, it writes a
checkpoint, releases its GPUs and waits; on resume it queues for GPUs again and reloads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from gti_core.meters import ENERGY_COLUMNS
from models.battery import battery_step, max_charge_mwh, max_discharge_mwh
from models.datacenter import J_PER_MWH, reserved_gpus
from models.tokens import gpu_energy_j
from models.workloads import BatchJob, TrainingJob
from twin.dispatch.base import Observation, Setpoints, Strategy, TrainingStatus
from twin.inputs import SiteInputs

#: Work smaller than this is treated as done (floating-point remainder of a split job) [J].
DONE_TOLERANCE_J = 1e-3
#: ... or smaller than this share of the job's work: a plan solved to an LP solver's tolerance
#: (HiGHS: 1e-7 on GPU-seconds of order 1e8) leaves remainders of a few joules on jobs of
#: 1e12 J, a fraction of one token, which would otherwise count as a missed deadline.
DONE_TOLERANCE_SHARE = 1e-9
#: Training time shorter than this is treated as done [s].
DONE_TOLERANCE_S = 1e-6


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
    tokens_late: float = 0.0


@dataclass
class _Train:
    """A training job's state, shared by its process and the EMS."""

    job: TrainingJob
    state: str = "waiting"  # waiting, queued, running, paused, done
    hold: bool = False  # the EMS wants it paused
    tokens_done: float = 0.0
    since_checkpoint_s: float = 0.0
    open_segment: tuple[str, float] | None = None  # (kind, start time)
    closed: list[tuple[str, float, float]] = field(default_factory=list)
    proc: simpy.Process | None = None
    resume: simpy.Event | None = None
    started: bool = False
    start_slice: int | None = None
    end_slice: int | None = None
    late: bool = False
    tokens_late: float = 0.0
    overhead_gpu_s: float = 0.0

    @property
    def remaining_tokens(self) -> float:
        return max(self.job.tokens - self.tokens_done, 0.0)

    def overlap_s(self, a: float, b: float) -> tuple[float, float]:
        """Compute and overhead (checkpoint, reload) seconds of this job within ``[a, b)``."""
        spans = list(self.closed)
        if self.open_segment is not None:
            spans.append((*self.open_segment, b))
        compute = overhead = 0.0
        for kind, t0, t1 in spans:
            o = max(min(t1, b) - max(t0, a), 0.0)
            if kind == "compute":
                compute += o
            else:
                overhead += o
        return compute, overhead


@dataclass
class SiteRun:
    """The physical record of one site's simulation."""

    site: str
    meters: pd.DataFrame
    task_energy: pd.DataFrame  # task_id, site, time, it_mwh, tokens_in, tokens_out
    tasks: pd.DataFrame  # one row per task: kind, deadline, deadline_met, tokens_late
    soc_mwh: np.ndarray  # battery content at the end of each slice
    events: list[tuple[str, float]] = field(default_factory=list)
    decide_s: float = 0.0  # wall time of the strategy's prepare and decide calls [s]


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

    def row(self) -> tuple[float, ...]:
        """The meter row in ``ENERGY_COLUMNS`` order (facility = it + cooling + aux)."""
        return (self.pv, self.wind, self.curtailed, self.grid_import, self.grid_export,
                self.charge, self.discharge, self.it, self.cooling, self.aux,
                self.it + self.cooling + self.aux)


def settle_bus(obs: Observation, facility: float, sp: Setpoints) -> tuple[
        float, float, float, float, float, float, float]:
    """Close the site bus for one slice; returns (pv, wind, curtailed, import, export, charge,
    discharge) [MWh].

    ``facility`` is the slice's metered facility energy [MWh]. The battery setpoints are capped at
    the battery's limits; the grid covers any deficit up to ``max_import_mwh`` (grid charging is
    cut first when the limit binds); surplus is exported up to ``max_export_mwh`` and the rest is
    curtailed from PV and wind in proportion to what they offered.
    """
    pv_avail, wind_avail = obs.pv_avail_mwh, obs.wind_avail_mwh
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
        Meter rows, task energy per slice, per-task records, battery content and the event log
        (in time order; simultaneous events in the order they happened).
    """
    clock = {"decide_s": 0.0}
    t_prep = time.perf_counter()
    if hasattr(strategy, "prepare"):
        strategy.prepare(inp)  # strategies that plan ahead see the run's inputs first
    clock["decide_s"] += time.perf_counter() - t_prep
    env = simpy.Environment()
    demand = simpy.Store(env, capacity=1)
    readings = simpy.Store(env, capacity=1)
    n, dt_h, dt_s = inp.n, inp.dt_h, inp.slice_minutes * 60.0
    gpu, host = inp.gpu, 1.0 + inp.gpu.host_overhead_fraction
    cap_s = inp.gpu_seconds_per_slice
    inter_j = gpu_energy_j(inp.interactive_tokens_in, inp.interactive_tokens_out,
                           inp.interactive_energy)
    inter_busy_s = inter_j / gpu.serving_w
    pool = inp.gpus - reserved_gpus(inter_busy_s, dt_s, inp.gpus)
    gpus = simpy.Container(env, capacity=max(pool, 1), init=max(pool, 1))
    it_per_batch_s = (gpu.serving_w - gpu.idle_w) * host / J_PER_MWH
    # one interactive task per slice that serves any (spec section 7: a stream within one slice)
    inter_ids = {int(k): f"{inp.name}-interactive-{k:06d}" for k in np.flatnonzero(inter_j > 0)}
    releases: dict[int, list[BatchJob]] = {}
    for job in inp.batch_jobs:
        releases.setdefault(job.release_slice, []).append(job)
    trains = [_Train(tj) for tj in inp.training_jobs]
    for ts in trains:
        if ts.job.gpus > pool:
            raise SimulationError(
                f"training job {ts.job.job_id}: needs {ts.job.gpus} GPUs, but only {pool} of "
                f"{inp.gpus} are left beside interactive inference's peak")
    bat = inp.battery
    meter = np.zeros((n, len(ENERGY_COLUMNS)))
    soc_trace = np.zeros(n)
    events: list[tuple[str, float]] = []
    te_rows: list[tuple[str, int, float, float, float]] = []
    jobs: list[_Job] = []  # every batch job released, for the task records
    queue: list[_Job] = []  # released and unfinished, earliest deadline first
    state = {"soc": inp.initial_soc_mwh}

    def workload_process():
        for k in range(n):
            yield demand.put(_Demand(k, tuple(releases.get(k, ()))))
            yield env.timeout(dt_s)

    def busy(ts: _Train, kind: str, duration: float):
        """Hold the job's GPUs without progress for ``duration``; pause orders wait until the
        end. Returns whether one came."""
        t0, end, ordered = env.now, env.now + duration, False
        ts.open_segment = (kind, t0)
        while env.now < end:
            try:
                yield env.timeout(end - env.now)
            except simpy.Interrupt:
                ordered = True
        ts.open_segment = None
        ts.closed.append((kind, t0, env.now))
        return ordered

    def compute(ts: _Train, duration: float):
        """Train for up to ``duration``; returns whether a pause order cut it short."""
        t0 = env.now
        ts.open_segment = ("compute", t0)
        ordered = False
        try:
            yield env.timeout(duration)
        except simpy.Interrupt:
            ordered = True
        ts.open_segment = None
        ts.closed.append(("compute", t0, env.now))
        elapsed = env.now - t0
        ts.since_checkpoint_s += elapsed
        if not ordered:  # ran the whole segment: exact arithmetic at the end of the job
            ts.tokens_done = min(ts.tokens_done + duration * ts.job.tokens_per_s, ts.job.tokens)
        else:
            ts.tokens_done += elapsed * ts.job.tokens_per_s
        return ordered

    def finished(ts: _Train) -> bool:
        return ts.remaining_tokens / ts.job.tokens_per_s <= DONE_TOLERANCE_S

    def training_process(ts: _Train):
        job = ts.job
        yield env.timeout(job.release_slice * dt_s)
        events.append((f"{job.job_id} released", env.now))
        while True:
            if ts.hold:
                ts.state = "paused"
                ts.resume = env.event()
                yield ts.resume
            ts.state = "queued"
            yield gpus.get(job.gpus)
            if ts.hold:  # ordered to pause while it queued
                yield gpus.put(job.gpus)
                continue
            ts.state = "running"
            ordered = False
            if ts.started:
                events.append((f"{job.job_id} resume", env.now))
                ordered = yield from busy(ts, "reload", job.restart_s)
            else:
                ts.started = True
                events.append((f"{job.job_id} start", env.now))
            while not finished(ts) and not (ordered and ts.hold):
                ordered = False
                to_checkpoint = max(job.checkpoint_interval_s - ts.since_checkpoint_s, 0.0)
                ordered = yield from compute(ts, min(ts.remaining_tokens / job.tokens_per_s,
                                                     to_checkpoint))
                if finished(ts):
                    break
                if ordered or ts.since_checkpoint_s >= job.checkpoint_interval_s:
                    # a periodic checkpoint, or the one written before a pause
                    events.append((f"{job.job_id} checkpoint", env.now))
                    ordered = (yield from busy(ts, "checkpoint", job.checkpoint_s)) or ordered
                    ts.since_checkpoint_s = 0.0
            ts.state = "releasing"
            yield gpus.put(job.gpus)
            if finished(ts):
                ts.tokens_done = job.tokens
                ts.state = "done"
                events.append((f"{job.job_id} done", env.now))
                return
            events.append((f"{job.job_id} paused", env.now))

    for ts in trains:
        ts.proc = env.process(training_process(ts))

    def order_training(sp: Setpoints) -> None:
        """Pass the strategy's pause set to the training processes (pausable jobs only)."""
        for ts in trains:
            if ts.state in ("waiting", "done"):
                continue
            want = ts.job.pausable and ts.job.job_id in sp.pause_training
            if want and not ts.hold:
                ts.hold = True
                if ts.state == "running":
                    ts.proc.interrupt("pause")
            elif not want and ts.hold:
                ts.hold = False
                if ts.state == "paused" and ts.resume is not None and not ts.resume.triggered:
                    ts.resume.succeed()

    def settle_training(k: int, a: float, b: float) -> tuple[float, float]:
        """Training GPU-seconds held and GPU energy in ``[a, b)``; writes the task rows."""
        held_s = energy_j = 0.0
        for ts in trains:
            if ts.state == "waiting" or (not ts.closed and ts.open_segment is None):
                continue
            c, o = ts.overlap_s(a, b)
            ts.closed = [seg for seg in ts.closed if seg[2] > b]
            if c + o <= 0.0:
                continue
            g = ts.job.gpus
            tokens = c * ts.job.tokens_per_s
            e = c * g * gpu.tdp_w + o * g * gpu.idle_w
            held_s += (c + o) * g
            energy_j += e
            ts.overhead_gpu_s += o * g
            if ts.start_slice is None:
                ts.start_slice = k
            ts.end_slice = k
            if ts.late:
                ts.tokens_late += tokens
            te_rows.append((ts.job.job_id, k, e * host / J_PER_MWH, tokens, 0.0))
        return held_s, energy_j

    def serve_batch(k: int, t0: float, gpu_seconds: float, free_s: float) -> float:
        """Give ``gpu_seconds`` to queued jobs, earliest deadline first; returns GPU energy [J].

        Within the slice the granted work runs on every free GPU from the slice's start, through
        the queue as a fluid: a job that gets the energy between ``u0`` and ``u1`` runs from
        ``t0 + dt * u0 / C`` to ``t0 + dt * u1 / C`` with ``C`` the free GPUs' energy per
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
                events.append((f"{js.job.job_id} start", t0 + dt_s * used_j / capacity_j))
            js.remaining_j -= use
            used_j += use
            if js.remaining_j <= max(DONE_TOLERANCE_J, DONE_TOLERANCE_SHARE * js.total_j):
                tin = js.job.tokens_in - js.served_in
                tout = js.job.tokens_out - js.served_out
                js.remaining_j = 0.0
                js.end_slice = k
                queue.remove(js)
                events.append((f"{js.job.job_id} done", t0 + dt_s * used_j / capacity_j))
            else:
                frac = use / js.total_j
                tin, tout = js.job.tokens_in * frac, js.job.tokens_out * frac
            js.served_in += tin
            js.served_out += tout
            if js.late:
                js.tokens_late += tout
            te_rows.append((js.job.job_id, k, use * host / J_PER_MWH, tin, tout))
        return used_j

    def training_status(k: int) -> tuple[TrainingStatus, ...]:
        out = []
        for ts in trains:
            if ts.state in ("waiting", "done"):
                continue
            dl = ts.job.deadline_slice
            out.append(TrainingStatus(
                job_id=ts.job.job_id, state=ts.state, gpus=ts.job.gpus,
                pausable=ts.job.pausable,
                remaining_s=ts.remaining_tokens / ts.job.tokens_per_s,
                slack_s=(dl - k) * dt_s - ts.remaining_tokens / ts.job.tokens_per_s
                if dl is not None else float("inf"),
                it_mwh_per_slice=ts.job.gpus * dt_s * gpu.tdp_w * host / J_PER_MWH))
        return tuple(out)

    def ems_process():
        e = inp.batch_energy
        for _ in range(n):
            d = yield demand.get()
            k = d.k
            t0 = env.now
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
            for ts in trains:
                if not ts.late and ts.state != "done" and ts.job.deadline_slice == k:
                    ts.late = True
                    events.append((f"{ts.job.job_id} deadline missed", env.now))
            status = training_status(k)
            train_fc_s = sum(s.gpus * dt_s for s in status if s.state == "running")
            train_fc_mwh = sum(s.it_mwh_per_slice for s in status if s.state == "running")
            free_fc = max(cap_s - inter_busy_s[k] - train_fc_s, 0.0)
            backlog_s = sum(j.remaining_j for j in queue) / gpu.serving_w
            due_s = sum(j.remaining_j for j in queue
                        if j.job.deadline_slice == k + 1) / gpu.serving_w
            soc = state["soc"]
            obs = Observation(
                slice_index=k, dt_h=dt_h,
                pv_avail_mwh=inp.pv_avail_mw[k] * dt_h,
                wind_avail_mwh=inp.wind_avail_mw[k] * dt_h,
                it_fixed_mwh=(inter_j[k] + free_fc * gpu.idle_w) * host / J_PER_MWH
                + train_fc_mwh,
                it_mwh_per_batch_gpu_second=it_per_batch_s,
                nonit_per_it=inp.cooling_fraction[k] + inp.aux_fraction,
                free_gpu_seconds=free_fc,
                batch_backlog_gpu_seconds=backlog_s,
                batch_due_gpu_seconds=due_s,
                soc_mwh=soc,
                max_charge_mwh=max_charge_mwh(soc, bat, dt_h) if bat else 0.0,
                max_discharge_mwh=max_discharge_mwh(soc, bat, dt_h) if bat else 0.0,
                max_import_mwh=inp.max_import_mw * dt_h,
                max_export_mwh=inp.max_export_mw * dt_h,
                price_usd_per_mwh=float(inp.price_usd_per_mwh[k]),
                grid_share=float(inp.grid_share[k]),
                training=status,
                batch_queue=tuple((j.job.deadline_slice, j.remaining_j / gpu.serving_w)
                                  for j in queue),
                previous=state.get("previous"),
            )
            t_decide = time.perf_counter()
            sp = strategy.decide(obs)
            clock["decide_s"] += time.perf_counter() - t_decide
            order_training(sp)
            yield env.timeout(dt_s)
            # the slice is over: settle what ran in it
            held_s, train_j = settle_training(k, t0, env.now)
            free_s = max(cap_s - inter_busy_s[k] - held_s, 0.0)
            batch_s = min(max(sp.batch_gpu_seconds, 0.0), free_s, backlog_s)
            batch_j = serve_batch(k, t0, batch_s, free_s) if batch_s > 0.0 else 0.0
            batch_s = batch_j / gpu.serving_w
            idle_s = max(cap_s - inter_busy_s[k] - held_s - batch_s, 0.0)
            it = (inter_j[k] + batch_j + train_j + idle_s * gpu.idle_w) * host / J_PER_MWH
            facility = it * (1.0 + inp.cooling_fraction[k] + inp.aux_fraction)
            pv, wind, curt, imp, exp, chg, dis = settle_bus(obs, facility, sp)
            if k in inter_ids:
                te_rows.append((inter_ids[k], k, inter_j[k] * host / J_PER_MWH,
                                inp.interactive_tokens_in[k], inp.interactive_tokens_out[k]))
            state["soc"] = battery_step(soc, chg, dis, bat) if bat else 0.0
            flows = _Flows(k, pv, wind, curt, imp, exp, chg, dis, it,
                           it * inp.cooling_fraction[k], it * inp.aux_fraction)
            state["previous"] = dict(zip(ENERGY_COLUMNS, flows.row(), strict=True))
            yield readings.put(flows)

    def meter_process():
        for _ in range(n):
            f = yield readings.get()
            meter[f.k] = f.row()
            soc_trace[f.k] = state["soc"]

    env.process(workload_process())
    env.process(ems_process())
    env.run(until=env.process(meter_process()))  # training beyond the horizon is not simulated

    meters = pd.DataFrame(meter, columns=list(ENERGY_COLUMNS))
    meters.insert(0, "time", inp.index)
    meters.insert(1, "site", inp.name)
    meters.insert(2, "grid_share", inp.grid_share)
    # in time order (a stable sort: simultaneous events keep the order they happened in)
    events = sorted(((name, float(t)) for name, t in events), key=lambda ev: ev[1])
    return SiteRun(
        site=inp.name,
        meters=meters,
        task_energy=_task_energy_frame(te_rows, inp),
        tasks=_task_records(inp, inter_ids, jobs, trains),
        soc_mwh=soc_trace,
        events=events,
        decide_s=clock["decide_s"],
    )


def _task_energy_frame(rows: list, inp: SiteInputs) -> pd.DataFrame:
    te = pd.DataFrame(rows, columns=["task_id", "k", "it_mwh", "tokens_in", "tokens_out"])
    te.insert(1, "site", inp.name)
    te.insert(2, "time", inp.index[te["k"].to_numpy(dtype=np.int64)])
    return te.drop(columns="k")


def _task_records(inp: SiteInputs, inter_ids: dict[int, str], jobs: list[_Job],
                  trains: list[_Train]) -> pd.DataFrame:
    """Per-task facts only the engine knows: kind, deadline, whether it was met, tokens late,
    and GPU-seconds spent on checkpoints and reloads."""
    end = inp.index + pd.Timedelta(minutes=inp.slice_minutes)
    horizon_end = end[-1]
    k = list(inter_ids)
    rows = {
        "task_id": list(inter_ids.values()),
        "site": [inp.name] * len(k),
        "kind": ["interactive"] * len(k),
        "deadline": [end[i] for i in k],
        "deadline_met": [True] * len(k),
        "tokens_late": [0.0] * len(k),
        "overhead_gpu_s": [0.0] * len(k),
    }

    def deadline(slice_index: int | None) -> pd.Timestamp:
        return end[slice_index - 1] if slice_index else horizon_end

    for js in jobs:
        rows["task_id"].append(js.job.job_id)
        rows["site"].append(inp.name)
        rows["kind"].append("batch")
        rows["deadline"].append(deadline(js.job.deadline_slice))
        rows["deadline_met"].append(js.end_slice is not None and not js.late)
        rows["tokens_late"].append(js.tokens_late + (js.job.tokens_out - js.served_out))
        rows["overhead_gpu_s"].append(0.0)
    for ts in trains:
        if ts.state == "waiting":
            continue
        done = ts.state == "done"
        rows["task_id"].append(ts.job.job_id)
        rows["site"].append(inp.name)
        rows["kind"].append("training")
        rows["deadline"].append(deadline(ts.job.deadline_slice))
        rows["deadline_met"].append(done and not ts.late)
        rows["tokens_late"].append(ts.tokens_late + ts.remaining_tokens
                                   if ts.late or not done else 0.0)
        rows["overhead_gpu_s"].append(ts.overhead_gpu_s)
    return pd.DataFrame(rows)
