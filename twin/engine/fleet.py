"""A fleet as a SimPy component: sites in one environment, a router between regions and sites,
training jobs that migrate and batch jobs sent to another site.

Each slice the :class:`Fleet`'s process (every site's source of demand) lets the sites
settle the slice that ended, shows the fleet strategy the fleet (:class:`twin.dispatch.fleet.
FleetView`), routes every region's requests to the sites it reaches within its latency bound
(each site takes what its GPUs beside the training pool can serve), starts the migrations the
strategy asks for, sends the shares of newly released batch jobs it asks for, and posts each
site its demand: its batch releases and the requests routed to it.

A batch share that is sent moves its data (prompts, and the generations that come back) over
the link at the link's bandwidth, spending the link's energy per GB at both ends as IT energy of
the job, and joins the destination's queue at the first slice start after its data arrived
(:func:`models.transfer.arrival_slice`). A migration is a process: the job is ordered to pause
(it writes a checkpoint and frees its GPUs), its checkpoint crosses the link at the link's
bandwidth, spending the link's energy per GB at both ends as IT energy of the job at each site,
and it resumes at the destination. Either job stays one task with energy at every site it ran
at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import simpy

from models import site as physics
from models.tokens import gpu_energy_j
from models.transfer import arrival_slice, transfer_energy_mwh, transfer_s
from models.workloads import BatchJob
from twin.dispatch.fleet import (
    BatchView,
    FleetStrategy,
    FleetView,
    JobView,
    RegionDemand,
    SiteLink,
    SiteView,
)
from twin.engine.site import Demand, RoutedRequests, SimulationError, Site, Transfer
from twin.engine.training import TrainingRun
from twin.inputs import SiteInputs

#: Requests left unrouted below this share of a region's slice count as routed [fraction].
ROUTE_TOL = 1e-9


@dataclass(frozen=True)
class Migration:
    """A training job's move: from, to, when the transfer ran [s], and what it moved [GB]."""

    job_id: str
    origin: str
    destination: str
    start_s: float
    end_s: float
    gb: float
    energy_mwh_each_end: float


@dataclass(frozen=True)
class BatchMove:
    """A share of a batch job sent to another site: when its data crossed the link [s], the
    slice it joined the destination's queue in, and what it moved [GB]."""

    job_id: str
    origin: str
    destination: str
    share: float
    start_s: float
    end_s: float
    arrival_slice: int
    gb: float
    energy_mwh_each_end: float


