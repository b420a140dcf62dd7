"""Score a real site's metered data: read an EMS export, resample it by energy, and run gti_core.

The meter file (CSV or Parquet) has the columns of the spec (``time, site, grid_share`` and the
``*_mwh`` meters), optionally ``grid_carbon_kg_per_mwh`` and ``price_usd_per_mwh``. ``time`` is the
start of each interval, in UTC (an offset in the text is honoured; naive times are read as UTC).
15-minute and hourly data are scored as they are; finer steps that divide 15 minutes are summed into
15-minute slices and 20- or 30-minute steps into hours: energies add up, never average. Signals
(``grid_share``, carbon, price) are averaged weighted by grid import, so ``alpha * share * import``
and location-based emissions are preserved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gti_core.contracts import Contract, contracts_to_table, retire_all
from gti_core.emissions import carbon_totals, site_carbon
from gti_core.ledger import CertificateLedger
from gti_core.meters import (
    ENERGY_COLUMNS,
    METER_COLUMNS,
    OPTIONAL_ENERGY_COLUMNS,
    MeterError,
    check_meters,
)
from gti_core.score import AccountingParams, SiteScore, score_site
from gti_core.storage import StorageParams
from gti_core.summary import gti_summary, meter_kpis, score_tasks
from gti_core.tokens import TASK_ENERGY_COLUMNS
from models.battery import self_discharge_per_slice
from models.tables import CellError, finite_numbers, timestamps
from twin.accounting_schema import ContractConfig
from twin.scenario import AccountingConfig, ScenarioError, format_validation_error

SIGNAL_COLUMNS = ("grid_carbon_kg_per_mwh", "price_usd_per_mwh")
#: Input step [min] -> slice it is summed into [min].
RESAMPLE_TO = {1: 15, 3: 15, 5: 15, 15: 15, 20: 60, 30: 60, 60: 60}


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_Schema):
    charge_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    discharge_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    self_discharge_per_day_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    initial_soc_mwh: Annotated[float, Field(ge=0.0)] = 0.0
    initial_green_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


class SiteAccountingConfig(_Schema):
    storage: StorageConfig = StorageConfig()
    contracts: list[ContractConfig] = []


class ScoreConfig(_Schema):
    """``ACCOUNTING.yaml`` of ``aidc-twin score``."""

    accounting: AccountingConfig = AccountingConfig()
    sites: dict[str, SiteAccountingConfig] = {}


def load_config(path: Path) -> ScoreConfig:
    if not path.is_file():
        raise ScenarioError(f"{path}: accounting config not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return ScoreConfig.model_validate(raw)
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path}: not valid YAML ({err})".replace("\n", " ")) from None
    except ValidationError as err:
        raise ScenarioError(f"{path}: {format_validation_error(err, raw)}") from None


def read_table(path: Path, what: str, numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file; ``time`` parsed to UTC, the ``numeric`` columns it has
    checked to be finite numbers. Every refusal is one MeterError naming the file and, for a
    bad cell, the column, the row (0-based, as in the other meter messages) and the value."""
    if not path.is_file():
        raise MeterError(f"{path}: {what} file not found")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".txt"):
        raise MeterError(f"{path}: {what} file must be .csv or .parquet")
    try:
        frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise MeterError(f"{path}: the {what} file is empty") from None
    except (OSError, ValueError, pd.errors.ParserError) as err:  # pyarrow's errors included
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MeterError(f"{path}: not a readable {suffix[1:]} {what} file ({first})") from None
    if frame.empty:
        raise MeterError(f"{path}: the {what} file has no rows (only a header)")
    if "time" not in frame.columns:
        raise MeterError(f"{path}: column 'time' is missing")
    try:
        frame["time"] = timestamps(frame["time"])
        for col in numeric:
            if col in frame.columns:
                frame[col] = finite_numbers(frame, col)
    except CellError as err:
        raise MeterError(f"{path}: {err}") from None
    return frame


def check_times(meters: pd.DataFrame) -> None:
    """Refuse a slice metered twice: a site's ``time`` repeated (the rows would be summed)."""
    key = meters["site"].astype(str) + "|" + meters["time"].astype(str)
    dup = key.duplicated().to_numpy()
    if dup.any():
        j = int(np.flatnonzero(dup)[0])
        i = int(np.flatnonzero((key == key.iloc[j]).to_numpy())[0])
        raise MeterError(f"column 'time', row {j}: site {meters['site'].iloc[j]!r} at "
                         f"{meters['time'].iloc[j]} appears twice (rows {i} and {j})")


