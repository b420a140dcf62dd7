"""``aidc-twin bench``: every dispatch strategy on a suite of scenarios, with the same KPIs.

A suite is a YAML file (``scenarios/bench/<name>.yaml``, or any path)::

    name: standard
    horizon_days: 365                # optional, for every scenario
    strategies: [no_control, greedy, threshold, mpc, oracle]
    scenarios:
      - name: tight_poi
        base: ../western_hub.yaml    # relative to the suite file
        what: the grid connection binds   # what makes dispatch hard here
        set: {sites.0.grid.max_import_mw: 110}   # dotted field paths, as in sweeps

Every scenario runs with every strategy, in order, in this process. KPIs per run, and the ratio
to ``no_control`` of the same scenario where the field reports them that way (cost, grid import,
curtailment, peak import). Runs are seeded by their scenarios (weather is data, noise and
forecast errors have seeds, HiGHS runs on one thread), so every column but the decision time
is the same to the last digit on every run of the suite on the same machine and libraries.
"""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path

import pandas as pd

from twin.overrides import with_overrides
from twin.scenario import ScenarioError, from_dict, load_raw, read_yaml
from twin.schema import check_plain_name

SUITES = Path(__file__).resolve().parents[1] / "scenarios" / "bench"

#: Columns of the bench table, in order; the KPIs come from each run's summary.json.
KPI_COLUMNS = ["gti_slice", "gti_aggregate", "cost_usd", "grid_import_mwh", "curtailed_mwh",
               "peak_import_mw", "bess_equivalent_full_cycles", "deadline_misses",
               "tokens_late", "migrations", "batch_moves", "tokens_moved_share"]
RATIO_COLUMNS = ["cost_usd", "grid_import_mwh", "curtailed_mwh", "peak_import_mw"]
TABLE_COLUMNS = (["scenario", "strategy", "status", *KPI_COLUMNS]
                 + [f"{c}_vs_no_control" for c in RATIO_COLUMNS]
                 + ["gti_slice_gain_points", "decision_ms_per_slice"])
#: The one column that depends on the machine's speed rather than on the suite.
TIMING_COLUMNS = ["decision_ms_per_slice"]


#: The fields of a suite file, and of each of its scenarios.
SUITE_FIELDS = {"name", "description", "horizon_days", "strategies", "scenarios"}
ENTRY_FIELDS = {"name", "base", "what", "set"}


def suite_path(suite: str) -> Path:
    """A suite's file: a path, or a name under ``scenarios/bench``."""
    p = Path(suite)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ScenarioError(f"--suite = {suite!r}: file not found")
        return p
    p = SUITES / f"{suite}.yaml"
    if not p.is_file():
        known = sorted(f.stem for f in SUITES.glob("*.yaml"))
        raise ScenarioError(f"--suite = {suite!r}: known suites are {known}, or give a file")
    return p


