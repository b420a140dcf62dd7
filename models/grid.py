"""Grid signals at the point of interconnection: import price, renewable share, carbon intensity.

The regional renewable share is driven by the same weather as the site: the region's firm clean
supply (nuclear, hydro) is a constant share of demand, and its solar and wind fleets produce in
proportion to reference plants on the site's weather, scaled to their annual shares of demand:

    grid_share(t) = clip(firm + s_solar * cf_pv(t) / mean(cf_pv)
                         + s_wind * cf_wind(t) / mean(cf_wind), 0, 1)

The carbon intensity of imports is the fossil remainder's emission factor times (1 - grid_share).

A user CSV (:func:`read_signals_csv`) can replace any of the three signals with measured data,
for example a utility's hourly renewable share and marginal price.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import tables


def grid_renewable_share(pv_cf: np.ndarray, wind_cf: np.ndarray, firm_clean_fraction: float,
                         solar_energy_share: float, wind_energy_share: float) -> np.ndarray:
    """Non-fossil share of the regional grid per slice [fraction] (module docstring)."""
    def normalised(cf: np.ndarray) -> np.ndarray:
        mean = float(np.mean(cf))
        return cf / mean if mean > 0 else np.zeros_like(cf)

    share = (firm_clean_fraction + solar_energy_share * normalised(np.asarray(pv_cf, float))
             + wind_energy_share * normalised(np.asarray(wind_cf, float)))
    return np.clip(share, 0.0, 1.0)


def grid_carbon_kg_per_mwh(grid_share: np.ndarray, fossil_carbon_kg_per_mwh: float) -> np.ndarray:
    """Location-based carbon intensity of imports [kgCO2e/MWh]."""
    return fossil_carbon_kg_per_mwh * (1.0 - np.asarray(grid_share, float))


def tou_price_usd_per_mwh(index: pd.DatetimeIndex, tariff, utc_offset_h: float) -> np.ndarray:
    """Time-of-use import price per slice, by local standard hour [$/MWh].

    Peak hours take precedence over shoulder hours; every other hour is off-peak. Weekends are
    off-peak all day.
    """
    local = index + pd.Timedelta(hours=utc_offset_h)
    hour = local.hour.to_numpy()
    weekend = local.dayofweek.to_numpy() >= 5
    price = np.full(len(index), tariff.offpeak_usd_per_mwh, dtype=float)
    s0, s1 = tariff.shoulder_hours
    p0, p1 = tariff.peak_hours
    price[(hour >= s0) & (hour < s1) & ~weekend] = tariff.shoulder_usd_per_mwh
    price[(hour >= p0) & (hour < p1) & ~weekend] = tariff.peak_usd_per_mwh
    return price


SIGNAL_COLUMNS = ("price_usd_per_mwh", "grid_share", "grid_carbon_kg_per_mwh")
#: Bounds of a signal file's columns (a price has none: prices go negative).
SIGNAL_BOUNDS = {"grid_share": (0.0, 1.0), "grid_carbon_kg_per_mwh": (0.0, None)}


def read_signals_csv(path, index: pd.DatetimeIndex, slice_minutes: int) -> pd.DataFrame:
    """Grid signals from a CSV, on the run's slices.

    The file has ``time`` (interval start; an offset in the text is honoured, naive is UTC) and any
    of :data:`SIGNAL_COLUMNS`. An interval's value holds for every slice inside it (a price or a
    share is a rate, not an energy); finer data is averaged over each slice. Every slice of the run
    must be covered.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``index``, with the columns the file has.
    """
    where = f"grid.signals_file = {path}"
    try:
        data = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{where}: the file is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{where}: not a readable CSV file ({first})") from None
    if "time" not in data.columns:
        raise ValueError(f"{where}: column 'time' is missing")
    cols = [c for c in SIGNAL_COLUMNS if c in data.columns]
    if not cols:
        raise ValueError(f"{where}: none of {list(SIGNAL_COLUMNS)} present")
    if data.empty:
        raise ValueError(f"{where}: the file has no rows (only a header)")
    try:
        time = tables.timestamps(data["time"])
        for col in cols:  # a price may be negative; a share and an emission factor may not
            data[col] = tables.finite_numbers(data, col)
            tables.first_outside(data[col].to_numpy(), col, *SIGNAL_BOUNDS.get(col, (None, None)))
    except tables.CellError as err:
        raise ValueError(f"{where}: {err}") from None
    data.index = pd.DatetimeIndex(time)
    if data.index.has_duplicates:
        i = int(np.flatnonzero(data.index.duplicated())[0])
        raise ValueError(f"{where}: column 'time', row {i}: {data.index[i]} appears twice")
    data = data[cols].sort_index()
    step = (data.index[1] - data.index[0]) if len(data) > 1 else pd.Timedelta(hours=1)
    if step < pd.Timedelta(minutes=slice_minutes):
        data = data.resample(f"{slice_minutes}min").mean()
    out = data.reindex(index, method="ffill", tolerance=step - pd.Timedelta(seconds=1))
    if out.isna().any().any():
        first = out.index[out.isna().any(axis=1)][0]
        raise ValueError(f"grid.signals_file = {path}: no value for the slice at {first}")
    return out
