"""Contractual green (spec section 5): PPAs, hourly certificates and annual RECs.

Contracts only cover IT energy that physical green did not cover, never more, and each MWh is used
once.

- Time-slice method: an instrument counts in a slice only with a delivery profile at slice or hourly
  granularity. At slice granularity ``g_contract(t) = min(sum_c w_c * delivered_c(t), it - g_it)``;
  at hourly granularity the hour's weighted delivery covers the hour's uncovered IT energy, shared
  among its slices in proportion to what each left uncovered. Surplus is lost. RECs never count.
- Aggregate method: the period's weighted contract volume, up to the period's uncovered IT energy
  (applied in :func:`gti_core.methods.gti_over_periods`). For that, every instrument's weighted
  volume is spread onto slices: profiles onto the slices of each interval (evenly), an annual REC
  onto the slices of its year in proportion to their IT energy, so that a month or quarter
  receives the share of the REC that its IT energy is of the year's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from gti_core.ledger import CertificateLedger

ContractKind = Literal["ppa", "hourly_certificate", "rec"]
W_OFFSITE_BAND = (0.8, 1.0)


@dataclass(frozen=True)
class Contract:
    """An off-site green energy instrument assigned to one site.

    Attributes
    ----------
    contract_id : str
        Unique name; the ledger refuses a second retirement of it.
    kind : str
        ``ppa`` (profiled delivery), ``hourly_certificate`` (hourly granular certificates) or
        ``rec`` (an annual volume, aggregate method only).
    weight : float
        ``w_offsite`` in [0.8, 1.0].
    profile_mwh : pandas.Series, optional
        Delivered energy per interval, indexed by interval start (UTC) [MWh]; ``ppa`` and
        ``hourly_certificate``.
    profile_minutes : int, optional
        Interval of the profile [min]: the slice length or 60 (``hourly_certificate``: 60).
    volume_mwh : float
        ``rec``: the volume [MWh].
    year : int, optional
        ``rec``: the calendar year (UTC) the volume is for.
    """

    contract_id: str
    kind: ContractKind
    weight: float
    profile_mwh: pd.Series | None = None
    profile_minutes: int | None = None
    volume_mwh: float = 0.0
    year: int | None = None

    def __post_init__(self) -> None:
        lo, hi = W_OFFSITE_BAND
        if not lo <= self.weight <= hi:
            raise ValueError(f"contract {self.contract_id!r}: weight = {self.weight}: w_offsite "
                             f"must lie in [{lo}, {hi}]")
        if self.kind == "rec":
            if self.year is None or self.volume_mwh < 0:
                raise ValueError(f"contract {self.contract_id!r}: a rec needs a year and a "
                                 f"volume_mwh >= 0 (got {self.year}, {self.volume_mwh})")
            return
        if self.profile_mwh is None:
            raise ValueError(f"contract {self.contract_id!r}: a {self.kind} needs a delivery "
                             "profile")
        if self.kind == "hourly_certificate" and self.profile_minutes != 60:
            raise ValueError(f"contract {self.contract_id!r}: hourly certificates have a 60-minute "
                             f"profile, got profile_minutes = {self.profile_minutes}")
        if (self.profile_mwh < 0).any():
            bad = self.profile_mwh[self.profile_mwh < 0]
            raise ValueError(f"contract {self.contract_id!r}: delivery = {bad.iloc[0]} < 0 at "
                             f"{bad.index[0]}")


def _interval_of_slices(time: pd.Series, minutes: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(time).floor(f"{minutes}min")


def _profile_on_intervals(c: Contract, intervals: pd.DatetimeIndex) -> np.ndarray:
    """The contract's weighted delivery of each slice's interval (0 where none) [MWh]."""
    prof = c.profile_mwh.groupby(level=0).sum()
    prof.index = pd.DatetimeIndex(prof.index).tz_convert("UTC") if prof.index.tz else \
        pd.DatetimeIndex(prof.index).tz_localize("UTC")
    return c.weight * prof.reindex(intervals).fillna(0.0).to_numpy()


def _slice_minutes(time: pd.Series) -> int:
    if len(time) < 2:
        return 15
    return int(round((time.iloc[1] - time.iloc[0]).total_seconds() / 60))


def contract_slice_cover(time: pd.Series, uncovered_mwh: np.ndarray,
                         contracts: list[Contract]) -> np.ndarray:
    """Time-slice contract cover ``g_contract`` per slice [MWh] (module docstring).

    Parameters
    ----------
    time : pandas.Series
        Slice starts (UTC).
    uncovered_mwh : numpy.ndarray
        ``it - g_it`` per slice [MWh].
    contracts : list of Contract
        The site's instruments.

    Returns
    -------
    numpy.ndarray
        Contract cover per slice, 0 <= g_contract <= uncovered [MWh].
    """
    sm = _slice_minutes(time)
    other = [c for c in contracts if c.kind != "rec" and c.profile_minutes not in (sm, 60)]
    if other:
        c = other[0]
        raise ValueError(f"contract {c.contract_id!r}: profile_minutes = {c.profile_minutes}: "
                         f"must be the slice length ({sm}) or 60")
    time = time.reset_index(drop=True)
    uncovered = np.maximum(np.asarray(uncovered_mwh, float), 0.0)
    cover = np.zeros(len(time))
    # slice-granular profiles first, slice by slice
    fine = [c for c in contracts if c.kind != "rec" and c.profile_minutes == sm]
    if fine:
        idx = _interval_of_slices(time, sm)
        delivered = sum(_profile_on_intervals(c, idx) for c in fine)
        cover = np.minimum(delivered, uncovered)
    # hourly profiles on what is still uncovered, hour by hour
    hourly = [c for c in contracts if c.kind != "rec" and c.profile_minutes == 60 and sm < 60]
    if hourly:
        hours = _interval_of_slices(time, 60)
        left = uncovered - cover
        codes, first = np.unique(hours.asi8, return_index=True)
        inverse = np.searchsorted(codes, hours.asi8)
        left_h = np.bincount(inverse, weights=left, minlength=len(codes))
        hour_index = hours[first]
        delivered_h = sum(_profile_on_intervals(c, hour_index) for c in hourly)
        cover_h = np.minimum(delivered_h, left_h)
        share = np.divide(left, left_h[inverse], out=np.zeros(len(left)),
                          where=left_h[inverse] > 0)
        cover = cover + cover_h[inverse] * share
    return cover


def contract_volume_on_slices(time: pd.Series, it_mwh: np.ndarray,
                              contracts: list[Contract]) -> np.ndarray:
    """Every instrument's weighted volume spread onto slices, for the aggregate method [MWh]."""
    time = time.reset_index(drop=True)
    n = len(time)
    out = np.zeros(n)
    it = np.asarray(it_mwh, float)
    years = pd.DatetimeIndex(time).year.to_numpy()
    for c in contracts:
        if c.kind == "rec":
            mask = years == c.year
            total = it[mask].sum()
            if total > 0:
                out[mask] += c.weight * c.volume_mwh * it[mask] / total
            continue
        minutes = c.profile_minutes
        idx = _interval_of_slices(time, minutes)
        per_interval = _profile_on_intervals(c, idx)
        # an interval's delivery spread evenly over the slices of it that the meters hold
        codes, inverse, counts = np.unique(idx.asi8, return_inverse=True, return_counts=True)
        out += per_interval / counts[inverse]
    return out


