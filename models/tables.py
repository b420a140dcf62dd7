"""Cells of the tables users hand in (meter exports, task tables, grid signals): each column
read as what it must hold, or a :class:`CellError` naming the column, the first bad row (0-based,
as the other messages count rows) and its value. Callers put the file's name in front."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


class CellError(ValueError):
    """A cell that is not what its column holds: ``column 'c', row i: <value> is not ...``."""


def shown(value) -> str:
    """A cell's value as a message quotes it: text in quotes, a number as it is."""
    return repr(value) if isinstance(value, str) else str(value)


def timestamps(column: pd.Series, name: str = "time") -> pd.Series:
    """``column`` as UTC timestamps (an offset in the text is honoured, naive is UTC).

    Raises
    ------
    CellError
        At the first cell that is missing or does not read as a timestamp.
    """
    try:
        with warnings.catch_warnings():  # pandas's note on inferring the format
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(column, utc=True)
        if not parsed.isna().any():
            return parsed
    except (ValueError, TypeError, OverflowError):
        pass
    for i, value in enumerate(column):  # the first cell that does not parse on its own
        try:
            if pd.isna(pd.to_datetime(value, utc=True)):
                raise ValueError("missing")
        except (ValueError, TypeError, OverflowError):
            raise CellError(f"column {name!r}, row {i}: {shown(value)} is not a timestamp "
                            "(ISO 8601, for example 2023-06-01T00:00:00Z)") from None
    raise CellError(f"column {name!r} mixes timestamp formats (use ISO 8601, for example "
                    "2023-06-01T00:00:00Z)")


def finite_numbers(frame: pd.DataFrame, col: str, lo: float | None = None,
                   what: str = "a finite number") -> np.ndarray:
    """``frame[col]`` as floats.

    Raises
    ------
    CellError
        At the first cell that is text, missing, NaN, infinite or below ``lo``:
        ``column 'c', row i: <value> is not <what>``.
    """
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values)
    if lo is not None:
        bad |= values < lo
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CellError(f"column {col!r}, row {i}: {shown(frame[col].iloc[i])} is not {what}")
    return values


def first_outside(values: np.ndarray, col: str, lo: float | None, hi: float | None) -> None:
    """Raise a :class:`CellError` at the first value below ``lo`` or above ``hi``."""
    bad = np.zeros(len(values), bool)
    if lo is not None:
        bad |= values < lo
    if hi is not None:
        bad |= values > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        span = f"[{lo:g}, {hi:g}]" if lo is not None and hi is not None else (
            f">= {lo:g}" if lo is not None else f"<= {hi:g}")
        raise CellError(f"column {col!r}, row {i}: {values[i]} must be {span}")
