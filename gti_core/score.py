"""Score a site's meters: colour the bus, follow green through storage, and apply both methods.

This is the one entry point the twin, ``aidc-twin score`` and ``aidc-twin verify`` share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gti_core.attribution import allocate_it_first, allocate_pro_rata, base_green_inflow_mwh
from gti_core.contracts import Contract, contract_slice_cover, contract_volume_on_slices
from gti_core.meters import check_meters, optional_meter
from gti_core.methods import PERIODS, PeriodGroups, gti_over_periods, period_groups
from gti_core.rating import DEFAULT_THRESHOLDS, label
from gti_core.storage import StorageParams, storage_provenance


@dataclass(frozen=True)
class AccountingParams:
    """Everything besides the meters that a GTI depends on.

    Attributes
    ----------
    alpha : float
        Grid attribution coefficient [fraction], already checked against its band.
    allocation : str
        ``it_first`` or ``pro_rata``.
    storage : StorageParams
        Efficiencies, self-discharge, initial content, and ``pooled`` or ``fifo``.
    export_retained : bool
        True when the site keeps the attributes of what it exports (``export_attributes:
        retained``).
    thresholds : tuple of float
        Lower bounds of levels 1..5 [fraction].
    """

    alpha: float
    allocation: str = "it_first"
    storage: StorageParams = field(default_factory=StorageParams)
    export_retained: bool = True
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class SiteScore:
    """A site's accounting: per-slice colouring and per-period GTI for both methods."""

    site: str
    slices: pd.DataFrame  # time, it_mwh, facility_mwh, g_*, green_out_mwh, soc_*_mwh, r_dc
    periods: dict[str, pd.DataFrame]  # "year" | "quarter" | "month" -> gti_over_periods frame
    run: pd.Series  # the same figures over the whole run
    allocation: str = "it_first"
    export_retained: bool = True

    @property
    def gti_slice(self) -> float:
        """Time-slice GTI over the whole run [fraction]."""
        return float(self.run["gti_slice"])

    @property
    def gti_aggregate(self) -> float:
        """Aggregate GTI over the whole run [fraction]."""
        return float(self.run["gti_aggregate"])

    def over(self, start, end) -> pd.Series:
        """Both methods over a custom range ``[start, end)`` of slice starts (UTC).

        Storage provenance is the whole run's: green that entered storage before ``start``
        and leaves it inside the range counts inside the range.
        """
        t = pd.DatetimeIndex(self.slices["time"])
        lo, hi = pd.to_datetime(start, utc=True), pd.to_datetime(end, utc=True)
        mask = (t >= lo) & (t < hi)
        if not mask.any():
            raise ValueError(f"range [{start}, {end}) holds no slice of site {self.site!r}")
        part = self.slices[mask]
        frame = gti_over_periods(part, PeriodGroups.single(len(part), "range"), self.allocation,
                                 self.export_retained)
        return frame.iloc[0]


def score_site(
    meters: pd.DataFrame,
    params: AccountingParams,
    contracts: list[Contract] | tuple[Contract, ...] = (),
) -> SiteScore:
    """Score one site's meter table.

    Parameters
    ----------
    meters : pandas.DataFrame
        The site's meter rows (spec section 1), sorted by ``time``.
    params : AccountingParams
        Alpha, allocation, storage provenance parameters, export attributes, rating thresholds.
    contracts : list of Contract, optional
        The site's off-site instruments (spec section 5); retire them in a
        :class:`gti_core.ledger.CertificateLedger` before scoring.

    Returns
    -------
    SiteScore
        Per-slice colouring and ratios, and both methods per year, quarter and month.
    """
    check_meters(meters)
    sites = meters["site"].unique()
    if len(sites) != 1:
        raise ValueError(f"score_site takes one site's meters, got sites {list(sites)}")
    m = {c: meters[c].to_numpy(dtype=float) for c in meters.columns if c.endswith("_mwh")}
    share = meters["grid_share"].to_numpy(dtype=float)
    nonit = m["cooling_mwh"] + m["aux_mwh"]
    # backup generation is grey inflow: in the bus's total, not in its green (spec section 3)
    total_in = (m["pv_mwh"] + m["wind_mwh"] + m["grid_import_mwh"] + m["bess_discharge_mwh"]
                + optional_meter(meters, "backup_mwh"))
    base = base_green_inflow_mwh(m["pv_mwh"], m["wind_mwh"], m["grid_import_mwh"], share,
                                 params.alpha)
    flows = storage_provenance(base, m["it_mwh"], nonit, total_in, m["bess_charge_mwh"],
                               m["bess_discharge_mwh"], params.allocation, params.storage)
    green_in = base + flows.green_out_mwh
    if params.allocation == "it_first":
        alloc = allocate_it_first(green_in, m["it_mwh"], nonit, m["bess_charge_mwh"])
    else:
        alloc = allocate_pro_rata(green_in, total_in, m["it_mwh"], nonit, m["bess_charge_mwh"],
                                  m["grid_export_mwh"])
    it = m["it_mwh"]
    time = meters["time"].reset_index(drop=True)
    if contracts:
        g_contract = contract_slice_cover(time, it - alloc.g_it, list(contracts))
        contract = contract_volume_on_slices(time, it, list(contracts))
    else:
        g_contract = contract = np.zeros(len(meters))
    r_dc = np.divide(alloc.g_it + g_contract, it, out=np.zeros_like(it), where=it > 0)
    slices = pd.DataFrame(
        {
            "time": time,
            "it_mwh": it,
            "facility_mwh": m["facility_mwh"],
            "green_in_mwh": green_in,
            "g_it": alloc.g_it,
            "g_nonit": alloc.g_nonit,
            "g_charge": alloc.g_charge,
            "g_export": alloc.g_export,
            "g_contract": g_contract,
            "contract_weighted_mwh": contract,
            "green_out_mwh": flows.green_out_mwh,
            "soc_green_mwh": flows.soc_green_mwh,
            "soc_grey_mwh": flows.soc_grey_mwh,
            "r_dc": r_dc,
        }
    )
    periods = {
        p: gti_over_periods(slices, period_groups(time, p), params.allocation,
                            params.export_retained)
        for p in PERIODS
    }
    whole = gti_over_periods(slices, PeriodGroups.single(len(slices), "run"),
                             params.allocation, params.export_retained)
    return SiteScore(site=str(sites[0]), slices=slices, periods=periods, run=whole.iloc[0],
                     allocation=params.allocation, export_retained=params.export_retained)


def labels_for(score: SiteScore, params: AccountingParams, period: str) -> list[dict]:
    """GTI labels of both methods for every period of one kind (spec section 8)."""
    out = []
    for name, row in score.periods[period].iterrows():
        for method in ("slice", "aggregate"):
            out.append(label(str(name), method, row[f"gti_{method}"], params.alpha,
                             params.allocation, params.thresholds))
    return out
