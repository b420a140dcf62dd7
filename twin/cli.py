"""The command line: ``aidc-twin run | score | verify | catalogue | size | policy | report | bench
| sweep | catalog query | keys | registry | ledger | offsets``.

Bad input (a missing file, an invalid field, a site that cannot be operated as configured) prints
one line naming the file or field and exits with code 2, leaving no results behind.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.scenario import ScenarioError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Digital twin of an AI data center and its Green Token Index (GTI).")
# no emoji codes (":b:" in "a:b:c" is one) and no markup in what echoes the user's input
err_console = Console(stderr=True, emoji=False)
console = Console(emoji=False)

EXIT_BAD_INPUT = 2
#: A sweep or bench some of whose points failed (what succeeded is written).
EXIT_POINTS_FAILED = 3


def fail(message: str) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@app.callback()
def _signing_key_first() -> None:
    """Refuse a signing key that cannot be read before any command works (twin.manifest).
    Libraries' warnings are captured (into the logger ``py.warnings``, not printed): a refusal
    is one ``error:`` line, with nothing before it."""
    import logging

    from twin.manifest import ManifestError, signing_key

    logging.captureWarnings(True)
    captured = logging.getLogger("py.warnings")
    captured.propagate = False
    if not captured.handlers:
        captured.addHandler(logging.NullHandler())

    try:
        signing_key()
    except ManifestError as err:
        fail(str(err))


#: What marks a folder as one aidc-twin wrote (and may replace as a whole).
RESULT_MARKERS = ("manifest.json", "summary.json")


def out_folder(out: Path | None, default: Path, markers: tuple[str, ...] = RESULT_MARKERS
               ) -> Path:
    """The folder a command will write (``--out``, else ``default``), refused before any work
    (exit 2) when writing it would destroy or escape something: an existing file, a folder
    aidc-twin did not write (it is replaced as a whole), the current folder or one above it,
    or a place that cannot be written."""
    import os

    target = out if out is not None else default
    flag = f"--out = {str(out)!r}" if out is not None else f"the results folder {target}"
    if target.exists() and not target.is_dir():
        fail(f"{flag}: is a file; aidc-twin writes a folder there and would replace it")
    resolved, here = target.resolve(), Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        fail(f"{flag}: holds the current folder; give a folder of its own")
    if target.is_dir() and any(target.iterdir()) and not any(
            (target / m).exists() for m in markers):
        fail(f"{flag}: a folder aidc-twin did not write (no {' or '.join(markers)}); it "
             "would be replaced as a whole")
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        fail(f"{flag}: {parent} is a file; no folder can be made inside it")
    if not os.access(parent, os.W_OK | os.X_OK) or (
            target.exists() and not os.access(target, os.W_OK | os.X_OK)):
        fail(f"{flag}: {parent if not target.exists() else target} is not writable")
    return target


def alpha_text(alpha: float | dict) -> str:
    """A summary's alpha: one value, or each site's where the sites have their own."""
    if isinstance(alpha, dict):
        return "per site (" + ", ".join(f"{site} {a:g}" for site, a in alpha.items()) + ")"
    return f"{alpha:g}"


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    out: Path | None = typer.Option(None, "--out", help="run folder (default results/<name>)"),
    strategy: str | None = typer.Option(
        None, "--strategy", help="no_control, greedy, threshold, mpc or oracle"),
    objective: str | None = typer.Option(None, "--objective", help="cost or gti"),
    gti_target: float | None = typer.Option(
        None, "--gti-target", help="with --objective cost: the time-slice GTI to reach"),
    registry: Path | None = typer.Option(
        None, "--registry", help="certificate registry to retire the sites' instruments in"),
) -> None:
    """Simulate a scenario, score it with gti_core, and write the run folder."""
    from twin.cli_trust import write_retiring
    from twin.dispatch import strategy_problem
    from twin.engine import SimulationError
    from twin.manifest import scenario_inputs
    from twin.optimize import OptimizationInfeasible
    from twin.report import run_files
    from twin.results import write_run
    from twin.run import simulate
    from twin.scenario import load

    try:
        scn = load(scenario)
    except ScenarioError as err:
        fail(str(err))
    name = strategy or scn.strategy
    problem = strategy_problem(name)
    if problem:
        fail(f"--{problem}")
    if objective is not None and objective not in ("cost", "gti"):
        fail(f"--objective = {objective!r}: must be 'cost' or 'gti'")
    if gti_target is not None and not 0.0 < gti_target <= 1.0:
        fail(f"--gti-target = {gti_target}: must lie in (0, 1]")
    run_dir = out_folder(out, Path("results") / scn.name)
    if scn.lifetime is not None:
        if registry is not None:
            fail(f"--registry: {scenario} runs several years (lifetime); the registry takes "
                 "one-year runs and score folders only")
        from twin.cli_lifetime import run_lifetime

        run_lifetime(scn, scenario, run_dir, name, objective, gti_target)
        return
    try:
        result = simulate(scn, name, objective, gti_target)
    except (ScenarioError, SimulationError, OptimizationInfeasible) as err:
        fail(f"{scenario}: {err}")
    claims = registry_claims(registry, result.summary, result.meters, result.contracts)
    write_retiring(registry, claims, run_dir, lambda: write_run(
        run_dir, result.summary, result.meters, files=run_files(scn, result),
        sources=scenario_inputs(scn, scenario), **result.tables()))
    print_headline(result.summary, run_dir)


def registry_claims(registry: Path | None, summary: dict, meters, contracts: dict) -> list:
    """The instruments a run or score folder retires in ``registry`` (none without one),
    recorded in its summary's ``registry`` block (:mod:`twin.registry`)."""
    from twin.registry import claims_block, folder_claims

    if registry is None:
        return []
    claims = folder_claims(meters, contracts)
    summary["registry"] = claims_block(registry, claims)
    return claims


