"""A site as a SimPy component: its EMS process is a method.

Every slice the EMS takes the slice's demand (the batch jobs released; in a fleet, what the
router posts to the site's SimPy store), observes the site at the slice start, asks the
strategy for setpoints (battery, batch GPU-seconds, which training jobs to pause), passes pause
and resume orders to the training jobs (:class:`twin.engine.training.TrainingRun`, which queue
for the GPUs interactive inference's peak leaves), at the slice end settles what happened over
``[start, end)``: training GPU time from the jobs' segments, batch work on the GPUs left free,
and the bus, and records the slice's meter row. Every formula is :mod:`models.site`'s.

Settling takes an interval, not a slice index alone, so that a process which interrupts another
in the middle of a slice (a fault, a demand-response call) can settle each part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from gti_core.meters import ENERGY_COLUMNS, OPTIONAL_ENERGY_COLUMNS
from models import site as physics
from models.battery import battery_step
from models.events import dr_baseline_mw
from models.tokens import gpu_energy_j
from models.workloads import BatchJob, TrainingJob
from twin.dispatch.base import Observation, Setpoints, Strategy, TrainingStatus
from twin.engine.batch import BatchQueue
from twin.engine.events import Availability, EventProcesses
from twin.engine.records import SiteRun, TrainingAtSite, task_energy_frame, task_records
from twin.engine.supply import PartLoad, ShortOfSupply, Supply
from twin.engine.training import TrainingRun
from twin.inputs import SiteInputs


class SimulationError(RuntimeError):
    """The site cannot be operated as configured; the message names the limit and the time."""


@dataclass(frozen=True)
class RoutedRequests:
    """A fleet region's interactive requests of one slice served at this site."""

    region: str
    tokens_in: float
    tokens_out: float


@dataclass(frozen=True)
class Demand:
    """A slice's demand: what a site releases itself, or a fleet's router posts (one a
    slice, in order)."""

    released: tuple[BatchJob, ...]
    routed: tuple[RoutedRequests, ...] = ()


@dataclass
class Transfer:
    """Data a task moves over a link: its energy at this site's end, spread over its time."""

    task_id: str
    start_s: float
    end_s: float
    energy_mwh: float

    def energy_within_mwh(self, a: float, b: float) -> float:
        """The share of its energy spent within ``[a, b)`` [MWh]."""
        if self.end_s <= self.start_s:
            return self.energy_mwh if a <= self.start_s < b else 0.0
        overlap = max(min(self.end_s, b) - max(self.start_s, a), 0.0)
        return self.energy_mwh * overlap / (self.end_s - self.start_s)


@dataclass
class _Running:
    """The slice being run: its index, the instant settled up to, the EMS's observation, the
    setpoints in force, and the rows of the parts settled."""

    k: int
    a: float
    obs: Observation
    sp: Setpoints
    rows: list


