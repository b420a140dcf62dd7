"""The SimPy engine: sites as components in one environment.

- :mod:`twin.engine.site` - :class:`Site`, whose EMS process is a method and whose state is
  its attributes; it settles each slice through :mod:`models.site` and records its meter row;
- :mod:`twin.engine.training` - :class:`TrainingRun`, a training job whose process a pause order
  interrupts;
- :mod:`twin.engine.batch` - :class:`BatchQueue`, batch jobs served earliest deadline first;
- :mod:`twin.engine.records` - :class:`SiteRun`, the meters, task energy, task records and
  events a site leaves.

:func:`simulate_sites` puts several sites in one ``simpy.Environment``; sites that share no
process run exactly as they would alone. :func:`simulate_fleet` adds
:class:`twin.engine.fleet.Fleet`: a router between user regions and sites, and training jobs
that migrate between sites.
"""

from __future__ import annotations

from collections.abc import Sequence

import simpy

from twin.dispatch.base import Strategy
from twin.dispatch.fleet import FleetStrategy
from twin.engine.fleet import Fleet, RegionDemand, SiteLink
from twin.engine.records import SiteRun
from twin.engine.site import SimulationError, Site
from twin.inputs import SiteInputs


def simulate_sites(sites: Sequence[tuple[SiteInputs, Strategy]]) -> list[SiteRun]:
    """Run several sites through the horizon in one SimPy environment.

    Parameters
    ----------
    sites : sequence of (SiteInputs, Strategy)
        Each site's inputs and the strategy that dispatches it.

    Returns
    -------
    list of SiteRun
        Per site, in the order given: meter rows, task energy per slice, task records, battery
        content and the event log (in time order; simultaneous events in the order they
        happened). Training beyond the horizon is not simulated.
    """
    env = simpy.Environment()
    components = [Site(env, inp, strategy) for inp, strategy in sites]
    env.run(until=simpy.AllOf(env, [c.ems_process for c in components]))
    return [c.result() for c in components]


def simulate_fleet(sites: Sequence[tuple[SiteInputs, Strategy]], regions: list[RegionDemand],
                   links: dict[frozenset, SiteLink], fleet_strategy: FleetStrategy,
                   planned: Sequence[SiteInputs] | None = None) -> tuple[list[SiteRun], Fleet]:
    """Run a fleet through the horizon: its sites in one SimPy environment, their demand posted
    by the fleet's router (:class:`twin.engine.fleet.Fleet`). ``planned``: per site, the inputs
    a strategy that plans ahead is shown (with the requests the router will send it).

    Returns
    -------
    (list of SiteRun, Fleet)
        Per site its record as in :func:`simulate_sites` (a migrated job's energy in each
        site's task energy); and the fleet, with its routing rows and migrations.
    """
    env = simpy.Environment()
    shown = planned if planned is not None else [None] * len(sites)
    components = [Site(env, inp, strategy, own_workload=False, planned=plan)
                  for (inp, strategy), plan in zip(sites, shown, strict=True)]
    fleet = Fleet(env, components, regions, links, fleet_strategy)
    env.run(until=simpy.AllOf(env, [c.ems_process for c in components]))
    return [c.result() for c in components], fleet


def simulate_site(inp: SiteInputs, strategy: Strategy) -> SiteRun:
    """Run one site through the horizon (:func:`simulate_sites` with one site)."""
    return simulate_sites([(inp, strategy)])[0]


__all__ = ["Fleet", "RegionDemand", "SimulationError", "Site", "SiteLink", "SiteRun",
           "simulate_fleet", "simulate_site", "simulate_sites"]