def figure_table(title: str) -> Table:
    """An empty two-column table of figures and their values."""
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    return table


def print_headline(summary: dict, run_dir: Path) -> None:
    """The short table of headline figures a run prints."""
    g, k, a = summary["gti"], summary["kpis"], summary["accounting"]
    table = figure_table(f"{summary['scenario']} | {summary['strategy']} "
                         f"({summary.get('objective') or 'cost'}) | {summary['start'][:10]}"
                         f" .. {summary['end'][:10]} | {summary['slices']} slices of "
                         f"{summary['slice_minutes']} min")
    table.add_row("GTI time-slice", f"{g['gti_slice']:.4f}  (level {g['level_slice']})")
    table.add_row("GTI aggregate", f"{g['gti_aggregate']:.4f}  (level {g['level_aggregate']})")
    table.add_row("temporal-mismatch gap", f"{g['mismatch_gap']:.4f}")
    table.add_row("token GTI", f"{g['gti_token']:.4f}")
    table.add_row("accounting", f"alpha {alpha_text(a['alpha'])}, {a['allocation']}, "
                                f"{a['storage_rule']}")
    table.add_row("IT energy", f"{k['it_mwh']:,.0f} MWh")
    table.add_row("PV / wind delivered", f"{k['pv_mwh']:,.0f} / {k['wind_mwh']:,.0f} MWh")
    table.add_row("grid import / export", f"{k['grid_import_mwh']:,.0f} / "
                                          f"{k['grid_export_mwh']:,.0f} MWh")
    table.add_row("curtailed", f"{k['curtailed_mwh']:,.0f} MWh")
    table.add_row("energy cost (import - export)", f"${k['cost_total']:,.0f}")
    table.add_row("tokens in / out", f"{k['tokens_in']:.3e} / {k['tokens_out']:.3e}")
    if k["training_jobs"]:
        jobs = int(k["training_jobs"])
        table.add_row("training tokens", f"{k['training_tokens']:.3e} in {jobs} "
                                         + ("job" if jobs == 1 else "jobs"))
    table.add_row("deadline misses (tokens late)",
                  f"{k['deadline_misses']:.0f}  ({k['tokens_late']:.3e})")
    if len(summary["sites"]) > 1:
        for name, site in summary["sites"].items():
            table.add_row(f"  site {name}: GTI time-slice",
                          f"{site['gti']['gti_slice']:.4f}")
    fleet = summary.get("fleet")
    if fleet is not None:
        for name, r in fleet["regions"].items():
            table.add_row(f"  region {name}: away from {r['nearest_site']}",
                          f"{r['share_served_away_from_nearest']:.1%}  (max "
                          f"{r['max_latency_ms']:g} of {r['latency_bound_ms']:g} ms)")
        table.add_row("training migrations", f"{fleet['migrations']}  ({fleet['strategy']})")
        table.add_row("batch jobs sent away", f"{len(fleet['batch_jobs_moved'])}  "
                      f"({fleet['batch_gb_moved']:,.0f} GB)")
    console.print(table)
    months = [lab for lab in summary["levels"]["month"] if lab["method"] == "slice"]
    aggs = {lab["period"]: lab for lab in summary["levels"]["month"]
            if lab["method"] == "aggregate"}
    console.print("monthly levels (slice/aggregate): " + "  ".join(
        f"{m['period'][5:]}:{m['level']}/{aggs[m['period']]['level']}" for m in months))
    for name, site in summary["sites"].items():
        c = site.get("connection")
        if c:
            flags = [f"{c[k]} slices {k.removesuffix('_slices').replace('_', ' ')}"
                     for k in ("poi_limit_exceeded_slices", "overloaded_slices",
                               "voltage_out_of_band_slices") if c[k]]
            console.print(f"{name}: connection losses {c['losses_mwh']:,.0f} MWh, site voltage "
                          f"{c['min_vm_site_pu']:.3f}-{c['max_vm_site_pu']:.3f} p.u."
                          + (f"; FLAGGED: {', '.join(flags)}" if flags else "; within limits"))
    files = sorted(p.name for p in run_dir.iterdir())
    console.print(f"wrote {run_dir}/ ({', '.join(files)})")


