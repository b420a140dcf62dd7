"""Fleet strategies: where a region's requests are served and which training jobs migrate.

A fleet strategy sees the fleet at the start of each slice (:class:`FleetView`) and answers two
questions, each a method of :class:`FleetStrategy`:

- ``route(view, region)``: the order in which the region's reachable sites take its requests,
  each with the largest share it may take (it takes that share, or what its free GPUs can
  serve if less; the next takes the rest; whatever is left goes to the nearest with room);
- ``migrations(view)``: training jobs to move, with their destination;
- ``batch_moves(view)``: shares of the batch jobs released this slice to run at another site
  (their data crosses the link first; they join that site's queue when it has arrived).

Two rules ship: :class:`Nearest` (requests to the nearest site with room, nothing migrates: how
sites run today, and the fleet behaviour of every per-site strategy) and :class:`GreenHeadroom`
(the ``greedy`` fleet: requests first to the site with the most green surplus now, and a training
or batch job moves when another site's surplus would give it clearly more green than its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from models.datacenter import GPUType
from models.workloads import BatchJob

if TYPE_CHECKING:
    from gti_core.score import AccountingParams
    from twin.dispatch.base import Observation, Strategy
    from twin.inputs import SiteInputs


@dataclass(frozen=True)
class RegionDemand:
    """A region's interactive requests per slice and the sites it reaches.

    Attributes
    ----------
    name : str
    tokens_in, tokens_out : numpy.ndarray
        Prompt and generated tokens per slice [tokens].
    latency_bound_ms : float
    reachable : tuple of (str, float)
        Sites linked within the bound and their latency [ms], nearest first.
    """

    name: str
    tokens_in: np.ndarray
    tokens_out: np.ndarray
    latency_bound_ms: float
    reachable: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class SiteLink:
    """A link between two sites: what moving a checkpoint over it costs."""

    latency_ms: float
    bandwidth_gbit_s: float
    energy_kwh_per_gb: float


@dataclass(frozen=True)
class SiteView:
    """One site at the start of a slice.

    Attributes
    ----------
    name : str
    green_headroom_mwh : float
        Renewable energy available this slice minus the facility energy of the previous slice
        (negative: a deficit) [MWh].
    flexible_mwh : float
        Of that facility energy, what requests of regions that could have gone to another site
        used [MWh].
    nonit_per_it : float
        Cooling and aux energy per IT energy this slice [fraction].
    free_pool_gpus : int
        Training-pool GPUs no job holds or waits for.
    gpu : GPUType
        GPU type (a job migrates only between sites of one type: its throughput and energy
        per token are its GPUs').
    """

    name: str
    green_headroom_mwh: float
    flexible_mwh: float
    nonit_per_it: float
    free_pool_gpus: int
    gpu: GPUType


@dataclass(frozen=True)
class JobView:
    """A released, unfinished training job.

    Attributes
    ----------
    job_id, site : str
        The job and where it is (where it goes, while it moves).
    state : str
        ``queued``, ``running``, ``releasing``, ``paused`` or ``moving``.
    running : bool
        Whether it holds its GPUs (its load is in the site's headroom).
    gpus : int
    remaining_s : float
        Compute time it still needs [s].
    it_mwh_per_slice : float
        IT energy of a slice of it running [MWh].
    slack_s : float
        Time to its deadline minus the compute it still needs [s] (inf without a deadline).
    move_cost_s : dict of str to float
        Time a move to each linked site costs it: checkpoint, transfer, reload [s], by site;
        empty for a job that may not move (not pausable, or no link).
    since_move_s : float
        Time since it arrived where it is (or since its release) [s].
    """

    job_id: str
    site: str
    state: str
    running: bool
    gpus: int
    remaining_s: float
    it_mwh_per_slice: float
    slack_s: float
    move_cost_s: dict[str, float]
    since_move_s: float


@dataclass(frozen=True)
class BatchView:
    """A batch job released at its site this slice, before it joins that site's queue.

    Attributes
    ----------
    job_id, site : str
        The job and the site it is released at.
    deadline_slice : int
        The slice by whose start it must be done.
    it_mwh : dict of str to float
        IT energy of all its work at its site and at each site it may move to [MWh], by site.
    arrival_slice : dict of str to int
        Per site it may move to (linked, serving batch work, its data there before its
        deadline): the slice it joins that site's queue in.
    data_gb : float
        What crosses the link if all of it moves [GB].
    """

    job_id: str
    site: str
    deadline_slice: int
    it_mwh: dict[str, float]
    arrival_slice: dict[str, int]
    data_gb: float


@dataclass(frozen=True)
class FleetView:
    """The fleet at the start of a slice, before its requests are routed: per site its view
    and what its EMS observes (its own requests only), every released, unfinished training
    job, the batch jobs released this slice, and the batch shares sent earlier that have not
    joined their destination's queue yet: (site, the slice they join it in, the share)."""

    slice_index: int
    sites: dict[str, SiteView]
    jobs: tuple[JobView, ...]
    observations: dict[str, Observation]
    released: tuple[BatchView, ...] = ()
    arriving: tuple[tuple[str, int, BatchJob], ...] = ()


@dataclass(frozen=True)
class FleetInputs:
    """What a fleet strategy that plans ahead is shown before the run: per site its inputs
    (its own requests, its training pool) and accounting, the regions and the site links."""

    inputs: list[SiteInputs]
    regions: list[RegionDemand]
    links: dict[frozenset, SiteLink]
    params: list[AccountingParams]


class FleetStrategy(Protocol):
    """What the fleet asks of a strategy. ``routes_ahead``: its routing depends on nothing the
    run changes, so the sites' own strategies that plan ahead can be shown the requests each
    site will serve."""

    name: str
    routes_ahead: bool

    def prepare(self, fleet: FleetInputs) -> None:
        """See the fleet's inputs before the first slice (planners plan here)."""
        ...

    def observe(self, view: FleetView) -> None:
        """See the fleet at the start of each slice, before ``route`` and ``migrations``."""
        ...

    def site_strategy(self, site: str, own: Strategy) -> Strategy:
        """The strategy that dispatches ``site``: ``own`` (the run's strategy for it), or the
        fleet's plan played back."""
        ...

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        """The sites that take a region's requests, in order, each with the largest share of
        the slice's requests it may take [fraction]; ``reachable`` is (site, latency [ms])
        within the region's bound, nearest first."""
        ...

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        """Jobs to move now: (job id, destination site)."""
        ...

    def batch_moves(self, view: FleetView) -> list[tuple[str, str, float]]:
        """Batch jobs of ``view.released`` to move now: (job id, destination site, share of
        the job [fraction]); the shares of a job add up to at most 1, the rest stays."""
        ...

    def report(self) -> dict:
        """What it did, for summary.json (empty for rules)."""
        ...


class FleetRule:
    """A fleet strategy that plans nothing: each site keeps its own strategy."""

    name = "rule"
    routes_ahead = False

    def prepare(self, fleet: FleetInputs) -> None:
        return None

    def observe(self, view: FleetView) -> None:
        return None

    def site_strategy(self, site: str, own: Strategy) -> Strategy:
        return own

    def batch_moves(self, view: FleetView) -> list[tuple[str, str, float]]:
        return []

    def report(self) -> dict:
        return {}


class Nearest(FleetRule):
    """Requests to the nearest site with room; nothing migrates."""

    name = "nearest"
    routes_ahead = True

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        return [(site, 1.0) for site, _ in reachable]

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        return []


class GreenHeadroom(FleetRule):
    """Flexible work to the site with the most green headroom now.

    Requests go first to the reachable site with the largest green headroom before flexible
    requests (those of regions that reach more than one site) took their share (the nearest on
    a tie). A training job moves from ``A`` to ``B`` when the green it would get at ``B``,
    ``min(max(h_B, 0), p)`` with ``p`` its facility energy per slice, exceeds what it gets at
    ``A`` by ``min_gain_fraction * p``, it has stayed ``min_dwell_h`` where it is, ``B`` has its
    GPUs free, and its slack covers the move twice over. A batch job released at ``A`` moves
    whole to ``B`` by the same test, with ``p`` its facility energy spread evenly from its
    arrival to its deadline (it runs as a fluid on GPUs the site leaves free).
    """

    name = "green_headroom"
    routes_ahead = False

    def __init__(self, min_dwell_h: float = 12.0, min_gain_fraction: float = 0.5):
        self.min_dwell_s = min_dwell_h * 3600.0
        self.min_gain_fraction = min_gain_fraction

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        def headroom(site: str) -> float:  # as if no flexible request were there
            v = view.sites[site]
            return v.green_headroom_mwh + v.flexible_mwh

        order = sorted(range(len(reachable)), key=lambda i: (-headroom(reachable[i][0]), i))
        return [(reachable[i][0], 1.0) for i in order]

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        moves, taken = [], {name: 0 for name in view.sites}
        for job in view.jobs:
            if (not job.move_cost_s or job.state not in ("running", "paused")
                    or job.since_move_s < self.min_dwell_s):
                continue
            here = view.sites[job.site]
            p_here = job.it_mwh_per_slice * (1.0 + here.nonit_per_it)
            # what the site would have without the job, if it ran there last slice
            h_here = here.green_headroom_mwh + (p_here if job.running else 0.0)
            green_here = min(max(h_here, 0.0), p_here)
            best, best_gain = None, 0.0
            for dest, cost_s in job.move_cost_s.items():
                there = view.sites[dest]
                if (there.gpu != here.gpu or job.slack_s < 2.0 * cost_s
                        or there.free_pool_gpus - taken[dest] < job.gpus):
                    continue
                p_there = job.it_mwh_per_slice * (1.0 + there.nonit_per_it)
                gain = min(max(there.green_headroom_mwh, 0.0), p_there) - green_here
                if gain >= self.min_gain_fraction * p_there and gain > best_gain:
                    best, best_gain = dest, gain
            if best is not None:
                taken[best] += job.gpus
                moves.append((job.job_id, best))
        return moves

    def batch_moves(self, view: FleetView) -> list[tuple[str, str, float]]:
        moves = []
        for job in view.released:
            green_here, _ = _green_now(view, job, job.site, view.slice_index)
            best, best_gain = None, 0.0
            for dest, arrival in job.arrival_slice.items():
                got, p = _green_now(view, job, dest, arrival)
                gain = got - green_here
                if gain >= self.min_gain_fraction * p and gain > best_gain:
                    best, best_gain = dest, gain
            if best is not None:
                moves.append((job.job_id, best, 1.0))
        return moves


def _green_now(view: FleetView, job: BatchView, site: str, start: int) -> tuple[float, float]:
    """A batch job at ``site`` from slice ``start``: its facility energy per slice ``p`` if
    spread evenly to its deadline, and the green headroom now could give it,
    ``min(max(h, 0), p)`` [MWh]."""
    v = view.sites[site]
    p = job.it_mwh[site] * (1.0 + v.nonit_per_it) / max(job.deadline_slice - start, 1)
    return min(max(v.green_headroom_mwh, 0.0), p), p
