"""Perfect-foresight planning of a fleet: the fleet LP's data, its solve, and the plan.

:func:`fleet_data` builds :class:`twin.optimize.fleet_model.FleetData` from the sites' inputs,
the regions and the links; :func:`optimize_fleet` solves the fleet LP and, as
:func:`twin.optimize.plan.optimize_horizon` does for a site, iterates the green share of each
site's battery discharge until gti_core, scoring the plan's own flows, agrees with the LP; then
holds every training job to whole slices at one site (the engine runs a job at one site for a
whole slice or pauses it) and re-plans the rest around that.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from gti_core.score import AccountingParams
from models import site as physics
from models.tokens import gpu_energy_j
from models.transfer import arrival_slice, transfer_energy_mwh, transfer_s, transfer_spread
from models.workloads import BatchJob
from twin.engine.fleet import RegionDemand, SiteLink
from twin.inputs import SiteInputs
from twin.optimize.data import batch_jobs_table, horizon_data
from twin.optimize.fleet_model import (
    BatchSend,
    FleetData,
    FleetModel,
    MovableBatch,
    MovableJob,
    RegionData,
    build_fleet_model,
)
from twin.optimize.highs import CompiledLP
from twin.optimize.model import progress_cap_tokens
from twin.optimize.plan import (
    FIXED_POINT_TOL,
    SHORTFALL_TOL,
    OptimizationInfeasible,
    PlanValues,
    discharge_green_share,
    infeasibilities,
    meters_of_plan,
    plan_values,
    whole_slices,
)


def movable_sites(home: int, inputs: list[SiteInputs], links: dict[frozenset, SiteLink]
                  ) -> list[int]:
    """Where a pausable job released at ``home`` may run: its home, then every site of the
    same GPU type linked to it and to each site already taken (a move between any two of them
    has a link)."""
    out = [home]
    for s, inp in enumerate(inputs):
        if s == home or inp.gpu != inputs[home].gpu:
            continue
        if all(frozenset((inputs[o].name, inp.name)) in links for o in out):
            out.append(s)
    return out


def placed_jobs(inputs: list[SiteInputs], links) -> tuple[list[list], list[tuple]]:
    """Per site the training jobs that may run there (its own, and movable jobs of linked
    sites), and each movable job with its home and sites."""
    placed = [list(inp.training_jobs) for inp in inputs]
    movable = []
    for h, inp in enumerate(inputs):
        for tj in inp.training_jobs:
            where = movable_sites(h, inputs, links) if tj.pausable else [h]
            if len(where) > 1:
                movable.append((tj, h, where))
                for s in where[1:]:
                    placed[s].append(tj)
    return placed, movable


def fleet_data(inputs: list[SiteInputs], regions: list[RegionDemand],
               links: dict[frozenset, SiteLink], alphas: list[float]) -> FleetData:
    """The fleet LP's data over the whole run: per site its own requests and every training
    job that may run there; the regions' requests at each site they reach; the movable jobs."""
    n = inputs[0].n
    index = {inp.name: s for s, inp in enumerate(inputs)}
    placed, movable = placed_jobs(inputs, links)
    sites = []
    for s, inp in enumerate(inputs):
        d = horizon_data(dataclasses.replace(inp, training_jobs=tuple(placed[s])), alphas[s],
                         discharge_green_fraction=np.ones(n))
        sites.append(d)
    jobs = []
    for tj, h, where in movable:
        local, required, cap = fleet_progress(sites, tj.job_id, where, h)
        tokens, mwh = move_costs(tj, h, where, inputs, links)
        jobs.append(MovableJob(tj.job_id, h, tuple(where), local, required, cap, tokens, mwh))
    regs = [region_data(r, inputs, index, r.tokens_in, r.tokens_out) for r in regions]
    room = [inp.interactive_capacity_gpu_s - inp.interactive_busy_gpu_s for inp in inputs]
    return FleetData([inp.name for inp in inputs], sites, regs, jobs, room,
                     movable_batch(inputs, links, 0, n))