@app.command()
def score(
    meters: Path = typer.Argument(..., help="meter export, CSV or Parquet"),
    config: Path = typer.Option(..., "--config", help="ACCOUNTING.yaml"),
    tasks: Path | None = typer.Option(None, "--tasks", help="task energy table, CSV or Parquet"),
    out: Path | None = typer.Option(None, "--out", help="folder (default results/score-<file>)"),
    registry: Path | None = typer.Option(
        None, "--registry", help="certificate registry to retire the sites' instruments in"),
) -> None:
    """Score a real site's meters with gti_core; writes the summary a twin run writes."""
    from gti_core.contracts import contracts_from_table
    from gti_core.ledger import LedgerError
    from gti_core.meters import MeterError
    from gti_core.storage import StorageProvenanceError
    from twin.cli_trust import write_retiring
    from twin.results import write_run
    from twin.site_score import score_meters

    run_dir = out_folder(out, Path("results") / f"score-{meters.stem}")
    try:
        summary, tables = score_meters(meters, config, tasks)
    except (MeterError, ScenarioError, LedgerError, StorageProvenanceError) as err:
        fail(str(err))
    sources = {"meters": meters, "config": config, **({"tasks": tasks} if tasks else {})}
    metered = tables.pop("meters")
    contracts = contracts_from_table(tables["contracts"]) if "contracts" in tables else {}
    claims = registry_claims(registry, summary, metered, contracts)
    write_retiring(registry, claims, run_dir, lambda: write_run(
        run_dir, summary, metered, sources=sources, **tables))
    g, a = summary["gti"], summary["accounting"]
    table = Table(title=f"{meters.name} | alpha {alpha_text(a['alpha'])}, {a['allocation']}, "
                        f"{a['storage_rule']}", title_justify="left")
    for col in ("site", "GTI slice", "GTI aggregate", "gap"):
        table.add_column(col, justify="right" if col != "site" else "left")
    for name, s in summary["sites"].items():
        sg = s["gti"]
        table.add_row(name, f"{sg['gti_slice']:.4f}", f"{sg['gti_aggregate']:.4f}",
                      f"{sg['mismatch_gap']:.4f}")
    table.add_row("fleet", f"{g['gti_slice']:.4f} (L{g['level_slice']})",
                  f"{g['gti_aggregate']:.4f} (L{g['level_aggregate']})", f"{g['mismatch_gap']:.4f}")
    console.print(table)
    console.print(f"wrote {run_dir}/summary.json")


