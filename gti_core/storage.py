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
    initial_soc_mwh : float
        Stored energy at the start of the period [MWh].
    initial_green_fraction : float
        Green share of that content [fraction] (spec: grey unless the scenario says otherwise).
    rule : str
        ``pooled`` or ``fifo``.
    """

    charge_efficiency: float = 1.0
    discharge_efficiency: float = 1.0
    self_discharge_per_slice: float = 0.0
    initial_soc_mwh: float = 0.0
    initial_green_fraction: float = 0.0
    rule: str = "pooled"


@dataclass(frozen=True)
class StorageFlows:
    """Per-slice results of the provenance recursion, all [MWh]."""

    green_out_mwh: np.ndarray  # green part of the discharge delivered to the bus
    soc_green_mwh: np.ndarray  # green content at the end of the slice
    soc_grey_mwh: np.ndarray  # grey content at the end of the slice


class StorageProvenanceError(ValueError):
    """The meters discharge more than storage holds."""


class _Store:
    """The store's green and grey content, scaled like the recursion's totals (in units of
    ``keep**(t+1)``), drawn ``pooled`` (in proportion) or ``fifo`` (oldest charge first, from
    layers ``[green, grey]``)."""

    def __init__(self, green: float, grey: float, fifo: bool):
        self.green, self.grey, self.fifo = green, grey, fifo
        self.layers: deque[list[float]] = deque()
        if fifo and green + grey > 0.0:
            self.layers.append([green, grey])

    @property
    def held(self) -> float:
        return self.green + self.grey

    def draw(self, draw: float) -> float:
        """Take ``draw`` out of the store; return its green part."""
        if self.fifo:
            green = self._draw_layers(draw)
            self.green -= green
            self.grey -= draw - green
            return green
        held = self.held
        f = draw / held if held > 0.0 else 0.0
        green = self.green * f
        self.green -= green
        self.grey -= self.grey * f
        return green

    def _draw_layers(self, draw: float) -> float:
        """Take ``draw`` from the oldest layers first; return the green part taken."""
        layers, green = self.layers, 0.0
        while draw > 0.0 and layers:
            layer = layers[0]
            size = layer[0] + layer[1]
            if size <= draw:
                green += layer[0]
                draw -= size
                layers.popleft()
            else:
                f = draw / size
                green += layer[0] * f
                layer[0] -= layer[0] * f
                layer[1] -= layer[1] * f
                draw = 0.0
        return green

    def add(self, green: float, grey: float) -> None:
        """Put a charge in, split green and grey."""
        self.green += green
        self.grey += grey
        if self.fifo:
            self.layers.append([green, grey])


def _charge_heads(base: np.ndarray, it_mwh, nonit_mwh, total_in_mwh, chg: np.ndarray,
                  it_first: bool) -> tuple[list, list | None]:
    """The green charge of a slice is an affine function of that slice's green discharge:
    ``it_first``: ``g_charge = min(max(head + green_out, 0), C)``, ``head = base - it - nonit``;
    ``pro_rata``: ``g_charge = (head + green_out) * C / total_in``, ``head = base``. Returns
    ``head`` and (``pro_rata``) ``C / total_in`` per slice."""
    if it_first:
        return (base - np.asarray(it_mwh, float) - np.asarray(nonit_mwh, float)).tolist(), None
    tot = np.asarray(total_in_mwh, dtype=float)
    cfrac = np.divide(chg, tot, out=np.zeros(len(chg)), where=tot > 0)
    return base.tolist(), cfrac.tolist()


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
        Green discharged per slice, and the pools at the end of each slice [MWh]. (The green
        charge is the allocation's ``g_charge``; :mod:`gti_core.attribution` computes it.)
    """
    if allocation not in ("it_first", "pro_rata"):
        raise ValueError(f"allocation = {allocation!r}: must be 'it_first' or 'pro_rata'")
    if params.rule not in ("pooled", "fifo"):
        raise ValueError(f"storage_rule = {params.rule!r}: must be 'pooled' or 'fifo'")
    n = len(charge_mwh)
    eta_c, eta_d = params.charge_efficiency, params.discharge_efficiency
    keep = 1.0 - params.self_discharge_per_slice
    chg = np.asarray(charge_mwh, dtype=float)
    dis = np.asarray(discharge_mwh, dtype=float)
    it_first = allocation == "it_first"
    head, cfrac = _charge_heads(np.asarray(base_green_mwh, dtype=float), it_mwh, nonit_mwh,
                                total_in_mwh, chg, it_first)
    # Pools are kept in units of scale[t] = keep**(t+1), so self-discharge, which shrinks every
    # layer alike, costs nothing, and only slices that charge or discharge need the loop.
    scale = keep ** np.arange(1, n + 1, dtype=float)
    if n and scale[-1] < 1e-250:
        raise ValueError(f"self_discharge_per_slice = {params.self_discharge_per_slice}: the "
                         "content would underflow over this run")
    sc = scale.tolist()
    out_green = np.zeros(n)
    active = np.flatnonzero((chg > 0.0) | (dis > 0.0))
    g0 = params.initial_soc_mwh * params.initial_green_fraction
    y0 = params.initial_soc_mwh - g0
    store = _Store(g0, y0, fifo=params.rule == "fifo")
    chg_l, dis_l = chg.tolist(), dis.tolist()
    # Each active slice: draw the discharge from the store, then add the charge split
    # green/grey. The scaled totals after each active slice go to gs_l / ys_l, after the
    # initial content at position 0.
    gs_l, ys_l = [g0] * (len(active) + 1), [y0] * (len(active) + 1)
    for j, t in enumerate(active.tolist(), start=1):
        s = sc[t]
        gout = 0.0
        if dis_l[t] > 0.0:
            draw = dis_l[t] / eta_d / s
            held = store.held
            if draw > held * (1.0 + 1e-12):
                if (draw - held) * s > POOL_ATOL_MWH:
                    raise StorageProvenanceError(
                        f"slice {t}: bess_discharge_mwh = {dis_l[t]:.6g} draws "
                        f"{(draw - held) * s:.6g} MWh more than storage holds")
                draw = held
            gout = store.draw(draw) * s * eta_d
            out_green[t] = gout
        c = chg_l[t]
        if c > 0.0:
            if it_first:
                gc = head[t] + gout
                gc = 0.0 if gc < 0.0 else (c if gc > c else gc)
            else:
                gc = (head[t] + gout) * cfrac[t]
            store.add(eta_c * gc / s, eta_c * (c - gc) / s)
        gs_l[j] = store.green
        ys_l[j] = store.grey
    # pools at every slice end: the content after the last active slice so far (scaled), times
    # the decay to this slice
    last = np.searchsorted(active, np.arange(n), side="right")
    return StorageFlows(
        green_out_mwh=out_green,
        soc_green_mwh=np.maximum(np.asarray(gs_l)[last] * scale, 0.0),
        soc_grey_mwh=np.maximum(np.asarray(ys_l)[last] * scale, 0.0),
    )