def movable_batch(inputs: list[SiteInputs], links: dict[frozenset, SiteLink], start: int,
                  n: int) -> list[MovableBatch]:
    """The batch jobs released in slices ``start .. start + n`` that a linked site serving
    batch work could take: its data there (:func:`models.transfer.arrival_slice`, as the
    engine moves it) before the job's deadline and within the horizon."""
    out = []
    for h, inp in enumerate(inputs):
        for job in inp.batch_jobs:
            if start <= job.release_slice < start + n:
                sends = batch_sends(job, h, inputs, links, start, n)
                if sends:
                    out.append(MovableBatch(job.job_id, h, sends))
    return out


def batch_dests(home: int, inputs: list[SiteInputs], links: dict[frozenset, SiteLink]
                ) -> list[int]:
    """The sites a batch job released at ``home`` may be sent to: linked, serving batch."""
    return [d for d, other in enumerate(inputs) if d != home and other.batch_energy is not None
            and frozenset((inputs[home].name, other.name)) in links]


def batch_sends(job: BatchJob, home: int, inputs: list[SiteInputs],
                links: dict[frozenset, SiteLink], start: int, n: int) -> tuple[BatchSend, ...]:
    """Each destination a batch job released at ``home`` may be sent to, with its terms over
    slices ``start .. start + n`` (:class:`twin.optimize.fleet_model.BatchSend`)."""
    out = []
    rel = job.release_slice - start
    last = min(job.deadline_slice - 1 - start, n)  # may wait after slices before this
    home_work = float(batch_jobs_table(inputs[home], (job,))[2][0])
    for d in batch_dests(home, inputs, links):
        other, lk = inputs[d], links[frozenset((inputs[home].name, inputs[d].name))]
        duration = transfer_s(job.data_gb, lk.bandwidth_gbit_s)
        a = arrival_slice(job.release_slice, duration, other.slice_s) - start
        if a >= min(job.deadline_slice - start, n):
            continue
        released, may_wait, it_mwh = np.zeros((3, 2, n))
        spread = transfer_spread(duration, other.slice_s)[:n - rel] * transfer_energy_mwh(
            job.data_gb, lk.energy_kwh_per_gb)
        dest_work = float(batch_jobs_table(other, (job,))[2][0])
        for row, work, first in ((0, -home_work, rel), (1, dest_work, a)):
            released[row, first] = work
            may_wait[row, first:last] = work
            it_mwh[row, rel:rel + len(spread)] = spread
        out.append(BatchSend(d, released, may_wait, it_mwh))
    return tuple(out)


def fleet_progress(sites: list, job_id: str, where: list[int], at: int
                   ) -> tuple[tuple[int, ...], float, float]:
    """Hand a movable job's progress to the fleet: its index in each of its sites' training
    families, and the tokens it must train and may train, taken from the site it is ``at``.
    Every site's own row then requires nothing, and the job runs (and may not pause) only
    where it is; ``sites``' training data is changed in place."""
    local = tuple(next(i for i, td in enumerate(sites[s].training) if td.job_id == job_id)
                  for s in where)
    here = sites[at].training[local[where.index(at)]]
    for s, i in zip(where, local, strict=True):  # the fleet's progress row requires it
        td = sites[s].training[i]
        sites[s].training[i] = dataclasses.replace(
            td, required_tokens=0.0, pausable=td.pausable if s == at else True,
            running_before_fraction=td.running_before_fraction if s == at else 0.0)
    return local, here.required_tokens, progress_cap_tokens(here)


def region_data(r: RegionDemand, inputs: list[SiteInputs], index: dict[str, int],
                tokens_in: np.ndarray, tokens_out: np.ndarray) -> RegionData:
    """A region's requests (``tokens_in``, ``tokens_out`` per slice) at each site it reaches:
    GPU time and IT energy over idle (:func:`models.site.request_load`)."""
    reach = tuple(index[name] for name, _ in r.reachable)
    busy, it = zip(*(physics.request_load(gpu_energy_j(tokens_in, tokens_out,
                                                       inputs[s].interactive_energy),
                                          inputs[s].gpu) for s in reach), strict=True)
    return RegionData(r.name, reach, np.array(it), np.array(busy))