@app.command()
def verify(
    run_dir: Path = typer.Argument(..., help="a run folder"),
    trusted_key: Path | None = typer.Option(
        None, "--trusted-key", help="public key (PEM) the run's manifest must be signed with"),
) -> None:
    """Check a run's files against its manifest (and signature), then recompute its GTI from
    meters.parquet and task_energy.parquet alone."""
    from twin.verify import verify_run

    trusted = trusted_public_key(trusted_key)
    if not run_dir.is_dir():
        fail(f"{run_dir}: not a run folder (no such folder)")
    checked = manifest_check(run_dir, trusted)
    folders = year_folders(run_dir)  # a multi-year run: every year's folder
    problems = []
    for folder in folders or [run_dir]:
        try:
            found = verify_run(folder)
        except (FileNotFoundError, ValueError) as err:
            fail(str(err))
        problems += [(what, f"{folder.name}: {where}" if folders else where, rec, got)
                     for what, where, rec, got in found]
    if problems:
        for what, where, rec, got in problems:
            err_console.print(f"mismatch: {what} at {where}: recorded {rec!r}, recomputed {got!r}")
        raise typer.Exit(1)
    files = ("files as written" + (", signed by the trusted key" if trusted else "") + "; "
             if checked else "")
    years = f" in each of {len(folders)} years" if folders else ""
    console.print(f"{run_dir}: {files}GTI and R_task recomputed from the meters agree{years}",
                  markup=False, soft_wrap=True)


def year_folders(run_dir: Path) -> list[Path]:
    """The year folders of a multi-year run (``year-1`` ...), in order; none for a run."""
    if (run_dir / "meters.parquet").exists():
        return []
    years = [p for p in run_dir.glob("year-*") if p.is_dir() and p.name[5:].isdigit()]
    return sorted(years, key=lambda p: int(p.name[5:]))


def trusted_public_key(path: Path | None):
    """The public key ``--trusted-key`` names (None without one); exit 2 if unreadable."""
    from twin.manifest import ManifestError, load_public_key

    try:
        return load_public_key(path) if path is not None else None
    except ManifestError as err:
        fail(f"--trusted-key = {err}")


def manifest_check(run_dir: Path, trusted) -> bool:
    """Check a folder against its manifest (:func:`twin.manifest.check_folder`); exit 1 naming
    every file that changed. Returns whether there was a manifest: a folder written before
    manifests passes with a note, unless a trusted key was given."""
    from twin.manifest import MANIFEST, check_folder

    if not (run_dir / MANIFEST).is_file() and trusted is None:
        console.print(f"{run_dir}: no {MANIFEST}; the files cannot be checked for changes",
                      markup=False, soft_wrap=True)
        return False
    changed = check_folder(run_dir, trusted)
    if changed:
        err_console.print(f"error: {run_dir}: the files do not match {MANIFEST}; not "
                          "recomputed", markup=False, highlight=False, soft_wrap=True)
        for line in changed:
            err_console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    return True


