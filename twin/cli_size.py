"""The ``size`` command: the cheapest plant for a GTI target, checked by simulation
(registered on :data:`twin.cli.app`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from twin.cli import app, console, fail, out_folder
from twin.schema import ScenarioError


@app.command("size")
def size_cmd(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    target: float = typer.Option(0.8, "--target", help="GTI target in (0, 1]"),
    method: str = typer.Option("slice", "--method", help="slice or aggregate"),
    frontier: str | None = typer.Option(None, "--frontier", help="start:stop:step of targets"),
    resolution: int = typer.Option(60, "--resolution", help="sizing slice length: 15, 30, 60"),
    horizon_days: int | None = typer.Option(None, "--horizon-days", help="size on N days"),
    typical: int | None = typer.Option(None, "--typical-days",
                                       help="size on K typical days (tsam; the site's local "
                                       "days), linked storage"),
    representation: str = typer.Option(
        "medoid", "--representation",
        help="typical days: medoid, mean, distribution or distribution_minmax (tsam)"),
    site: str | None = typer.Option(None, "--site", help="site name (default: the first)"),
    strategy: str = typer.Option("greedy", "--strategy",
                                 help="strategy the site will run: simulates the sized plant"),
    oracle_recheck: bool = typer.Option(
        True, "--oracle-recheck/--no-oracle-recheck",
        help="also simulate the plant with the oracle, the dispatch the plan assumes"),
    for_strategy: bool = typer.Option(
        False, "--for-strategy",
        help="raise the planned target until --strategy reaches the target in simulation"),
    solver: str = typer.Option(
        "hipo", "--solver",
        help="hipo, ipx or simplex (with hipo, a typical-day plant's check over every day "
             "runs ipx)"),
    threads: int = typer.Option(1, "--threads", help="HiGHS threads"),
    time_limit: float = typer.Option(600.0, "--time-limit", help="HiGHS limit per solve [s]"),
    survive_hours: float | None = typer.Option(
        None, "--survive-hours", help="gensets so that no outage this long at any hour sheds"),
    out: Path | None = typer.Option(None, "--out", help="folder (default results/size-<name>)"),
) -> None:
    """Size PV, wind and battery for a GTI target (or a frontier of targets), then simulate the
    plant with the twin and score it with gti_core."""
    from twin.dispatch import strategy_problem
    from twin.engine import SimulationError
    from twin.optimize import OptimizationInfeasible
    from twin.optimize.highs import SolverSettings
    from twin.scenario import load
    from twin.size_run import parse_frontier, size

    if resolution not in (15, 30, 60):
        fail(f"--resolution = {resolution}: must be 15, 30 or 60")
    if not 0.0 < target <= 1.0:
        fail(f"--target = {target}: must lie in (0, 1]")
    problem = strategy_problem(strategy)
    if problem:
        fail(f"--{problem}")
    if survive_hours is not None and not 0.0 < survive_hours <= 168.0:
        fail(f"--survive-hours = {survive_hours}: must lie in (0, 168]")
    try:
        settings = SolverSettings(solver, threads, time_limit_s=time_limit)
    except ValueError as err:
        fail(f"--solver/--threads/--time-limit: {err}")
    try:
        scn = load(scenario)
        targets = parse_frontier(frontier) if frontier else [target]
        names = [s.name for s in scn.sites]
        if site is not None and site not in names:
            raise ScenarioError(f"--site = {site!r}: the scenario's sites are {names}")
        k = names.index(site) if site else 0
        run_dir = out_folder(out, Path("results") / f"size-{scn.name}")
        res = size(scn, targets, method, k, resolution, horizon_days, strategy, settings,
                   typical, survive_hours, oracle_recheck, for_strategy, representation)
    except (ScenarioError, SimulationError, OptimizationInfeasible) as err:
        fail(f"{scenario}: {err}")
    print_sizing(scn, k, method, res)
    write_sizing(scn, k, method, res, run_dir, scenario)


def print_sizing(scn, k: int, method: str, res: dict) -> None:
    """The plants per target, the check over every day and the rechecks by simulation."""
    typical = res["typical_days"]
    over = f"{res['slices']} slices" + (f" (as {typical} typical days)" if typical else "")
    table = Table(title=f"{scn.name} | {scn.sites[k].name} | {method} method | sized at "
                        f"{res['resolution_min']} min over {over} | {res['solver']}",
                  title_justify="left")
    for col in ("target", "annual cost [M$]", "PV [MW]", "wind [MW]", "battery [MW]",
                "battery [MWh]", "certificates [MWh/a]", "solve [s]", "status"):
        table.add_column(col, justify="left" if col == "status" else "right")
    for r in res["results"]:
        table.add_row(f"{r.target:.2f}", f"{r.annual_cost / 1e6:,.2f}", f"{r.pv_mw:,.1f}",
                      f"{r.wind_mw:,.1f}", f"{r.bess_mw:,.1f}", f"{r.bess_mwh:,.1f}",
                      f"{r.certificates_mwh:,.0f}", f"{r.solve_s:,.1f}", r.status)
    console.print(table)
    enters = res["battery_enters_at"]
    console.print("batteries enter at target " + (f"{enters:.2f}" if enters is not None
                                                   else "- (none in this range)"))
    if res["marginal_cost_last_percent"] is not None:
        console.print(f"marginal cost of the last percent: "
                      f"${res['marginal_cost_last_percent'] / 1e6:,.2f} M per year")
    fc = res["full_check"]
    if fc:
        gap = (f"{fc['cost_error']:+.2%}" if fc["cost_error"] is not None else fc["full_status"])
        console.print(f"check against the full horizon ({fc['days']} days) at this plant: cost "
                      f"${fc['planned_cost'] / 1e6:,.2f} M planned on {fc['typical_days']} "
                      f"typical days vs ${fc['full_cost'] / 1e6:,.2f} M dispatched over every "
                      f"day ({gap}); GTI {fc['planned_gti']:.4f} planned vs "
                      f"{fc['full_gti']:.4f} ({fc['full_solve_s']:,.1f} s by "
                      f"{fc['full_solver']})", markup=False)
    rc = res["recheck"]
    if rc:
        for name, got in rc["runs"].items():
            said = (f"simulated {got['simulated_gti']:.4f}, cost "
                    f"${got['simulated_cost'] / 1e6:,.2f} M" if got["status"] == "ok"
                    else got["status"])
            console.print(f"plant for {rc['target']:.2f} simulated at {rc['slice_minutes']} "
                          f"min with {name}: planned GTI {rc['planned_gti']:.4f}, {said} "
                          f"({method})", markup=False)
    fit = res["for_strategy"]
    if fit:
        steps = ", ".join(f"{r['planned_target']:.4f} -> " + (
            f"{r['simulated_gti']:.4f}" if r["status"] == "optimal" else r["status"])
            for r in fit["rounds"])
        console.print(f"sized for {fit['strategy']}: planned target -> simulated GTI: {steps}; "
                      + ("reached" if fit["reached"] else "not reached"), markup=False)
    sv = res["survive"]
    if sv:
        console.print(f"to ride through {sv['hours']:g} h without the grid from any hour: "
                      f"{sv['required_mw']:,.1f} MW of gensets, {sv['units']} x "
                      f"{sv['unit_mw']:g} MW (worst start {sv['worst_start'][:16] or '-'})")


def write_sizing(scn, k: int, method: str, res: dict, out: Path | None,
                 scenario: Path | None = None) -> None:
    """``frontier.csv``, ``frontier.html``, ``summary.json`` and, with ``--survive-hours``,
    ``sized_scenario.yaml``; the manifest hashes the scenario's files."""
    from twin.manifest import scenario_inputs
    from twin.results import json_writer, write_folder
    from twin.size_run import frontier_html

    summary = {"scenario": scn.name, "site": scn.sites[k].name, "method": method,
               **{key: res[key] for key in ("battery_enters_at", "marginal_cost_last_percent",
                                            "recheck", "full_check", "for_strategy",
                                            "typical_days", "resolution_min", "slices",
                                            "solver", "build_s", "solve_s", "profiles")},
               "plants": [vars(r) for r in res["results"]]}
    run_dir = out  # checked before the sizing (twin.cli.out_folder)
    frame = res["frontier"]
    title = f"{scn.name} · {scn.sites[k].name} · {method} method: cost of a GTI target"
    files = {"frontier.csv": lambda p: frame.to_csv(p, index=False),
             "frontier.html": lambda p: p.write_text(frontier_html(frame, title)),
             "summary.json": json_writer(summary)}
    sv = res["survive"]
    if sv:
        summary["survive"] = {key: v for key, v in sv.items() if key != "scenario"}
        from twin.report import scenario_writer

        files["sized_scenario.yaml"] = scenario_writer(sv["scenario"])
    write_folder(run_dir, files, scenario_inputs(scn, scenario))
    console.print(f"wrote {run_dir}/ ({', '.join(files)}, manifest.json)")
