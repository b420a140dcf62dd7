"""The SimPy engine: sites as components in one environment.

- :mod:`twin.engine.site` - :class:`Site`, whose workload, EMS and meter processes are its
  methods and whose state is its attributes; it settles each slice through :mod:`models.site`;
- :mod:`twin.engine.training` - :class:`TrainingRun`, a training job whose process a pause order
  interrupts;
- :mod:`twin.engine.batch` - :class:`BatchQueue`, batch jobs served earliest deadline first;
- :mod:`twin.engine.records` - :class:`SiteRun`, the meters, task energy, task records and
  events a site leaves.

:func:`simulate_sites` puts several sites in one ``simpy.Environment``; sites that share no
process run exactly as they would alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import simpy

from twin.dispatch.base import Strategy
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
    env.run(until=simpy.AllOf(env, [c.meter_process for c in components]))
    return [c.result() for c in components]


def simulate_site(inp: SiteInputs, strategy: Strategy) -> SiteRun:
    """Run one site through the horizon (:func:`simulate_sites` with one site)."""
    return simulate_sites([(inp, strategy)])[0]


__all__ = ["SimulationError", "Site", "SiteRun", "simulate_site", "simulate_sites"]
