"""Weather input: parse a weather file with pvlib.iotools into one UTC frame at slice resolution.

Conventions: the returned index is the *start* of each slice in UTC and covers one calendar year
(``year-01-01 00:00 UTC`` to the end of 31 December UTC). Irradiance is the mean over the slice
[W/m2]; temperature [degC], wind speed [m/s] and pressure [Pa] are slice means.

Formats, each parsed by pvlib.iotools (:data:`READERS`): ``tmy3``, ``tmy2``, ``epw``, ``pvgis_tmy``
(CSV, JSON or EPW from PVGIS), ``nsrdb_psm4`` (NSRDB SAM CSV), and ``csv`` (this project's plain
format: ``time`` as the UTC interval start, ``ghi, dni, dhi`` [W/m2], ``temp_air`` [degC],
``wind_speed`` [m/s], ``pressure`` [Pa], hourly or 30-minute). A file may be gzip-compressed
(``.gz``).

Typical years (TMY2/3, EPW, PVGIS TMY) take their months from different years; they are mapped
onto the scenario's ``year`` (pvlib's ``coerce_year``). A file in local time is converted to UTC
and rotated by its offset so that it covers the UTC calendar year: a typical year is cyclic, and a
single real year is treated the same way (the first hours of 1 January UTC take the last hours of
31 December local time).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

from models import tables

IRRADIANCE = ("ghi", "dni", "dhi")
COLUMNS = ("ghi", "dni", "dhi", "temp_air", "wind_speed", "pressure")
#: Standard atmosphere at sea level [Pa], used where a file has no pressure.
SEA_LEVEL_PRESSURE_PA = 101325.0
#: Below this mean clear-sky irradiance [W/m2] an interval's energy is spread evenly over its
#: slices instead of following the clear-sky shape (twilight, where the ratio is ill-conditioned).
TWILIGHT_CLEARSKY_W_PER_M2 = 20.0


@dataclass(frozen=True)
class WeatherFile:
    """A parsed weather file before it is mapped onto a calendar year.

    ``frame`` is indexed by interval start (tz-aware), columns :data:`COLUMNS`.
    """

    frame: pd.DataFrame
    step_minutes: int
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    utc_offset_h: float
    name: str
    typical_year: bool


class SiteLocation(pvlib.location.Location):
    """A site's pvlib Location that computes the sun's position for given times once: the
    weather's clear-sky shape (at the standard 12 degC), the site's PV plant and the grid's
    reference plant (at the air temperature) all need it at the slices' midpoints
    (:func:`twin.inputs.build_site_inputs`), a ModelChain takes no precomputed position, and
    pvlib's SPA takes about 0.1 s for a year of 15-minute slices.

    Only the atmospheric refraction depends on the air's pressure and temperature: for SPA
    (``nrel_numpy``) the geometry is kept per times, and another pressure or temperature
    recomputes ``apparent_elevation`` and ``apparent_zenith`` with pvlib's own SPA functions
    (:func:`pvlib.spa.atmospheric_refraction_correction`), the same values pvlib returns."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._positions: dict[tuple, pd.DataFrame] = {}
        self._geometry: dict[tuple, pd.DataFrame] = {}

    def get_solarposition(self, times, pressure=None, temperature=12, **kwargs):
        if pressure is None:  # as pvlib's Location does
            pressure = pvlib.atmosphere.alt2pres(self.altitude)
        kwargs.setdefault("method", "nrel_numpy")  # pvlib's default
        where = (_fingerprint(times),
                 tuple(sorted((k, _fingerprint(v)) for k, v in kwargs.items())))
        key = (*where, _fingerprint(pressure), _fingerprint(temperature))
        if key not in self._positions:
            spa = kwargs["method"] == "nrel_numpy"
            if spa and where in self._geometry:
                self._positions[key] = _refracted(self._geometry[where], pressure, temperature,
                                                  kwargs.get("atmos_refract"))
            else:
                self._positions[key] = super().get_solarposition(times, pressure, temperature,
                                                                 **kwargs)
                if spa:
                    self._geometry[where] = self._positions[key]
        return self._positions[key].copy()


