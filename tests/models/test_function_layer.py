"""Models at the function layer: battery, datacenter, workloads, grid signals. (Token energy:
test_tokens.py; weather, PV and wind: test_weather.py and test_supply.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import battery, datacenter, grid, site, workloads
from twin.scenario import BatchConfig, InteractiveConfig, TariffConfig


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
    # the same step for every slice at once, from each slice's start content
    np.testing.assert_allclose(battery.battery_step(np.array([20.0, 20.0]), np.array([2.0, 0.0]),
                                                    np.array([0.0, 1.6]), p), [21.8, 18.0])
    with pytest.raises(ValueError, match="must be >= 0"):
        battery.battery_step(np.array([20.0]), np.array([-1.0]), np.array([0.0]), p)
    # 1% per day compounds to 1 - 0.99**(15/1440) per 15-minute slice
    assert battery.self_discharge_per_slice(0.01, 15) == pytest.approx(1 - 0.99 ** (1 / 96))


def test_cooling_curve_and_it_energy():
    t = np.array([-5.0, 18.0, 23.0, 60.0])
    f = datacenter.cooling_fraction_from_dry_bulb(t, 18.0, 0.06, 0.012, 0.35)
    np.testing.assert_allclose(f, [0.06, 0.06, 0.06 + 5 * 0.012, 0.35])
    gpu = datacenter.gpu_type("H100-SXM")
    # 3.6e9 J of work + 1,000 idle GPU-s at 75 W, times 1.35 -> (3.6e9 + 7.5e4) * 1.35 / 3.6e9
    assert site.it_energy_mwh(3.6e9, 1000.0, gpu) == pytest.approx(
        (3.6e9 + 7.5e4) * 1.35 / 3.6e9)


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


def test_batch_jobs_are_released_where_local_midnight_falls_within_a_slice():
    # UTC+5:30 (India): no hourly slice starts at local midnight. Matching slice starts to
    # the release hour exactly released no batch work at all; the first slice after it,
    # 19:00 UTC (00:30 local), releases each day's job. At 15 minutes midnight is 18:30 UTC.
    cfg = BatchConfig(share_of_interactive=0.25, release_local_hour=0, deadline_h=24,
                      input_tokens_per_output_token=4.0)
    hourly = pd.date_range("2023-01-01", periods=72, freq="60min", tz="UTC")
    jobs = workloads.daily_batch_jobs(hourly, np.full(72, 100.0), cfg, utc_offset_h=5.5,
                                      slice_minutes=60, site="s")
    assert [j.release_slice for j in jobs] == [19, 43, 67]
    quarter = pd.date_range("2023-01-01", periods=96 * 2, freq="15min", tz="UTC")
    jobs = workloads.daily_batch_jobs(quarter, np.full(192, 100.0), cfg, utc_offset_h=5.5,
                                      slice_minutes=15, site="s")
    assert [j.release_slice for j in jobs] == [74, 170]
    # Nepal, UTC+5:45, at 30 minutes: midnight is 18:15 UTC, the 18:30 slice releases
    half = pd.date_range("2023-01-01", periods=96, freq="30min", tz="UTC")
    jobs = workloads.daily_batch_jobs(half, np.full(96, 100.0), cfg, utc_offset_h=5.75,
                                      slice_minutes=30, site="s")
    assert [j.release_slice for j in jobs] == [37, 85]


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


def test_signals_csv_holds_hourly_values_over_their_slices(tmp_path):
    path = tmp_path / "signals.csv"
    pd.DataFrame({"time": ["2023-01-01T00:00Z", "2023-01-01T01:00Z"],
                  "grid_share": [0.3, 0.6], "price_usd_per_mwh": [40.0, 90.0]}).to_csv(path,
                                                                                      index=False)
    idx = pd.date_range("2023-01-01", periods=8, freq="15min", tz="UTC")
    got = grid.read_signals_csv(path, idx, 15)
    np.testing.assert_allclose(got["grid_share"], [0.3] * 4 + [0.6] * 4)
    np.testing.assert_allclose(got["price_usd_per_mwh"], [40.0] * 4 + [90.0] * 4)
    longer = pd.date_range("2023-01-01", periods=12, freq="15min", tz="UTC")
    with pytest.raises(ValueError, match="no value for the slice at 2023-01-01 02:00:00"):
        grid.read_signals_csv(path, longer, 15)
