"""The ``resilience`` command: how long a site rides through grid outages (registered on
:data:`twin.cli.app`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from twin.cli import app, console, fail, out_folder
from twin.schema import ScenarioError


def parse_hours(text: str) -> list[float]:
    """``4,8,24`` as outage lengths [h], each > 0."""
    try:
        hours = [float(h) for h in text.split(",") if h.strip()]
    except ValueError:
        raise ScenarioError(f"--outage-hours = {text!r}: give hours separated by commas, "
                            "for example 4,8,24") from None
    if not hours or any(not 0.0 < h <= 8784.0 for h in hours):
        raise ScenarioError(f"--outage-hours = {text!r}: each must lie in (0, 8784] h")
    return hours


@app.command()
def resilience(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    outage_hours: str = typer.Option("4,8,24", "--outage-hours", help="outage lengths [h]"),
    sample: int | None = typer.Option(None, "--sample", help="N seeded starts instead of "
                                      "every hour"),
    seed: int = typer.Option(0, "--seed", help="seed of the sample"),
    strategy: str | None = typer.Option(None, "--strategy", help="strategy of the run"),
    site: str | None = typer.Option(None, "--site", help="site name (default: the first)"),
    out: Path | None = typer.Option(None, "--out",
                                    help="folder (default results/resilience-<name>)"),
) -> None:
    """For an outage starting at every hour (or a seeded sample), how long the site rides
    through without shedding, how green what it serves is, and the fuel it burns."""
    from twin.dispatch import REGISTRY
    from twin.engine import SimulationError
    from twin.optimize import OptimizationInfeasible
    from twin.resilience import analyse, resilience_html
    from twin.results import json_writer, write_folder
    from twin.scenario import load

    try:
        hours = parse_hours(outage_hours)
        if sample is not None and sample < 1:
            raise ScenarioError(f"--sample = {sample}: must be at least 1")
        scn = load(scenario)
        run_dir = out_folder(out, Path("results") / f"resilience-{scn.name}")
        name = strategy or scn.strategy
        if name not in REGISTRY:
            raise ScenarioError(f"--strategy = {name!r}: known strategies are {sorted(REGISTRY)}")
        names = [s.name for s in scn.sites]
        if site is not None and site not in names:
            raise ScenarioError(f"--site = {site!r}: the scenario's sites are {names}")
        table, summary = analyse(scn, name, names.index(site) if site else 0, hours, sample,
                                 seed)
    except (ScenarioError, SimulationError, OptimizationInfeasible, ValueError) as err:
        fail(f"{scenario}: {err}")
    view = Table(title=f"{summary['scenario']} | {summary['site']} | outages from every "
                       f"{'sampled start' if sample else 'hour'}", title_justify="left")
    for col in ("outage [h]", "starts", "survived", "least [h]", "mean [h]", "green served",
                "worst start", "most fuel [l]"):
        view.add_column(col, justify="left" if col == "worst start" else "right")
    for o in summary["outages"]:
        view.add_row(f"{o['outage_h']:g}", str(o["starts"]), f"{o['survived_share']:.1%}",
                     f"{o['min_survived_h']:.2f}", f"{o['mean_survived_h']:.2f}",
                     f"{o['mean_green_share_served']:.1%}", o["worst_start"][:16],
                     f"{o['max_fuel_l']:,.0f}")
    console.print(view)
    title = f"{summary['scenario']} · {summary['site']}: hours survived without the grid"
    write_folder(run_dir, {
        "resilience.parquet": lambda p: table.to_parquet(p, index=False),
        "summary.json": json_writer(summary),
        "report.html": lambda p: p.write_text(resilience_html(table, title))})
    console.print(f"wrote {run_dir}/ (resilience.parquet, summary.json, report.html)")