keys_app = typer.Typer(help="Signing keys for run manifests (Ed25519).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("new")
def keys_new(out: Path = typer.Option(..., "--out", help="folder for the key pair")) -> None:
    """Write a new key pair: OUT/signing_key.pem (private, mode 600) and OUT/signing_key.pub;
    runs are signed with it once AIDC_TWIN_SIGNING_KEY names the private key."""
    from twin.manifest import new_key_pair

    private, public = out / "signing_key.pem", out / "signing_key.pub"
    if private.exists() or public.exists():
        fail(f"--out = {out}: holds a key pair already; a new one would replace it")
    fp = new_key_pair(private, public)
    console.print(f"wrote {private} and {public} (fingerprint {fp}); sign runs with: export "
                  f"AIDC_TWIN_SIGNING_KEY={private}", markup=False, soft_wrap=True)


@app.command()
def catalogue(method: str = typer.Option("roofline", help="roofline or ecologits")) -> None:
    """Print the energy per token of every model on every GPU type, with the replica and batch
    each figure holds at."""
    from models.datacenter import GPU_TYPES
    from models.tokens import MODELS, token_energy

    try:
        entries = [token_energy(m, g, method) for m in MODELS for g in GPU_TYPES]
    except ValueError as err:
        fail(str(err))
    table = Table(title=f"GPU energy per token ({method})", title_justify="left")
    for col in ("model", "GPU", "GPUs", "batch", "output J/token", "input J/token"):
        table.add_column(col, justify="left" if col in ("model", "GPU") else "right")
    for e in entries:
        table.add_row(e.model, e.gpu, str(e.gpus_per_replica), str(e.batch_size),
                      f"{e.output_j_per_token:.3f}", f"{e.input_j_per_token:.4f}")
    console.print(table)


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., help="run folders (two or more: side by side)"),
    out: Path | None = typer.Option(
        None, "--out", help="the page (default RUN/report.html; for several runs "
                            "results/compare.html)"),
) -> None:
    """Write a run's self-contained report.html again, or compare runs side by side."""
    from twin.report import compare_html, read_for_report, report_html
    from twin.results import write_file

    loaded = []
    for r in runs:
        try:
            loaded.append(read_for_report(r))
        except (FileNotFoundError, ValueError) as err:
            fail(str(err))
    if len(loaded) == 1:
        page, target = report_html(loaded[0]), out or runs[0] / "report.html"
    else:
        labels = [r.name for r in runs]
        if len(set(labels)) < len(labels):
            labels = [str(r) for r in runs]
        page, target = compare_html(loaded, labels), out or Path("results") / "compare.html"
    write_file(target, page)
    console.print(f"wrote {target}")


@app.command()
def bench(
    suite: str = typer.Option("standard", "--suite", help="suite name or YAML file"),
    strategies: str | None = typer.Option(None, "--strategies",
                                          help="comma-separated (default: the suite's)"),
    horizon_days: int | None = typer.Option(None, "--horizon-days",
                                            help="override every scenario's horizon"),
    out: Path | None = typer.Option(None, "--out", help="folder (default results/bench-<suite>)"),
) -> None:
    """Run every dispatch strategy on a suite of scenarios; write the table and leaderboard.
    Exits with code 3 when some runs failed (the others are written)."""
    from twin.bench import load_suite, run_suite, write_bench

    if horizon_days is not None and horizon_days < 1:
        fail(f"--horizon-days = {horizon_days}: must be at least 1")
    try:
        names = [x.strip() for x in strategies.split(",")] if strategies else None
        spec = load_suite(suite, names, horizon_days)
    except ScenarioError as err:
        fail(str(err))
    target = out_folder(out, Path("results") / f"bench-{spec['name']}")
    total = len(spec["scenarios"]) * len(spec["strategies"])
    done = []

    def progress(row: dict) -> None:
        done.append(row)
        gti = f"GTI {row['gti_slice']:.4f}" if row["status"] == "ok" else row["status"]
        console.print(f"[{len(done)}/{total}] {row['scenario']} · {row['strategy']}: {gti}",
                      markup=False, highlight=False)

    table = run_suite(spec, progress)
    folder = write_bench(target, table, spec)
    console.print(f"wrote {folder}/ (table.csv, table.md, leaderboard.csv, leaderboard.html)")
    failed = [r for r in done if r["status"] != "ok"]
    if failed:
        err_console.print(f"error: {len(failed)} of {total} runs failed (first: "
                          f"{failed[0]['scenario']} · {failed[0]['strategy']}: "
                          f"{failed[0]['status']}); the others are written",
                          markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_POINTS_FAILED)


