"""Events that change what a site can draw on: scheduled windows, random failures, and a
demand-response call's baseline.

Times are seconds from the horizon's start. A scheduled window holds over ``[start_s,
end_s)``. Random failures follow each unit of a component through alternating times to failure
(exponential, or Weibull with the given shape, both with mean ``mtbf``) and times to repair
(exponential with mean ``mttr``), drawn from a generator seeded by the site's seed, the
component's index and the unit's index, so that a seed gives the same failures to the last
digit and another seed moves them. A demand-response baseline is the site's mean import over
the same hours of the days before the call (as utilities' "X of Y days" baselines are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outage:
    """The grid is down: nothing crosses the point of interconnection."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class PoiLimit:
    """Import and export limits for a while [MW] (None: the grid block's)."""

    start_s: float
    end_s: float
    max_import_mw: float | None
    max_export_mw: float | None


@dataclass(frozen=True)
class Derate:
    """Part of a plant (``pv``, ``wind`` or ``battery``) out of service [fraction in service]."""

    start_s: float
    end_s: float
    component: str
    available_fraction: float


@dataclass(frozen=True)
class DemandResponse:
    """A call to cut import by ``reduce_import_mw`` below the baseline, paid per MWh delivered
    [$/MWh] and penalised per MWh short [$/MWh]."""

    start_s: float
    end_s: float
    reduce_import_mw: float
    payment_usd_per_mwh: float
    penalty_usd_per_mwh: float
    baseline_days: int


@dataclass(frozen=True)
class Failures:
    """Random failures of a component's ``units`` (each takes ``1 / units`` of it out)."""

    component: str
    units: int
    mtbf_s: float
    mttr_s: float
    distribution: str
    weibull_shape: float


@dataclass(frozen=True)
class SiteEvents:
    """A site's events and the seed of its failures."""

    outages: tuple[Outage, ...] = ()
    poi_limits: tuple[PoiLimit, ...] = ()
    derates: tuple[Derate, ...] = ()
    demand_response: tuple[DemandResponse, ...] = ()
    failures: tuple[Failures, ...] = ()
    seed: int = 0

    @property
    def any(self) -> bool:
        return bool(self.outages or self.poi_limits or self.derates or self.demand_response
                    or self.failures)


def time_to_failure_s(rng: np.random.Generator, f: Failures) -> float:
    """One draw of a unit's time to failure with mean ``f.mtbf_s`` [s]."""
    if f.distribution == "weibull":
        scale = f.mtbf_s / math.gamma(1.0 + 1.0 / f.weibull_shape)
        return float(scale * rng.weibull(f.weibull_shape))
    return float(rng.exponential(f.mtbf_s))


def unit_downtimes(seed: int, component_index: int, unit: int, f: Failures,
                   horizon_s: float) -> list[tuple[float, float]]:
    """A unit's failures within the horizon: ``(fails_at_s, repaired_at_s)`` pairs, in order
    (the last repair may lie past the horizon)."""
    rng = np.random.default_rng([seed, component_index, unit])
    out, t = [], 0.0
    while True:
        t += time_to_failure_s(rng, f)
        if t >= horizon_s:
            return out
        repaired = t + float(rng.exponential(f.mttr_s))
        out.append((t, repaired))
        t = repaired


def window_fraction(start_s: float, end_s: float, slice_s: float, n: int,
                    first: int = 0) -> np.ndarray:
    """Share of each of ``n`` slices from slice ``first`` that ``[start_s, end_s)`` covers
    [fraction]."""
    edges = (first + np.arange(n + 1)) * slice_s
    overlap = np.minimum(edges[1:], end_s) - np.maximum(edges[:-1], start_s)
    return np.clip(overlap, 0.0, None) / slice_s


def dr_baseline_mw(import_mwh: np.ndarray, slice_s: float, start_s: float, end_s: float,
                   days: int) -> float:
    """A demand-response baseline: the mean import over the slices of
    :func:`dr_baseline_slices` [MW] (0 with none).

    Parameters
    ----------
    import_mwh : numpy.ndarray
        Grid import of every slice settled before the call [MWh].
    """
    _, back = dr_baseline_slices(start_s, end_s, slice_s, days)
    if not back:
        return 0.0
    return float(np.mean([import_mwh[b].mean() for b in back])) / (slice_s / 3600.0)


def grid_down_share(ev: SiteEvents, n: int, slice_s: float, first: int = 0) -> np.ndarray:
    """Share of each of ``n`` slices from slice ``first`` the scheduled outages keep the grid
    down [fraction]."""
    down = np.zeros(n)
    for w in ev.outages:
        down += window_fraction(w.start_s, w.end_s, slice_s, n, first)
    return np.minimum(down, 1.0)


def grid_limits_mw(ev: SiteEvents, import_mw: float, export_mw: float, n: int,
                   slice_s: float, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean import and export limits of each of ``n`` slices from slice ``first`` under the
    scheduled POI limits and outages [MW] (what a planner knows in advance; failures are not
    known)."""
    imp, exp = np.full(n, float(import_mw)), np.full(n, float(export_mw))
    for w in ev.poi_limits:
        share = window_fraction(w.start_s, w.end_s, slice_s, n, first)
        if w.max_import_mw is not None:
            imp -= share * np.maximum(import_mw - w.max_import_mw, 0.0)
        if w.max_export_mw is not None:
            exp -= share * np.maximum(export_mw - w.max_export_mw, 0.0)
    up = 1.0 - grid_down_share(ev, n, slice_s, first)
    return np.maximum(imp, 0.0) * up, np.maximum(exp, 0.0) * up


def in_service_share(ev: SiteEvents, component: str, n: int, slice_s: float,
                     first: int = 0) -> np.ndarray:
    """Mean share of ``pv``, ``wind`` or ``battery`` in service in each of ``n`` slices from
    slice ``first`` under the scheduled derates [fraction]."""
    share = np.ones(n)
    for w in ev.derates:
        if w.component == component:
            share -= (window_fraction(w.start_s, w.end_s, slice_s, n, first)
                      * (1.0 - w.available_fraction))
    return np.clip(share, 0.0, 1.0)


def dr_baseline_slices(start_s: float, end_s: float, slice_s: float, days: int
                       ) -> tuple[np.ndarray, list[np.ndarray]]:
    """A demand-response call's slices and, per baseline day, the slices its baseline
    averages: the same slices 1 .. ``days`` days earlier that lie within the run; without one,
    the slices just before the call, as many as it lasts (at least one; none at the run's
    start)."""
    k0, k1 = int(start_s // slice_s), int(math.ceil(end_s / slice_s - 1e-9))
    window = np.arange(k0, k1)
    per_day = int(round(86400.0 / slice_s))
    back = [window - d * per_day for d in range(1, days + 1) if k0 - d * per_day >= 0]
    if not back:
        span = max(k1 - k0, 1)
        before = np.arange(max(k0 - span, 0), k0)
        back = [before] if len(before) else []
    return window, back
