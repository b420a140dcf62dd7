"""Properties of the boundaries (issue 22), shared by the suite and ``benchmarks/robustness.py``.

Two inputs are drawn at random and handed to the command line in process (typer's runner, the
same app as ``aidc-twin``):

- **scenarios**: the default scenario, one day, with one to three of its 173 fields (every leaf
  of the dumped schema, defaults included) replaced: scaled by a factor in [0, 3] (plausible
  values, which mostly run), or by a value of another kind (NaN, infinities, huge or negative
  numbers, text, empty lists, blocks, booleans), and in about a fifth of the examples run by
  another dispatch strategy (threshold, MPC, the oracle);
- **meter tables**: one or two battery-backed sites whose balance closes
  (``tests/gti_core/test_properties.site_case``), written as CSV or Parquet, with one fault
  injected of :data:`FAULTS` (or none) and an accounting file that matches the batteries.

Each example must end one of two ways: the command exits 0 and every invariant holds (the
engine checks its own after a simulation; here ``verify`` recomputes the folder, every number of
``summary.json`` is finite, GTI in [0, 1], slice <= aggregate under ``it_first``, and a clean
meter table scores what gti_core scores on the table itself), or it exits 2 with one line on
stderr that starts ``error:`` (naming the column and the row for a bad cell) and writes nothing.
Anything else (a traceback, another exit code, a refusal of a clean table, a bad table that
runs, an example that runs longer than :data:`EXAMPLE_LIMIT_S`) fails the property.

The check functions return the outcome's name, which the benchmark counts.
"""

from __future__ import annotations

import json
import math
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import strategies as st
from typer.testing import CliRunner

from gti_core.meters import ENERGY_COLUMNS, METER_COLUMNS
from gti_core.score import AccountingParams, score_site
from gti_core.storage import StorageParams
from tests.gti_core.test_properties import site_case
from twin.cli import app
from twin.dispatch.optimizers import FORECASTS
from twin.overrides import with_overrides
from twin.scenario import load

ROOT = Path(__file__).resolve().parents[2]
#: An example running longer than this is a failure (a hang found by a random field) [s].
EXAMPLE_LIMIT_S = 180
SLICES_PER_DAY = 96


def _base_scenario() -> dict:
    scn = load(ROOT / "scenarios" / "western_hub.yaml")
    raw = scn.model_dump(mode="json", exclude={"base_dir"})
    raw["horizon_days"] = 1
    return raw


BASE = _base_scenario()


def _leaves(value, path: tuple[str, ...] = ()) -> list[tuple[str, object]]:
    """Every field of a dumped scenario by dotted path; a list of blocks by position, any
    other list as one value."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, str(i)))]
    return [(".".join(path), value)]


LEAVES = _leaves(BASE)
ODD_VALUES = [None, "", "calm", True, False, [], {}, 0, -1, 1e300, -1e300, 5e-324, "nan",
              [1, 2, 3], {"x": 1}, "../../etc", "a/b"]


#: Fields whose values are names: the names they take (a scaled number means nothing there).
CHOICES = {"strategy": ["no_control", "greedy", "threshold", "mpc", "oracle"],
           "optimizer.objective": ["cost", "gti"], "optimizer.forecast": list(FORECASTS),
           "accounting.allocation": ["it_first", "pro_rata"],
           "accounting.storage_rule": ["pooled", "fifo"],
           "accounting.export_attributes": ["retained", "sold"],
           "accounting.grid_data_granularity": ["monthly", "quarterly", "annual", "unverified"],
           "sites.0.pv.mount": ["fixed", "single_axis"]}


def _plausible(path: str, original) -> st.SearchStrategy:
    """A value of the field's own kind near its original: a number scaled by [0, 3], a name
    among the field's names."""
    if path in CHOICES:
        return st.sampled_from(CHOICES[path])
    if isinstance(original, bool):
        return st.booleans()
    if isinstance(original, int):
        return st.floats(0.0, 3.0).map(lambda f: int(round(original * f)))
    if isinstance(original, float):
        return st.floats(0.0, 3.0).map(lambda f: original * f)
    if isinstance(original, list) and all(isinstance(x, int | float) for x in original):
        return st.lists(st.integers(-2, 30), min_size=0, max_size=3)
    if original is None:
        return st.one_of(st.none(), st.floats(0.0, 1000.0), st.integers(0, 100))
    return st.sampled_from([original, str(original).upper(), f"{original}x"])


def _odd() -> st.SearchStrategy:
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(-10**12, 10**12), st.sampled_from(ODD_VALUES),
                     st.text(max_size=12))


