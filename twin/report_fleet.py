"""The report's fleet sections: each site's GTI, where regions' requests were served, the work
moved between sites per day, and the training jobs that migrated."""

from __future__ import annotations

import pandas as pd

from gti_core.rating import gti_level


def site_rows(summary: dict) -> list[dict]:
    """One row per site: its GTI by both methods (at its own alpha), IT energy and supply."""
    rows = []
    thresholds = tuple(summary["accounting"]["rating_thresholds"])
    for name, site in summary["sites"].items():
        k, g = site["kpis"], site["gti"]
        alpha = summary["accounting"]["alpha"]
        rows.append({"site": name, "alpha": alpha[name] if isinstance(alpha, dict) else alpha,
                     "gti_slice": g["gti_slice"], "gti_aggregate": g["gti_aggregate"],
                     "level_slice": gti_level(g["gti_slice"], thresholds),
                     "it_mwh": k["it_mwh"],
                     "renewable_mwh": k["pv_mwh"] + k["wind_mwh"],
                     "grid_import_mwh": k["grid_import_mwh"]})
    return rows


def moved_per_day(run: dict) -> pd.DataFrame:
    """Per day: regions' generated tokens served away from their nearest site, by region and
    site [tokens], and training and batch IT energy spent away from each job's home site, by
    site [MWh]."""
    fleet = run["summary"]["fleet"]
    frames = []
    routing = run.get("routing")
    if routing is not None and len(routing):
        nearest = {r: v["nearest_site"] for r, v in fleet["regions"].items()}
        away = routing[routing["site"] != routing["region"].map(nearest)]
        if len(away):
            day = away["time"].dt.floor("D")
            frames.append(away.assign(day=day, what="requests " + away["region"] + " → "
                                      + away["site"], value=away["tokens_out"])
                          [["day", "what", "value"]])
    te, tasks = run.get("task_energy"), run.get("tasks")
    for kind, jobs in (("training", fleet["migrated_jobs"]),
                       ("batch", fleet.get("batch_jobs_moved", []))):
        if te is None or tasks is None or not jobs:
            continue
        home = tasks.set_index("task_id")["site"]
        moved = te[te["task_id"].isin(jobs)]
        moved = moved[moved["site"] != moved["task_id"].map(home)]
        if len(moved):
            frames.append(moved.assign(day=moved["time"].dt.floor("D"),
                                       what=f"{kind} at " + moved["site"],
                                       value=moved["it_mwh"])[["day", "what", "value"]])
    if not frames:
        return pd.DataFrame(columns=["day", "what", "value"])
    return pd.concat(frames).groupby(["day", "what"], as_index=False)["value"].sum()


def moved_figure(run: dict) -> str:
    """Bars per day: requests served away from their nearest site [1e9 output tokens] above,
    training and batch IT energy away from home [MWh] below."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    daily = moved_per_day(run)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("requests served away from the nearest site "
                                        "[billion output tokens per day]",
                                        "training and batch IT energy away from the job's "
                                        "home [MWh/day]"))
    for what, grp in daily.groupby("what", sort=True):
        energy = not what.startswith("requests")
        fig.add_trace(go.Bar(x=grp["day"], y=grp["value"] / (1.0 if energy else 1e9),
                             name=what), row=2 if energy else 1, col=1)
    fig.update_layout(barmode="stack", template="plotly_white", height=460,
                      margin=dict(t=40, r=20, b=40, l=60))
    return fig.to_json()


def fleet_context(run: dict) -> dict | None:
    """What the report's fleet sections show (None for a run without a fleet)."""
    s = run["summary"]
    if "fleet" not in s:
        return None
    f = s["fleet"]
    return {"strategy": f["strategy"], "regions": f["regions"], "moves": f["moves"],
            "migrations": f["migrations"], "transfer_mwh": f["transfer_mwh"],
            "batch_moves": f.get("batch_moves", 0), "batch_sent": f.get("batch_sent", []),
            "figure": moved_figure(run)}