def _refracted(position: pd.DataFrame, pressure, temperature,
               atmos_refract: float | None) -> pd.DataFrame:
    """An SPA position with its refraction redone for another pressure [Pa] and temperature
    [degC], as :func:`pvlib.solarposition.spa_python` computes it (millibar, refraction at
    sunrise 0.5667 degrees unless given)."""
    out = position.copy()
    e0 = position["elevation"].to_numpy()
    delta_e = pvlib.spa.atmospheric_refraction_correction(pressure / 100, temperature, e0,
                                                          atmos_refract or 0.5667)
    e = pvlib.spa.topocentric_elevation_angle(e0, delta_e)
    out["apparent_elevation"] = np.asarray(e, dtype=float)
    out["apparent_zenith"] = np.asarray(pvlib.spa.topocentric_zenith_angle(e), dtype=float)
    return out


def _fingerprint(value) -> tuple:
    """What identifies an argument of :meth:`SiteLocation.get_solarposition`: a scalar
    itself, times by their instants and zone, values by their bytes."""
    if value is None or np.isscalar(value):
        return ("scalar", value)
    if isinstance(value, pd.DatetimeIndex):
        return ("times", str(value.tz), hashlib.blake2b(value.asi8.tobytes()).digest())
    values = np.ascontiguousarray(np.asarray(value, dtype=float))
    return ("values", values.shape, hashlib.blake2b(values.tobytes()).digest())


@dataclass(frozen=True)
class SiteWeather:
    """A site's weather at slice resolution and where it is."""

    frame: pd.DataFrame  # ghi, dni, dhi [W/m2], temp_air [degC], wind_speed [m/s], pressure [Pa]
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    utc_offset_h: float
    source: str
    #: The site for pvlib, one object per weather and kept by ``replace`` (so the sun is
    #: computed once); made from the coordinates when not given.
    location: SiteLocation | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.location is None:
            object.__setattr__(self, "location", SiteLocation(
                self.latitude_deg, self.longitude_deg, tz="UTC", altitude=self.altitude_m,
                name=self.source))


def resolve_data_path(file: str, base_dir: Path) -> Path:
    """A data file of a scenario (weather, signals, trace): ``pvlib:<name>`` -> pvlib's bundled
    data folder; a relative path -> ``base_dir``."""
    if file.startswith("pvlib:"):
        return Path(pvlib.__file__).parent / "data" / file.removeprefix("pvlib:")
    p = Path(file)
    return p if p.is_absolute() else base_dir / p


