"""Models at the function layer: weather resampling, PV and wind against their libraries run
directly, battery, datacenter, tokens against published points, workloads, grid signals.

Tolerances (one per quantity): annual PV/wind energy vs the library run directly at hourly
resolution: 1%; token energy vs published points: 10% (the points are quoted as "about").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from windpowerlib import ModelChain as WplModelChain
from windpowerlib import WindTurbine

from models import battery, datacenter, grid, tokens, weather, workloads
from models.pv import pv_ac_power_mw
from models.wind import weather_for_windpowerlib, wind_farm_power_mw
from twin.scenario import BatchConfig, InteractiveConfig, PVConfig, TariffConfig, WindConfig

ANNUAL_ENERGY_RTOL = 0.01
TOKEN_POINT_RTOL = 0.10
TMY = "pvlib:723170TYA.CSV"


@pytest.fixture(scope="module")
def hourly():
    path = weather.resolve_weather_path(TMY, Path("."))
    return weather.read_tmy3_utc(path, 2023)


@pytest.fixture(scope="module")
def site15():
    return weather.load_site_weather(TMY, "tmy3", 2023, Path("."), 15)


def test_weather_year_is_utc_and_complete(site15):
    idx = site15.frame.index
    assert len(idx) == 35040
    assert idx[0] == pd.Timestamp("2023-01-01 00:00", tz="UTC")
    assert idx[-1] == pd.Timestamp("2023-12-31 23:45", tz="UTC")
    assert (site15.latitude_deg, site15.longitude_deg, site15.utc_offset_h) == (36.1, -79.95, -5)


def test_resampling_conserves_each_hours_irradiance(hourly, site15):
    h, _ = hourly
    for col in ("ghi", "dni", "dhi"):
        per_hour = site15.frame[col].to_numpy().reshape(-1, 4).mean(axis=1)
        np.testing.assert_allclose(per_hour, h[col].to_numpy(), atol=1e-9)
    # no irradiance at night: slices whose clear-sky sun is down carry none
    assert (site15.frame["ghi"] >= 0).all()


def test_leap_year_refused():
    path = weather.resolve_weather_path(TMY, Path("."))
    with pytest.raises(ValueError, match="weather.year = 2024: a TMY has 8,760 hours"):
        weather.read_tmy3_utc(path, 2024)


def test_pv_annual_energy_matches_pvlib_run_hourly(hourly, site15):
    """Our 15-minute chain vs pvlib's PVWatts ModelChain on the raw hourly file, directly."""
    cfg = PVConfig(dc_mw=300.0, dc_ac_ratio=1.25, tilt_deg=25.0)
    ours = pv_ac_power_mw(site15.frame, site15.location, cfg, 15).sum() * 0.25  # MWh
    h, meta = hourly
    loc = pvlib.location.Location(meta["latitude"], meta["longitude"], altitude=meta["altitude"])
    system = pvlib.pvsystem.PVSystem(
        surface_tilt=25, surface_azimuth=180,
        module_parameters={"pdc0": 300e6, "gamma_pdc": -0.0035},
        inverter_parameters={"pdc0": 240e6 / 0.98, "eta_inv_nom": 0.98},
        temperature_model_parameters=pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][
            "open_rack_glass_polymer"])
    mc = pvlib.modelchain.ModelChain(system, loc, aoi_model="physical",
                                     spectral_model="no_loss", losses_model="pvwatts")
    mid = h.copy()
    mid.index = h.index + pd.Timedelta(minutes=30)
    mc.run_model(mid)
    direct = float(np.clip(mc.results.ac, 0, None).sum()) / 1e6  # hourly W -> MWh
    assert ours == pytest.approx(direct, rel=ANNUAL_ENERGY_RTOL)
    # AC capacity factor on the 240 MWac inverters: Greensboro NC, 25 deg tilt, DC/AC 1.25
    assert 0.19 < ours / (240 * 8760) < 0.21


