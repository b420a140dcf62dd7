"""Named climates: weather files that ship with pvlib or the project, and how to read them.

Kept apart from :mod:`models.weather` (which imports pvlib) so that validating a scenario does
not import pvlib: the ``score`` and ``verify`` commands never need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Preset:
    """A bundled climate: a file that pvlib distributes and how to read it."""

    file: str
    format: str
    year: int
    wind_speed_height_m: float
    temperature_height_m: float
    roughness_length_m: float
    description: str


PROJECT_WEATHER = Path(__file__).resolve().parents[1] / "scenarios" / "weather"

#: Named climates (see the README for where each file comes from).
PRESETS: dict[str, Preset] = {
    "greensboro-nc": Preset(
        "pvlib:723170TYA.CSV", "tmy3", 2023, 10.0, 2.0, 0.1,
        "humid subtropical, inland: NSRDB TMY3 for Greensboro Piedmont Triad International "
        "Airport, NC (36.10 N, 79.95 W, 273 m), in the pvlib wheel"),
    "sand-point-ak": Preset(
        "pvlib:703165TY.csv", "tmy3", 2023, 10.0, 2.0, 0.03,
        "windy northern coast: NSRDB TMY3 for Sand Point, Alaska (55.32 N, 160.52 W, 7 m), "
        "in the pvlib wheel"),
    "colorado-plateau": Preset(
        str(PROJECT_WEATHER / "nsrdb_psm4_2023_40.53_-108.54.csv.gz"), "nsrdb_psm4", 2023,
        2.0, 2.0, 0.05,
        "sunny high-desert plateau: NSRDB PSM v4 year 2023, 30-minute, for 40.53 N, 108.54 W, "
        "2,168 m (north-west Colorado), from pvlib's test data (its source distribution)"),
}
