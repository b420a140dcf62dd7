"""Emissions next to GTI (spec section 9): location-based, and per 1,000 tokens."""

from __future__ import annotations

import numpy as np
import pandas as pd

G_PER_KG = 1000.0


def location_based_kg(grid_import_mwh: np.ndarray, carbon_kg_per_mwh: np.ndarray) -> float:
    """``sum_t grid_import * grid_carbon(t)`` [kgCO2e]."""
    return float(np.dot(np.asarray(grid_import_mwh, float), np.asarray(carbon_kg_per_mwh, float)))


def task_emissions_kg(expanded: pd.DataFrame) -> pd.Series:
    """Per task: the non-green share of its energy at the grid factor of its slice [kgCO2e].

    ``sum_{s,t} e_k(s,t) * (1 - R_dc(s,t)) * carbon(s,t)`` with ``e_k`` including the task's share
    of idle IT energy, as for ``R_task``.

    Parameters
    ----------
    expanded : pandas.DataFrame
        Rows of :func:`gti_core.tokens.with_idle_share` that carry ``grid_carbon_kg_per_mwh``.
    """
    kg = expanded["it_with_idle_mwh"].to_numpy() * (1.0 - expanded["r_dc"].to_numpy()) * \
        expanded["grid_carbon_kg_per_mwh"].to_numpy()
    return pd.Series(kg, index=expanded["task_id"]).groupby(level=0, sort=False).sum()


def g_per_1000_tokens(kg: float, tokens: float) -> float:
    """Emissions intensity [gCO2e per 1,000 tokens]; 0 when there are no tokens."""
    return kg * G_PER_KG * 1000.0 / tokens if tokens > 0 else 0.0
