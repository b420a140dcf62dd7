"""``aidc-twin sweep``: many variants of a scenario on Dask, into a catalog that survives crashes.

A sweep file names a base scenario and the fields to vary, by their dotted paths in the scenario
schema (as :func:`twin.overrides.with_overrides` takes them)::

    name: battery_alpha               # default: the file's name
    base: ../western_hub.yaml         # relative to the sweep file
    horizon_days: 14                  # optional, for every point
    strategy: greedy                  # optional (default: the scenario's)
    set: {slice_minutes: 60}          # optional, fixed for every point
    axes:                             # the product of the axes, in this order ...
      sites.0.battery.energy_mwh: [0, 400, 800]
      accounting.alpha: {start: 0.3, stop: 0.6, step: 0.1}
    # points:                         # ... or a list of points instead of axes
    #   - {sites.0.battery.energy_mwh: 0, accounting.alpha: 0.3}

Each point is keyed by the SHA-256 of its resolved scenario (every field after the overrides and
validation, the strategy, the folder its relative paths resolve against, and the aidc-twin
version): the same point has the same key in any sweep. Points run on Dask (a ``LocalCluster``
of one single-threaded process per core by default, or an existing scheduler); the driver alone
writes the DuckDB catalog, one committed row per finished point, and each point's meters as
Parquet under the sweep's folder, so a sweep killed at any moment resumes where it stopped: a
re-run skips the points the catalog holds as ``ok`` and runs the rest (failed ones again).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from twin.overrides import with_overrides
from twin.results import write_file
from twin.scenario import ScenarioError, from_dict, load_raw, read_yaml
from twin.schema import check_plain_name

#: Catalog columns after the key: what a planner or policy team asks a sweep about.
KPI_COLUMNS = ("gti_slice", "gti_aggregate", "level_slice", "level_aggregate", "gti_token",
               "gco2e_per_1000_tokens", "cost_usd", "grid_import_mwh", "grid_export_mwh",
               "curtailed_mwh", "peak_import_mw", "it_mwh", "tokens_out", "deadline_misses")
#: Columns that depend on where and how fast a point ran, not on the point.
RUN_COLUMNS = ("run_s", "worker", "finished_at")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS points (
    key VARCHAR PRIMARY KEY,
    sweep VARCHAR NOT NULL,
    axes JSON NOT NULL,
    status VARCHAR NOT NULL,
    error VARCHAR,
    {", ".join(f"{c} {'INTEGER' if c.startswith('level') else 'DOUBLE'}" for c in KPI_COLUMNS)},
    strategy VARCHAR,
    meters_path VARCHAR,
    run_s DOUBLE,
    worker VARCHAR,
    finished_at TIMESTAMP
)
"""


@dataclass(frozen=True)
class Point:
    """One scenario of a sweep: its axis values, its resolved scenario and its key."""

    axes: dict
    raw: dict | None  # the scenario mapping after the overrides (None when it is invalid)
    base_dir: str
    strategy: str | None
    key: str
    error: str | None = None


def _values(axis: str, spec) -> list:
    """An axis's values: a list, or ``{start, stop, step}`` (stop included)."""
    if isinstance(spec, list) and spec:
        return spec
    if isinstance(spec, dict) and {"start", "stop", "step"} <= set(spec):
        start, stop, step = (float(spec[k]) for k in ("start", "stop", "step"))
        if step <= 0 or stop < start:
            raise ScenarioError(f"axes.{axis} = {spec}: need step > 0 and stop >= start")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        return [round(start + k * step, 12) for k in range(n)]
    raise ScenarioError(f"axes.{axis} = {spec!r}: give a list of values or {{start, stop, step}}")


