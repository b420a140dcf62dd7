"""Green-power rules: does a site pass "at least X green", under which measure, for which
periods, and at which grid attribution coefficient alpha the verdict flips (spec section 10).

A rule ``min_green = X`` passes a period when the period's measure is at least X. The measures
(``METHODS``): the time-slice and aggregate GTI (``slice``, ``aggregate``), and the green power
ratio (``green_power_ratio``, :func:`green_power_ratio`: the facility's green consumption,
on-site and contracted, over its whole consumption; a hub-node rule's measure). No measure
falls as alpha rises (alpha only adds grid green to the inflow), so the alpha at which a verdict
flips is found by bisection on [0, 1]; the green power ratio depends on alpha only when the
rule counts the grid's share.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gti_core.contracts import Contract
from gti_core.methods import PeriodGroups, period_groups
from gti_core.score import AccountingParams, score_site

METHODS = ("slice", "aggregate", "green_power_ratio")
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


@dataclass(frozen=True)
class RatioOptions:
    """What a green-power-ratio rule counts beyond physical green and contracts at face value
    (spec section 10): the grid's average renewable share at the run's alpha, exported green,
    and the contracts' section-2 weights."""

    count_grid_share: bool = False
    count_export: bool = False
    use_weights: bool = False


def green_power_ratio(meters: pd.DataFrame, params: AccountingParams,
                      contracts: list[Contract] | tuple[Contract, ...] = (),
                      options: RatioOptions = RatioOptions(), period: str = "year") -> pd.Series:
    """The green power ratio per period (spec section 10):
    ``GPR = min(1, (sum_t [g_it + g_nonit] + C_P) / sum_t facility)``, with ``g`` from section 3
    under ``it_first``, the run's storage rule and ``alpha_rule`` (0, or the run's alpha when the
    rule counts the grid's share), and ``C_P`` the contracted volume of the period at face value
    (or weighted), up to the facility energy physical green left uncovered.

    Parameters
    ----------
    period : str
        ``year``, ``quarter``, ``month`` or ``run`` (the whole table).

    Returns
    -------
    pandas.Series
        GPR per period label [fraction].
    """
    p = dataclasses.replace(params, alpha=params.alpha if options.count_grid_share else 0.0,
                            allocation="it_first")
    held = list(contracts) if options.use_weights else [
        dataclasses.replace(c, weight=1.0) for c in contracts]
    s = score_site(meters, p, held).slices
    groups = (PeriodGroups.single(len(s), "run") if period == "run"
              else period_groups(s["time"], period))
    k = len(groups.names)

    def total(col: str) -> np.ndarray:
        return np.bincount(groups.codes, weights=s[col].to_numpy(float), minlength=k)

    facility = total("facility_mwh")
    physical = total("g_it") + total("g_nonit") + (total("g_export") if options.count_export
                                                    else 0.0)
    bought = np.minimum(total("contract_weighted_mwh"), np.maximum(facility - physical, 0.0))
    ratio = np.minimum(1.0, np.divide(physical + bought, facility, out=np.zeros(k),
                                      where=facility > 0))
    return pd.Series(ratio, index=pd.Index(groups.names, name="period"))


def period_kind(period: str) -> str:
    """A verdict's period label as its kind: ``run``, ``year``, ``quarter`` or ``month``."""
    return _kind(period)


def _kind(period: str) -> str:
    if period == "run":
        return "run"
    return "quarter" if "Q" in period else ("month" if "-" in period else "year")


def _run_gti(meters: pd.DataFrame, params: AccountingParams, alpha: float, method: str,
             contracts=(), options: RatioOptions = RatioOptions()) -> float:
    p = dataclasses.replace(params, alpha=alpha)
    if method == "green_power_ratio":
        return float(green_power_ratio(meters, p, contracts, options, "run").iloc[0])
    score = score_site(meters, p, contracts)
    return score.gti_slice if method == "slice" else score.gti_aggregate


def alpha_flip(meters: pd.DataFrame, params: AccountingParams, min_green: float,
               method: str, contracts=(), options: RatioOptions = RatioOptions()
               ) -> tuple[float | None, bool | None]:
    """The smallest alpha in [0, 1] at which the whole run reaches ``min_green``.

    Returns
    -------
    (float or None, bool or None)
        The flip alpha and None; or None and True (passes at alpha 0) or False (fails at 1).
    """
    def value(alpha: float) -> float:
        return _run_gti(meters, params, alpha, method, contracts, options)

    if value(0.0) >= min_green:
        return None, True
    if value(1.0) < min_green:
        return None, False
    lo, hi = 0.0, 1.0
    while hi - lo > ALPHA_TOL:
        mid = 0.5 * (lo + hi)
        if value(mid) >= min_green:
            hi = mid
        else:
            lo = mid
    return hi, None


def evaluate_rule(meters: pd.DataFrame, params: AccountingParams, min_green: float,
                  methods: tuple[str, ...] = ("slice", "aggregate"), sweep_alpha: bool = True,
                  contracts: list[Contract] | tuple[Contract, ...] = (),
                  options: RatioOptions = RatioOptions()) -> RuleVerdict:
    """Verdicts of ``min_green`` for a site's meters, per measure, for the run, each year,
    quarter and month, and (with ``sweep_alpha``) the alpha at which the run's verdict flips
    (the green power ratio's only where the rule counts the grid's share).

    Parameters
    ----------
    meters : pandas.DataFrame
        One site's meter table (spec section 1).
    params : AccountingParams
        The accounting the verdict is issued under (its alpha is the verdict's).
    min_green : float
        The rule's lowest green share, in (0, 1].
    methods : tuple of str
        Measures of :data:`METHODS`.
    sweep_alpha : bool
        Find the alpha at which each method's verdict on the whole run flips.
    contracts : list of Contract
        The site's instruments (retired in a ledger by the caller).
    options : RatioOptions
        What the green power ratio counts.
    """
    if not 0.0 < min_green <= 1.0:
        raise ValueError(f"min_green = {min_green}: must lie in (0, 1]")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"method = {bad[0]!r}: must be one of {list(METHODS)}")
    score = score_site(meters, params, contracts)
    rows = []
    for method in methods:
        for kind in ("run", "year", "quarter", "month"):
            if method == "green_power_ratio":
                values = green_power_ratio(meters, params, contracts, options, kind)
            elif kind == "run":
                values = pd.Series([score.gti_slice if method == "slice"
                                    else score.gti_aggregate], index=["run"])
            else:
                values = score.periods[kind][f"gti_{method}"]
            for name, g in values.items():
                rows.append(PeriodVerdict(str(name), method, float(g), float(g) >= min_green,
                                          float(g) - min_green))
    flips, any_alpha = {}, {}
    if sweep_alpha:
        for method in methods:
            if method == "green_power_ratio" and not options.count_grid_share:
                continue  # alpha does not enter the measure
            flips[method], any_alpha[method] = alpha_flip(meters, params, min_green, method,
                                                          contracts, options)
    return RuleVerdict(str(meters["site"].iloc[0]), min_green, params.alpha, rows, flips,
                       any_alpha)
