"""The page and the folder of a multi-year run (:mod:`twin.lifetime`).

The folder holds ``summary.json`` (per year: GTI under both methods, levels, costs, and per
battery its capacity, state of health, equivalent full cycles and cycles by depth),
``battery_health.parquet`` (per site and day), ``report.html``, ``scenario.yaml`` and one run
folder per year (``year-1`` ...), each with its own manifest and verifiable on its own.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from twin.report import _environment, _plotly_js, _script_json


def soh_figure(health: pd.DataFrame) -> str:
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=rows["day"] + 1, y=rows["soh"], name=site, mode="lines",
                                customdata=rows[["year"]].to_numpy(),
                                hovertemplate="day %{x} (year %{customdata[0]}): %{y:.2%}")
                     for site, rows in health.groupby("site")] if len(health) else [])
    fig.update_layout(template="plotly_white", height=340, margin=dict(t=20, r=20, b=40, l=60),
                      xaxis=dict(title="day of the run"),
                      yaxis=dict(title="capacity / nameplate", tickformat=".1%"))
    return fig.to_json()


def gti_figure(summary: dict) -> str:
    import plotly.graph_objects as go

    years = [f"year {y['year']}" for y in summary["years"]]
    fig = go.Figure([go.Bar(x=years, y=[y["gti_slice"] for y in summary["years"]],
                            name="time-slice", marker_color="#27ae60"),
                     go.Bar(x=years, y=[y["gti_aggregate"] for y in summary["years"]],
                            name="aggregate", marker_color="#a9dfbf")])
    fig.update_layout(barmode="group", template="plotly_white", height=320,
                      margin=dict(t=20, r=20, b=40, l=60), yaxis=dict(range=[0, 1.02],
                                                                      title="GTI"))
    return fig.to_json()


def depth_figure(summary: dict) -> str:
    import plotly.graph_objects as go

    bars = []
    for y in summary["years"]:
        counts: dict[str, float] = {}
        for b in y["batteries"].values():
            for depth, n in b.get("cycles_by_depth", {}).items():
                counts[depth] = counts.get(depth, 0.0) + n
        bars.append(go.Bar(x=list(counts), y=list(counts.values()), name=f"year {y['year']}"))
    fig = go.Figure(bars)
    fig.update_layout(barmode="group", template="plotly_white", height=320,
                      margin=dict(t=20, r=20, b=40, l=60),
                      xaxis=dict(title="depth of discharge [fraction of capacity]"),
                      yaxis=dict(title="cycles"))
    return fig.to_json()


def lifetime_html(summary: dict, health: pd.DataFrame) -> str:
    """The page of a multi-year run."""
    sites = sorted({s for y in summary["years"] for s in y["batteries"]})
    return _environment().get_template("lifetime.html.j2").render(
        s=summary, sites=sites, plotly_js=_plotly_js(),
        figures=[{"target": "fig-soh", "json": _script_json(soh_figure(health))},
                 {"target": "fig-gti", "json": _script_json(gti_figure(summary))},
                 {"target": "fig-depth", "json": _script_json(depth_figure(summary))}])


def write_lifetime(run_dir: Path, lt, scenario_text: str, sources: dict[str, Path]) -> Path:
    """Write a multi-year run's folder atomically (module docstring)."""
    from twin.report import run_files
    from twin.results import json_writer, run_writers, subfolder_writer, write_folder

    health = lt.health
    writers = {"summary.json": json_writer(lt.summary),
               "battery_health.parquet": lambda p: health.to_parquet(p, index=False),
               "scenario.yaml": lambda p: p.write_text(scenario_text),
               "report.html": lambda p: p.write_text(lifetime_html(lt.summary, health))}
    for y in lt.years:
        r = y.result
        writers[f"year-{y.year}"] = subfolder_writer(
            run_writers(r.summary, r.meters, run_files(r.scenario, r), **r.tables()))
    return write_folder(run_dir, writers, sources)
