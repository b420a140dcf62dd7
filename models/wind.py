"""Wind farm output with windpowerlib's TurbineClusterModelChain and its bundled oedb turbines.

The turbine's power curve comes from windpowerlib's bundled ``oedb/turbine_data.csv`` (no network).
Wind speed is extrapolated to hub height (logarithmic profile or Hellman), air density from the
barometric formula corrects the power curve, and the farm's wake and electrical losses are a
constant farm efficiency (``wake_losses_model='wind_farm_efficiency'``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from windpowerlib import TurbineClusterModelChain, WindFarm, WindTurbine


def weather_for_windpowerlib(weather: pd.DataFrame, wind_speed_height_m: float,
                             temperature_height_m: float,
                             roughness_length_m: float) -> pd.DataFrame:
    """The site weather in windpowerlib's (variable, height) MultiIndex format.

    Units at this boundary are windpowerlib's: wind speed [m/s], temperature [K], pressure [Pa],
    roughness length [m].
    """
    frame = pd.DataFrame(
        {
            ("wind_speed", wind_speed_height_m): weather["wind_speed"].to_numpy(),
            ("temperature", temperature_height_m): weather["temp_air"].to_numpy() + 273.15,
            ("pressure", 0): weather["pressure"].to_numpy(),
            ("roughness_length", 0): roughness_length_m,
        },
        index=weather.index,
    )
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["variable_name", "height"])
    return frame


def turbine(turbine_type: str, hub_height_m: float) -> WindTurbine:
    """A turbine from windpowerlib's bundled oedb library, by its type name."""
    try:
        wt = WindTurbine(turbine_type=turbine_type, hub_height=hub_height_m)
    except (KeyError, ValueError) as err:
        raise ValueError(f"wind.turbine_type = {turbine_type!r}: not in windpowerlib's bundled "
                         f"turbine library with a power curve ({err})") from None
    if wt.power_curve is None:
        raise ValueError(f"wind.turbine_type = {turbine_type!r}: has no power curve in the "
                         "bundled library")
    return wt


def wind_farm_power_mw(weather: pd.DataFrame, cfg, wind_speed_height_m: float,
                       temperature_height_m: float, roughness_length_m: float) -> pd.Series:
    """Wind farm power at the site bus, slice means [MW].

    Parameters
    ----------
    weather : pandas.DataFrame
        wind_speed [m/s], temp_air [degC], pressure [Pa], indexed by slice start (UTC).
    cfg : twin.scenario.WindConfig
        Turbine type, hub height, number of turbines, farm efficiency, availability, profile model.
    wind_speed_height_m, temperature_height_m : float
        Measurement heights of the weather file [m].
    roughness_length_m : float
        Surface roughness length [m].

    Returns
    -------
    pandas.Series
        Power [MW], between 0 and ``turbines * nominal power * availability``.
    """
    if cfg.turbines == 0:
        return pd.Series(0.0, index=weather.index, name="wind_mw")
    wt = turbine(cfg.turbine_type, cfg.hub_height_m)
    farm = WindFarm(
        wind_turbine_fleet=pd.DataFrame({"wind_turbine": [wt],
                                         "number_of_turbines": [cfg.turbines]}),
        efficiency=cfg.farm_efficiency,
        name="site wind farm",
    )
    mc = TurbineClusterModelChain(
        farm,
        wake_losses_model="wind_farm_efficiency",
        smoothing=False,
        wind_speed_model=cfg.wind_speed_model,
        density_model="barometric",
        temperature_model="linear_gradient",
        power_output_model="power_curve",
        density_correction=True,
        hellman_exp=None,
    )
    wpl = weather_for_windpowerlib(weather, wind_speed_height_m, temperature_height_m,
                                   roughness_length_m)
    mc.run_model(wpl)
    p = np.clip(np.nan_to_num(np.asarray(mc.power_output, dtype=float)), 0.0, None)
    p = p * cfg.availability_fraction / 1e6
    return pd.Series(p, index=weather.index, name="wind_mw")
