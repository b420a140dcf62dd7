"""PV plant output with pvlib's ModelChain (PVWatts DC and inverter models, SAPM cell temperature).

Reference: Dobos, A. P., "PVWatts Version 5 Manual", NREL/TP-6A20-62641 (2014), as implemented
in pvlib (``pvlib.pvsystem.pvwatts_dc``, ``pvlib.inverter.pvwatts``,
``pvlib.pvsystem.pvwatts_losses``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
from pvlib.location import Location
from pvlib.modelchain import ModelChain
from pvlib.pvsystem import FixedMount, PVSystem, SingleAxisTrackerMount
from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

#: Cell temperature model: SAPM, open rack, glass/polymer (utility-scale ground mount).
TEMPERATURE_PARAMETERS = TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]


def pvwatts_losses_percent(cfg) -> dict[str, float]:
    """The PV config's loss fractions as pvlib's ``pvwatts_losses`` keyword arguments [%].

    pvlib takes percent at this boundary; the project keeps fractions everywhere else.
    """
    return {
        "soiling": 100 * cfg.soiling_fraction,
        "shading": 100 * cfg.shading_fraction,
        "snow": 0.0,
        "mismatch": 100 * cfg.mismatch_fraction,
        "wiring": 100 * cfg.wiring_fraction,
        "connections": 100 * cfg.connections_fraction,
        "lid": 100 * cfg.lid_fraction,
        "nameplate_rating": 100 * cfg.nameplate_rating_fraction,
        "age": 0.0,
        "availability": 100 * cfg.availability_fraction,
    }


def mount(cfg):
    """pvlib mount of the plant: fixed tilt, or a single-axis tracker with backtracking."""
    if cfg.mount == "single_axis":
        return SingleAxisTrackerMount(axis_tilt=0.0, axis_azimuth=cfg.axis_azimuth_deg,
                                      max_angle=cfg.max_rotation_deg, backtrack=True,
                                      gcr=cfg.ground_coverage_ratio)
    return FixedMount(surface_tilt=cfg.tilt_deg, surface_azimuth=cfg.azimuth_deg)


def degraded_dc_w(cfg) -> float:
    """DC nameplate after ``age_years`` of linear degradation [W]."""
    return cfg.dc_mw * 1e6 * max(0.0, 1.0 - cfg.degradation_per_year_fraction * cfg.age_years)


def pv_ac_power_mw(weather: pd.DataFrame, location: Location, cfg,
                   slice_minutes: int) -> pd.Series:
    """AC power of a PV plant (fixed tilt or single-axis tracking), slice means [MW].

    Parameters
    ----------
    weather : pandas.DataFrame
        ghi, dni, dhi [W/m2], temp_air [degC], wind_speed [m/s], indexed by slice start (UTC).
    location : pvlib.location.Location
        Site location.
    cfg : twin.scenario.PVConfig
        Plant: ``dc_mw``, ``dc_ac_ratio``, mount (tilt and azimuth, or tracker axis, rotation
        limit and ground coverage), age and degradation, temperature coefficient, inverter
        efficiency, PVWatts loss fractions (soiling, availability, ...), albedo.
    slice_minutes : int
        Slice length [min]; solar position is taken at slice midpoints.

    Returns
    -------
    pandas.Series
        AC power delivered to the site bus [MW], >= 0, capped by the inverter rating
        ``dc_mw / dc_ac_ratio`` (clipping), indexed like ``weather``.

    Notes
    -----
    Degradation lowers the DC nameplate, ``pdc0 = dc * (1 - d * age)``; the inverter keeps its
    rating, so an older plant clips less.
    """
    if cfg.dc_mw == 0:
        return pd.Series(0.0, index=weather.index, name="pv_mw")
    ac_w = cfg.dc_mw * 1e6 / cfg.dc_ac_ratio
    system = PVSystem(
        arrays=[pvlib.pvsystem.Array(
            mount=mount(cfg), albedo=cfg.albedo,
            module_parameters={"pdc0": degraded_dc_w(cfg), "gamma_pdc": cfg.gamma_pdc_per_c},
            temperature_model_parameters=TEMPERATURE_PARAMETERS, name="plant")],
        inverter_parameters={"pdc0": ac_w / cfg.inverter_efficiency,
                             "eta_inv_nom": cfg.inverter_efficiency},
        losses_parameters=pvwatts_losses_percent(cfg),
    )
    mc = ModelChain(system, location, aoi_model="physical", spectral_model="no_loss",
                    losses_model="pvwatts", name="aidc-twin pvwatts")
    mid = weather.copy()
    mid.index = weather.index + pd.Timedelta(minutes=slice_minutes / 2)
    mc.run_model(mid[["ghi", "dni", "dhi", "temp_air", "wind_speed"]])
    ac = np.clip(np.asarray(mc.results.ac, dtype=float), 0.0, ac_w) / 1e6
    return pd.Series(np.nan_to_num(ac), index=weather.index, name="pv_mw")