def test_wind_farm_matches_windpowerlib_and_respects_its_curve(hourly, site15):
    cfg = WindConfig(turbine_type="E-141/4200", hub_height_m=135, turbines=24,
                     farm_efficiency=0.92, availability_fraction=0.97)
    p15 = wind_farm_power_mw(site15.frame, cfg, 10, 2, 0.1)
    assert p15.max() <= 24 * 4.2 * 0.97 + 1e-9
    ours = p15.sum() * 0.25
    h, _ = hourly
    wt = WindTurbine(turbine_type="E-141/4200", hub_height=135)
    mc = WplModelChain(wt, wind_speed_model="logarithmic", density_model="barometric",
                       temperature_model="linear_gradient", power_output_model="power_curve",
                       density_correction=True).run_model(weather_for_windpowerlib(h, 10, 2, 0.1))
    direct = float(mc.power_output.sum()) / 1e6 * 24 * 0.92 * 0.97
    assert ours == pytest.approx(direct, rel=ANNUAL_ENERGY_RTOL)
    assert 0.12 < ours / (24 * 4.2 * 8760) < 0.22
    # above cut-out the curve is zero: a storm at 40 m/s at 10 m
    storm = site15.frame.iloc[:8].copy()
    storm["wind_speed"] = 40.0
    assert (wind_farm_power_mw(storm, cfg, 10, 2, 0.1) == 0.0).all()


def test_unknown_turbine_is_named():
    frame = pd.DataFrame({"wind_speed": [5.0], "temp_air": [10.0], "pressure": [1e5]},
                         index=pd.date_range("2023-01-01", periods=1, tz="UTC"))
    with pytest.warns(UserWarning), pytest.raises(ValueError,
                                                  match="wind.turbine_type = 'X-1/1'"):
        wind_farm_power_mw(frame, WindConfig(turbine_type="X-1/1", hub_height_m=100,
                                             turbines=1), 10, 2, 0.1)


def test_battery_step_and_limits():
    p = battery.BatteryParams(power_mw=10, energy_mwh=40, charge_efficiency=0.9,
                              discharge_efficiency=0.8, min_soc_mwh=4, max_soc_mwh=36,
                              self_discharge_per_slice=0.0)
    # 0.25 h slices: power cap 2.5 MWh; room from 35 MWh is 1 MWh stored = 1/0.9 drawn.
    assert battery.max_charge_mwh(35.0, p, 0.25) == pytest.approx(1 / 0.9)
    assert battery.max_charge_mwh(10.0, p, 0.25) == pytest.approx(2.5)
    # from 5 MWh, 1 MWh above the floor delivers 0.8 MWh
    assert battery.max_discharge_mwh(5.0, p, 0.25) == pytest.approx(0.8)
    assert battery.battery_step(20.0, 2.0, 0.0, p) == pytest.approx(21.8)
    assert battery.battery_step(20.0, 0.0, 1.6, p) == pytest.approx(18.0)
    # 1% per day compounds to 1 - 0.99**(15/1440) per 15-minute slice
    assert battery.self_discharge_per_slice(0.01, 15) == pytest.approx(1 - 0.99 ** (1 / 96))


def test_cooling_curve_and_it_energy():
    t = np.array([-5.0, 18.0, 23.0, 60.0])
    f = datacenter.cooling_fraction_from_dry_bulb(t, 18.0, 0.06, 0.012, 0.35)
    np.testing.assert_allclose(f, [0.06, 0.06, 0.06 + 5 * 0.012, 0.35])
    gpu = datacenter.gpu_type("H100-SXM")
    # 3.6e9 J of work + 1,000 idle GPU-s at 75 W, times 1.35 -> (3.6e9 + 7.5e4) * 1.35 / 3.6e9
    assert datacenter.it_energy_mwh(3.6e9, 1000.0, gpu) == pytest.approx(
        (3.6e9 + 7.5e4) * 1.35 / 3.6e9)