def load_suite(suite: str, strategies: list[str] | None = None,
               horizon_days: int | None = None) -> dict:
    """The suite's scenarios, validated, and its strategies (``strategies`` overrides)."""
    from twin.dispatch import REGISTRY, strategy_problem

    path = suite_path(suite)
    spec = read_yaml(path, "suite")
    if not isinstance(spec, dict) or not isinstance(spec.get("scenarios"), list) \
            or not spec["scenarios"]:
        raise ScenarioError(f"{path}: a suite needs a list of scenarios under 'scenarios'")
    extra = sorted(set(spec) - SUITE_FIELDS)
    if extra:
        raise ScenarioError(f"{path}: {extra[0]!r} is not a suite field; known: "
                            f"{sorted(SUITE_FIELDS)}")
    names = strategies or spec.get("strategies") or sorted(REGISTRY)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ScenarioError(f"{path}: strategies = {names!r}: must be a list of strategy names")
    for s in names:
        problem = strategy_problem(s)
        if problem:  # "strategy = 'x': why"
            raise ScenarioError(f"strategies: {s!r} is not a strategy: "
                                f"{problem.split(': ', 1)[-1]}")
    if "no_control" not in names:
        names = ["no_control", *names]  # the baseline the ratios need
    days = horizon_days or spec.get("horizon_days")
    scenarios = []
    for k, entry in enumerate(spec["scenarios"]):
        where = f"{path}: scenarios[{k}]"
        if not isinstance(entry, dict) or "name" not in entry or "base" not in entry:
            raise ScenarioError(f"{where}: needs 'name' and 'base'")
        extra = sorted(set(entry) - ENTRY_FIELDS)
        if extra:
            raise ScenarioError(f"{where}: {extra[0]!r} is not a field of a suite's scenario; "
                                f"known: {sorted(ENTRY_FIELDS)}")
        if not isinstance(entry.get("set") or {}, dict):
            raise ScenarioError(f"{where}: set = {entry['set']!r}: must map field paths to "
                                "values")
        if any(s["name"] == entry["name"] for s in scenarios):
            raise ScenarioError(f"{where}: name = {entry['name']!r} is given twice (the table "
                                "names each scenario once)")
        base = (path.parent / entry["base"]).resolve()
        overrides = dict(entry.get("set") or {})
        if days is not None:
            overrides["horizon_days"] = days  # validated with the scenario
        try:
            raw = with_overrides(load_raw(base), overrides)
            raw["name"] = entry["name"]
            scn = from_dict(raw, base_dir=base.parent)
        except ScenarioError as err:
            raise ScenarioError(f"{where} ({entry['name']}): {err}") from None
        scenarios.append({"name": entry["name"], "what": " ".join(str(entry.get("what",
                                                                                "")).split()),
                          "base": str(entry["base"]), "set": overrides, "scenario": scn})
    return {"name": check_plain_name(spec.get("name", path.stem), f"{path}: name"),
            "path": path, "strategies": names,
            "scenarios": scenarios, "description": spec.get("description", "")}


def run_one(scn, strategy: str) -> dict:
    """One run's row: KPIs, or the reason it failed."""
    from twin.engine import SimulationError
    from twin.optimize import OptimizationInfeasible
    from twin.run import simulate

    try:
        s = simulate(scn, strategy).summary
    except (SimulationError, OptimizationInfeasible, ScenarioError) as err:
        return {"status": f"failed: {err}"}
    k, g = s["kpis"], s["gti"]
    return {"status": "ok", "gti_slice": g["gti_slice"], "gti_aggregate": g["gti_aggregate"],
            "cost_usd": k["cost_total"], "grid_import_mwh": k["grid_import_mwh"],
            "curtailed_mwh": k["curtailed_mwh"], "peak_import_mw": k["peak_import_mw"],
            "bess_equivalent_full_cycles": k["bess_equivalent_full_cycles"],
            "deadline_misses": k["deadline_misses"], "tokens_late": k["tokens_late"],
            **_fleet_kpis(s),
            "decision_ms_per_slice": s["timings_s"]["decision_ms_per_slice"]}


def _fleet_kpis(summary: dict) -> dict:
    """A fleet's training migrations, batch job shares sent to another site, and the share of
    its regions' generated tokens served away from their nearest site (NaN for a run without a
    fleet)."""
    fleet = summary.get("fleet")
    if fleet is None:
        return {"migrations": math.nan, "batch_moves": math.nan, "tokens_moved_share": math.nan}
    regions = fleet["regions"].values()
    total = sum(r["tokens_out"] for r in regions)
    moved = sum(r["tokens_out"] * r["share_served_away_from_nearest"] for r in regions)
    return {"migrations": float(fleet["migrations"]),
            "batch_moves": float(fleet.get("batch_moves", 0)),
            "tokens_moved_share": moved / total if total else 0.0}


def _ratio(value: float, base: float) -> float:
    if not (isinstance(value, float | int) and isinstance(base, float | int)):
        return math.nan
    return value / base if base else (1.0 if value == 0 else math.inf)


