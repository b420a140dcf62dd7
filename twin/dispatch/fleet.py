"""Fleet strategies: where a region's requests are served and which training jobs migrate.

A fleet strategy sees the fleet at the start of each slice (:class:`FleetView`) and answers two
questions, each a method of :class:`FleetStrategy`:

- ``route(view, region)``: the order in which the region's reachable sites take its requests,
  each with the largest share it may take (it takes that share, or what its free GPUs can
  serve if less; the next takes the rest; whatever is left goes to the nearest with room);
- ``migrations(view)``: training jobs to move, with their destination.

Two rules ship: :class:`Nearest` (requests to the nearest site with room, nothing migrates: how
sites run today, and the fleet behaviour of every per-site strategy) and :class:`GreenHeadroom`
(the ``greedy`` fleet: requests first to the site with the most green surplus now, and a training
job moves when another site's surplus would give it clearly more green than its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.datacenter import GPUType


@dataclass(frozen=True)
class SiteView:
    """One site at the start of a slice.

    Attributes
    ----------
    name : str
    green_headroom_mwh : float
        Renewable energy available this slice minus the facility energy of the previous slice
        without the fleet's requests routed to it (negative: a deficit) [MWh].
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
    nonit_per_it: float
    free_pool_gpus: int
    gpu: GPUType


@dataclass(frozen=True)
class JobView:
    """A released, unfinished, pausable training job that could move.

    Attributes
    ----------
    job_id, site : str
        The job and where it is.
    running : bool
        Whether it held its GPUs in the previous slice (its load is in the site's headroom).
    gpus : int
    it_mwh_per_slice : float
        IT energy of a slice of it running [MWh].
    slack_s : float
        Time to its deadline minus the compute it still needs [s] (inf without a deadline).
    move_cost_s : float
        Time a move to each linked site costs it: checkpoint, transfer, reload [s], by site.
    since_move_s : float
        Time since it arrived where it is (or since its release) [s].
    """

    job_id: str
    site: str
    running: bool
    gpus: int
    it_mwh_per_slice: float
    slack_s: float
    move_cost_s: dict[str, float]
    since_move_s: float


@dataclass(frozen=True)
class FleetView:
    slice_index: int
    sites: dict[str, SiteView]
    jobs: tuple[JobView, ...]


class FleetStrategy(Protocol):
    """``routes_ahead``: its routing depends on nothing the run changes, so strategies that
    plan ahead can be shown the requests each site will serve."""

    name: str
    routes_ahead: bool

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        """The sites that take a region's requests, in order, each with the largest share of
        the slice's requests it may take [fraction]; ``reachable`` is (site, latency [ms])
        within the region's bound, nearest first."""
        ...

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        """Jobs to move now: (job id, destination site)."""
        ...


class Nearest:
    """Requests to the nearest site with room; nothing migrates."""

    name = "nearest"
    routes_ahead = True

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        return [(site, 1.0) for site, _ in reachable]

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        return []


class GreenHeadroom:
    """Flexible work to the site with the most green headroom now.

    Requests go first to the reachable site with the largest green headroom (the nearest on a
    tie). A training job moves from ``A`` to ``B`` when the green it would get at ``B``,
    ``min(max(h_B, 0), p)`` with ``p`` its facility energy per slice, exceeds what it gets at
    ``A`` by ``min_gain_fraction * p``, it has stayed ``min_dwell_h`` where it is, ``B`` has its
    GPUs free, and its slack covers the move twice over.
    """

    name = "green_headroom"
    routes_ahead = False

    def __init__(self, min_dwell_h: float = 12.0, min_gain_fraction: float = 0.5):
        self.min_dwell_s = min_dwell_h * 3600.0
        self.min_gain_fraction = min_gain_fraction

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        order = sorted(range(len(reachable)),
                       key=lambda i: (-view.sites[reachable[i][0]].green_headroom_mwh, i))
        return [(reachable[i][0], 1.0) for i in order]

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        moves, taken = [], {name: 0 for name in view.sites}
        for job in view.jobs:
            if job.since_move_s < self.min_dwell_s:
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