def move_costs(tj, at: int, where: list[int], inputs: list[SiteInputs],
               links: dict[frozenset, SiteLink]) -> tuple[dict[int, float], dict[int, float]]:
    """What moving job ``tj`` from site ``at`` to each of ``where`` costs: progress lost while
    its checkpoint crosses the link [tokens] and the transfer's energy, both ends [MWh] (both
    0 for ``at`` itself)."""
    tokens, mwh = {}, {}
    for s in where:
        if s == at:
            tokens[s] = mwh[s] = 0.0
            continue
        lk = links[frozenset((inputs[at].name, inputs[s].name))]
        tokens[s] = transfer_s(tj.checkpoint_gb, lk.bandwidth_gbit_s) * tj.tokens_per_s
        mwh[s] = 2.0 * transfer_energy_mwh(tj.checkpoint_gb, lk.energy_kwh_per_gb)
    return tokens, mwh


@dataclass
class SitePlan:
    """One site's part of a fleet plan: setpoints per slice and the plan's own meters."""

    charge: np.ndarray
    discharge: np.ndarray
    batch_gpu_s: np.ndarray
    run: dict[str, np.ndarray]  # running share of each job that may run here [fraction]
    meters: object


@dataclass
class FleetPlan:
    """A fleet plan: per site its setpoints, per region and site the share of requests, and
    per movable job where it runs in each slice (its site's name, or '' where it pauses).

    ``lp_gti_slice`` and ``gti_core_gti_slice`` are the fleet's time-slice GTI (energy-weighted
    over sites) as the LP computes it and as gti_core scores the plan's flows."""

    sites: dict[str, SitePlan]
    route_share: dict[tuple[str, str], np.ndarray]
    location: dict[str, list[str]]
    batch_send: dict[str, dict[str, float]]
    lp_gti_slice: float
    gti_core_gti_slice: float
    objective_value: float
    iterations: int
    timings_s: dict = field(default_factory=dict)


@dataclass
class _Solved:
    values: list[PlanValues]
    meters: list
    shares: list[np.ndarray]
    lp_gti: float
    core_gti: float
    cost_usd: float
    objective_value: float
    x: np.ndarray


def optimize_fleet(inputs: list[SiteInputs], regions: list[RegionDemand],
                   links: dict[frozenset, SiteLink], params: list[AccountingParams],
                   objective: str = "cost", gti_target: float | None = None,
                   max_iterations: int = 12, damping: float = 0.5) -> FleetPlan:
    """Plan a fleet over the whole run with perfect foresight (the fleet oracle).

    Parameters as :func:`twin.optimize.plan.optimize_horizon`, per site; ``gti_target`` is
    the fleet's time-slice GTI.

    Raises
    ------
    OptimizationInfeasible
        A deadline, a grid limit, a region's requests or the target cannot be met.
    """
    t0 = time.perf_counter()
    f = fleet_data(inputs, regions, links, [p.alpha for p in params])
    fm = build_fleet_model(f, objective, gti_target)
    t1 = time.perf_counter()
    lp = CompiledLP(fm.model)
    colours = fm.sites[0].green is not None
    rows = [_ShareRows(lp, h, d) for h, d in zip(fm.sites, f.sites, strict=True)] if colours \
        else []
    shares = [np.ones(f.n) for _ in inputs]
    best, it = None, 0
    while True:
        cand = _solve(lp, fm, f, inputs, params, gti_target)
        it += 1
        best = cand if best is None else _better(best, cand, objective, gti_target)
        if not rows or abs(cand.lp_gti - cand.core_gti) < FIXED_POINT_TOL or it >= max_iterations:
            break
        for s, r in enumerate(rows):
            shares[s] = shares[s] + damping * (cand.shares[s] - shares[s])
            r.set(shares[s])
    if _hold_whole_slices(lp, fm, f, best):
        best = _solve(lp, fm, f, inputs, params, gti_target,
                      prefix="with training in whole slices: ")
        it += 1
    t2 = time.perf_counter()
    return _plan(fm, f, lp, best, it,
                 {"build_s": t1 - t0, "compile_s": lp.compile_s, "pass_s": lp.pass_s,
                  "highs_s": lp.solve_s, "total_s": t2 - t0})