def with_ratios(rows: pd.DataFrame) -> pd.DataFrame:
    """Add the ratios to ``no_control`` of the same scenario, and the GTI gain in points."""
    out = rows.copy()
    for col in RATIO_COLUMNS:
        out[f"{col}_vs_no_control"] = math.nan
    out["gti_slice_gain_points"] = math.nan
    for _, grp in out.groupby("scenario", sort=False):
        base = grp[(grp["strategy"] == "no_control") & (grp["status"] == "ok")]
        if base.empty:
            continue
        b = base.iloc[0]
        for i in grp.index[grp["status"] == "ok"]:
            for col in RATIO_COLUMNS:
                out.at[i, f"{col}_vs_no_control"] = _ratio(out.at[i, col], b[col])
            out.at[i, "gti_slice_gain_points"] = 100.0 * (out.at[i, "gti_slice"]
                                                          - b["gti_slice"])
    return out[TABLE_COLUMNS]


def leaderboard(table: pd.DataFrame) -> pd.DataFrame:
    """Per strategy over the suite: mean GTI gain over no_control [points], mean cost ratio,
    runs that failed, and the mean rank by time-slice GTI (1 = best in a scenario); ordered by
    the gain, then the cost ratio."""
    ok = table[table["status"] == "ok"].copy()
    ok["rank"] = ok.groupby("scenario")["gti_slice"].rank(ascending=False, method="min")
    board = ok.groupby("strategy", sort=False).agg(
        mean_gti_slice=("gti_slice", "mean"),
        mean_gain_points=("gti_slice_gain_points", "mean"),
        mean_cost_ratio=("cost_usd_vs_no_control", "mean"),
        mean_rank=("rank", "mean"),
        deadline_misses=("deadline_misses", "sum"))
    failed = table[table["status"] != "ok"].groupby("strategy").size()
    board["failed_runs"] = failed.reindex(board.index).fillna(0).astype(int)
    return board.sort_values(["mean_gain_points", "mean_cost_ratio"],
                             ascending=[False, True]).reset_index()


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {"python": platform.python_version(), "system": platform.system(),
            "machine": platform.machine(), "cpu": cpu, "cpus": os.cpu_count(),
            **{lib: version(lib) for lib in ("highspy", "pyomo", "simpy", "pvlib", "pandas")}}


