"""The meter table (spec section 1): column names, and the checks every meter table must pass."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Energy meters per site and slice, in the order the spec lists them [MWh].
ENERGY_COLUMNS: tuple[str, ...] = (
    "pv_mwh",
    "wind_mwh",
    "curtailed_mwh",
    "grid_import_mwh",
    "grid_export_mwh",
    "bess_charge_mwh",
    "bess_discharge_mwh",
    "it_mwh",
    "cooling_mwh",
    "aux_mwh",
    "facility_mwh",
)
#: Every column of a meter table: slice start (UTC), site, grid renewable share, then energies.
METER_COLUMNS: tuple[str, ...] = ("time", "site", "grid_share", *ENERGY_COLUMNS)
#: Meters a table may carry, read as 0 when absent (spec section 1): on-site backup generation
#: (a grey inflow in the balance) and load not served (in no other column) [MWh].
OPTIONAL_ENERGY_COLUMNS: tuple[str, ...] = ("backup_mwh", "unserved_mwh")

#: Relative tolerance of the per-slice balance, times max(facility_mwh) (spec section 1).
BALANCE_RTOL = 1e-9


class MeterError(ValueError):
    """A meter table that cannot be scored; the message names the column and the first bad row."""


def _first_bad(mask: np.ndarray, meters: pd.DataFrame) -> str:
    i = int(np.flatnonzero(mask)[0])
    row = meters.iloc[i]
    return f"row {i} (time {row['time']}, site {row['site']})"


def check_meters(meters: pd.DataFrame) -> None:
    """Raise :class:`MeterError` unless ``meters`` is a well-formed, balanced meter table.

    Checks, in order: every column of :data:`METER_COLUMNS` is present; no energy (with the
    optional :data:`OPTIONAL_ENERGY_COLUMNS` where present) is negative or missing;
    ``grid_share`` lies in [0, 1]; ``facility = it + cooling + aux``; and the bus balance
    ``pv + wind + grid_import + bess_discharge + backup = facility + bess_charge + grid_export``
    closes within ``1e-9 * max(facility_mwh)`` in every slice.

    Parameters
    ----------
    meters : pandas.DataFrame
        One row per site and slice, columns :data:`METER_COLUMNS` (energies in [MWh]).
    """
    missing = [c for c in METER_COLUMNS if c not in meters.columns]
    if missing:
        raise MeterError(
            f"column {missing[0]!r} is missing (a meter table needs {list(METER_COLUMNS)})")
    optional = [c for c in OPTIONAL_ENERGY_COLUMNS if c in meters.columns]
    for col in (*ENERGY_COLUMNS, *optional, "grid_share"):
        values = meters[col].to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise MeterError(f"{col} is missing or not a number at {_first_bad(bad, meters)}")
        if col == "grid_share":
            bad = (values < 0.0) | (values > 1.0)
            if bad.any():
                v = values[bad][0]
                raise MeterError(
                    f"grid_share = {v}: must lie in [0, 1] at {_first_bad(bad, meters)}")
        else:
            bad = values < 0.0
            if bad.any():
                v = values[bad][0]
                raise MeterError(f"{col} = {v}: must be >= 0 at {_first_bad(bad, meters)}")
    m = {c: meters[c].to_numpy(dtype=float) for c in ENERGY_COLUMNS}
    tol = BALANCE_RTOL * max(float(m["facility_mwh"].max(initial=0.0)), 1.0)
    facility_gap = m["facility_mwh"] - (m["it_mwh"] + m["cooling_mwh"] + m["aux_mwh"])
    bad = np.abs(facility_gap) > tol
    if bad.any():
        raise MeterError(
            f"facility_mwh != it_mwh + cooling_mwh + aux_mwh by {facility_gap[bad][0]:.6g} MWh "
            f"at {_first_bad(bad, meters)}"
        )
    gap = balance_gap_mwh(meters)
    bad = np.abs(gap) > tol
    if bad.any():
        raise MeterError(
            f"energy balance does not close by {gap[bad][0]:.6g} MWh at {_first_bad(bad, meters)}: "
            "pv + wind + grid_import + bess_discharge + backup must equal "
            "facility + bess_charge + grid_export"
        )


def meter_columns(meters: pd.DataFrame) -> list[str]:
    """The meter columns of a table: :data:`METER_COLUMNS` and the optional ones it has."""
    return [*METER_COLUMNS, *(c for c in OPTIONAL_ENERGY_COLUMNS if c in meters.columns)]


def optional_meter(meters: pd.DataFrame, col: str) -> np.ndarray:
    """An optional meter's values, 0 where the table has no such column [MWh]."""
    if col in meters.columns:
        return meters[col].to_numpy(dtype=float)
    return np.zeros(len(meters))


def balance_gap_mwh(meters: pd.DataFrame) -> np.ndarray:
    """Inflow minus outflow at the site bus per slice [MWh] (zero when the balance closes)."""
    inflow = (
        meters["pv_mwh"] + meters["wind_mwh"] + meters["grid_import_mwh"]
        + meters["bess_discharge_mwh"] + optional_meter(meters, "backup_mwh")
    )
    outflow = meters["facility_mwh"] + meters["bess_charge_mwh"] + meters["grid_export_mwh"]
    return (inflow - outflow).to_numpy(dtype=float)
