"""Storage provenance (spec section 4): green and grey pools through charge, discharge and loss.

Within a slice the order is: self-discharge of the start-of-slice content (both pools in
proportion), then the discharge draw ``D / eta_d`` (``pooled``: in proportion to the pools at the
start of the slice; ``fifo``: oldest charge first), then the charge ``eta_c * C`` split into green
``eta_c * g_charge`` and grey ``eta_c * (C - g_charge)``. The green charge depends on the bus
colouring of the same slice (spec section 3), so the recursion runs slice by slice here; everything
else in gti_core is vectorised.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

#: Pools may undershoot zero by this much from rounding before the meters are called inconsistent.
POOL_ATOL_MWH = 1e-6


@dataclass(frozen=True)
class StorageParams:
    """Storage parameters gti_core needs from the accounting configuration.

    Attributes
    ----------
    charge_efficiency, discharge_efficiency : float
        eta_c and eta_d [fraction].
    self_discharge_per_slice : float
        Share of the content lost per slice [fraction].
    initial_mwh : float
        Stored energy at the start of the period [MWh].
    initial_green_fraction : float
        Green share of that content [fraction] (spec: grey unless the scenario says otherwise).
    rule : str
        ``pooled`` or ``fifo``.
    """

    charge_efficiency: float = 1.0
    discharge_efficiency: float = 1.0
    self_discharge_per_slice: float = 0.0
    initial_mwh: float = 0.0
    initial_green_fraction: float = 0.0
    rule: str = "pooled"


@dataclass(frozen=True)
class StorageFlows:
    """Per-slice results of the provenance recursion, all [MWh]."""

    green_out_mwh: np.ndarray  # green part of the discharge delivered to the bus
    green_charge_mwh: np.ndarray  # green part of the energy drawn from the bus into storage
    soc_green_mwh: np.ndarray  # green content at the end of the slice
    soc_grey_mwh: np.ndarray  # grey content at the end of the slice


class StorageProvenanceError(ValueError):
    """The meters discharge more than storage holds."""


def green_charge_it_first(green_in: float, it: float, nonit: float, charge: float) -> float:
    """Green into storage under ``it_first``: what is left after IT and non-IT loads [MWh]."""
    return min(max(green_in - it - nonit, 0.0), charge)


def green_charge_pro_rata(green_in: float, total_in: float, charge: float) -> float:
    """Green into storage under ``pro_rata``: the bus's green fraction of the charge [MWh]."""
    return charge * green_in / total_in if total_in > 0.0 else 0.0


def storage_provenance(
    base_green_mwh: np.ndarray,
    it_mwh: np.ndarray,
    nonit_mwh: np.ndarray,
    total_in_mwh: np.ndarray,
    charge_mwh: np.ndarray,
    discharge_mwh: np.ndarray,
    allocation: str,
    params: StorageParams,
) -> StorageFlows:
    """Run the green/grey storage recursion over a site's slices.

    Parameters
    ----------
    base_green_mwh : numpy.ndarray
        Weighted green inflow other than storage, ``w_onsite*(pv+wind) + alpha*share*import`` [MWh].
    it_mwh, nonit_mwh : numpy.ndarray
        IT and non-IT (cooling + aux) load [MWh].
    total_in_mwh : numpy.ndarray
        All inflow to the bus, ``pv + wind + import + discharge`` [MWh].
    charge_mwh, discharge_mwh : numpy.ndarray
        Energy into storage from the bus and out of storage to the bus [MWh].
    allocation : str
        ``it_first`` or ``pro_rata`` (spec section 3).
    params : StorageParams
        Efficiencies, self-discharge, initial content and the discharge rule.

    Returns
    -------
    StorageFlows
        Green discharged and charged per slice, and the pools at the end of each slice [MWh].
    """
    if allocation not in ("it_first", "pro_rata"):
        raise ValueError(f"allocation = {allocation!r}: must be 'it_first' or 'pro_rata'")
    if params.rule not in ("pooled", "fifo"):
        raise ValueError(f"storage_rule = {params.rule!r}: must be 'pooled' or 'fifo'")
    n = len(charge_mwh)
    eta_c, eta_d = params.charge_efficiency, params.discharge_efficiency
    keep = 1.0 - params.self_discharge_per_slice
    base, it, nonit, tot = (np.asarray(a, dtype=float).tolist() for a in
                            (base_green_mwh, it_mwh, nonit_mwh, total_in_mwh))
    chg = np.asarray(charge_mwh, dtype=float).tolist()
    dis = np.asarray(discharge_mwh, dtype=float).tolist()
    out_green = [0.0] * n
    in_green = [0.0] * n
    soc_g = [0.0] * n
    soc_y = [0.0] * n
    it_first = allocation == "it_first"
    g0 = params.initial_mwh * params.initial_green_fraction
    # Layers [green, grey], oldest first, in units of `scale` so that self-discharge, which shrinks
    # every layer by the same factor, costs one multiplication per slice. `pooled` is the
    # one-layer case, re-mixed at every charge; `fifo` appends a layer per charging slice.
    layers: deque[list[float]] = deque()
    if params.initial_mwh > 0.0:
        layers.append([g0, params.initial_mwh - g0])
    total_g = g0
    total_y = params.initial_mwh - g0
    scale = 1.0
    pooled = params.rule == "pooled"
    for t in range(n):
        scale *= keep
        if scale < 1e-150:  # renormalise before underflow on very long, lossy runs
            for layer in layers:
                layer[0] *= scale
                layer[1] *= scale
            total_g *= scale
            total_y *= scale
            scale = 1.0
        draw = dis[t] / eta_d / scale if dis[t] > 0.0 else 0.0  # in layer units
        green_drawn = 0.0
        while draw > 0.0:
            if not layers:
                if draw * scale <= POOL_ATOL_MWH:
                    break
                raise StorageProvenanceError(
                    f"slice {t}: bess_discharge_mwh = {dis[t]:.6g} draws "
                    f"{draw * scale:.6g} MWh more than storage holds"
                )
            layer = layers[0]
            size = layer[0] + layer[1]
            if size <= draw:
                green_drawn += layer[0]
                total_g -= layer[0]
                total_y -= layer[1]
                draw -= size
                layers.popleft()
            else:
                f = draw / size
                dg, dy = layer[0] * f, layer[1] * f
                layer[0] -= dg
                layer[1] -= dy
                total_g -= dg
                total_y -= dy
                green_drawn += dg
                draw = 0.0
        out_green[t] = green_drawn * scale * eta_d
        green_in = base[t] + out_green[t]
        if chg[t] > 0.0:
            if it_first:
                gc = green_charge_it_first(green_in, it[t], nonit[t], chg[t])
            else:
                gc = green_charge_pro_rata(green_in, tot[t], chg[t])
            in_green[t] = gc
            add_g, add_y = eta_c * gc / scale, eta_c * (chg[t] - gc) / scale
            total_g += add_g
            total_y += add_y
            if pooled and layers:
                layers[0][0] += add_g
                layers[0][1] += add_y
            else:
                layers.append([add_g, add_y])
        soc_g[t] = max(total_g * scale, 0.0)
        soc_y[t] = max(total_y * scale, 0.0)
    return StorageFlows(
        green_out_mwh=np.asarray(out_green),
        green_charge_mwh=np.asarray(in_green),
        soc_green_mwh=np.asarray(soc_g),
        soc_grey_mwh=np.asarray(soc_y),
    )
