"""Shared helpers: small meter tables built by hand, and a short run of the default scenario."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gti_core.meters import ENERGY_COLUMNS, OPTIONAL_ENERGY_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def meter_table(rows: list[dict], site: str = "s", start: str = "2023-01-01",
                slice_minutes: int = 15) -> pd.DataFrame:
    """A meter table from partial rows: missing energies are 0, facility = it + cooling + aux."""
    frame = pd.DataFrame([{c: float(r.get(c, 0.0)) for c in ENERGY_COLUMNS} for r in rows])
    frame["facility_mwh"] = frame["it_mwh"] + frame["cooling_mwh"] + frame["aux_mwh"]
    frame.insert(0, "time", pd.date_range(start, periods=len(rows),
                                          freq=f"{slice_minutes}min", tz="UTC"))
    frame.insert(1, "site", site)
    frame.insert(2, "grid_share", [float(r.get("grid_share", 0.0)) for r in rows])
    for col in OPTIONAL_ENERGY_COLUMNS:  # only when a row names it (spec: 0 when absent)
        if any(col in r for r in rows):
            frame[col] = [float(r.get(col, 0.0)) for r in rows]
    return frame


@pytest.fixture(scope="session")
def week_run():
    """The default scenario simulated for 7 days (shared by several tests)."""
    from twin.run import simulate
    from twin.scenario import from_dict, load

    scn = load(SCENARIOS / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = 7
    return simulate(from_dict(raw, base_dir=scn.base_dir))