@st.composite
def scenario_changes(draw) -> dict:
    """One to three fields of the one-day default scenario replaced, by dotted path; in about
    a fifth of the examples the dispatch strategy too (the optimizers see odd inputs as well)."""
    picked = draw(st.lists(st.sampled_from(LEAVES), min_size=1, max_size=3,
                           unique_by=lambda leaf: leaf[0]))
    changes = {path: draw(st.one_of(_plausible(path, orig), _plausible(path, orig), _odd()))
               for path, orig in picked}
    if "strategy" not in changes and draw(st.integers(0, 4)) == 0:  # a fifth under another
        changes["strategy"] = draw(st.sampled_from(CHOICES["strategy"]))  # dispatch strategy
    return changes


class Hang(Exception):
    """An example ran past :data:`EXAMPLE_LIMIT_S`."""


@contextmanager
def _time_limit(seconds: int):
    def stop(signum, frame):
        raise Hang(f"ran past {seconds} s")

    if threading.current_thread() is not threading.main_thread():  # alarms need the main one
        yield
        return
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _invoke(args: list[str]):
    with _time_limit(EXAMPLE_LIMIT_S):
        return CliRunner().invoke(app, args)


def _refused(r, out: Path, context) -> str:
    """A refusal's form: exit 2, one ``error:`` line, nothing written."""
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr + r.stdout, (context, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), (context, r.stderr)
    assert not out.exists(), (context, list(out.iterdir()))
    return lines[0]


