"""On-site supply against its libraries run directly on the same files.

Tolerances (one per quantity): annual PV energy vs pvlib's PVWatts chain on the file's own
resolution: 1%; annual wind energy vs windpowerlib on the file's own resolution: 0.5%.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from windpowerlib import ModelChain as WplModelChain
from windpowerlib import WindTurbine

from models import weather
from models.presets import PRESETS
from models.pv import pv_ac_power_mw
from models.wind import weather_for_windpowerlib, wind_farm_power_mw
from twin.scenario import PVConfig, WindConfig

PV_ANNUAL_RTOL = 0.01
WIND_ANNUAL_RTOL = 0.005
PLANT = PVConfig(dc_mw=100.0, dc_ac_ratio=1.25, tilt_deg=25.0)

#: AC capacity factors on the 80 MWac inverters (stated in the README), as pvlib gives them
#: directly on each file; the check is +-0.005.
PV_CF = {"greensboro-nc": 0.199, "sand-point-ak": 0.118, "colorado-plateau": 0.241}


def _file(name):
    p = PRESETS[name]
    wf = weather.READERS[p.format](weather.resolve_data_path(p.file, Path(".")), p.year)
    return p, wf


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_pv_yield_matches_pvlib_pvwatts_run_directly(name):
    p, wf = _file(name)
    w = weather.load_site_weather(p.file, p.format, p.year, Path("."), 15)
    ours = pv_ac_power_mw(w.frame, w.location, PLANT, 15).sum() * 0.25  # MWh
    loc = pvlib.location.Location(wf.latitude_deg, wf.longitude_deg, altitude=wf.altitude_m)
    system = pvlib.pvsystem.PVSystem(
        surface_tilt=25, surface_azimuth=180,
        module_parameters={"pdc0": 100e6, "gamma_pdc": -0.0035},
        inverter_parameters={"pdc0": 80e6 / 0.98, "eta_inv_nom": 0.98},
        temperature_model_parameters=pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][
            "open_rack_glass_polymer"])
    mc = pvlib.modelchain.ModelChain(system, loc, aoi_model="physical",
                                     spectral_model="no_loss", losses_model="pvwatts")
    raw = wf.frame.tz_convert("UTC")
    raw.index = raw.index + pd.Timedelta(minutes=wf.step_minutes / 2)
    mc.run_model(raw)
    direct = float(np.clip(mc.results.ac, 0, None).sum()) / 1e6 * wf.step_minutes / 60
    assert ours == pytest.approx(direct, rel=PV_ANNUAL_RTOL)
    assert ours / (80 * 8760) == pytest.approx(PV_CF[name], abs=0.005)


def test_tracking_degradation_and_clipping():
    p, _ = _file("colorado-plateau")
    w = weather.load_site_weather(p.file, p.format, p.year, Path("."), 15)
    fixed = pv_ac_power_mw(w.frame, w.location, PLANT, 15)
    tracked = pv_ac_power_mw(w.frame, w.location, PLANT.model_copy(
        update={"mount": "single_axis"}), 15)
    aged = pv_ac_power_mw(w.frame, w.location, PLANT.model_copy(
        update={"age_years": 10.0, "degradation_per_year_fraction": 0.005}), 15)
    # single-axis trackers gain 15-30% at sunny sites
    assert 1.10 < tracked.sum() / fixed.sum() < 1.35
    # 5% less DC; a little less than 5% less AC because the inverter clips less
    assert 0.95 < aged.sum() / fixed.sum() < 0.96
    # inverter clipping at 80 MWac
    assert fixed.max() == pytest.approx(80.0) and (fixed <= 80.0 + 1e-9).all()


@pytest.mark.parametrize("name", ["greensboro-nc", "sand-point-ak"])
def test_wind_farm_matches_windpowerlib_and_respects_its_curve(name):
    p, wf = _file(name)
    w = weather.load_site_weather(p.file, p.format, p.year, Path("."), 15)
    cfg = WindConfig(turbine_type="E-141/4200", hub_height_m=135, turbines=24,
                     farm_efficiency=0.92, availability_fraction=0.97)
    heights = (p.wind_speed_height_m, p.temperature_height_m, p.roughness_length_m)
    p15 = wind_farm_power_mw(w.frame, cfg, *heights)
    assert p15.max() <= 24 * 4.2 * 0.97 + 1e-9
    ours = p15.sum() * 0.25
    wt = WindTurbine(turbine_type="E-141/4200", hub_height=135)
    mc = WplModelChain(wt, wind_speed_model="logarithmic", density_model="barometric",
                       temperature_model="linear_gradient", power_output_model="power_curve",
                       density_correction=True).run_model(
        weather_for_windpowerlib(wf.frame, *heights))
    direct = float(mc.power_output.sum()) / 1e6 * 24 * 0.92 * 0.97
    assert ours == pytest.approx(direct, rel=WIND_ANNUAL_RTOL)
    # above cut-out the curve is zero: a storm at 40 m/s at the anemometer
    storm = w.frame.iloc[:8].copy()
    storm["wind_speed"] = 40.0
    assert (wind_farm_power_mw(storm, cfg, *heights) == 0.0).all()


def test_unknown_turbine_is_named():
    frame = pd.DataFrame({"wind_speed": [5.0], "temp_air": [10.0], "pressure": [1e5]},
                         index=pd.date_range("2023-01-01", periods=1, tz="UTC"))
    with pytest.warns(UserWarning), pytest.raises(ValueError,
                                                  match="wind.turbine_type = 'X-1/1'"):
        wind_farm_power_mw(frame, WindConfig(turbine_type="X-1/1", hub_height_m=100,
                                             turbines=1), 10, 2, 0.1)
