"""Ratings (spec section 8): GTI levels 0-5 and labels that name method, alpha and allocation."""

from __future__ import annotations

import numpy as np

#: Lower GTI bounds of levels 1..5, the project's defaults (spec section 8).
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.20, 0.40, 0.60, 0.80, 0.95)


def gti_level(gti: float, thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS) -> int:
    """The level (0..5) of a GTI value: how many thresholds it reaches.

    Parameters
    ----------
    gti : float
        Green Token Index [fraction].
    thresholds : tuple of float
        Increasing lower bounds of levels 1..5 [fraction].

    Returns
    -------
    int
        0 below the first threshold, 5 at or above the last.
    """
    if not np.isfinite(gti):
        raise ValueError(f"gti = {gti}: a level needs a finite GTI")
    return int(np.searchsorted(np.asarray(thresholds), gti, side="right"))


def label(period: str, method: str, gti: float, alpha: float | None, allocation: str,
          thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS) -> dict:
    """A GTI label: the value, its level, and the method, alpha and allocation it was made with."""
    return {
        "period": period,
        "method": method,
        "gti": float(gti),
        "level": gti_level(gti, thresholds),
        "alpha": None if alpha is None else float(alpha),  # None: sites with their own alphas
        "allocation": allocation,
    }