class Fleet:
    """Sites in one environment, driven by a router and a fleet strategy.

    Parameters
    ----------
    env : simpy.Environment
    sites : list of Site
        Built with ``own_workload=False``: the fleet posts their demand.
    regions : list of RegionDemand
    links : dict of frozenset to SiteLink
        Links between two sites, keyed by the pair of names.
    strategy : FleetStrategy
    """

    def __init__(self, env: simpy.Environment, sites: list[Site], regions: list[RegionDemand],
                 links: dict[frozenset, SiteLink], strategy: FleetStrategy):
        self.env, self.regions, self.links, self.strategy = env, regions, links, strategy
        self.sites = {s.name: s for s in sites}
        runs = [ts for s in sites for ts in s.trains]
        for s in sites:  # a job is settled wherever its time was spent
            s.trains = runs
        self.runs = {ts.job.job_id: ts for ts in runs}
        self.arrived_s = {ts.job.job_id: ts.job.release_slice * sites[0].inp.slice_s
                          for ts in runs}
        # IT energy of requests of regions that reach several sites, in the previous slice
        self.flexible_it_mwh = dict.fromkeys(self.sites, 0.0)
        self.flexible = {r.name for r in regions if len(r.reachable) > 1}
        self.routing: list[tuple[int, str, str, float, float, float]] = []
        self.migrations: list[Migration] = []
        self.batch_moves: list[BatchMove] = []
        self.arriving: list[tuple[str, int, BatchJob]] = []  # batch shares on their way
        self.n, self.slice_s = sites[0].inp.n, sites[0].inp.slice_s
        self.decide_s = 0.0  # wall time of the fleet strategy's calls (routing included) [s]
        self.process = env.process(self.dispatch())

    # --- the process -----------------------------------------------------------------------
    def dispatch(self):
        env = self.env
        for k in range(self.n):
            if k > 0:
                yield env.timeout(0)  # the sites settle the slice that ended first
            view = self.view(k)
            t0 = time.perf_counter()
            self.strategy.observe(view)
            routed = self.route(k, view)
            moves = self.strategy.migrations(view)
            batch = self.strategy.batch_moves(view) if view.released else []
            self.decide_s += time.perf_counter() - t0
            for job_id, dest in moves:
                env.process(self.migrate(self.runs[job_id], dest))
            released = self.move_batch(k, view.released, batch)
            for name, site in self.sites.items():
                yield site.demand.put(Demand(tuple(released[name]), tuple(routed[name])))
            yield env.timeout(self.slice_s)

    def migrate(self, run: TrainingRun, dest: str):
        """Pause the job, move its checkpoint over the link, resume it at ``dest``."""
        env, src = self.env, self.sites[run.site]
        dst = self.sites[dest]
        link = self.links[frozenset((src.name, dest))]
        run.moving = True  # its site no longer orders it
        run.order(True)
        yield run.paused()
        gb = run.job.checkpoint_gb
        t0, duration = env.now, transfer_s(gb, link.bandwidth_gbit_s)
        energy = transfer_energy_mwh(gb, link.energy_kwh_per_gb)
        for site in (src, dst):
            site.transfers.append(Transfer(run.job.job_id, t0, t0 + duration, energy))
        src.log(f"{run.job.job_id} migrates to {dest}", t0)
        run.move_to(dest, dst.gpus, dst.log)
        yield env.timeout(duration)
        dst.log(f"{run.job.job_id} arrived from {src.name}", env.now)
        self.migrations.append(Migration(run.job.job_id, src.name, dest, t0, env.now, gb,
                                         energy))
        run.moving = False
        self.arrived_s[run.job.job_id] = env.now
        run.resume_now()

    def move_batch(self, k: int, views: tuple[BatchView, ...],
                   moves: list[tuple[str, str, float]]) -> dict[str, list[BatchJob]]:
        """Send the asked shares of batch jobs released in slice ``k`` to their destinations;
        returns each site's releases of the slice (what stays, what arrived now)."""
        out = {name: list(site.releases.get(k, ())) for name, site in self.sites.items()}
        offered = {v.job_id: v for v in views}
        asked: dict[str, list[tuple[str, float]]] = {}
        for job_id, dest, share in moves:
            v = offered.get(job_id)
            if v is None or dest not in v.arrival_slice or not 0.0 < share <= 1.0:
                raise SimulationError(
                    f"slice {k}: strategy {self.strategy.name!r} moves batch job {job_id!r} "
                    f"({share:g} of it) to {dest!r}, which it may not (a job released now, a "
                    "linked site with batch work that its data reaches before its deadline)")
            asked.setdefault(job_id, []).append((dest, share))
        now = self.env.now
        for job_id, parts in asked.items():
            v, total = offered[job_id], sum(share for _, share in parts)
            if total > 1.0 + 1e-9:
                raise SimulationError(f"slice {k}: strategy {self.strategy.name!r} moves "
                                      f"{total:g} of batch job {job_id!r}, more than all of it")
            job = next(j for j in out[v.site] if j.job_id == job_id)
            out[v.site].remove(job)
            if total < 1.0 - 1e-9:
                out[v.site].append(job.part(1.0 - total))
            for dest, share in parts:
                part = job.part(share)
                link = self.links[frozenset((v.site, dest))]
                end = now + transfer_s(part.data_gb, link.bandwidth_gbit_s)
                energy = transfer_energy_mwh(part.data_gb, link.energy_kwh_per_gb)
                for name in (v.site, dest):
                    self.sites[name].transfers.append(Transfer(job_id, now, end, energy))
                self.sites[dest].arrived[job_id] = v.site
                arrival = v.arrival_slice[dest]
                if arrival == k:
                    out[dest].append(part)
                else:
                    self.sites[dest].releases.setdefault(arrival, []).append(part)
                    self.arriving.append((dest, arrival, part))
                self.sites[v.site].log(f"{job_id} sends {share:.3g} to {dest}", now)
                self.batch_moves.append(BatchMove(job_id, v.site, dest, share, now, end,
                                                  arrival, part.data_gb, energy))
        return out

    # --- what the strategy sees, and the router ----------------------------------------------
    def view(self, k: int) -> FleetView:
        sites = {}
        for name, s in self.sites.items():
            prev = s.previous
            used = prev.facility_mwh if prev is not None else 0.0
            flexible = ((1.0 + s.nonit_per_it[k - 1]) * self.flexible_it_mwh[name]
                        if prev is not None else 0.0)
            held = sum(ts.job.gpus for ts in s.trains if ts.site == name
                       and ts.state in ("queued", "running", "releasing"))
            sites[name] = SiteView(name, s.supply.pv_mwh[k] + s.supply.wind_mwh[k] - used,
                                   flexible, s.nonit_per_it[k], s.inp.training_pool_gpus - held,
                                   s.inp.gpu)
        self.arriving = [a for a in self.arriving if a[1] >= k]
        return FleetView(k, sites, tuple(self.job_views(k)),
                         {name: s.observe(k) for name, s in self.sites.items()},
                         tuple(self.batch_views(k)), tuple(self.arriving))

    def batch_views(self, k: int):
        """The batch jobs released at their own site in slice ``k``, with where they may go."""
        for name, site in self.sites.items():
            for job in site.releases.get(k, ()):
                if job.job_id in site.arrived:  # a share that came here: it stays
                    continue
                arrival, it_mwh = {}, {name: site.batch_it_mwh(job)}
                for other, dest in self.sites.items():
                    link = self.links.get(frozenset((name, other)))
                    if link is None or dest.inp.batch_energy is None:
                        continue
                    a = arrival_slice(k, transfer_s(job.data_gb, link.bandwidth_gbit_s),
                                      self.slice_s)
                    if a < job.deadline_slice:
                        arrival[other], it_mwh[other] = a, dest.batch_it_mwh(job)
                yield BatchView(job.job_id, name, job.deadline_slice, it_mwh, arrival,
                                job.data_gb)

    def job_views(self, k: int):
        now = self.env.now
        for ts in self.runs.values():
            if ts.state in ("waiting", "done"):
                continue
            s = self.sites[ts.site]
            dl = ts.job.deadline_slice
            costs = {}
            for other in self.sites:
                link = self.links.get(frozenset((ts.site, other)))
                if link is not None and ts.job.pausable:
                    costs[other] = (ts.job.checkpoint_s + ts.job.restart_s
                                    + transfer_s(ts.job.checkpoint_gb, link.bandwidth_gbit_s))
            yield JobView(ts.job.job_id, ts.site, "moving" if ts.moving else ts.state,
                          ts.state in ("running", "releasing") and not ts.moving,
                          ts.job.gpus, ts.remaining_s, s.running_it_mwh(ts.job),
                          (dl - k) * self.slice_s - ts.remaining_s if dl is not None
                          else float("inf"), costs, now - self.arrived_s[ts.job.job_id])

    def route(self, k: int, view: FleetView) -> dict[str, list[RoutedRequests]]:
        """Each region's requests of slice ``k`` to its sites in the strategy's order."""
        inputs = {name: s.inp for name, s in self.sites.items()}
        busy = {name: s.busy_gpu_s[k] for name, s in self.sites.items()}
        orders = [self.strategy.route(view, r.name, r.reachable) for r in self.regions]
        parts = route_slice(k, self.regions, orders, inputs, busy)
        out: dict[str, list[RoutedRequests]] = {name: [] for name in self.sites}
        it_mwh = dict.fromkeys(self.sites, 0.0)
        for region, name, tin, tout, latency in parts:
            inp = inputs[name]
            out[name].append(RoutedRequests(region, tin, tout))
            if region in self.flexible:
                it_mwh[name] += float(physics.host_energy_mwh(
                    gpu_energy_j(tin, tout, inp.interactive_energy), inp.gpu))
            self.routing.append((k, region, name, tin, tout, latency))
        self.flexible_it_mwh = it_mwh
        return out


