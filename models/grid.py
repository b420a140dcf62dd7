"""Grid signals at the point of interconnection: import price, renewable share, carbon intensity.

The regional renewable share is driven by the same weather as the site: the region's firm clean
supply (nuclear, hydro) is a constant share of demand, and its solar and wind fleets produce in
proportion to reference plants on the site's weather, scaled to their annual shares of demand:

    grid_share(t) = clip(firm + s_solar * cf_pv(t) / mean(cf_pv)
                         + s_wind * cf_wind(t) / mean(cf_wind), 0, 1)

The carbon intensity of imports is the fossil remainder's emission factor times (1 - grid_share).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
