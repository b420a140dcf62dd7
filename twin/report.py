"""``report.html``: a run as a page people would rather look at than read, and runs side by side.

The page is self-contained: plotly.js is bundled inline, the data is in the page, nothing is
fetched, so it opens from a file, an e-mail or an archive years later. It is built from the run
folder alone (``meters.parquet``, ``summary.json`` and ``scenario.yaml``): the battery's green
and grey content is gti_core's provenance recomputed from the meters, as ``aidc-twin verify``
does.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from gti_core.badge import badge_for_label, badge_svg
from gti_core.score import score_site
from twin.report_fleet import fleet_context, site_rows
from twin.verify import params_from_summary

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def fleet_alpha(summary: dict) -> float | None:
    """The alpha the fleet's badges name: the sites' shared one, None where each has its own."""
    alpha = summary["accounting"]["alpha"]
    return None if isinstance(alpha, dict) else alpha


@cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _script_json(obj) -> str:
    """JSON that is safe inside a ``<script>`` element."""
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return text.replace("</", "<\\/")


def storage_content(slices: list[pd.DataFrame]) -> pd.DataFrame:
    """The battery's green and grey content [MWh] per slice start time, summed over the sites'
    scored slices (gti_core's ``SiteScore.slices``)."""
    cols = ["time", "soc_green_mwh", "soc_grey_mwh"]
    return pd.concat([sl[cols] for sl in slices]).groupby("time", sort=True).sum()


def dispatch_series(meters: pd.DataFrame, summary: dict,
                    content: pd.DataFrame | None = None) -> dict:
    """Per-slice power [MW] of every meter and the battery's green and grey content [MWh],
    summed over the sites, as arrays for the page's week pager. ``content``: the run's own
    :func:`storage_content`; without it the meters are scored again to find it."""
    dt_h = summary["slice_minutes"] / 60.0
    soc_t = content if content is not None else storage_content([
        score_site(rows.reset_index(drop=True), params_from_summary(summary, str(site))).slices
        for site, rows in meters.groupby("site", sort=False)])
    m = meters.groupby("time", sort=True)[[c for c in meters.columns if c.endswith("_mwh")]].sum()
    t = pd.DatetimeIndex(m.index)

    def mw(col):
        return np.round(m[col].to_numpy() / dt_h, 3).tolist()

    return {
        "n": len(m), "slice_minutes": summary["slice_minutes"],
        "t0_ms": int(t[0].value // 1_000_000), "step_ms": int(summary["slice_minutes"] * 60_000),
        "pv_mw": mw("pv_mwh"), "wind_mw": mw("wind_mwh"), "import_mw": mw("grid_import_mwh"),
        "discharge_mw": mw("bess_discharge_mwh"), "charge_mw": mw("bess_charge_mwh"),
        "export_mw": mw("grid_export_mwh"), "curtailed_mw": mw("curtailed_mwh"),
        "it_mw": mw("it_mwh"), "facility_mw": mw("facility_mwh"),
        "soc_green_mwh": np.round(soc_t["soc_green_mwh"].to_numpy(), 3).tolist(),
        "soc_grey_mwh": np.round(soc_t["soc_grey_mwh"].to_numpy(), 3).tolist(),
    }


def monthly_frame(summary: dict) -> pd.DataFrame:
    """Monthly GTI of both methods (the fleet's labels of summary.json), one row per month."""
    labels = pd.DataFrame(summary["levels"]["month"])
    wide = labels.pivot(index="period", columns="method", values="gti").sort_index()
    wide["gap"] = wide["aggregate"] - wide["slice"]
    return wide


def _level_lines(fig, thresholds) -> None:
    for k, th in enumerate(thresholds, start=1):
        fig.add_hline(y=th, line_dash="dot", line_color="#9aa5a0", line_width=1,
                      annotation_text=f"level {k}", annotation_position="right",
                      annotation_font_size=10)


def monthly_figure(summary: dict) -> str:
    import plotly.graph_objects as go

    w = monthly_frame(summary)
    fig = go.Figure([go.Bar(x=w.index, y=w["slice"], name="time-slice", marker_color="#27ae60"),
                     go.Bar(x=w.index, y=w["aggregate"], name="aggregate",
                            marker_color="#a9dfbf")])
    _level_lines(fig, summary["accounting"]["rating_thresholds"])
    fig.update_layout(barmode="group", template="plotly_white", height=340,
                      margin=dict(t=20, r=60, b=40, l=60), yaxis=dict(range=[0, 1.02],
                                                                      title="GTI"),
                      xaxis=dict(type="category"))
    return fig.to_json()


def gap_figure(summary: dict) -> str:
    import plotly.graph_objects as go

    w = monthly_frame(summary)
    fig = go.Figure([go.Bar(x=w.index, y=w["gap"], marker_color="#e67e22",
                            name="aggregate − time-slice")])
    fig.update_layout(template="plotly_white", height=300, margin=dict(t=20, r=20, b=40, l=60),
                      yaxis=dict(title="GTI aggregate − time-slice"), xaxis=dict(type="category"))
    return fig.to_json()


def report_html(run: dict) -> str:
    """The page of one run (``run``: :func:`twin.results.read_run`'s dict, plus
    ``scenario_text`` and, from a run in memory, ``storage_content``)."""
    s = run["summary"]
    g = s["gti"]
    year = s["start"][:4] if s["start"][:4] == s["end"][:4] or s["end"][5:10] == "01-01" else (
        f"{s['start'][:10]} .. {s['end'][:10]}")
    period = year if s["slices"] * s["slice_minutes"] >= 365 * 24 * 60 else (
        f"{s['start'][:10]} .. {s['end'][:10]}")
    alpha = fleet_alpha(s)
    months = [lab for lab in s["levels"]["month"] if lab["method"] == "slice"]
    fleet = fleet_context(run)
    events = events_context(run)
    return _environment().get_template("report.html.j2").render(
        s=s, plotly_js=_plotly_js(),
        badge_slice=badge_svg(g["gti_slice"], "slice", period, g["level_slice"], alpha),
        badge_aggregate=badge_svg(g["gti_aggregate"], "aggregate", period,
                                  g["level_aggregate"], alpha),
        monthly_badges=[badge_for_label(lab) for lab in months],
        series=_script_json(dispatch_series(run["meters"], s, run.get("storage_content"))),
        figures=[{"target": "fig-monthly", "json": _script_json(monthly_figure(s))},
                 {"target": "fig-gap", "json": _script_json(gap_figure(s))},
                 *([{"target": "fig-moved", "json": _script_json(fleet["figure"])}]
                   if fleet is not None else [])],
        sites=site_rows(s) if len(s["sites"]) > 1 else [], fleet=fleet, events=events,
        scenario_text=run.get("scenario_text") or "(this run folder holds no scenario.yaml)")


#: Event-log entries of the site's events (the jobs' own entries are left out).
EVENT_WORDS = ("grid outage", "POI limit", "derate", "demand response", "failed", "repaired",
               "gensets", "UPS")


def events_context(run: dict) -> list[dict]:
    """Per site with events or backup: its resilience block of summary.json, its GTI over the
    whole run, and its event log (time in UTC)."""
    s, out = run["summary"], []
    log = run.get("events")
    for name, site in s["sites"].items():
        res = site.get("resilience")
        if res is None:
            continue
        rows = []
        if log is not None and len(log):
            mine = log[(log["site"] == name)
                       & log["event"].str.contains("|".join(EVENT_WORDS), regex=True)]
            start = pd.Timestamp(s["start"])
            rows = [{"time": str(start + pd.Timedelta(seconds=float(t)))[:19], "event": e}
                    for e, t in zip(mine["event"], mine["time_s"], strict=True)]
        out.append({"site": name, "res": res, "gti_slice": site["gti"]["gti_slice"],
                    "unserved_mwh": site["kpis"]["unserved_mwh"],
                    "backup_mwh": site["kpis"]["backup_mwh"], "log": rows})
    return out


COMPARE_ROWS = (
    ("strategy", lambda s: s["strategy"]),
    ("period", lambda s: f"{s['start'][:10]} .. {s['end'][:10]}"),
    ("GTI time-slice (level)",
     lambda s: f"{s['gti']['gti_slice']:.4f} ({s['gti']['level_slice']})"),
    ("GTI aggregate (level)",
     lambda s: f"{s['gti']['gti_aggregate']:.4f} ({s['gti']['level_aggregate']})"),
    ("temporal-mismatch gap", lambda s: f"{s['gti']['mismatch_gap']:.4f}"),
    ("token GTI", lambda s: f"{s['gti']['gti_token']:.4f}"),
    ("gCO2e per 1,000 tokens", lambda s: f"{s['gti']['gco2e_per_1000_tokens']:.3g}"),
    ("energy cost [$]", lambda s: f"{s['kpis']['cost_total']:,.0f}"),
    ("grid import [MWh]", lambda s: f"{s['kpis']['grid_import_mwh']:,.0f}"),
    ("curtailed [MWh]", lambda s: f"{s['kpis']['curtailed_mwh']:,.0f}"),
    ("peak import [MW]", lambda s: f"{s['kpis'].get('peak_import_mw', float('nan')):,.1f}"),
    ("battery full cycles",
     lambda s: f"{s['kpis'].get('bess_equivalent_full_cycles', float('nan')):.1f}"),
    ("deadline misses", lambda s: f"{s['kpis']['deadline_misses']:.0f}"),
    ("IT energy [MWh]", lambda s: f"{s['kpis']['it_mwh']:,.0f}"),
)


def compare_html(runs: list[dict], labels: list[str]) -> str:
    """Runs side by side: badges, a table of figures, and their monthly GTI."""
    import plotly.graph_objects as go

    fig = go.Figure()
    entries = []
    for run, lab in zip(runs, labels, strict=True):
        s = run["summary"]
        w = monthly_frame(s)
        fig.add_trace(go.Scatter(x=w.index, y=w["slice"], mode="lines+markers",
                                 name=f"{lab} · time-slice"))
        fig.add_trace(go.Scatter(x=w.index, y=w["aggregate"], mode="lines+markers",
                                 name=f"{lab} · aggregate", line=dict(dash="dot")))
        period = f"{s['start'][:10]} .. {s['end'][:10]}"
        alpha = fleet_alpha(s)
        entries.append({"label": lab,
                        "badge_slice": badge_svg(s["gti"]["gti_slice"], "slice", period,
                                                 s["gti"]["level_slice"], alpha),
                        "badge_aggregate": badge_svg(s["gti"]["gti_aggregate"], "aggregate",
                                                     period, s["gti"]["level_aggregate"],
                                                     alpha)})
    _level_lines(fig, runs[0]["summary"]["accounting"]["rating_thresholds"])
    fig.update_layout(template="plotly_white", height=420, yaxis=dict(range=[0, 1.02],
                                                                      title="GTI"),
                      margin=dict(t=20, r=60, b=40, l=60), xaxis=dict(type="category"))
    rows = [(name, [fn(r["summary"]) for r in runs]) for name, fn in COMPARE_ROWS]
    return _environment().get_template("compare.html.j2").render(
        runs=entries, rows=rows, plotly_js=_plotly_js(),
        figures=[{"target": "fig-monthly", "json": _script_json(fig.to_json())}])


def read_for_report(run_dir: Path) -> dict:
    """A run folder's tables, summary and scenario text."""
    from twin.results import read_run

    run = read_run(run_dir)
    scn = Path(run_dir) / "scenario.yaml"
    run["scenario_text"] = scn.read_text() if scn.is_file() else None
    return run


def scenario_text(scn) -> str:
    """A scenario as YAML, every default filled in."""
    import yaml

    return yaml.safe_dump(scn.model_dump(mode="json", exclude={"base_dir"}), sort_keys=False,
                          allow_unicode=True)


def scenario_writer(scn):
    return lambda p: p.write_text(scenario_text(scn))


def run_files(scn, result) -> dict:
    """``scenario.yaml`` (the scenario as run, every default filled in) and ``report.html``."""
    text = scenario_text(scn)
    run = {"summary": result.summary, "meters": result.meters, "scenario_text": text,
           "storage_content": storage_content([sc.slices for sc in result.scores]),
           **result.tables()}
    return {"scenario.yaml": lambda p: p.write_text(text),
            "report.html": lambda p: p.write_text(report_html(run))}