CONTRACT_TABLE_COLUMNS = ("site", "contract_id", "kind", "weight", "profile_minutes", "year",
                          "time", "delivered_mwh")


def contracts_to_table(by_site: dict[str, list[Contract]]) -> pd.DataFrame:
    """Instruments as one table (a row per delivery interval; a REC is one row, time NaT).

    With the meters, this is all a third party needs to recompute contract cover.
    """
    rows = []
    for site, contracts in by_site.items():
        for c in contracts:
            head = (site, c.contract_id, c.kind, c.weight, c.profile_minutes or 0, c.year or 0)
            if c.kind == "rec":
                rows.append((*head, pd.NaT, c.volume_mwh))
            else:
                rows.extend((*head, t, float(v)) for t, v in c.profile_mwh.items())
    frame = pd.DataFrame(rows, columns=list(CONTRACT_TABLE_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def contracts_from_table(table: pd.DataFrame) -> dict[str, list[Contract]]:
    """The inverse of :func:`contracts_to_table`."""
    out: dict[str, list[Contract]] = {}
    for (site, cid), rows in table.groupby(["site", "contract_id"], sort=False):
        first = rows.iloc[0]
        if first["kind"] == "rec":
            c = Contract(cid, "rec", float(first["weight"]), volume_mwh=float(
                first["delivered_mwh"]), year=int(first["year"]))
        else:
            c = Contract(cid, first["kind"], float(first["weight"]),
                         rows.set_index("time")["delivered_mwh"].astype(float),
                         int(first["profile_minutes"]))
        out.setdefault(str(site), []).append(c)
    return out


def retire_all(ledger: CertificateLedger, site: str, period: str,
               contracts: list[Contract]) -> None:
    """Retire every contract of a site in the ledger (a second use of any raises LedgerError)."""
    for c in contracts:
        ledger.retire(c.contract_id, site, period)