def route_slice(k: int, regions: list[RegionDemand], orders: list[list[tuple[str, float]]],
                inputs: dict[str, SiteInputs], own_busy_gpu_s: dict[str, float]
                ) -> list[tuple[str, str, float, float, float]]:
    """Route every region's requests of slice ``k``: each site in the region's order takes its
    share (at most what its GPUs beside the training pool and its own requests can serve), the
    next takes the rest; what is left then goes to the nearest sites with room. The site that
    takes the rest takes exactly what is left (tokens are conserved).

    Returns
    -------
    list of (region, site, tokens_in, tokens_out, latency_ms)

    Raises
    ------
    SimulationError
        Requests are left that no site within the region's bound can serve.
    """
    room = {name: inp.interactive_capacity_gpu_s - own_busy_gpu_s[name]
            for name, inp in inputs.items()}
    parts = []
    for r, order in zip(regions, orders, strict=True):
        tin, tout = float(r.tokens_in[k]), float(r.tokens_out[k])
        if tin + tout <= 0.0:
            continue
        latency, shares, left = dict(r.reachable), {}, 1.0
        for name, cap in [*order, *((site, 1.0) for site, _ in r.reachable)]:
            inp = inputs[name]
            need_s = float(physics.busy_gpu_s(
                gpu_energy_j(tin, tout, inp.interactive_energy), inp.gpu))
            share = min(left, cap, max(room[name], 0.0) / need_s) if need_s > 0 else left
            if share <= 0.0:
                continue
            room[name] -= share * need_s
            shares[name] = shares.get(name, 0.0) + share
            left -= share
            if left <= ROUTE_TOL:
                break
        if left > ROUTE_TOL:
            raise SimulationError(
                f"slice {k}: region {r.name!r} has {left:.1%} of its requests left that no "
                f"site within {r.latency_bound_ms:g} ms can serve beside its training pool "
                "(add GPUs at a site or lower its datacenter.training_pool_gpus)")
        # the last site takes exactly what the others leave: tokens are conserved
        names = list(shares)
        given_in = given_out = 0.0
        for name in names[:-1]:
            part_in, part_out = shares[name] * tin, shares[name] * tout
            given_in, given_out = given_in + part_in, given_out + part_out
            parts.append((r.name, name, part_in, part_out, latency[name]))
        parts.append((r.name, names[-1], tin - given_in, tout - given_out, latency[names[-1]]))
    return parts