def point_key(raw: dict, base_dir: str, strategy: str | None) -> str:
    """SHA-256 of a point's resolved scenario (canonical JSON)."""
    from twin import __version__

    scn = from_dict(raw, base_dir=Path(base_dir))
    body = {"scenario": scn.model_dump(mode="json", exclude={"base_dir"}),
            "base_dir": base_dir, "strategy": strategy or scn.strategy,
            "aidc_twin": __version__}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load_sweep(path: str | Path) -> dict:
    """The sweep file, validated, with every point resolved and keyed.

    Raises
    ------
    ScenarioError
        The file or an axis is malformed. A point whose scenario does not validate is not an
        error here: it becomes a failed point with the validation message.
    """
    path = Path(path)
    spec = read_yaml(path, "sweep")
    if not isinstance(spec, dict) or "base" not in spec:
        raise ScenarioError(f"{path}: a sweep needs 'base' (the scenario file)")
    known = {"name", "base", "horizon_days", "strategy", "set", "axes", "points", "description"}
    extra = sorted(set(spec) - known)
    if extra:
        raise ScenarioError(f"{path}: {extra[0]!r} is not a sweep field; known: {sorted(known)}")
    if ("axes" in spec) == ("points" in spec):
        raise ScenarioError(f"{path}: give either 'axes' (their product) or 'points'")
    base = (path.parent / spec["base"]).resolve()
    base_raw = load_raw(base)
    fixed = dict(spec.get("set") or {})
    if spec.get("horizon_days") is not None:
        fixed["horizon_days"] = int(spec["horizon_days"])
    strategy = spec.get("strategy")
    if strategy is not None:
        from twin.dispatch import REGISTRY

        if strategy not in REGISTRY:
            raise ScenarioError(f"{path}: strategy = {strategy!r}: known strategies are "
                                f"{sorted(REGISTRY)}")
    if "axes" in spec:
        axes = spec["axes"]
        if not isinstance(axes, dict) or not axes:
            raise ScenarioError(f"{path}: axes must map field paths to values")
        names = list(axes)
        grid = [_values(a, axes[a]) for a in names]
        combos = [dict(zip(names, vals, strict=True)) for vals in itertools.product(*grid)]
    else:
        if not isinstance(spec["points"], list) or not all(isinstance(p, dict)
                                                           for p in spec["points"]):
            raise ScenarioError(f"{path}: points must be a list of mappings")
        combos = [dict(p) for p in spec["points"]]
        names = list(dict.fromkeys(k for p in combos for k in p))
    points = []
    for combo in combos:
        try:
            raw = with_overrides(base_raw, {**fixed, **combo})
            key = point_key(raw, str(base.parent), strategy)
            points.append(Point(combo, raw, str(base.parent), strategy, key))
        except ScenarioError as err:
            digest = hashlib.sha256(json.dumps(combo, sort_keys=True, default=str).encode())
            points.append(Point(combo, None, str(base.parent), strategy,
                                "invalid-" + digest.hexdigest()[:56], str(err)))
    name = check_plain_name(spec.get("name") or path.stem, f"{path}: name")
    return {"name": name, "path": path, "axes": names,
            "points": points}


