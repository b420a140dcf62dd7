"""Weather input: every format read by pvlib.iotools, mapped onto one UTC year, resampled to
slices with each interval's irradiance energy conserved."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import weather
from models.presets import PRESETS
from tests.conftest import ROOT
from tests.tolerances import HAND_ATOL

DATA = ROOT / "tests" / "data"
PVGIS_CSV = str(DATA / "pvgis_tmy_45.000_8.000_2005_2023.csv.gz")
PVGIS_EPW = str(DATA / "pvgis_tmy_45.000_8.000_2005_2023.epw.gz")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_cover_the_utc_year(name):
    p = PRESETS[name]
    w = weather.load_site_weather(p.file, p.format, p.year, Path("."), 15)
    idx = w.frame.index
    assert len(idx) == 35040
    assert idx[0] == pd.Timestamp("2023-01-01", tz="UTC")
    assert idx[-1] == pd.Timestamp("2023-12-31 23:45", tz="UTC")
    assert not w.frame.isna().any().any()
    assert (w.frame[["ghi", "dni", "dhi"]] >= 0).all().all()


def test_climates_differ_as_their_places_do():
    def annual(name):
        p = PRESETS[name]
        f = weather.load_site_weather(p.file, p.format, p.year, Path("."), 60).frame
        return f["ghi"].sum() / 1000, f["wind_speed"].mean(), f["pressure"].mean()

    ghi_d, wind_d, p_d = annual("colorado-plateau")
    ghi_n, wind_n, _ = annual("sand-point-ak")
    ghi_g, _, _ = annual("greensboro-nc")
    assert ghi_d > ghi_g > ghi_n  # kWh/m2: about 1,827 > 1,566 > 829
    assert wind_n > 5.0  # Sand Point's 10 m anemometer averages 5.1 m/s
    assert 77000 < p_d < 81000  # 2,168 m above sea level


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_resampling_conserves_each_intervals_irradiance(name):
    p = PRESETS[name]
    path = weather.resolve_data_path(p.file, Path("."))
    wf = weather.READERS[p.format](path, p.year)
    year = weather.calendar_year_utc(wf, p.year)
    w = weather.load_site_weather(p.file, p.format, p.year, Path("."), 15)
    per = wf.step_minutes // 15
    for col in ("ghi", "dni", "dhi"):
        np.testing.assert_allclose(w.frame[col].to_numpy().reshape(-1, per).mean(axis=1),
                                   year[col].to_numpy(), atol=HAND_ATOL)


def test_tmy3_hour_ending_becomes_interval_start_in_utc():
    # Greensboro is UTC-5: the file's first row (01:00 local, hour ending) covers 00:00-01:00
    # local = 05:00-06:00 UTC on 1 January.
    path = weather.resolve_data_path("pvlib:723170TYA.CSV", Path("."))
    wf = weather.read_tmy3(path, 2023)
    year = weather.calendar_year_utc(wf, 2023)
    raw = pd.read_csv(path, skiprows=1)
    assert year.loc[pd.Timestamp("2023-01-01 05:00", tz="UTC"), "temp_air"] == \
        raw["Dry-bulb (C)"].iloc[0]


def test_tmy3_months_from_other_years_land_on_the_scenario_year(tmp_path):
    # a typical year's February from a leap year (its 28 February 24:00 is 29 February 00:00
    # there) and its December from another year: every hour lands once on the scenario's year
    src = weather.resolve_data_path("pvlib:723170TYA.CSV", Path("."))
    lines = src.read_text().splitlines()
    rows = []
    for line in lines[2:]:
        day, rest = line.split(",", 1)
        month, dom, _ = day.split("/")
        source_year = {"02": "2004", "12": "1999"}.get(month, "1991")
        rows.append(f"{month}/{dom}/{source_year},{rest}")
    path = tmp_path / "mixed_TYA.CSV"
    path.write_text("\n".join([*lines[:2], *rows]) + "\n")
    frame = weather.read_tmy3(path, 2023).frame
    local = pd.date_range("2023-01-01 00:00", periods=8760, freq="h", tz=frame.index.tz)
    assert frame.index.equals(local)
    raw = pd.read_csv(path, skiprows=1)
    for stamp, label in (("2023-02-28 23:00", "02/28/2004"), ("2023-12-31 23:00", "12/31/1999")):
        hour_ending_24 = raw[(raw["Date (MM/DD/YYYY)"] == label) & (raw["Time (HH:MM)"] == "24:00")]
        assert frame.loc[pd.Timestamp(stamp, tz=frame.index.tz), "temp_air"] == \
            hour_ending_24["Dry-bulb (C)"].iloc[0]


def test_pvgis_csv_and_epw_give_the_same_year():
    a = weather.load_site_weather(PVGIS_CSV, "pvgis_tmy", 2023, Path("."), 60).frame
    b = weather.load_site_weather(PVGIS_EPW, "pvgis_tmy", 2023, Path("."), 60).frame
    assert a["ghi"].sum() == pytest.approx(b["ghi"].sum(), rel=1e-6)
    assert a["temp_air"].mean() == pytest.approx(b["temp_air"].mean(), abs=0.01)


def test_epw_and_plain_csv_formats(tmp_path):
    e = weather.load_site_weather(PVGIS_EPW, "epw", 2023, Path("."), 15)
    assert len(e.frame) == 35040
    # the plain CSV: the same year written as UTC interval starts reads back unchanged
    hourly = weather.load_site_weather(PVGIS_EPW, "epw", 2023, Path("."), 60).frame
    path = tmp_path / "site.csv"
    hourly.rename_axis("time").reset_index().to_csv(path, index=False)
    loc = {"latitude_deg": 45.0, "longitude_deg": 8.0, "altitude_m": 250.0, "utc_offset_h": 1.0}
    c = weather.load_site_weather(str(path), "csv", 2023, Path("."), 60, loc).frame
    pd.testing.assert_frame_equal(c, hourly, check_freq=False)


def test_bad_weather_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="weather.file = 'nope.csv'"):
        weather.load_site_weather("nope.csv", "tmy3", 2023, tmp_path, 15)
    with pytest.raises(ValueError, match="weather.year = 2024: a typical year has no 29"):
        weather.load_site_weather("pvlib:723170TYA.CSV", "tmy3", 2024, Path("."), 15)
    p = PRESETS["colorado-plateau"]
    with pytest.raises(ValueError, match="weather.year = 2022: this NSRDB file holds the year"):
        weather.load_site_weather(p.file, p.format, 2022, Path("."), 15)


def test_a_sites_location_computes_the_sun_once_for_the_same_times(monkeypatch):
    # the weather's clear-sky shape (12 degC), the site's PV and the grid's reference PV (the
    # air temperature) need the sun at the same instants: pvlib's SPA runs once for them, and
    # each gets exactly what pvlib gives for its pressure and temperature
    import pvlib

    calls = []
    real = pvlib.solarposition.get_solarposition

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pvlib.solarposition, "get_solarposition", counting)
    site = weather.SiteLocation(36.1, -79.9, tz="UTC", altitude=270.0)
    plain = pvlib.location.Location(36.1, -79.9, tz="UTC", altitude=270.0)
    times = pd.date_range("2018-06-01 00:07:30", periods=96, freq="15min", tz="UTC")
    temp = pd.Series(np.linspace(-20.0, 40.0, 96), index=times)
    first = site.get_solarposition(times, temperature=temp, method="nrel_numpy")
    first["zenith"] = 0.0  # a caller that changes its copy changes nothing kept
    again = site.get_solarposition(times, temperature=temp.copy(), method="nrel_numpy")
    assert len(calls) == 1
    pd.testing.assert_frame_equal(
        again, plain.get_solarposition(times, temperature=temp, method="nrel_numpy"),
        check_exact=True)
    # another temperature or pressure at the same instants: the refraction only, as pvlib
    # computes it (the clear-sky call passes no method and the standard 12 degC)
    for kwargs in ({"temperature": temp + 1.0, "method": "nrel_numpy"}, {},
                   {"pressure": 80000.0, "temperature": 35.0}):
        before = len(calls)
        ours = site.get_solarposition(times, **kwargs)
        assert len(calls) == before
        pd.testing.assert_frame_equal(ours, plain.get_solarposition(times, **kwargs),
                                      check_exact=True)
    refracted = site.get_solarposition(times, temperature=temp + 30.0)
    assert not np.array_equal(refracted["apparent_zenith"], again["apparent_zenith"])
    np.testing.assert_array_equal(refracted["zenith"], again["zenith"])
    # other times or another method: computed again
    n = len(calls)
    site.get_solarposition(times + pd.Timedelta(minutes=15), temperature=temp,
                           method="nrel_numpy")
    site.get_solarposition(times, temperature=temp, method="ephemeris")
    assert len(calls) == n + 2


def test_a_site_weathers_location_is_one_object():
    w = weather.SiteWeather(pd.DataFrame(), 36.1, -79.9, 270.0, -5.0, "test")
    assert w.location is w.location
    # the weather resampled to slices keeps it: the clear-sky shape's sun serves the PV plants
    assert dataclasses.replace(w, frame=pd.DataFrame({"ghi": [0.0]})).location is w.location
    assert isinstance(w.location, weather.SiteLocation) and w.location.altitude == 270.0