class _ShareRows:
    """A site's rows whose discharge coefficient is the discharge's green share."""

    def __init__(self, lp: CompiledLP, h, d):
        self.lp, self.active = lp, d.battery is not None and h.green.pool is not None
        if not self.active:
            return
        t, ones = range(d.n), np.ones(d.n)
        self.ed = d.battery.discharge_efficiency
        self.dis = lp.col_array(h.storage.discharge_mwh, t)
        self.inflow, self.pool = lp.row_array(h.green.inflow, t), lp.row_array(h.green.pool, t)
        self.in_sign = lp.orientation(self.inflow, self.dis, ones)
        self.pool_sign = lp.orientation(self.pool, self.dis, ones / self.ed)

    def set(self, share: np.ndarray) -> None:
        if self.active:
            self.lp.set_coeffs(self.inflow, self.dis, self.in_sign * share)
            self.lp.set_coeffs(self.pool, self.dis, self.pool_sign * share / self.ed)


def _solve(lp: CompiledLP, fm: FleetModel, f: FleetData, inputs: list[SiteInputs],
           params: list[AccountingParams], gti_target: float | None,
           prefix: str = "") -> _Solved:
    """Solve, refuse a plan with a shortfall (naming it), score each site with gti_core."""
    x = lp.solve()
    values, meters, shares, problems = [], [], [], []
    green = it_total = core_green = cost = 0.0
    for h, d, inp, p in zip(fm.sites, f.sites, inputs, params, strict=True):
        v = plan_values(lp, x, h, d)
        problems += [f"{inp.name}: {msg}" for msg in infeasibilities(v, d, inp.index, None)]
        mt = meters_of_plan(v, d, inp, 0)
        share, core = discharge_green_share(mt, p)
        it = float(v.it_mwh.sum())
        values.append(v)
        meters.append(mt)
        shares.append(share)
        green += float(v.green_it_mwh.sum())
        core_green += core * it
        it_total += it
        cost += float(mt["grid_import_mwh"].to_numpy() @ np.asarray(inp.price_usd_per_mwh)
                      - mt["grid_export_mwh"].sum() * inp.export_price_usd_per_mwh)
    problems += _fleet_shortfalls(lp, x, fm, f, inputs, gti_target, it_total)
    if problems:
        raise OptimizationInfeasible(prefix + "; ".join(problems))
    lp_gti = green / it_total if fm.sites[0].green is not None and it_total else float("nan")
    return _Solved(values, meters, shares, lp_gti, core_green / it_total if it_total else 0.0,
                   cost, lp.objective, x)


def _fleet_shortfalls(lp, x, fm: FleetModel, f: FleetData, inputs, gti_target, it_total
                      ) -> list[str]:
    msgs = []
    for r, reg in enumerate(f.regions):
        short = lp.values(x, fm.routing.short, [(r, t) for t in range(f.n)])
        if (short > SHORTFALL_TOL).any():
            k = int(np.argmax(short > SHORTFALL_TOL))
            msgs.append(f"routing: {short[k]:.1%} of region {reg.name}'s requests at "
                        f"{inputs[0].index[k]} find no site with room within its bound")
    for j, job in enumerate(f.jobs):
        short = float(x[lp.col(fm.migration.short_tokens, j)])
        if short > SHORTFALL_TOL * max(job.required_tokens, 1.0):
            msgs.append(f"training: job {job.job_id} is {short:.4g} tokens short of "
                        f"{job.required_tokens:.4g} by its deadline at every site it may use")
    if gti_target is not None and fm.target is not None:
        short = float(x[lp.col(fm.target.short_mwh)])
        if short > SHORTFALL_TOL:
            msgs.append(f"gti_target: the highest reachable fleet time-slice GTI is "
                        f"{gti_target - short / it_total:.4f}, below the target {gti_target}")
    return msgs


def _better(a: _Solved, b: _Solved, objective: str, gti_target: float | None) -> _Solved:
    if objective == "gti":
        return b if b.core_gti > a.core_gti else a
    if gti_target is not None:
        ok_a, ok_b = a.core_gti >= gti_target, b.core_gti >= gti_target
        if ok_a != ok_b:
            return b if ok_b else a
        if not ok_a:
            return b if b.core_gti > a.core_gti else a
    return b if b.cost_usd < a.cost_usd else a