def _text(path: Path, binary: bool = False) -> io.StringIO | io.BytesIO | str:
    """A gzip file as an in-memory buffer (text, or bytes for parsers that read bytes); anything
    else as its path."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
        return io.BytesIO(raw) if binary else io.StringIO(raw.decode("utf-8", errors="replace"))
    return str(path)


def _coerce_index(index: pd.DatetimeIndex, year: int) -> pd.DatetimeIndex:
    """Move every timestamp to ``year`` keeping month, day and time (a typical year's months)."""
    naive = index.tz_localize(None)
    moved = pd.to_datetime({"year": year, "month": naive.month, "day": naive.day,
                            "hour": naive.hour, "minute": naive.minute})
    return pd.DatetimeIndex(moved).tz_localize(index.tz)


def _frame(data: pd.DataFrame, pressure_scale: float = 1.0) -> pd.DataFrame:
    out = pd.DataFrame(index=data.index)
    for col in ("ghi", "dni", "dhi", "temp_air", "wind_speed"):
        out[col] = data[col].astype(float)
    out["pressure"] = (data["pressure"].astype(float) * pressure_scale if "pressure" in data
                       else SEA_LEVEL_PRESSURE_PA)
    return out


def read_tmy3(path: Path, year: int) -> WeatherFile:
    """NSRDB TMY3: hour-ending local standard time, pressure in mbar.

    The months are moved onto ``year`` here, as for every typical year (:func:`_coerce_index`),
    rather than by pvlib's ``coerce_year``, which replaces the year of each timestamp in a
    Python loop (15 ms of the file's 77 ms): onto ``year``, back one hour (hour-ending ->
    interval start), and the first hour, now in the year before, onto ``year`` again (it is
    31 December's last hour of a typical year)."""
    data, meta = pvlib.iotools.read_tmy3(_text(path), map_variables=True)
    frame = _frame(data, 100.0)
    frame.index = _coerce_index(_coerce_index(frame.index, year) - pd.Timedelta(hours=1), year)
    name = f"{str(meta.get('Name', path.stem)).strip(chr(34))}, {meta.get('State', '')}"
    return WeatherFile(frame, 60, float(meta["latitude"]), float(meta["longitude"]),
                       float(meta["altitude"]), float(meta["TZ"]), name, True)


def read_tmy2(path: Path, year: int) -> WeatherFile:
    """TMY2: pvlib indexes each hour by its start in local standard time; pressure in mbar."""
    data, meta = pvlib.iotools.read_tmy2(str(path))
    data = data.rename(columns={"GHI": "ghi", "DNI": "dni", "DHI": "dhi", "DryBulb": "temp_air",
                                "Wspd": "wind_speed", "Pressure": "pressure"})
    frame = _frame(data, 100.0)
    # pvlib's TMY2 reader keeps the file's tenths (0.1 degC, 0.1 m/s) as read
    frame["temp_air"] /= 10.0
    frame["wind_speed"] /= 10.0
    frame.index = _coerce_index(frame.index, year)
    return WeatherFile(frame, 60, float(meta["latitude"]), float(meta["longitude"]),
                       float(meta["altitude"]), float(meta["TZ"]),
                       f"{meta.get('City', path.stem)}, {meta.get('State', '')}", True)


def read_epw(path: Path, year: int) -> WeatherFile:
    """EnergyPlus EPW: pvlib indexes each hour by its start in local standard time; Pa."""
    data, meta = pvlib.iotools.read_epw(_text(path), coerce_year=year)
    data = data.rename(columns={"atmospheric_pressure": "pressure"})
    return WeatherFile(_frame(data), 60, float(meta["latitude"]), float(meta["longitude"]),
                       float(meta["altitude"]), float(meta["TZ"]),
                       f"{meta.get('city', path.stem)}, {meta.get('country', '')}", True)


def read_pvgis_tmy(path: Path, year: int) -> WeatherFile:
    """PVGIS TMY (CSV, JSON or EPW): hourly, UTC; 2-m temperature, 10-m wind; Pa."""
    fmt = {".csv": "csv", ".json": "json", ".epw": "epw"}.get(
        Path(path.name.removesuffix(".gz")).suffix)
    data, meta = pvlib.iotools.read_pvgis_tmy(_text(path, binary=fmt == "csv"),
                                              pvgis_format=fmt, map_variables=True)
    if fmt == "epw":
        data = data.rename(columns={"atmospheric_pressure": "pressure"})
        inputs = {"latitude": meta["latitude"], "longitude": meta["longitude"],
                  "elevation": meta["altitude"]}
    else:
        inputs = meta["inputs"]
    frame = _frame(data)
    index = frame.index if frame.index.tz is not None else frame.index.tz_localize("UTC")
    frame.index = _coerce_index(index.tz_convert("UTC"), year)
    lon = float(inputs["longitude"])
    return WeatherFile(frame, 60, float(inputs["latitude"]), lon, float(inputs["elevation"]),
                       float(round(lon / 15.0)), f"PVGIS TMY {inputs['latitude']}, {lon}", True)


def read_nsrdb_psm4(path: Path, year: int) -> WeatherFile:
    """NSRDB PSM v4 SAM CSV: a real year in local standard time (30 or 60 min), mbar.

    The timestamp is taken as the start of its interval. The wind speed of PSM v3 and later is the
    2-m wind (NSRDB webinar Q&A, 2020, as quoted in pvlib issue #1814).
    """
    data, meta = pvlib.iotools.read_nsrdb_psm4(_text(path), map_variables=True)
    file_year = int(data.index[0].year)
    if year != file_year:
        raise ValueError(f"weather.year = {year}: this NSRDB file holds the year {file_year}")
    step = int((data.index[1] - data.index[0]).total_seconds() // 60)
    return WeatherFile(_frame(data, 100.0), step, float(meta["latitude"]),
                       float(meta["longitude"]), float(meta["altitude"]),
                       float(meta["Time Zone"]), f"NSRDB {meta.get('Location ID', '')}", False)


def read_csv_weather(path: Path, year: int, latitude_deg: float, longitude_deg: float,
                     altitude_m: float, utc_offset_h: float) -> WeatherFile:
    """The project's plain CSV (module docstring); the location comes from the scenario."""
    data = pd.read_csv(_text(path))
    missing = [c for c in ("time", *COLUMNS[:5]) if c not in data.columns]
    if missing:
        raise ValueError(f"weather.file = {path.name}: column {missing[0]!r} is missing")
    data.index = pd.DatetimeIndex(pd.to_datetime(data.pop("time"), utc=True))
    step = int((data.index[1] - data.index[0]).total_seconds() // 60)
    return WeatherFile(_frame(data), step, latitude_deg, longitude_deg, altitude_m,
                       utc_offset_h, path.name, False)


#: Format name -> reader(path, year) (the csv reader also takes the location).
READERS: dict[str, Callable[..., WeatherFile]] = {
    "tmy3": read_tmy3,
    "tmy2": read_tmy2,
    "epw": read_epw,
    "pvgis_tmy": read_pvgis_tmy,
    "nsrdb_psm4": read_nsrdb_psm4,
    "csv": read_csv_weather,
}


def calendar_year_utc(wf: WeatherFile, year: int) -> pd.DataFrame:
    """Map a file onto ``[year-01-01, year+1-01-01)`` UTC at its own step (module docstring)."""
    if wf.typical_year and pd.Timestamp(year=year, month=1, day=1).is_leap_year:
        raise ValueError(f"weather.year = {year}: a typical year has no 29 February; use a "
                         "non-leap year")
    start = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
    step = pd.Timedelta(minutes=wf.step_minutes)
    n = int((pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC") - start) / step)
    if len(wf.frame) != n:
        raise ValueError(f"weather.file ({wf.name}): {len(wf.frame)} rows, but {year} at "
                         f"{wf.step_minutes} minutes has {n}")
    t = wf.frame.index.tz_convert("UTC")
    pos = np.mod(((t - start) // step).to_numpy(dtype=np.int64), n)
    if len(np.unique(pos)) != n:
        raise ValueError(f"weather.file ({wf.name}): timestamps do not cover {year} exactly once")
    values = np.empty((n, len(COLUMNS)))
    values[pos] = wf.frame[list(COLUMNS)].to_numpy(float)
    return pd.DataFrame(values, index=pd.date_range(start, periods=n, freq=step),
                        columns=list(COLUMNS))


def _interp_cyclic(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of interval means placed at interval centres, at positions given in
    intervals, wrapping around the year."""
    n = len(values)
    centres = np.arange(n) + 0.5
    xp = np.concatenate(([centres[-1] - n], centres, [centres[0] + n]))
    fp = np.concatenate(([values[-1]], values, [values[0]]))
    return np.interp(pos, xp, fp)


def to_slices(frame: pd.DataFrame, step_minutes: int, location: pvlib.location.Location,
              slice_minutes: int) -> pd.DataFrame:
    """Resample a calendar-year frame from its step to slices, conserving irradiance energy.

    Finer slices: irradiance follows the clear-sky shape within each interval: with ``cs`` the
    Ineichen clear-sky irradiance at slice midpoints, slice value = ``cs * X / mean(cs)``, so the
    slices of an interval average exactly to its value while tracking the sun's position; in
    twilight (mean clear-sky below :data:`TWILIGHT_CLEARSKY_W_PER_M2`) the interval is spread
    evenly. Temperature and pressure are interpolated linearly between interval centres. Wind speed
    keeps the interval's value in each of its slices: interpolating it would smooth the speed
    distribution and, through the convex power curve, lower wind energy by about 2% at 15 minutes
    (measured on the Greensboro TMY3), making annual wind energy depend on the slice length.
    Coarser slices: every column is the mean of the intervals in the slice.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`calendar_year_utc`.
    step_minutes : int
        The frame's step [min].
    location : pvlib.location.Location
        Site location, for the clear-sky model.
    slice_minutes : int
        15, 30 or 60 [min].

    Returns
    -------
    pandas.DataFrame
        Same columns, one row per slice, indexed by slice start (UTC).
    """
    if slice_minutes == step_minutes:
        return frame.copy()
    if slice_minutes > step_minutes:
        if slice_minutes % step_minutes:
            raise ValueError(f"slice_minutes = {slice_minutes}: not a multiple of the weather "
                             f"step of {step_minutes} minutes")
        return frame.resample(f"{slice_minutes}min").mean()
    if step_minutes % slice_minutes:
        raise ValueError(f"slice_minutes = {slice_minutes}: must divide the weather step of "
                         f"{step_minutes} minutes")
    per = step_minutes // slice_minutes
    index = pd.date_range(frame.index[0], periods=len(frame) * per, freq=f"{slice_minutes}min")
    cs = location.get_clearsky(index + pd.Timedelta(minutes=slice_minutes / 2), model="ineichen")
    out = pd.DataFrame(index=index)
    for col in IRRADIANCE:
        shape = cs[col].to_numpy().reshape(-1, per)
        mean = shape.mean(axis=1, keepdims=True)
        target = frame[col].to_numpy()[:, None]
        use = mean > TWILIGHT_CLEARSKY_W_PER_M2
        ratio = np.divide(target, mean, where=use, out=np.zeros_like(mean))
        out[col] = np.where(use, shape * ratio, np.broadcast_to(target, shape.shape)).reshape(-1)
    pos = (np.arange(len(index)) + 0.5) / per
    for col in ("temp_air", "pressure"):
        out[col] = _interp_cyclic(frame[col].to_numpy(), pos)
    out["wind_speed"] = np.repeat(frame["wind_speed"].to_numpy(), per)
    return out[list(COLUMNS)]


#: Plausible ranges of the weather columns: irradiance up to beyond the extraterrestrial
#: 1,361-1,414 W/m2 (cloud edges enhance it briefly), the air's recorded extremes, and wind
#: below the strongest gust measured at 10 m [W/m2, degC, m/s].
#: Plausible ranges of the weather columns: irradiance >= 0 [W/m2] (its upper bound depends on
#: the sun, :func:`irradiance_limits_w_per_m2`), air temperature [degC] within the records
#: measured on Earth, wind speed [m/s] below the highest gust measured (113 m/s).
WEATHER_RANGES = {"ghi": (0.0, None), "dni": (0.0, None), "dhi": (0.0, None),
                  "temp_air": (-90.0, 60.0), "wind_speed": (0.0, 113.0)}


def irradiance_limits_w_per_m2(wf: WeatherFile) -> dict[str, np.ndarray]:
    """The BSRN "physically possible" upper limits of each interval's irradiance [W/m2].

    Long and Shi (2008), The Open Atmospheric Science Journal 2, 23-37, as the BSRN quality
    checks apply them: ``ghi <= 1.5 Sa mu^1.2 + 100``, ``dhi <= 0.95 Sa mu^1.2 + 50`` and
    ``dni <= Sa``, with ``Sa`` the extraterrestrial normal irradiance of the day
    (:func:`pvlib.irradiance.get_extra_radiation`) and ``mu`` the cosine of the solar zenith
    (:func:`pvlib.solarposition.get_solarposition`, 0 below the horizon). ``mu`` is the highest
    the sun stands from half an interval before its start to half an interval after its end,
    so files that label an interval by its end or its middle pass as they are: the check is
    there to catch irradiance at night (a shifted time zone), a unit mix-up or a corrupt value.
    """
    index, step = wf.frame.index, pd.Timedelta(minutes=wf.step_minutes)
    mu = np.zeros(len(index))
    for f in (-0.5, 0.0, 0.5, 1.0, 1.5):
        zenith = pvlib.solarposition.get_solarposition(
            index + f * step, wf.latitude_deg, wf.longitude_deg, method="ephemeris")["zenith"]
        mu = np.maximum(mu, np.cos(np.radians(zenith.to_numpy())))
    sa = pvlib.irradiance.get_extra_radiation(index).to_numpy(float)
    return {"ghi": 1.5 * sa * mu**1.2 + 100.0, "dhi": 0.95 * sa * mu**1.2 + 50.0, "dni": sa}


def check_weather(wf: WeatherFile, file: str) -> None:
    """Refuse a weather file with a missing, non-finite or implausible value: a ValueError
    naming the file, the column, the first bad time and the value. Irradiance must lie between
    0 and the physically possible limit of the sun's position
    (:func:`irradiance_limits_w_per_m2`)."""
    frame = wf.frame
    limits = None
    for col, (lo, hi) in WEATHER_RANGES.items():
        if col not in frame:
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(values) & (values >= lo) & (values <= (hi if hi is not None
                                                                    else np.inf)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            span = f"[{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
            value = tables.shown(frame[col].iloc[i])
            raise ValueError(f"weather.file = {file!r}: {col} = {value} at {frame.index[i]}: "
                             f"must be a number {'in ' if hi is not None else ''}{span}")
        if hi is None:  # irradiance: below what the sun can give at that hour
            limits = limits if limits is not None else irradiance_limits_w_per_m2(wf)
            above = values > limits[col]
            if above.any():
                i = int(np.flatnonzero(above)[0])
                raise ValueError(
                    f"weather.file = {file!r}: {col} = {values[i]:g} at {frame.index[i]}: above "
                    f"the physically possible {limits[col][i]:.0f} W/m2 for the sun's position "
                    "there (BSRN limits; a time zone, a unit or a corrupt value?)")


def load_site_weather(file: str, fmt: str, year: int, base_dir: Path, slice_minutes: int,
                      location: dict | None = None) -> SiteWeather:
    """Read a site's weather file, map it onto ``year`` in UTC and resample it to slices.

    Parameters
    ----------
    file : str
        A path (relative to ``base_dir``) or ``pvlib:<bundled file>``.
    fmt : str
        A key of :data:`READERS`.
    year : int
        Calendar year to simulate.
    base_dir : Path
        Folder of the scenario file.
    slice_minutes : int
        Slice length [min].
    location : dict, optional
        ``latitude_deg, longitude_deg, altitude_m, utc_offset_h`` for the ``csv`` format.
    """
    path = resolve_data_path(file, base_dir)
    if not path.is_file():
        raise FileNotFoundError(f"weather.file = {file!r}: no such file ({path})")
    if fmt not in READERS:
        raise ValueError(f"weather.format = {fmt!r}: must be one of {sorted(READERS)}")
    if fmt == "csv" and not location:
        raise ValueError("weather: the csv format needs latitude_deg, longitude_deg, "
                         "altitude_m and utc_offset_h")
    try:
        wf = (read_csv_weather(path, year, **location) if fmt == "csv"
              else READERS[fmt](path, year))
    except (OSError, EOFError, UnicodeDecodeError, KeyError, IndexError, ValueError, zlib.error,
            pd.errors.ParserError, pd.errors.EmptyDataError) as err:  # corrupt or foreign
        if isinstance(err, ValueError) and str(err).startswith("weather."):
            raise  # ours: it names the field already
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ValueError(f"weather.file = {file!r}: not a readable {fmt} file "
                         f"({type(err).__name__}: {first})") from None
    if len(wf.frame) < 2:
        raise ValueError(f"weather.file = {file!r}: {len(wf.frame)} row(s); a weather year needs "
                         "hourly or finer rows")
    check_weather(wf, file)
    frame = calendar_year_utc(wf, year)
    site = SiteWeather(frame, wf.latitude_deg, wf.longitude_deg, wf.altitude_m, wf.utc_offset_h,
                       f"{path.name} ({wf.name})")
    return replace(site, frame=to_slices(frame, wf.step_minutes, site.location, slice_minutes))