def markdown(table: pd.DataFrame, board: pd.DataFrame, suite: dict, mach: dict) -> str:
    """The bench table as Markdown: the machine, the leaderboard, one table per scenario."""
    def fmt(v, col):
        if isinstance(v, str):
            return v
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if col.startswith("gti"):
            return f"{v:.4f}" if "points" not in col else f"{v:+.2f}"
        if col.endswith("_vs_no_control"):
            return f"{v:.3f}"
        if col == "decision_ms_per_slice":
            return f"{v:.3g}"
        if col == "bess_equivalent_full_cycles":
            return f"{v:.1f}"
        if col == "tokens_moved_share":
            return f"{v:.1%}"
        return f"{v:,.0f}"

    lines = [f"# Dispatch benchmark: suite `{suite['name']}`", "",
             " ".join(str(suite["description"]).split()), "",
             f"Machine: {mach['cpu'] or mach['machine']}, {mach['cpus']} cores, Python "
             f"{mach['python']}, highspy {mach['highspy']}, Pyomo {mach['pyomo']}. Every column "
             "but the decision time is reproducible to the last digit (`table.csv`).", "",
             "## Leaderboard", "",
             "| strategy | mean GTI (slice) | mean gain [points] | mean cost ratio | mean rank "
             "| deadline misses | failed runs |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for _, r in board.iterrows():
        lines.append(f"| {r['strategy']} | {r['mean_gti_slice']:.4f} | "
                     f"{r['mean_gain_points']:+.2f} | {r['mean_cost_ratio']:.3f} | "
                     f"{r['mean_rank']:.2f} | {r['deadline_misses']:.0f} | "
                     f"{r['failed_runs']} |")
    cols = ["strategy", "gti_slice", "gti_aggregate", "gti_slice_gain_points",
            "cost_usd", "cost_usd_vs_no_control", "grid_import_mwh_vs_no_control", "curtailed_mwh",
            "peak_import_mw", "peak_import_mw_vs_no_control", "bess_equivalent_full_cycles",
            "deadline_misses", "tokens_late", "decision_ms_per_slice"]
    heads = ["strategy", "GTI slice", "GTI agg.", "gain [pts]", "cost [$]", "cost ratio",
             "import ratio", "curtailed [MWh]", "peak import [MW]", "peak ratio", "EFC",
             "misses", "late tokens", "decision [ms/slice]"]
    if table["migrations"].notna().any():  # a fleet suite: what moved between sites
        cols[-1:-1] = ["migrations", "batch_moves", "tokens_moved_share"]
        heads[-1:-1] = ["migrations", "batch sent", "tokens moved"]
    for sc in suite["scenarios"]:
        grp = table[table["scenario"] == sc["name"]]
        lines += ["", f"## {sc['name']}", "", f"{sc['what']} (`{sc['base']}`"
                  + (f", {', '.join(f'{k}={v}' for k, v in sc['set'].items())}" if sc["set"]
                     else "") + ")", "",
                  "| " + " | ".join(heads) + " |", "|" + " --- |" * len(heads)]
        for _, r in grp.iterrows():
            if r["status"] != "ok":
                lines.append(f"| {r['strategy']} | {r['status']} |" + " |" * (len(heads) - 2))
                continue
            lines.append("| " + " | ".join(fmt(r[c], c) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def leaderboard_figure(table: pd.DataFrame, suite_name: str) -> str:
    """A self-contained HTML page: time-slice GTI and cost ratio per scenario and strategy."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ok = table[table["status"] == "ok"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("time-slice GTI", "cost / cost of no_control"))
    for k, (strategy, grp) in enumerate(ok.groupby("strategy", sort=False)):
        colour = STRATEGY_COLOURS[k % len(STRATEGY_COLOURS)]
        fig.add_trace(go.Bar(x=grp["scenario"], y=grp["gti_slice"], name=strategy,
                             marker_color=colour, legendgroup=strategy), row=1, col=1)
        fig.add_trace(go.Bar(x=grp["scenario"], y=grp["cost_usd_vs_no_control"], name=strategy,
                             marker_color=colour, legendgroup=strategy, showlegend=False),
                      row=2, col=1)
    fig.update_layout(barmode="group", title=f"Dispatch benchmark: suite {suite_name}",
                      height=720, template="plotly_white")
    fig.update_yaxes(range=[0, 1], row=1, col=1)
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})


STRATEGY_COLOURS = ("#7f8c8d", "#2e86de", "#f39c12", "#27ae60", "#8e44ad", "#c0392b")


def run_suite(suite: dict, progress=None) -> pd.DataFrame:
    """Run every scenario with every strategy; the bench table."""
    rows = []
    for sc in suite["scenarios"]:
        for strategy in suite["strategies"]:
            row = {"scenario": sc["name"], "strategy": strategy, **run_one(sc["scenario"],
                                                                          strategy)}
            rows.append(row)
            if progress is not None:
                progress(row)
    table = pd.DataFrame(rows)
    for col in KPI_COLUMNS + TIMING_COLUMNS:
        if col not in table:
            table[col] = math.nan
    return with_ratios(table)


def write_bench(out: Path, table: pd.DataFrame, suite: dict) -> Path:
    """Write ``table.csv``, ``table.md``, ``leaderboard.csv``, ``leaderboard.html`` and
    ``machine.json`` atomically into ``out``."""
    import json

    from twin.results import write_folder

    board = leaderboard(table)
    mach = machine()
    return write_folder(out, {
        "table.csv": lambda p: table.to_csv(p, index=False, float_format="%.17g"),
        "leaderboard.csv": lambda p: board.to_csv(p, index=False, float_format="%.17g"),
        "table.md": lambda p: p.write_text(markdown(table, board, suite, mach)),
        "leaderboard.html": lambda p: p.write_text(leaderboard_figure(table, suite["name"])),
        "machine.json": lambda p: p.write_text(json.dumps(mach, indent=2) + "\n"),
    })
