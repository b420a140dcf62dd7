"""Colouring the bus (spec section 3): weighted green inflow, allocated to the outflows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gti_core.sources import W_ONSITE


def base_green_inflow_mwh(
    pv_mwh: np.ndarray,
    wind_mwh: np.ndarray,
    grid_import_mwh: np.ndarray,
    grid_share: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Weighted green inflow other than storage [MWh].

    ``w_onsite * (pv + wind) + alpha * grid_share * grid_import`` (spec sections 2 and 3).
    """
    return W_ONSITE * (pv_mwh + wind_mwh) + alpha * grid_share * grid_import_mwh


@dataclass(frozen=True)
class GreenAllocation:
    """Green energy per outflow and slice [MWh]."""

    g_it: np.ndarray
    g_nonit: np.ndarray
    g_charge: np.ndarray
    g_export: np.ndarray


def allocate_it_first(
    green_in_mwh: np.ndarray, it_mwh: np.ndarray, nonit_mwh: np.ndarray, charge_mwh: np.ndarray
) -> GreenAllocation:
    """``it_first``: green to IT, then to cooling and aux, then into storage, then to export.

    Notes
    -----
    ``g_it = min(G_in, it)``, ``g_nonit = min(G_in - g_it, cooling + aux)``,
    ``g_charge = min(G_in - g_it - g_nonit, bess_charge)``, ``g_export = G_in - the rest``.
    """
    g_it = np.minimum(green_in_mwh, it_mwh)
    rest = green_in_mwh - g_it
    g_nonit = np.minimum(rest, nonit_mwh)
    rest = rest - g_nonit
    g_charge = np.minimum(rest, charge_mwh)
    g_export = np.maximum(rest - g_charge, 0.0)
    return GreenAllocation(g_it, g_nonit, g_charge, g_export)


def allocate_pro_rata(
    green_in_mwh: np.ndarray,
    total_in_mwh: np.ndarray,
    it_mwh: np.ndarray,
    nonit_mwh: np.ndarray,
    charge_mwh: np.ndarray,
    export_mwh: np.ndarray,
) -> GreenAllocation:
    """``pro_rata``: every outflow carries the bus's green fraction ``G_in / total_inflow``."""
    frac = np.divide(green_in_mwh, total_in_mwh, out=np.zeros_like(green_in_mwh),
                     where=total_in_mwh > 0.0)
    return GreenAllocation(it_mwh * frac, nonit_mwh * frac, charge_mwh * frac, export_mwh * frac)
