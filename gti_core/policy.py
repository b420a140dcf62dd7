"""Green-power rules: does a site pass "at least X green", under which method, for which periods,
and at which grid attribution coefficient alpha the verdict flips.

A rule ``min_green = X`` passes a period when the period's GTI (time-slice or aggregate) is at
least X. GTI never falls as alpha rises (alpha only adds grid green to the inflow), so the alpha at
which a verdict flips is found by bisection on [0, 1].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from gti_core.score import AccountingParams, score_site

METHODS = ("slice", "aggregate")
#: Bisection stops when the alpha interval is this narrow [-].
ALPHA_TOL = 1e-6


@dataclass(frozen=True)
class PeriodVerdict:
    """One period under one method."""

    period: str
    method: str
    gti: float
    passes: bool
    margin: float  # gti - min_green


@dataclass(frozen=True)
class RuleVerdict:
    """A site under a rule: every period's verdict, and where alpha flips the year's.

    Attributes
    ----------
    site : str
    min_green : float
    alpha : float
        The alpha the verdicts hold at.
    periods : list of PeriodVerdict
        The run as a whole (period ``run``), each year and each month, per method.
    alpha_flip : dict of str to float or None
        Per method: the smallest alpha at which the run passes, or None when it passes at
        alpha 0 already or fails even at alpha 1 (``passes_at_any_alpha`` tells which).
    passes_at_any_alpha : dict of str to bool or None
        Per method: True when it passes even at alpha 0, False when it fails even at 1, None
        when the verdict depends on alpha.
    """

    site: str
    min_green: float
    alpha: float
    periods: list[PeriodVerdict]
    alpha_flip: dict
    passes_at_any_alpha: dict

    def failing(self, method: str, kind: str = "month") -> list[str]:
        """Periods of a kind (``month`` or ``year``) that fail under a method."""
        return [p.period for p in self.periods
                if p.method == method and not p.passes and _kind(p.period) == kind]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([dataclasses.asdict(p) for p in self.periods]).assign(
            site=self.site, min_green=self.min_green, alpha=self.alpha)


def _kind(period: str) -> str:
    return "run" if period == "run" else ("month" if "-" in period else "year")


def _run_gti(meters: pd.DataFrame, params: AccountingParams, alpha: float, method: str) -> float:
    score = score_site(meters, dataclasses.replace(params, alpha=alpha))
    return score.gti_slice if method == "slice" else score.gti_aggregate


def alpha_flip(meters: pd.DataFrame, params: AccountingParams, min_green: float,
               method: str) -> tuple[float | None, bool | None]:
    """The smallest alpha in [0, 1] at which the whole run reaches ``min_green``.

    Returns
    -------
    (float or None, bool or None)
        The flip alpha and None; or None and True (passes at alpha 0) or False (fails at 1).
    """
    if _run_gti(meters, params, 0.0, method) >= min_green:
        return None, True
    if _run_gti(meters, params, 1.0, method) < min_green:
        return None, False
    lo, hi = 0.0, 1.0
    while hi - lo > ALPHA_TOL:
        mid = 0.5 * (lo + hi)
        if _run_gti(meters, params, mid, method) >= min_green:
            hi = mid
        else:
            lo = mid
    return hi, None


def evaluate_rule(meters: pd.DataFrame, params: AccountingParams, min_green: float,
                  methods: tuple[str, ...] = METHODS, sweep_alpha: bool = True) -> RuleVerdict:
    """Verdicts of ``min_green`` for a site's meters, per method, for the run, each year and
    each month, and (with ``sweep_alpha``) the alpha at which the run's verdict flips.

    Parameters
    ----------
    meters : pandas.DataFrame
        One site's meter table (spec section 1).
    params : AccountingParams
        The accounting the verdict is issued under (its alpha is the verdict's).
    min_green : float
        The rule's lowest green share, in (0, 1].
    methods : tuple of str
        ``slice`` and/or ``aggregate``.
    sweep_alpha : bool
        Find the alpha at which each method's verdict on the whole run flips.
    """
    if not 0.0 < min_green <= 1.0:
        raise ValueError(f"min_green = {min_green}: must lie in (0, 1]")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"method = {bad[0]!r}: must be one of {list(METHODS)}")
    score = score_site(meters, params)
    rows = []
    for method in methods:
        col = f"gti_{method}"
        whole = score.gti_slice if method == "slice" else score.gti_aggregate
        rows.append(PeriodVerdict("run", method, whole, whole >= min_green, whole - min_green))
        for kind in ("year", "month"):
            for name, row in score.periods[kind].iterrows():
                g = float(row[col])
                rows.append(PeriodVerdict(str(name), method, g, g >= min_green, g - min_green))
    flips, any_alpha = {}, {}
    if sweep_alpha:
        for method in methods:
            flips[method], any_alpha[method] = alpha_flip(meters, params, min_green, method)
    return RuleVerdict(str(meters["site"].iloc[0]), min_green, params.alpha, rows, flips,
                       any_alpha)
