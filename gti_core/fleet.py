"""A fleet of sites: each method's GTI as the energy-weighted mean of its sites' (spec 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gti_core.score import SiteScore


def fleet_gti(frames: list[tuple[pd.DataFrame, str]]) -> pd.DataFrame:
    """Fleet GTI per period from per-site period tables.

    Parameters
    ----------
    frames : list of (pandas.DataFrame, str)
        Per site: a :func:`gti_core.methods.gti_over_periods` table and its allocation rule.

    Returns
    -------
    pandas.DataFrame
        Index: period label. ``gti_slice`` weighted by IT energy, ``gti_aggregate`` by its own
        denominator (IT energy under ``it_first``, facility energy under ``pro_rata``), so each is
        the energy-weighted mean of the sites' figures; and ``it_mwh``.
    """
    parts = []
    for f, allocation in frames:
        agg_denom = f["it_mwh"] if allocation == "it_first" else f["facility_mwh"]
        parts.append(pd.DataFrame({"it_mwh": f["it_mwh"], "agg_denom": agg_denom,
                                   "slice": f["gti_slice"] * f["it_mwh"],
                                   "aggregate": f["gti_aggregate"] * agg_denom}))
    total = pd.concat(parts).groupby(level=0, sort=True).sum()
    out = pd.DataFrame(index=total.index)
    it, agg = total["it_mwh"].to_numpy(float), total["agg_denom"].to_numpy(float)
    out["gti_slice"] = np.divide(total["slice"].to_numpy(float), it, out=np.zeros(len(it)),
                                 where=it > 0)
    out["gti_aggregate"] = np.divide(total["aggregate"].to_numpy(float), agg,
                                     out=np.zeros(len(agg)), where=agg > 0)
    out["mismatch_gap"] = out["gti_aggregate"] - out["gti_slice"]
    out["it_mwh"] = it
    return out


def fleet_periods(scores: list[SiteScore], period: str) -> pd.DataFrame:
    """Fleet GTI per year, quarter or month."""
    return fleet_gti([(s.periods[period], s.allocation) for s in scores])


def fleet_run(scores: list[SiteScore]) -> pd.Series:
    """Fleet GTI over the whole run."""
    return fleet_gti([(s.run.to_frame().T.astype(float), s.allocation) for s in scores]).iloc[0]
