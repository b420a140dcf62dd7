"""Green sources and their weights (spec section 2).

The grid attribution coefficient ``alpha`` must lie in the band of the declared granularity of the
grid statistics; its default is the middle of that band.
"""

from __future__ import annotations

from typing import Literal

GridDataGranularity = Literal["monthly", "quarterly", "annual", "unverified"]

#: (lowest, highest, default) alpha per granularity of the grid statistics (spec section 2).
ALPHA_BANDS: dict[str, tuple[float, float, float]] = {
    "monthly": (0.8, 1.0, 0.9),
    "quarterly": (0.6, 0.8, 0.7),
    "annual": (0.3, 0.6, 0.45),
    "unverified": (0.0, 0.3, 0.15),
}

#: Weight of on-site renewable energy and of storage charged from it (spec section 2).
W_ONSITE = 1.0


def check_alpha(alpha: float, granularity: str) -> float:
    """Return ``alpha`` if it lies in the band of ``granularity``, else raise ValueError.

    Parameters
    ----------
    alpha : float
        Grid attribution coefficient [fraction].
    granularity : str
        Granularity of the grid statistics: monthly, quarterly, annual or unverified.

    Returns
    -------
    float
        ``alpha`` unchanged [fraction].
    """
    if granularity not in ALPHA_BANDS:
        raise ValueError(
            f"grid_data_granularity = {granularity!r}: must be one of {sorted(ALPHA_BANDS)}"
        )
    lo, hi, _ = ALPHA_BANDS[granularity]
    if not lo <= alpha <= hi:
        raise ValueError(
            f"alpha = {alpha}: outside the {granularity} band [{lo}, {hi}] "
            f"(grid_data_granularity = {granularity!r})"
        )
    return alpha


def default_alpha(granularity: str) -> float:
    """The middle of the alpha band of ``granularity`` [fraction]."""
    if granularity not in ALPHA_BANDS:
        raise ValueError(
            f"grid_data_granularity = {granularity!r}: must be one of {sorted(ALPHA_BANDS)}"
        )
    return ALPHA_BANDS[granularity][2]