def test_token_energy_against_published_points():
    e8 = tokens.token_energy("llama-3.1-8b", "H100-SXM")
    e70 = tokens.token_energy("llama-3.1-70b", "H100-SXM")
    # ML.ENERGY leaderboard v3: ~0.12 J/output token (8B, 1x H100, batch 64), ~0.6 J (70B,
    # 4x H100, batch 128)
    assert e8.output_j_per_token == pytest.approx(0.12, rel=TOKEN_POINT_RTOL)
    assert e70.output_j_per_token == pytest.approx(0.6, rel=TOKEN_POINT_RTOL)
    # prefill from compute: 2 * 8.03e9 / (989.4e12 * 0.5) * 700 W
    assert e8.input_j_per_token == pytest.approx(2 * 8.03e9 / (989.4e12 * 0.5) * 700, rel=1e-12)
    # prefill per token is cheaper than decode per token for both
    assert e8.input_j_per_token < e8.output_j_per_token
    assert e70.input_j_per_token < e70.output_j_per_token
    with pytest.raises(ValueError, match="model = 'gpt-9' on gpu = 'H100-SXM'"):
        tokens.token_energy("gpt-9", "H100-SXM")


def test_interactive_pattern_daily_weekly_and_seeded():
    idx = pd.date_range("2023-01-02", periods=96 * 7, freq="15min", tz="UTC")  # Monday 00:00
    cfg = InteractiveConfig(peak_output_tokens_per_s=1000.0, noise_sigma=0.0,
                            peak_local_hour=14.0, night_to_peak_ratio=0.4, weekend_factor=0.5)
    out = workloads.interactive_output_tokens(idx, cfg, utc_offset_h=0.0, slice_minutes=15)
    monday = out[:96] / 900.0
    # peak at the slice whose midpoint is nearest 14:00 (13:45-14:00 or 14:00-14:15), low at 02:00
    assert monday.max() == pytest.approx(1000 * (0.4 + 0.6 * 0.5 * (1 + np.cos(np.pi / 96))),
                                         abs=0.6)
    assert monday.min() == pytest.approx(400.0, abs=0.6)
    saturday = out[5 * 96: 6 * 96]
    np.testing.assert_allclose(saturday, np.round(out[:96] * 0.5), atol=1.0)
    noisy = InteractiveConfig(peak_output_tokens_per_s=1000.0, seed=7)
    a = workloads.interactive_output_tokens(idx, noisy, 0.0, 15)
    b = workloads.interactive_output_tokens(idx, noisy, 0.0, 15)
    np.testing.assert_array_equal(a, b)


def test_batch_jobs_one_per_day_sized_from_the_next_24h():
    idx = pd.date_range("2023-01-01", periods=96 * 3, freq="15min", tz="UTC")
    out = np.full(len(idx), 100.0)
    cfg = BatchConfig(share_of_interactive=0.25, release_local_hour=0, deadline_h=24,
                      input_tokens_per_output_token=4.0)
    jobs = workloads.daily_batch_jobs(idx, out, cfg, utc_offset_h=-5.0, slice_minutes=15,
                                      site="s")
    # local midnight at UTC-5 is 05:00 UTC: slices 20, 116, 212; the last is clipped at the end
    assert [j.release_slice for j in jobs] == [20, 116, 212]
    assert [j.deadline_slice for j in jobs] == [116, 212, 288]
    assert jobs[0].tokens_out == 0.25 * 96 * 100 and jobs[0].tokens_in == 4 * jobs[0].tokens_out
    assert jobs[2].tokens_out == 0.25 * 76 * 100


def test_grid_signals():
    idx = pd.date_range("2023-01-02 00:00", periods=24, freq="60min", tz="UTC")  # a Monday
    price = grid.tou_price_usd_per_mwh(idx, TariffConfig(), utc_offset_h=0.0)
    assert price[3] == 45 and price[8] == 85 and price[17] == 160 and price[21] == 45
    sat = pd.date_range("2023-01-07 17:00", periods=1, freq="60min", tz="UTC")
    assert grid.tou_price_usd_per_mwh(sat, TariffConfig(), 0.0)[0] == 45
    share = grid.grid_renewable_share(np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.2, 0.2]),
                                      0.35, 0.08, 0.04)
    # mean pv cf 0.5: firm 0.35 + 0.08 * [0, 1, 2] + 0.04 * 1
    np.testing.assert_allclose(share, [0.39, 0.47, 0.55])
    np.testing.assert_allclose(grid.grid_carbon_kg_per_mwh(share, 650.0), 650 * (1 - share))