@app.command()
def sweep(
    sweep_file: Path = typer.Argument(..., help="sweep YAML file (base scenario and axes)"),
    workers: int | None = typer.Option(
        None, "--workers", help="LocalCluster processes (default: one per core; 0: run in "
                                "this process without Dask)"),
    scheduler: str | None = typer.Option(None, "--scheduler",
                                         help="an existing Dask scheduler, tcp://host:8786"),
    catalog: Path = typer.Option(Path("results") / "catalog.duckdb", "--catalog",
                                 help="DuckDB catalog of every point"),
    out: Path | None = typer.Option(None, "--out",
                                    help="the sweep's folder (default results/sweeps/<name>)"),
) -> None:
    """Run every point of a sweep on Dask; resume where a killed sweep stopped. Exits with code
    3 when some points failed (the others are written)."""
    from twin.manifest import write_manifest
    from twin.results import write_file
    from twin.sweep import heatmap_html, load_sweep, run_sweep

    if workers is not None and workers < 0:
        fail(f"--workers = {workers}: must be 0 or more")
    if workers is not None and scheduler:
        fail("--workers and --scheduler: give one (a scheduler brings its own workers)")
    try:
        spec = load_sweep(sweep_file)
    except ScenarioError as err:
        fail(str(err))
    folder = out_folder(out, Path("results") / "sweeps" / spec["name"],
                        (*RESULT_MARKERS, "points"))
    n = len(spec["points"])
    console.print(f"sweep {spec['name']}: {n} points over {', '.join(spec['axes'])}",
                  markup=False, highlight=False)
    tally = {"ok": 0, "failed": 0}
    bar = None
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("ok {task.fields[ok]} · failed {task.fields[failed]}"),
                       console=console)
        task = bar.add_task("points", total=n, ok=0, failed=0)
        bar.start()

    def progress(point, result) -> None:
        tally[result["status"]] += 1
        if bar is not None:
            bar.update(task, advance=1, ok=tally["ok"], failed=tally["failed"])
        else:
            what = (f"GTI {result['gti_slice']:.4f}" if result["status"] == "ok"
                    else f"failed: {result['error']}")
            print(f"point {point.key[:12]} {json.dumps(point.axes)}: {what}", flush=True)

    try:
        counts = run_sweep(spec, folder, catalog, workers, scheduler, progress)
        if bar is not None:
            bar.stop()
        write_file(folder / "heatmap.html", heatmap_html(catalog, spec))
        write_manifest(folder, {"sweep": sweep_file})  # the points' meters and the heatmap
    except ScenarioError as err:
        fail(str(err))
    console.print(f"{counts['ok']} done, {counts['failed']} failed, {counts['skipped']} already "
                  f"in the catalog, of {counts['total']} points ({counts['seconds']:.1f} s); "
                  f"catalog {catalog}, meters and heatmap.html in {folder}/",
                  markup=False, highlight=False)
    if counts["failed"]:
        err_console.print(f"error: {counts['failed']} of {counts['total']} points failed (see "
                          "the catalog's error column); the others are written",
                          markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_POINTS_FAILED)


catalog_app = typer.Typer(help="Ask the run catalog questions in SQL.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("query")
def catalog_query(
    sql: str = typer.Argument(..., help='SQL over the table "points"'),
    catalog: Path = typer.Option(Path("results") / "catalog.duckdb", "--catalog"),
    csv: bool = typer.Option(False, "--csv", help="print CSV instead of a table"),
) -> None:
    """Run a read-only SQL query on the catalog, e.g. SELECT sweep, count(*) FROM points
    GROUP BY sweep."""
    import duckdb

    from twin.sweep import Catalog

    try:
        cat = Catalog(catalog, read_only=True)
    except (ScenarioError, duckdb.Error) as err:
        fail(str(err).splitlines()[0])
    try:
        frame = cat.query(sql)
    except duckdb.Error as err:
        fail(f"query: {str(err).splitlines()[0]}")
    finally:
        cat.close()
    if csv:
        sys.stdout.write(frame.to_csv(index=False))
        return
    table = Table(title=f"{len(frame)} rows", title_justify="left")
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.6g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


from twin import cli_events, cli_policy, cli_size, cli_trust  # noqa: E402,F401  (register commands)


def main() -> None:
    """The console entry (``aidc-twin`` and ``python -m twin.cli``): the app, then every
    object alive at exit frozen out of the garbage collector. The interpreter's teardown
    clears some 2,600 imported modules (pandas, pvlib, pandapower, plotly) and collects after
    each batch, walking all of them every time: about 0.35 s of every command here. Frozen,
    they are still freed by reference counting; only the collector skips them."""
    try:
        app()
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    # run the imported module's entry, where cli_events registered its commands
    from twin.cli import main as registered

    registered()