def run_point(raw: dict, base_dir: str, strategy: str | None) -> dict:
    """Simulate one point (on a Dask worker): its KPIs and its meters as Parquet bytes."""
    import io

    from twin.engine import SimulationError
    from twin.optimize import OptimizationInfeasible
    from twin.run import simulate

    t0 = time.perf_counter()
    out = {"worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        res = simulate(from_dict(raw, base_dir=Path(base_dir)), strategy)
    except (ScenarioError, SimulationError, OptimizationInfeasible) as err:
        return {**out, "status": "failed", "error": str(err),
                "run_s": time.perf_counter() - t0}
    s = res.summary
    g, k = s["gti"], s["kpis"]
    buf = io.BytesIO()
    from gti_core.meters import meter_columns

    res.meters[meter_columns(res.meters)].to_parquet(buf, index=False)
    kpis = {"gti_slice": g["gti_slice"], "gti_aggregate": g["gti_aggregate"],
            "level_slice": g["level_slice"], "level_aggregate": g["level_aggregate"],
            "gti_token": g["gti_token"], "gco2e_per_1000_tokens": g["gco2e_per_1000_tokens"],
            "cost_usd": k["cost_total"], "grid_import_mwh": k["grid_import_mwh"],
            "grid_export_mwh": k["grid_export_mwh"], "curtailed_mwh": k["curtailed_mwh"],
            "peak_import_mw": k["peak_import_mw"], "it_mwh": k["it_mwh"],
            "tokens_out": k["tokens_out"], "deadline_misses": k["deadline_misses"]}
    return {**out, "status": "ok", "error": None, "strategy": s["strategy"], **kpis,
            "meters": buf.getvalue(), "run_s": time.perf_counter() - t0}


class Catalog:
    """The DuckDB catalog, written by the sweep's driver only: one committed row per point."""

    def __init__(self, path: Path, read_only: bool = False):
        import duckdb

        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_file():
            raise ScenarioError(f"{self.path}: no catalog yet (run a sweep first)")
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            self.con.execute(SCHEMA)

    def done_keys(self) -> set[str]:
        return {r[0] for r in self.con.execute(
            "SELECT key FROM points WHERE status = 'ok'").fetchall()}

    def record(self, sweep: str, point: Point, result: dict, meters_path: str | None) -> None:
        cols = ["key", "sweep", "axes", "status", "error", *KPI_COLUMNS, "strategy",
                "meters_path", "run_s", "worker", "finished_at"]
        values = [point.key, sweep, json.dumps(point.axes, sort_keys=True, default=str),
                  result["status"], result.get("error"),
                  *[result.get(c) for c in KPI_COLUMNS], result.get("strategy"), meters_path,
                  result.get("run_s"), result.get("worker"), None]
        marks = ", ".join("now()" if c == "finished_at" else "?" for c in cols)
        values = [v for c, v in zip(cols, values, strict=True) if c != "finished_at"]
        # a point re-run after a failure replaces its row: one row per key, always
        self.con.execute(f"INSERT OR REPLACE INTO points ({', '.join(cols)}) VALUES ({marks})",
                         values)

    def query(self, sql: str):
        return self.con.execute(sql).fetchdf()

    def close(self) -> None:
        self.con.close()


def make_client(workers: int | None, scheduler: str | None):
    """A Dask client: on an existing scheduler, or on a LocalCluster of ``workers``
    single-threaded processes (default: one per core)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster)


def run_sweep(sweep: dict, out_dir: Path, catalog_path: Path, workers: int | None = None,
              scheduler: str | None = None, progress=None) -> dict:
    """Run a sweep's points that the catalog does not hold as done.

    Parameters
    ----------
    workers : int, optional
        LocalCluster processes (default: the machine's cores); 0 runs every point in this
        process, one after another, without Dask (for debugging and for comparing).
    progress : callable, optional
        Called as ``progress(point, result)`` after each point is recorded.

    Returns
    -------
    dict
        ``total``, ``skipped`` (already done), ``ok``, ``failed`` and ``seconds``.
    """
    t0 = time.perf_counter()
    folder = Path(out_dir)
    (folder / "points").mkdir(parents=True, exist_ok=True)
    cat = Catalog(catalog_path)
    counts = {"total": len(sweep["points"]), "skipped": 0, "ok": 0, "failed": 0}
    try:
        done = cat.done_keys()
        todo, seen = [], set()
        for p in sweep["points"]:
            if p.key in done:
                counts["skipped"] += 1
            elif p.key not in seen:  # two axis values that resolve alike are one point
                seen.add(p.key)
                todo.append(p)
            else:
                counts["total"] -= 1

        def finish(p: Point, result: dict) -> None:
            meters_path = None
            if result["status"] == "ok":
                target = folder / "points" / f"{p.key}.parquet"
                write_file(target, result.pop("meters"))
                meters_path = str(target)
            cat.record(sweep["name"], p, result, meters_path)
            counts[result["status"]] += 1
            if progress is not None:
                progress(p, result)

        invalid = [p for p in todo if p.raw is None]
        for p in invalid:
            finish(p, {"status": "failed", "error": p.error, "run_s": 0.0, "worker": None})
        runnable = [p for p in todo if p.raw is not None]
        if workers == 0:
            for p in runnable:
                finish(p, run_point(p.raw, p.base_dir, p.strategy))
        elif runnable:
            from dask.distributed import as_completed

            with make_client(workers, scheduler) as client:
                futures = {client.submit(run_point, p.raw, p.base_dir, p.strategy,
                                         key=f"point-{p.key}", pure=False): p
                           for p in runnable}
                for fut in as_completed(list(futures)):
                    p = futures.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as err:  # a worker died or the point raised
                        result = {"status": "failed", "error": f"{type(err).__name__}: {err}",
                                  "run_s": None, "worker": None}
                    fut.release()  # the meters leave the worker's memory
                    finish(p, result)
                if scheduler is None:
                    client.cluster.close()
    finally:
        cat.close()
    counts["seconds"] = time.perf_counter() - t0
    return counts


def heatmap_html(catalog_path: Path, sweep: dict) -> str:
    """GTI and cost over the sweep's first two axes (one row when it has one axis), from the
    catalog, as a self-contained page."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cat = Catalog(catalog_path, read_only=True)
    try:
        keys = [p.key for p in sweep["points"]]
        frame = cat.query("SELECT key, gti_slice, cost_usd FROM points WHERE status = 'ok'")
    finally:
        cat.close()
    by_key = frame.set_index("key")
    x_axis = sweep["axes"][0]
    y_axis = sweep["axes"][1] if len(sweep["axes"]) > 1 else None
    xs = list(dict.fromkeys(json.dumps(p.axes.get(x_axis)) for p in sweep["points"]))
    ys = (list(dict.fromkeys(json.dumps(p.axes.get(y_axis)) for p in sweep["points"]))
          if y_axis else ['""'])
    grids = {c: [[None] * len(xs) for _ in ys] for c in ("gti_slice", "cost_usd")}
    for p, key in zip(sweep["points"], keys, strict=True):
        if key not in by_key.index:
            continue
        i = ys.index(json.dumps(p.axes.get(y_axis))) if y_axis else 0
        j = xs.index(json.dumps(p.axes.get(x_axis)))
        for c in grids:  # with more axes, the cell shows the first point of the two
            if grids[c][i][j] is None:
                grids[c][i][j] = float(by_key.at[key, c])
    labels_x = [json.loads(v) for v in xs]
    labels_y = [json.loads(v) for v in ys] if y_axis else [""]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("time-slice GTI", "energy cost [$]"),
                        horizontal_spacing=0.16)
    fig.add_trace(go.Heatmap(z=grids["gti_slice"], x=[str(v) for v in labels_x],
                             y=[str(v) for v in labels_y], colorscale="Greens", zmin=0, zmax=1,
                             colorbar=dict(x=0.42), texttemplate="%{z:.3f}"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=grids["cost_usd"], x=[str(v) for v in labels_x],
                             y=[str(v) for v in labels_y], colorscale="Oranges",
                             texttemplate="%{z:.3s}"), row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text=x_axis, type="category", row=1, col=col)
        fig.update_yaxes(title_text=y_axis or "", type="category", row=1, col=col)
    fig.update_layout(title=f"Sweep {sweep['name']}", template="plotly_white", height=480)
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