def _step_minutes(site: str, time: pd.Series) -> int:
    steps = time.diff().dropna().dt.total_seconds().div(60).round(6).unique()
    if len(steps) != 1:
        bad = time.diff().dt.total_seconds().div(60).round(6)
        i = int(np.flatnonzero(bad.ne(bad.iloc[1]).to_numpy()[1:])[0]) + 1
        raise MeterError(f"site {site!r}: time steps are not uniform (row {i}, time "
                         f"{time.iloc[i]}); fill gaps with zero-energy rows")
    step = float(steps[0])
    if step not in RESAMPLE_TO:
        raise MeterError(f"site {site!r}: a {step:g}-minute step cannot be summed into 15-minute "
                         "or hourly slices")
    return int(step)


def resample_by_energy(site: str, rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Sum a site's meters into 15-minute or hourly slices (module docstring)."""
    rows = rows.sort_values("time").reset_index(drop=True)
    if len(rows) < 2:
        return rows, 15
    step = _step_minutes(site, rows["time"])
    target = RESAMPLE_TO[step]
    if target == step:
        return rows, step
    key = rows["time"].dt.floor(f"{target}min")
    energies = [*ENERGY_COLUMNS, *(c for c in OPTIONAL_ENERGY_COLUMNS if c in rows)]
    sums = rows.groupby(key)[energies].sum()
    imp = rows["grid_import_mwh"].to_numpy(float)
    out = sums.reset_index()
    for col in ("grid_share", *[c for c in SIGNAL_COLUMNS if c in rows]):
        w = rows[col].to_numpy(float) * imp
        num = pd.Series(w).groupby(key.to_numpy()).sum().to_numpy()
        den = pd.Series(imp).groupby(key.to_numpy()).sum().to_numpy()
        plain = rows[col].groupby(key.to_numpy()).mean().to_numpy()
        out[col] = np.where(den > 0, np.divide(num, den, out=plain.copy(), where=den > 0), plain)
    out.insert(1, "site", site)
    return out, target


def contract_from_config(c: ContractConfig, base: Path) -> Contract:
    """gti_core's instrument from its declaration (a profile file relative to ``base``)."""
    profile = None
    if c.profile_file:
        prof = read_table(base / c.profile_file, f"contract {c.id!r} profile",
                          ("delivered_mwh",))
        if "delivered_mwh" not in prof:
            raise MeterError(f"contract {c.id!r}: profile needs a 'delivered_mwh' column")
        profile = prof.set_index("time")["delivered_mwh"].astype(float)
    try:
        return Contract(c.id, c.kind, c.weight, profile, c.profile_minutes, c.volume_mwh, c.year)
    except ValueError as err:
        raise ScenarioError(str(err)) from None


def check_task_energy(te: pd.DataFrame, meters: pd.DataFrame, path: Path) -> None:
    """Refuse a task file whose rows name a site or slice the meters do not hold, or whose
    tasks claim more IT energy in a slice than the meters measured there."""
    it = meters.set_index(["site", "time"])["it_mwh"]
    claimed = te.groupby(["site", "time"])["it_mwh"].sum()
    known = claimed.index.isin(it.index)
    if not known.all():
        site, time = claimed.index[~known][0]
        raise MeterError(f"{path}: site {site!r} at {time}: no meter row for it (a task row for "
                         "a site or slice the meters do not hold)")
    over = claimed - it.reindex(claimed.index)
    tol = 1e-9 * max(float(it.abs().max()), 1.0)
    if (over > tol).any():
        site, time = next(k for k, v in over.items() if v > tol)
        raise MeterError(f"{path}: site {site!r} at {time}: the tasks claim "
                         f"{claimed[(site, time)]:.6g} MWh of IT energy, the meters hold "
                         f"{it[(site, time)]:.6g}")


def score_meters(meters_path: Path, config_path: Path,
                 tasks_path: Path | None = None) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Score metered data the way a twin run is scored.

    Returns
    -------
    (dict, dict of pandas.DataFrame)
        The summary (``accounting``, ``gti``, ``levels``, ``kpis``, ``sites``) and the tables to
        write: the resampled ``meters`` and, with a task file, ``tasks`` and ``task_energy``.
    """
    cfg = load_config(config_path)
    raw = read_table(meters_path, "meter", (*ENERGY_COLUMNS, *OPTIONAL_ENERGY_COLUMNS,
                                           "grid_share", *SIGNAL_COLUMNS))
    missing = [c for c in METER_COLUMNS if c not in raw.columns]
    if missing:
        raise MeterError(f"{meters_path}: column {missing[0]!r} is missing (a meter table needs "
                         f"{list(METER_COLUMNS)})")
    try:
        check_meters(raw)
        check_times(raw)
    except MeterError as err:
        raise MeterError(f"{meters_path}: {err}") from None
    if "grid_carbon_kg_per_mwh" in raw and (raw["grid_carbon_kg_per_mwh"] < 0).any():
        i = int(np.flatnonzero(raw["grid_carbon_kg_per_mwh"].to_numpy() < 0)[0])
        raise MeterError(f"{meters_path}: column 'grid_carbon_kg_per_mwh', row {i}: "
                         f"{raw['grid_carbon_kg_per_mwh'].iloc[i]} is negative (a grid emission "
                         "factor is >= 0)")
    unknown = sorted(set(cfg.sites) - set(raw["site"].astype(str)))
    if unknown:
        raise ScenarioError(f"{config_path}: sites.{unknown[0]}: no such site in the meters")
    acc = cfg.accounting
    ledger = CertificateLedger()
    scores: list[SiteScore] = []
    params: list[AccountingParams] = []
    frames = []
    by_site: dict[str, list[Contract]] = {}
    for site, rows in raw.groupby(raw["site"].astype(str), sort=False):
        try:
            m, minutes = resample_by_energy(site, rows)
        except MeterError as err:
            raise MeterError(f"{meters_path}: {err}") from None
        sc = cfg.sites.get(site, SiteAccountingConfig())
        st = sc.storage
        p = acc.params(StorageParams(
            st.charge_efficiency, st.discharge_efficiency,
            self_discharge_per_slice(st.self_discharge_per_day_fraction, minutes),
            st.initial_soc_mwh, st.initial_green_fraction, acc.storage_rule))
        contracts = [contract_from_config(c, config_path.parent) for c in sc.contracts]
        period = f"{m['time'].iloc[0]} .. {m['time'].iloc[-1]}"
        retire_all(ledger, site, period, contracts)
        by_site[site] = contracts
        scores.append(score_site(m, p, contracts))
        params.append(p)
        frames.append(m)
    meters = pd.concat(frames, ignore_index=True)
    tables = {"meters": meters}
    if any(by_site.values()):
        tables["contracts"] = contracts_to_table(by_site)
    signals = [c for c in SIGNAL_COLUMNS if c in meters]
    if signals:
        tables["inputs"] = meters[["time", "site", "grid_share", *signals]]
    carbon = None
    if "grid_carbon_kg_per_mwh" in meters:  # Scope 2, both methods (spec section 11)
        carbon = {site: site_carbon(frame, frame["grid_carbon_kg_per_mwh"].to_numpy(float),
                                    p.storage, by_site[site])
                  for frame, p, site in zip(frames, params, by_site, strict=True)}
    tasks = None
    if tasks_path is not None:
        te = read_table(tasks_path, "task", ("it_mwh", "tokens_in", "tokens_out"))
        miss = [c for c in TASK_ENERGY_COLUMNS if c not in te.columns]
        if miss:
            raise MeterError(f"{tasks_path}: column {miss[0]!r} is missing (a task table needs "
                             f"{list(TASK_ENERGY_COLUMNS)})")
        te["site"] = te["site"].astype(str)
        check_task_energy(te, meters, tasks_path)
        tasks = score_tasks(te, scores, None if carbon is None else pd.concat(
            [c.assign(site=site) for site, c in carbon.items()], ignore_index=True))
        tables.update(tasks=tasks, task_energy=te)
    summary = gti_summary(scores, params, acc.grid_data_granularity, tasks)
    summary["kpis"] = meter_kpis(meters, meters.get("price_usd_per_mwh"), 0.0,
                                 meters.get("grid_carbon_kg_per_mwh"))
    if carbon is not None:
        for key, value in pd.DataFrame([carbon_totals(c) for c in carbon.values()]).sum().items():
            summary["kpis"][key] = float(value)
    summary["source"] = {"meters": str(meters_path), "tasks": str(tasks_path or ""),
                         "config": str(config_path)}
    return summary, tables
