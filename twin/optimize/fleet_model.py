"""One dispatch LP over a fleet: every site's families in its own block, and the families that
join them.

``build_fleet_model(data, objective, gti_target)`` assembles, per site, the families of
:mod:`twin.optimize.model` in a Pyomo block (with the load the fleet places there as
:class:`twin.optimize.model.ExtraLoad`), and over the fleet:

- :func:`add_routing_constraints` - each region's requests per slice shared among the sites it
  reaches within its latency bound (shares add up to 1), each site's share within the GPU time
  beside its training pool; a share brings its IT energy over idle and its GPU time to the site;
- :func:`add_migration_constraints` - a movable training job runs at one site at a time; it
  arrives at a site other than its home at the cost of moving its checkpoint (transfer time as
  lost progress, transfer energy at both ends as IT energy at the destination); its progress
  over every site meets what it must train;
- :func:`add_batch_move_constraints` - a share of each batch job released in the horizon may
  be sent to a linked site when it is released (the shares add up to at most 1): it leaves its
  home's backlog account and joins the destination's, in the destination's GPU time, from the
  slice its data arrives in to its deadline, and its data's transfer energy is IT energy at
  both ends;
- the objective: the sum of the sites' (cost, or green IT energy for the fleet time-slice GTI),
  and with a target the fleet's ``sum g_it >= target * sum it``.

Each fleet family returns a typed handle (:class:`RoutingHandle`, :class:`MigrationHandle`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from twin.optimize.data import HorizonData
from twin.optimize.handles import DispatchModel, TargetHandle
from twin.optimize.model import (
    PENALTY,
    ExtraLoad,
    add_dispatch_families,
    add_green_constraints,
    objective_expr,
)


@dataclass(frozen=True)
class RegionData:
    """A region's requests per slice at each site it reaches.

    Attributes
    ----------
    name : str
    sites : tuple of int
        Indices of the sites within its latency bound.
    it_mwh : numpy.ndarray
        Per reachable site (rows) and slice: IT energy of all the region's requests at that
        site over leaving the GPUs they occupy idle [MWh].
    gpu_s : numpy.ndarray
        The same for the GPU time they occupy [GPU-s].
    """

    name: str
    sites: tuple[int, ...]
    it_mwh: np.ndarray
    gpu_s: np.ndarray


@dataclass(frozen=True)
class MovableJob:
    """A training job that may run at several sites.

    Attributes
    ----------
    job_id : str
    home : int
        The site it is released at (its checkpoint starts there).
    sites : tuple of int
        Where it may run: its home and sites linked to it (and to each other).
    local : tuple of int
        Its index in each of those sites' training families.
    required_tokens : float
        What it must train in the horizon [tokens].
    cap_tokens : float
        The most progress it may make: what it has left plus one slice [tokens].
    transfer_tokens : dict of int to float
        Progress lost to moving its checkpoint from where it is (its home at the start) to
        each of its sites (0 where it is) [tokens].
    transfer_mwh : dict of int to float
        Energy of that move, both ends together [MWh].
    """

    job_id: str
    home: int
    sites: tuple[int, ...]
    local: tuple[int, ...]
    required_tokens: float
    cap_tokens: float
    transfer_tokens: dict[int, float]
    transfer_mwh: dict[int, float]


@dataclass(frozen=True)
class BatchSend:
    """What sending all of a batch job to one destination does, per slice of the horizon: row
    0 at the job's home, row 1 at the destination.

    Attributes
    ----------
    dest : int
    released_gpu_s : numpy.ndarray
        Work released (the home's release taken back, the destination's from the slice the
        job's data arrives in) [GPU-s], shape (2, n).
    may_wait_gpu_s : numpy.ndarray
        Work that may still wait after each slice, until one slice before the deadline
        [GPU-s], shape (2, n).
    it_mwh : numpy.ndarray
        The data's transfer energy at each end [MWh], shape (2, n).
    """

    dest: int
    released_gpu_s: np.ndarray
    may_wait_gpu_s: np.ndarray
    it_mwh: np.ndarray


@dataclass(frozen=True)
class MovableBatch:
    """A batch job released in the horizon that may be sent, in shares, to linked sites
    (``job_id`` empty: a rolling window's unused slot, every term 0)."""

    job_id: str
    home: int
    sends: tuple[BatchSend, ...]


@dataclass
class FleetData:
    """A fleet's horizon: per site its :class:`HorizonData` (own requests only; every training
    job that may run there, with nothing required of it), the regions, the movable jobs, per
    site the GPU time beside its training pool and its own requests [GPU-s], and the batch
    jobs that may be sent to another site."""

    names: list[str]
    sites: list[HorizonData]
    regions: list[RegionData]
    jobs: list[MovableJob]
    room_gpu_s: list[np.ndarray]
    batch: list[MovableBatch] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.sites[0].n


@dataclass(frozen=True)
class RoutingHandle:
    """Share of each region's requests per reachable site and slice [fraction], the share no
    site took [fraction], and per site the IT energy [MWh] and GPU time [GPU-s] routed there."""

    pairs: pyo.Set
    share: pyo.Var
    short: pyo.Var
    total: pyo.Constraint


@dataclass(frozen=True)
class MigrationHandle:
    """Per movable job: arrivals at each of its sites per slice [fraction], the tokens short of
    what it must train and the most it may (data columns) [tokens], and its fleet-wide
    progress rows."""

    arrive: pyo.Var
    short_tokens: pyo.Var
    required_tokens: pyo.Var
    progress: pyo.Constraint
    cap_tokens: pyo.Var
    progress_cap: pyo.Constraint


@dataclass(frozen=True)
class BatchMoveHandle:
    """Share of each movable batch job sent to each destination [fraction], and the rows that
    keep each job's shares within all of it."""

    pairs: pyo.Set
    send: pyo.Var
    once: pyo.Constraint


@dataclass(frozen=True)
class FleetModel:
    """The fleet LP and the handles of every family in it."""

    model: pyo.ConcreteModel
    sites: list[DispatchModel]
    routing: RoutingHandle
    migration: MigrationHandle
    target: TargetHandle | None = None
    batch: BatchMoveHandle | None = None


def add_routing_variables(m: pyo.ConcreteModel, f: FleetData) -> RoutingHandle:
    """Shares of each region's requests per reachable site and slice: they add up to 1 (the
    rest, if any, is a penalised shortfall)."""
    pairs = [(r, s) for r, reg in enumerate(f.regions) for s in reg.sites]
    m.route_pairs = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    m.R = pyo.Set(initialize=range(len(f.regions)), ordered=True)
    m.route_share = pyo.Var(m.route_pairs, m.T, bounds=(0.0, 1.0))
    m.route_short = pyo.Var(m.R, m.T, bounds=(0.0, 1.0))
    m.route_total = pyo.Constraint(m.R, m.T, rule=lambda m, r, t: sum(
        m.route_share[r, s, t] for s in f.regions[r].sites) + m.route_short[r, t] == 1.0)
    return RoutingHandle(m.route_pairs, m.route_share, m.route_short, m.route_total)


def add_migration_variables(m: pyo.ConcreteModel, f: FleetData) -> pyo.Var:
    """Arrivals of each movable job at each of its sites per slice [fraction] (an arrival
    where it already is costs nothing; a rolling horizon moves where that is)."""
    arrivals = [(j, s) for j, job in enumerate(f.jobs) for s in job.sites]
    m.arrival_pairs = pyo.Set(initialize=arrivals, dimen=2, ordered=True)
    m.arrive = pyo.Var(m.arrival_pairs, m.T, bounds=(0.0, 1.0))
    return m.arrive


def add_batch_move_variables(m: pyo.ConcreteModel, f: FleetData) -> pyo.Var:
    """Share of each movable batch job sent to each of its destinations [fraction]."""
    pairs = [(b, send.dest) for b, job in enumerate(f.batch) for send in job.sends]
    m.batch_pairs = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    m.batch_send = pyo.Var(m.batch_pairs, bounds=(0.0, 1.0))
    return m.batch_send


def _batch_terms(f: FleetData, s: int) -> tuple[dict, dict, dict]:
    """Site ``s``'s terms of the batch shares sent: per slice, (coefficient, (job, destination))
    in its released work and its work that may wait [GPU-s], and in its IT energy [MWh]."""
    tables: tuple[dict, dict, dict] = ({}, {}, {})
    for b, job in enumerate(f.batch):
        for send in job.sends:
            if s not in (job.home, send.dest):
                continue
            row = 0 if s == job.home else 1
            for table, coef in zip(tables, (send.released_gpu_s, send.may_wait_gpu_s,
                                            send.it_mwh), strict=True):
                for t in np.flatnonzero(coef[row]):
                    table.setdefault(int(t), []).append((float(coef[row, t]), (b, send.dest)))
    return tables


def site_extra_load(m: pyo.ConcreteModel, f: FleetData, s: int) -> ExtraLoad:
    """What the fleet places at site ``s``: routed requests, checkpoints moved in, batch work
    sent in or out and its data's transfers."""
    routes = [(r, int(np.flatnonzero(np.array(reg.sites) == s)[0]))
              for r, reg in enumerate(f.regions) if s in reg.sites]
    arrivals = [(j, job.transfer_mwh[s]) for j, job in enumerate(f.jobs) if s in job.sites]
    released, may_wait, moved = _batch_terms(f, s)

    def terms(table: dict, t: int):
        return sum(c * m.batch_send[key] for c, key in table.get(t, ()))

    def it_mwh(t):
        return (sum(float(f.regions[r].it_mwh[i, t]) * m.route_share[r, s, t]
                    for r, i in routes)
                + sum(e * m.arrive[j, s, t] for j, e in arrivals) + terms(moved, t))

    def gpu_s(t):
        return sum(float(f.regions[r].gpu_s[i, t]) * m.route_share[r, s, t] for r, i in routes)

    if not released:
        return ExtraLoad(it_mwh, gpu_s)
    return ExtraLoad(it_mwh, gpu_s, lambda t: terms(released, t), lambda t: terms(may_wait, t))


def add_batch_move_constraints(m: pyo.ConcreteModel, f: FleetData, send: pyo.Var
                               ) -> BatchMoveHandle:
    """Each movable batch job's shares sent add up to at most all of it (its account terms
    are in the sites' blocks, :func:`site_extra_load`)."""
    m.MB = pyo.Set(initialize=range(len(f.batch)), ordered=True)
    m.batch_once = pyo.Constraint(m.MB, rule=lambda m, b: sum(
        send[b, x.dest] for x in f.batch[b].sends) <= 1.0)
    return BatchMoveHandle(m.batch_pairs, send, m.batch_once)


def add_routing_constraints(m: pyo.ConcreteModel, f: FleetData, routing: RoutingHandle
                            ) -> pyo.Constraint:
    """Each site's routed GPU time within what its training pool and own requests leave."""
    def room(m, s, t):
        terms = [(r, int(np.flatnonzero(np.array(reg.sites) == s)[0]))
                 for r, reg in enumerate(f.regions) if s in reg.sites]
        if not terms:
            return pyo.Constraint.Skip
        return (sum(float(f.regions[r].gpu_s[i, t]) * routing.share[r, s, t] for r, i in terms)
                <= float(max(f.room_gpu_s[s][t], 0.0)))

    m.S = pyo.Set(initialize=range(len(f.sites)), ordered=True)
    m.route_room = pyo.Constraint(m.S, m.T, rule=room)
    return m.route_room


def add_migration_constraints(m: pyo.ConcreteModel, f: FleetData, sites: list[DispatchModel],
                              arrive: pyo.Var) -> MigrationHandle:
    """A movable job at one site at a time, arrivals where its running share rises at a
    non-home site, and its progress over the fleet (spec: one task, energy at every site)."""
    m.MJ = pyo.Set(initialize=range(len(f.jobs)), ordered=True)

    def run(j, s, t):
        job = f.jobs[j]
        return sites[s].training.run_fraction[job.local[job.sites.index(s)], t]

    def pause(j, s, t):
        job = f.jobs[j]
        return sites[s].training.pause_fraction[job.local[job.sites.index(s)], t]

    def before(j, s):  # running there when the horizon starts
        job = f.jobs[j]
        return sites[s].training.running_before_fraction[job.local[job.sites.index(s)]]

    m.one_place = pyo.Constraint(m.MJ, m.T, rule=lambda m, j, t: sum(
        run(j, s, t) for s in f.jobs[j].sites) <= 1.0)
    m.arrival = pyo.Constraint(m.arrival_pairs, m.T, rule=lambda m, j, s, t: arrive[j, s, t]
                               >= run(j, s, t) - (run(j, s, t - 1) if t > 0 else before(j, s)))
    m.migration_short_tokens = pyo.Var(m.MJ, bounds=(0.0, None))
    m.migration_required_tokens = pyo.Var(
        m.MJ, bounds=lambda m, j: (f.jobs[j].required_tokens,) * 2)

    def progress(j, until=None):  # net progress over its sites, counted before ``until``
        job = f.jobs[j]
        total = 0.0
        for s, loc in zip(job.sites, job.local, strict=True):
            tj = f.sites[s].training[loc]
            end = f.n if until is None else min(tj.deadline_slice, f.n)
            total += sum(tj.tokens_per_slice * run(j, s, t) - tj.pause_tokens * pause(j, s, t)
                         for t in range(end))
            total -= job.transfer_tokens[s] * sum(arrive[j, s, t] for t in m.T)
        return total

    m.fleet_progress = pyo.Constraint(m.MJ, rule=lambda m, j: progress(j, "deadline")
                                      + m.migration_short_tokens[j]
                                      >= m.migration_required_tokens[j])
    m.migration_cap_tokens = pyo.Var(m.MJ, bounds=lambda m, j: (f.jobs[j].cap_tokens,) * 2)
    m.fleet_progress_cap = pyo.Constraint(m.MJ, rule=lambda m, j: progress(j)
                                          <= m.migration_cap_tokens[j])
    return MigrationHandle(arrive, m.migration_short_tokens, m.migration_required_tokens,
                           m.fleet_progress, m.migration_cap_tokens, m.fleet_progress_cap)


def build_fleet_model(f: FleetData, objective: str = "cost",
                      gti_target: float | None = None) -> FleetModel:
    """The fleet's dispatch LP: a block of families per site, routing, migration, objective."""
    m = pyo.ConcreteModel(name="fleet_dispatch")
    m.T = pyo.RangeSet(0, f.n - 1)
    routing = add_routing_variables(m, f)
    arrive = add_migration_variables(m, f)
    send = add_batch_move_variables(m, f)
    m.site = pyo.Block(range(len(f.sites)))
    handles = []
    colour = objective == "gti" or gti_target is not None
    for s, d in enumerate(f.sites):
        b = m.site[s]
        b.T = pyo.RangeSet(0, d.n - 1)
        supply, storage, deferrable, training, balance = add_dispatch_families(
            b, d, extra=site_extra_load(m, f, s))
        green = add_green_constraints(b, d, supply, storage, balance) if colour else None
        handles.append(DispatchModel(b, supply, storage, deferrable, training, balance, green))
    add_routing_constraints(m, f, routing)
    migration = add_migration_constraints(m, f, handles, arrive)
    batch = add_batch_move_constraints(m, f, send)
    target = None
    if gti_target is not None:
        m.target_short_mwh = pyo.Var(bounds=(0.0, None))
        m.gti_target = pyo.Constraint(expr=sum(h.green.it_mwh[t] for h in handles for t in m.T)
                                      + m.target_short_mwh >= gti_target * sum(
                                          h.balance.it_mwh[t] for h in handles for t in m.T))
        target = TargetHandle(m.target_short_mwh, m.gti_target)
    expr = sum(objective_expr(h, d, objective) for h, d in zip(handles, f.sites, strict=True))
    # shortfalls in MWh-equivalents: a region's requests unrouted at their IT energy at the
    # nearest site, a job's tokens short at its IT energy per token
    unrouted = sum(float(f.regions[r].it_mwh[0, t]) * routing.short[r, t]
                   for r in m.R for t in m.T)
    short = sum(f.sites[job.home].training[job.local[0]].it_mwh_per_slice
                / f.sites[job.home].training[job.local[0]].tokens_per_slice
                * migration.short_tokens[j] for j, job in enumerate(f.jobs))
    expr = expr + PENALTY * (unrouted + short
                             + (target.short_mwh if target is not None else 0.0))
    m.objective = pyo.Objective(expr=expr, sense=pyo.minimize)
    return FleetModel(m, handles, routing, migration, target, batch)