def _numbers(value, path: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(value, float):
        yield path, value


def _ran(r, out: Path, context) -> dict:
    """A run's invariants: ``verify`` passes, every number finite, GTI in [0, 1], the slice
    method below the aggregate under ``it_first``. Returns the summary."""
    assert r.exit_code == 0, (context, r.exit_code, r.stderr, r.exception)
    assert "Traceback" not in r.stderr + r.stdout, (context, r.stderr)
    v = CliRunner().invoke(app, ["verify", str(out)])
    assert v.exit_code == 0, (context, v.stdout, v.stderr)
    summary = json.loads((out / "summary.json").read_text())
    for path, x in _numbers(summary):
        assert math.isfinite(x), (context, path, x)
    scores = [summary["gti"], *(s["gti"] for s in summary["sites"].values())]
    for g in scores:
        assert 0.0 <= g["gti_slice"] <= 1.0 and 0.0 <= g["gti_aggregate"] <= 1.0, (context, g)
        if summary["accounting"]["allocation"] == "it_first":
            assert g["gti_slice"] <= g["gti_aggregate"] + 1e-9, (context, g)
    return summary


def check_scenario(changes: dict) -> str:
    """Run the changed scenario; returns ``ran (<strategy>)`` or ``refused``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw = with_overrides(BASE, changes)
        path = folder / "case.yaml"
        path.write_text(yaml.safe_dump(raw))
        out = folder / "out"
        r = _invoke(["run", str(path), "--out", str(out)])
        if r.exit_code == 2:
            _refused(r, out, changes)
            return "refused"
        summary = _ran(r, out, changes)
        return f"ran ({summary['strategy']})"


# --- meter tables -------------------------------------------------------------------------------

CELL_FAULTS = ("nan", "inf", "negative", "text")
FAULTS = ("none", "unsorted", *CELL_FAULTS, "drop_column", "share_above_one", "imbalance",
          "duplicate_time", "bad_time", "header_only", "unknown_config_site", "negative_carbon")
#: What the one line must hold for each fault (``{col}`` and ``{row}`` where it names a cell).
EXPECTED = {"nan": ("column '{col}', row {row}:", "not a finite number"),
            "inf": ("column '{col}', row {row}:", "not a finite number"),
            "text": ("column '{col}', row {row}: 'lots'",),
            "negative": ("{col} = -", "row {row} "),
            "drop_column": ("column '{col}' is missing",),
            "share_above_one": ("grid_share = ", "row {row} "),
            "imbalance": ("energy balance does not close", "row {row} "),
            "duplicate_time": ("appears twice",),
            "bad_time": ("column 'time', row {row}: 'yesterday noon' is not a timestamp",),
            "header_only": ("has no rows",),
            "unknown_config_site": ("sites.elsewhere: no such site in the meters",),
            "negative_carbon": ("column 'grid_carbon_kg_per_mwh', row {row}:", "is negative")}


@st.composite
def meter_cases(draw):
    """(clean table, storage by site, fault, column, row, file suffix, accounting)."""
    sites = draw(st.sampled_from([("s",), ("s", "t")]))
    cases = [draw(site_case(site=s)) for s in sites]
    table = pd.concat([m for m, _ in cases], ignore_index=True)
    table["grid_carbon_kg_per_mwh"] = draw(st.floats(0.0, 900.0))
    storage = {s: p for s, (_, p) in zip(sites, cases, strict=True)}
    fault = draw(st.sampled_from(FAULTS))
    columns = {"drop_column": [c for c in METER_COLUMNS if c != "time"],
               "negative_carbon": ["grid_carbon_kg_per_mwh"],
               "share_above_one": ["grid_share"]}.get(
        fault, [*ENERGY_COLUMNS, "grid_share"] if fault in ("nan", "inf", "text")
        else list(ENERGY_COLUMNS))
    col = draw(st.sampled_from(columns))
    row = draw(st.integers(0, len(table) - 1))
    granularity = st.sampled_from(["monthly", "quarterly", "annual", "unverified"])
    accounting = {"grid_data_granularity": draw(granularity),
                  "allocation": draw(st.sampled_from(["it_first", "pro_rata"])),
                  "storage_rule": draw(st.sampled_from(["pooled", "fifo"])),
                  "export_attributes": draw(st.sampled_from(["retained", "sold"]))}
    size = draw(st.floats(1e-3, 10.0))
    return table, storage, fault, col, row, draw(st.sampled_from([".csv", ".parquet"])), \
        accounting, size


def _inject(table: pd.DataFrame, fault: str, col: str, row: int, size: float) -> pd.DataFrame:
    t = table.copy()
    if fault in ("nan", "inf", "text"):
        t[col] = t[col].astype(object)
        t.loc[row, col] = {"nan": float("nan"), "inf": float("inf"), "text": "lots"}[fault]
    elif fault in ("negative", "negative_carbon"):
        t.loc[row, col] = -size
    elif fault == "share_above_one":
        t.loc[row, col] = 1.0 + size
    elif fault == "imbalance":
        t.loc[row, "grid_import_mwh"] += size
    elif fault == "drop_column":
        t = t.drop(columns=[col])
    elif fault == "duplicate_time":
        t = pd.concat([t.iloc[: row + 1], t.iloc[row:]], ignore_index=True)
    elif fault == "bad_time":
        t["time"] = t["time"].astype(str)
        t.loc[row, "time"] = "yesterday noon"
    elif fault == "header_only":
        t = t.iloc[0:0]
    elif fault == "unsorted":
        t = t.iloc[::-1].reset_index(drop=True)
    return t


def _config(storage: dict[str, StorageParams], accounting: dict, fault: str) -> dict:
    sites = {s: {"storage": {
        "charge_efficiency": p.charge_efficiency, "discharge_efficiency": p.discharge_efficiency,
        "self_discharge_per_day_fraction":
            1.0 - (1.0 - p.self_discharge_per_slice) ** SLICES_PER_DAY,
        "initial_soc_mwh": p.initial_soc_mwh, "initial_green_fraction": p.initial_green_fraction}}
        for s, p in storage.items()}
    if fault == "unknown_config_site":
        sites["elsewhere"] = {}
    return {"accounting": accounting, "sites": sites}


def _expected_scores(table: pd.DataFrame, storage: dict[str, StorageParams], accounting: dict,
                     alpha: float) -> dict[str, tuple[float, float]]:
    out = {}
    for site, rows in table.groupby("site"):
        p = storage[site]
        params = AccountingParams(alpha, accounting["allocation"], StorageParams(
            p.charge_efficiency, p.discharge_efficiency, p.self_discharge_per_slice,
            p.initial_soc_mwh, p.initial_green_fraction, accounting["storage_rule"]),
            accounting["export_attributes"] == "retained")
        s = score_site(rows.drop(columns="grid_carbon_kg_per_mwh").reset_index(drop=True), params)
        out[site] = (s.gti_slice, s.gti_aggregate)
    return out


def check_meters_case(case) -> str:
    """Score the (faulty) table; returns ``ran`` or ``refused: <fault>``."""
    table, storage, fault, col, row, suffix, accounting, size = case
    bad = _inject(table, fault, col, row, size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        meters = folder / f"meters{suffix}"
        if suffix == ".csv":
            bad.to_csv(meters, index=False)
        else:  # a Parquet column holds one type: a text cell makes the whole column text
            bad.astype({c: str for c in bad.columns if bad[c].dtype == object}).to_parquet(
                meters, index=False)
        config = folder / "accounting.yaml"
        config.write_text(yaml.safe_dump(_config(storage, accounting, fault)))
        out = folder / "out"
        r = _invoke(["score", str(meters), "--config", str(config), "--out", str(out)])
        context = (fault, col, row, suffix, accounting)
        if fault in ("none", "unsorted"):
            summary = _ran(r, out, context)
            alpha = summary["accounting"]["alpha"]
            for site, (g_slice, g_agg) in _expected_scores(table, storage, accounting,
                                                            alpha).items():
                got = summary["sites"][site]["gti"]
                assert np.isclose(got["gti_slice"], g_slice, rtol=0, atol=1e-9), (context, got)
                assert np.isclose(got["gti_aggregate"], g_agg, rtol=0, atol=1e-9), (context, got)
            return "ran"
        assert r.exit_code == 2, (context, r.exit_code, r.stdout, r.stderr, r.exception)
        line = _refused(r, out, context)
        for part in EXPECTED[fault]:
            assert part.format(col=col, row=row) in line, (context, line)
        assert str(meters) in line or str(config) in line, (context, line)
        return f"refused: {fault}"