def _hold_whole_slices(lp: CompiledLP, fm: FleetModel, f: FleetData, best: _Solved) -> bool:
    """Hold every training job to whole slices at one site by fixing its running shares;
    False (nothing fixed) when the plan already runs each in whole slices at one site.

    Per job: its running shares over all its sites become a whole-slice schedule
    (:func:`twin.optimize.plan.whole_slices`), each running slice at the site that ran most
    of it (a slice the schedule adds takes the site of the running slice next to it)."""
    per_site = []  # (job_id, site, local index, shares)
    for s, d in enumerate(f.sites):
        v = best.values[s]
        for i, td in enumerate(d.training):
            per_site.append((td.job_id, s, i, v.run_fraction[td.job_id], td))
    jobs: dict[str, list] = {}
    for row in per_site:
        jobs.setdefault(row[0], []).append(row)
    frac = any(np.any((r[3] > 1e-6) & (r[3] < 1 - 1e-6)) for r in per_site)
    split = any(np.sum([r[3] > 1e-6 for r in rows], axis=0).max() > 1 for rows in jobs.values())
    if not frac and not split:
        return False
    for rows in jobs.values():
        shares = np.array([r[3] for r in rows])
        td = rows[0][4]
        sched = whole_slices(shares.sum(axis=0), td.pause_tokens / td.tokens_per_slice)
        where = _fill_nearest(np.where(shares.max(axis=0) > 1e-6, shares.argmax(axis=0), -1))
        location = np.where(sched > 0.5, where, -1)
        for k, (_, s, i, _, _) in enumerate(rows):
            fixed = np.where(location == k, 1.0, 0.0)
            cols = lp.col_array(fm.sites[s].training.run_fraction, [(i, t) for t in range(f.n)])
            lp.set_col_bounds(cols, fixed, fixed)
    return True


def _fill_nearest(idx: np.ndarray) -> np.ndarray:
    """Each -1 replaced by the nearest non-negative entry (before it on a tie; 0 if none)."""
    known = np.flatnonzero(idx >= 0)
    if not len(known):
        return np.zeros_like(idx)
    pos = np.searchsorted(known, np.arange(len(idx)))
    before = known[np.clip(pos - 1, 0, len(known) - 1)]
    after = known[np.clip(pos, 0, len(known) - 1)]
    take_after = np.abs(after - np.arange(len(idx))) < np.abs(np.arange(len(idx)) - before)
    return np.where(idx >= 0, idx, idx[np.where(take_after, after, before)])


def _plan(fm: FleetModel, f: FleetData, lp: CompiledLP, best: _Solved, iterations: int,
          timings: dict) -> FleetPlan:
    sites = {}
    for s, name in enumerate(f.names):
        v = best.values[s]
        sites[name] = SitePlan(v.charge_mwh, v.discharge_mwh, v.batch_gpu_s, v.run_fraction,
                               best.meters[s])
    route = {}
    for r, reg in enumerate(f.regions):
        for s in reg.sites:
            route[(reg.name, f.names[s])] = lp.values(best.x, fm.routing.share,
                                                      [(r, s, t) for t in range(f.n)])
    where = {}
    for job_id in {td.job_id for d in f.sites for td in d.training}:
        at = np.full(f.n, "", dtype=object)
        for name in f.names:
            if job_id in sites[name].run:
                at[sites[name].run[job_id] >= 0.5] = name
        where[job_id] = list(at)
    return FleetPlan(sites, route, where, batch_shares(lp, best.x, fm, f), best.lp_gti,
                     best.core_gti, best.objective_value, iterations, timings)


def batch_shares(lp: CompiledLP, x: np.ndarray, fm: FleetModel, f: FleetData
                 ) -> dict[str, dict[str, float]]:
    """Per movable batch job the share the plan sends to each destination [fraction]."""
    out: dict[str, dict[str, float]] = {}
    for b, job in enumerate(f.batch):
        for send in job.sends:
            if job.job_id:
                out.setdefault(job.job_id, {})[f.names[send.dest]] = float(
                    x[lp.col(fm.batch.send, (b, send.dest))])
    return out