class Site:
    """One site in a SimPy environment, driven by a strategy.

    Parameters
    ----------
    env : simpy.Environment
        The environment it lives in (several sites may share one).
    inp : SiteInputs
        Its per-slice inputs and parameters.
    strategy : Strategy
        Asked for setpoints once per slice; prepared here.
    own_workload : bool
        Take its own demand every slice; False in a fleet, whose router posts it.
    planned : SiteInputs, optional
        What a strategy that plans ahead is shown (in a fleet: the inputs with the requests
        the router will send); ``inp`` when omitted.
    """

    def __init__(self, env: simpy.Environment, inp: SiteInputs, strategy: Strategy,
                 own_workload: bool = True, planned: SiteInputs | None = None):
        self.env, self.inp, self.strategy = env, inp, strategy
        self.name = inp.name
        t_prep = time.perf_counter()
        strategy.prepare(planned or inp)  # strategies that plan ahead see the inputs first
        self.decide_s = time.perf_counter() - t_prep
        pool = inp.training_pool_gpus
        for tj in inp.training_jobs:
            if tj.gpus > pool:
                raise SimulationError(
                    f"training job {tj.job_id}: needs {tj.gpus} GPUs, but only {pool} of "
                    f"{inp.gpus} are left beside interactive inference's peak")
        self.own_workload = own_workload
        self.demand = simpy.Store(env, capacity=1)  # posted by a fleet's router
        self.gpus = simpy.Container(env, capacity=max(pool, 1), init=max(pool, 1))
        self.events: list[tuple[str, float]] = []
        self.task_rows: list[tuple[str, int, float, float, float]] = []
        self.releases: dict[int, list[BatchJob]] = {}
        for job in inp.batch_jobs:
            self.releases.setdefault(job.release_slice, []).append(job)
        self.batch = BatchQueue(inp.batch_energy, inp.gpu, inp.slice_s, self.log,
                                self.task_rows)
        self.trains = [TrainingRun(env, tj, self.gpus, inp.slice_s, self.log, inp.name)
                       for tj in inp.training_jobs]
        self.transfers: list[Transfer] = []
        self.transfer_mwh: dict[str, float] = {}
        self.arrived: dict[str, str] = {}  # batch jobs (shares) sent here, and where from
        # one interactive task per slice and origin that serves any (spec section 7: a stream
        # in a slice): the site's own users, and each fleet region routed here
        self.inter_ids = {int(k): f"{inp.name}-interactive-{k:06d}"
                          for k in np.flatnonzero(inp.interactive_gpu_energy_j > 0)}
        self.routed: dict[int, list[tuple[str, float, float, float]]] = {}
        # the per-slice inputs as Python floats, computed once for the whole horizon
        self.nonit_per_it = (inp.cooling_fraction + inp.aux_fraction).tolist()
        self.busy_gpu_s = inp.interactive_busy_gpu_s.tolist()
        self.inter_j = inp.interactive_gpu_energy_j.tolist()
        self.own_inter_j = list(self.inter_j)
        self.price = np.asarray(inp.price_usd_per_mwh, dtype=float).tolist()
        self.grid_share = np.asarray(inp.grid_share, dtype=float).tolist()
        # per-site constants of the EMS's view [MWh per GPU-s, MWh per slice of each job]
        self.it_mwh_per_batch_gpu_s = physics.batch_it_mwh_per_gpu_s(inp.gpu)
        self._running_it_mwh: dict[str, float] = {}
        self.soc_mwh = inp.initial_soc_mwh
        self.previous: physics.MeterRow | None = None
        self.meter_table = np.zeros((inp.n, len(ENERGY_COLUMNS) + len(OPTIONAL_ENERGY_COLUMNS)))
        self.soc_trace = np.zeros(inp.n)
        self.avail = Availability(inp)
        self.supply = Supply(inp, self.avail)
        self.in_slice = False
        self.running: _Running | None = None  # the slice being run
        self.ems_process = env.process(self.ems())
        self.guarded = inp.events.any  # the EMS guards its setpoints where events happen
        if self.guarded:
            EventProcesses(env, self.avail, self.log, self.settle_now, self.interrupt,
                           self.dr_baseline)

    def log(self, name: str, t: float) -> None:
        self.events.append((name, t))

    def running_it_mwh(self, job: TrainingJob) -> float:
        """IT energy of a slice of ``job`` running here [MWh]."""
        if job.job_id not in self._running_it_mwh:
            self._running_it_mwh[job.job_id] = physics.training_it_mwh(
                job.gpus, self.inp.slice_s, self.inp.gpu)
        return self._running_it_mwh[job.job_id]

    def batch_it_mwh(self, job: BatchJob) -> float:
        """IT energy all of ``job``'s work adds here over leaving its GPUs idle [MWh]."""
        j = gpu_energy_j(job.tokens_in, job.tokens_out, self.inp.batch_energy)
        return float(physics.busy_gpu_s(j, self.inp.gpu)) * self.it_mwh_per_batch_gpu_s

    def runs_here(self) -> set[str]:
        """Every training job that may run here (its own, and a fleet's movable ones)."""
        return {ts.job.job_id for ts in self.trains}

    def here(self) -> list[TrainingRun]:
        """The training jobs at this site now (not those on their way here)."""
        return [ts for ts in self.trains if ts.site == self.name and not ts.moving]

    def serve_routed(self, k: int, routed: tuple[RoutedRequests, ...]) -> None:
        """Add fleet regions' requests of slice ``k`` to the site's interactive load."""
        inp = self.inp
        for r in routed:
            j = float(gpu_energy_j(r.tokens_in, r.tokens_out, inp.interactive_energy))
            if j <= 0.0:
                continue
            self.inter_j[k] += j
            self.busy_gpu_s[k] += float(physics.busy_gpu_s(j, inp.gpu))
            self.routed.setdefault(k, []).append(
                (f"{r.region}@{inp.name}-interactive-{k:06d}", j, r.tokens_in, r.tokens_out))

    # --- processes -------------------------------------------------------------------------
    def next_demand(self, k: int):
        """Slice ``k``'s demand: its own (the batch jobs released), or what a fleet's router
        posts. Its own is taken after whatever else happens at this instant, as a posted
        demand is."""
        if self.own_workload:
            if self.env.peek() <= self.env.now:  # something else happens now: after it
                yield self.env.timeout(0)
            return Demand(tuple(self.releases.get(k, ())))
        return (yield self.demand.get())

    def ems(self):
        env = self.env
        for k in range(self.inp.n):
            d = yield from self.next_demand(k)
            t0 = env.now
            if d.routed:
                self.serve_routed(k, d.routed)
            self.batch.release(d.released, env.now)
            self.batch.mark_late(k, env.now)
            for ts in self.trains:
                if ts.site != self.name:
                    continue
                if not ts.late and ts.state != "done" and ts.job.deadline_slice == k:
                    ts.late = True
                    self.log(f"{ts.job.job_id} deadline missed", env.now)
            self.supply.start_slice(self.soc_mwh)
            obs = self.observe(k)
            t_decide = time.perf_counter()
            sp = self.strategy.decide(obs)
            self.decide_s += time.perf_counter() - t_decide
            row = yield from self.run_slice(k, t0, obs, sp)
            self.record(k, row)

    def run_slice(self, k: int, t0: float, obs: Observation, sp: Setpoints):
        """Run slice ``k`` from ``t0``: settle it whole, or in parts where an event changes the
        state in its middle (the event has the part before it settled first,
        :meth:`settle_now`); the EMS's guard adapts the setpoints to the state at each part's
        start. Returns the slice's meter row."""
        env, end = self.env, t0 + self.inp.slice_s
        cur = self.running = _Running(k, t0, obs, sp, [])
        guarded = self.guarded
        while True:
            cur.sp = self.guard(k, obs, sp) if guarded else sp
            for ts in self.here():
                ts.order(ts.job.job_id in cur.sp.pause_training)
            self.in_slice = True
            try:
                yield env.timeout(end - env.now)
            except simpy.Interrupt:
                pass
            self.in_slice = False
            self.settle_now()
            if env.now >= end:
                break
        self.running = None
        row = physics.sum_rows(cur.rows)
        bat = self.inp.battery
        self.soc_mwh = (battery_step(self.soc_mwh, row.bess_charge_mwh, row.bess_discharge_mwh,
                                     bat) if bat else 0.0)
        self.previous = row
        return row

    def settle_now(self) -> None:
        """Settle the running slice from its last settled instant to now, under the state that
        held over it."""
        cur, now = self.running, self.env.now
        if cur is not None and now > cur.a:
            cur.rows.append(self.settle(cur.k, cur.a, now, cur.obs, cur.sp))
            cur.a = now

    def interrupt(self) -> None:
        """An event changed the state: the EMS adapts its setpoints (within a slice)."""
        if self.in_slice and self.ems_process.is_alive:
            self.in_slice = False  # one interrupt at a time: the EMS sees every change so far
            self.ems_process.interrupt()

    def guard(self, k: int, obs: Observation, sp: Setpoints) -> Setpoints:
        pausable = [(ts.job.job_id, self.running_it_mwh(ts.job)) for ts in self.here()
                    if ts.job.pausable and ts.state in ("running", "queued")]
        return self.supply.guard(k, self.env.now, obs, sp, pausable)

    def dr_baseline(self, call) -> float:
        """A demand-response call's baseline from the import metered so far [MW]."""
        k = int(self.env.now // self.inp.slice_s)
        imports = self.meter_table[:k, ENERGY_COLUMNS.index("grid_import_mwh")]
        baseline = dr_baseline_mw(imports, self.inp.slice_s, call.start_s, call.end_s,
                                  call.baseline_days)
        self.supply.dr[call] = [baseline, 0.0]
        return baseline

    def record(self, k: int, row: physics.MeterRow) -> None:
        """The meter: slice ``k``'s row and the state of charge at its end."""
        self.meter_table[k] = row.values()
        self.soc_trace[k] = self.soc_mwh

    # --- the EMS's view and the slice's settlement ------------------------------------------
    def training_status(self, k: int) -> tuple[TrainingStatus, ...]:
        inp, out = self.inp, []
        for ts in self.here():
            if ts.state in ("waiting", "done"):
                continue
            dl = ts.job.deadline_slice
            out.append(TrainingStatus(
                job_id=ts.job.job_id, state=ts.state, gpus=ts.job.gpus,
                pausable=ts.job.pausable, remaining_s=ts.remaining_s,
                slack_s=(dl - k) * inp.slice_s - ts.remaining_s
                if dl is not None else float("inf"),
                it_mwh_per_slice=self.running_it_mwh(ts.job)))
        return tuple(out)

    def observe(self, k: int) -> Observation:
        """What the EMS knows at the start of slice ``k``."""
        inp, gpu, dt_h = self.inp, self.inp.gpu, self.inp.dt_h
        lim = self.supply.bus_limits(k, 1.0)  # the plant in service, the limits in force
        status = self.training_status(k) if self.trains else ()
        running = [s for s in status if s.state == "running"]
        train_s = sum(s.gpus * inp.slice_s for s in running)
        free_s = physics.free_gpu_s(inp.gpu_seconds_per_slice, self.busy_gpu_s[k], train_s)
        soc = self.soc_mwh
        return Observation(
            slice_index=k, dt_h=dt_h,
            pv_avail_mwh=lim.pv_avail_mwh,
            wind_avail_mwh=lim.wind_avail_mwh,
            it_fixed_mwh=physics.it_energy_mwh(self.inter_j[k], free_s, gpu)
            + sum(s.it_mwh_per_slice for s in running),
            it_mwh_per_batch_gpu_second=self.it_mwh_per_batch_gpu_s,
            nonit_per_it=self.nonit_per_it[k],
            free_gpu_seconds=free_s,
            batch_backlog_gpu_seconds=physics.busy_gpu_s(self.batch.backlog_j(), gpu),
            batch_due_gpu_seconds=physics.busy_gpu_s(self.batch.due_j(k + 1), gpu),
            soc_mwh=soc,
            max_charge_mwh=lim.max_charge_mwh,
            max_discharge_mwh=lim.max_discharge_mwh,
            max_import_mwh=lim.max_import_mwh,
            max_export_mwh=lim.max_export_mwh,
            price_usd_per_mwh=self.price[k],
            grid_share=self.grid_share[k],
            training=status,
            batch_queue=tuple((j.job.deadline_slice, physics.busy_gpu_s(j.remaining_j, gpu))
                              for j in self.batch.queue),
            previous=self.previous,
        )

    def settle_training(self, k: int, a: float, b: float) -> tuple[float, float]:
        """Training GPU-seconds held and GPU energy in ``[a, b)``; writes the task rows."""
        held_s = energy_j = 0.0
        for ts in self.trains:
            if ts.state == "waiting" or not ts.unsettled(self.name):
                continue
            c, o = ts.overlap_s(a, b, self.name)
            ts.forget_before(b, self.name)
            if c + o <= 0.0:
                continue
            g = ts.job.gpus
            tokens = c * ts.job.tokens_per_s
            e = physics.training_gpu_energy_j(c, o, g, self.inp.gpu)
            held_s += (c + o) * g
            energy_j += e
            ts.overhead_gpu_s[self.name] = ts.overhead_gpu_s.get(self.name, 0.0) + o * g
            if ts.start_slice is None:
                ts.start_slice = k
            ts.end_slice = k
            if ts.late:
                ts.tokens_late += tokens
            self.task_rows.append((ts.job.job_id, k, physics.host_energy_mwh(e, self.inp.gpu),
                                   tokens, 0.0))
        return held_s, energy_j

    def settle_transfers(self, k: int, a: float, b: float) -> float:
        """IT energy of data moved in ``[a, b)`` at this end of a link [MWh]; writes the task
        rows (transfer energy is IT energy of the task that moves)."""
        total = 0.0
        for tr in self.transfers:
            e = tr.energy_within_mwh(a, b)
            if e > 0.0:
                total += e
                self.transfer_mwh[tr.task_id] = self.transfer_mwh.get(tr.task_id, 0.0) + e
                self.task_rows.append((tr.task_id, k, e, 0.0, 0.0))
        self.transfers = [tr for tr in self.transfers if tr.end_s > b]
        return total

    def settle(self, k: int, a: float, b: float, obs: Observation, sp: Setpoints
               ) -> physics.MeterRow:
        """Settle ``[a, b)`` of slice ``k``: the work done and the bus (the battery's content
        moves on in :class:`Supply`; the slice's end sets its state of charge)."""
        inp, gpu = self.inp, self.inp.gpu
        f = (b - a) / inp.slice_s
        held_s, train_j = self.settle_training(k, a, b) if self.trains else (0.0, 0.0)
        busy_s, capacity_s = self.busy_gpu_s[k] * f, inp.gpu_seconds_per_slice * f
        free_s = physics.free_gpu_s(capacity_s, busy_s, held_s)
        backlog_s = (obs.batch_backlog_gpu_seconds if f == 1.0
                     else physics.busy_gpu_s(self.batch.backlog_j(), gpu))
        batch_s = min(max(sp.batch_gpu_seconds * f, 0.0), free_s, backlog_s)
        batch_j = self.batch.serve(k, a, batch_s, free_s, b - a) if batch_s > 0.0 else 0.0
        idle_s = physics.free_gpu_s(capacity_s, busy_s, held_s, physics.busy_gpu_s(batch_j, gpu))
        moved_mwh = self.settle_transfers(k, a, b) if self.transfers else 0.0
        load = PartLoad(self.inter_j[k] * f, batch_j + train_j, idle_s, moved_mwh)
        try:
            row, shed = self.supply.close(k, f, load, sp)
        except ShortOfSupply as err:
            raise SimulationError(
                f"slice {k}: the load exceeds by {err.short_mwh / (inp.dt_h * f):.3f} MW what "
                f"the grid (grid.max_import_mw = {inp.max_import_mw:g} or the limit in force), "
                f"the battery and backup can give, after shedding {list(inp.shedding)}") from None
        served = f * (1.0 - shed)
        if shed > 0.0:
            self.supply.shed_tokens_in[k] += f * shed * inp.interactive_tokens_in[k]
            self.supply.shed_tokens_out[k] += f * shed * inp.interactive_tokens_out[k]
        if k in self.inter_ids:
            self.task_rows.append((self.inter_ids[k], k,
                                   physics.host_energy_mwh(self.own_inter_j[k] * served, gpu),
                                   inp.interactive_tokens_in[k] * served,
                                   inp.interactive_tokens_out[k] * served))
        for task_id, j, tin, tout in self.routed.get(k, ()):
            self.task_rows.append((task_id, k, physics.host_energy_mwh(j * served, gpu),
                                   tin * served, tout * served))
        return row

    def interactive_task_ids(self) -> dict[str, int]:
        """Every interactive task served here, with its slice."""
        ids = {task_id: k for k, task_id in self.inter_ids.items()}
        for k, parts in self.routed.items():
            ids.update((task_id, k) for task_id, *_ in parts)
        return ids

    def result(self) -> SiteRun:
        """The site's record once the environment has run."""
        inp = self.inp
        meters = pd.DataFrame(self.meter_table,
                              columns=[*ENERGY_COLUMNS, *OPTIONAL_ENERGY_COLUMNS])
        meters.insert(0, "time", inp.index)
        meters.insert(1, "site", inp.name)
        meters.insert(2, "grid_share", inp.grid_share)
        # in time order (a stable sort: simultaneous events keep the order they happened in)
        events = sorted(((name, float(t)) for name, t in self.events), key=lambda ev: ev[1])
        return SiteRun(site=inp.name, meters=meters,
                       task_energy=task_energy_frame(self.task_rows, inp),
                       tasks=task_records(inp, self.interactive_task_ids(), self.batch.jobs,
                                          [ts for ts in self.trains if ts.home == self.name],
                                          self.arrived),
                       soc_mwh=self.soc_trace, events=events, decide_s=self.decide_s,
                       training={ts.job.job_id: TrainingAtSite(
                           ts.job, ts.overhead_gpu_s.get(self.name, 0.0),
                           self.transfer_mwh.get(ts.job.job_id, 0.0))
                           for ts in self.trains if self.name in ts.overhead_gpu_s
                           or ts.job.job_id in self.transfer_mwh},
                       batch_transfer_mwh={job_id: e for job_id, e in self.transfer_mwh.items()
                                           if job_id not in self.runs_here()},
                       resilience=self.supply.report(inp.index[0]))
