"""Resilience: how long a site rides through a grid outage that starts at any hour.

In the spirit of REopt's outage simulator. The site is first run as scheduled (its strategy,
no outage); then, for every outage start (each hour of the horizon, or a seeded sample) and
each duration, it islands with the state it had at that start: the battery's content and the
green share of that content (gti_core's storage pools), the renewables it was offered, and the
load that cannot wait: the interactive requests and every server's idle draw, with their
cooling and aux (training pauses and batch work waits, as the EMS's guard has them while
islanded: their GPUs idle). Slice by slice, renewables serve that load first (a surplus
charges the battery), then the battery down to its floor at its power, then the gensets at
their rating within the fuel on site; what is left is shed, and the site has survived until
the first slice that sheds. Every start is simulated at once, as arrays.

:func:`required_backup_mw` finds the least genset rating with which no outage of a given
length sheds, for ``aidc-twin size --survive-hours``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import site as physics
from twin.inputs import SiteInputs

#: Shed energy below this per slice counts as none (float noise of a balanced slice) [MWh].
SHED_TOL_MWH = 1e-9


@dataclass(frozen=True)
class IslandState:
    """What a site has per slice when an outage may start: the load that cannot wait, the
    renewables offered [MWh], the battery's content at the slice's start [MWh] and its green
    share [fraction]."""

    critical_mwh: np.ndarray
    renewable_mwh: np.ndarray
    content_mwh: np.ndarray
    green_share: np.ndarray


def island_state(inp: SiteInputs, meters: pd.DataFrame, task_energy: pd.DataFrame,
                 tasks: pd.DataFrame, soc_mwh: np.ndarray, slices: pd.DataFrame) -> IslandState:
    """A run's state per slice, from its meters, task energy, task kinds, battery content and
    gti_core's slices (``soc_green_mwh``, ``soc_grey_mwh``)."""
    kind = task_energy["task_id"].map(tasks.set_index("task_id")["kind"])
    gpu = inp.gpu
    # deferrable work's IT energy beyond what its GPUs draw idle: training at board power,
    # batch at serving power
    keep = {"training": gpu.idle_w / gpu.tdp_w, "batch": gpu.idle_w / gpu.serving_w}
    shed = np.zeros(inp.n)
    for k, idle_share in keep.items():
        rows = task_energy[kind == k]
        per_slice = rows.groupby("time")["it_mwh"].sum().reindex(meters["time"], fill_value=0.0)
        shed += per_slice.to_numpy() * (1.0 - idle_share)
    it = meters["it_mwh"].to_numpy()
    critical_it = np.maximum(it - shed, 0.0)
    cooling, aux = physics.non_it_mwh(critical_it, inp.cooling_fraction, inp.aux_fraction)
    start = np.concatenate(([inp.initial_soc_mwh], soc_mwh[:-1]))
    green = slices["soc_green_mwh"].to_numpy()
    pool = green + slices["soc_grey_mwh"].to_numpy()
    share_end = np.divide(green, pool, out=np.zeros_like(green), where=pool > 0)
    share = np.concatenate(([inp.initial_green_fraction], share_end[:-1]))
    return IslandState(critical_it + cooling + aux,
                       (inp.pv_avail_mw + inp.wind_avail_mw) * inp.dt_h, start, share)


def simulate_outages(inp: SiteInputs, state: IslandState, starts: np.ndarray, hours: float,
                     backup_mw: float | None = None, fuel_mwh: float | None = None
                     ) -> pd.DataFrame:
    """Islanding at each slice of ``starts`` for ``hours``: survived hours, energy shed, the
    green share of what was served, backup energy and its fuel.

    ``backup_mw`` and ``fuel_mwh`` replace the site's gensets' rating and the energy its fuel
    gives (for sizing); by default the site's own.
    """
    per = int(round(hours * 60 / inp.slice_minutes))
    b, bat, dt = inp.backup, inp.battery, inp.dt_h
    rating = (b.rating_mw if b else 0.0) if backup_mw is None else backup_mw
    fuel = ((b.tank_l / b.fuel_l_per_mwh if b else 0.0) if fuel_mwh is None else fuel_mwh)
    content = state.content_mwh[starts].astype(float)
    green_pool = content * state.green_share[starts]
    fuel_left = np.full(len(starts), fuel)
    survived = np.full(len(starts), float(per))
    shed_total = np.zeros(len(starts))
    served = green_served = backup_total = np.zeros(len(starts))
    for i in range(per):
        k = starts + i
        load, ren = state.critical_mwh[k], state.renewable_mwh[k]
        from_ren = np.minimum(load, ren)
        gap = load - from_ren
        if bat is not None:
            room = (bat.max_soc_mwh - content) / bat.charge_efficiency
            charge = np.clip(np.minimum(ren - from_ren, bat.power_mw * dt), 0.0,
                             np.maximum(room, 0.0))
            avail = np.maximum((content - bat.min_soc_mwh) * bat.discharge_efficiency, 0.0)
            dis = np.minimum(gap, np.minimum(avail, bat.power_mw * dt))
            drawn = dis / bat.discharge_efficiency
            share = np.divide(green_pool, content, out=np.zeros_like(content), where=content > 0)
            green_pool = green_pool - drawn * share + bat.charge_efficiency * charge
            content = content - drawn + bat.charge_efficiency * charge
        else:
            dis = share = np.zeros(len(starts))
        gap = gap - dis
        gen = np.minimum(gap, np.minimum(rating * dt, fuel_left))
        fuel_left = fuel_left - gen
        gap = gap - gen
        first = (gap > SHED_TOL_MWH) & (survived == per)
        survived = np.where(first, i, survived)
        shed_total = shed_total + np.maximum(gap, 0.0)
        served = served + load - np.maximum(gap, 0.0)
        green_served = green_served + from_ren + dis * share
        backup_total = backup_total + gen
    return pd.DataFrame({
        "start": inp.index[starts], "outage_h": hours, "survived_h": survived * dt,
        "survived": survived == per, "shed_mwh": shed_total,
        "green_share_served": np.divide(green_served, served, out=np.zeros_like(served),
                                        where=served > 0),
        "backup_mwh": backup_total,
        "fuel_l": backup_total * (b.fuel_l_per_mwh if b else 0.0),
        "battery_start_mwh": state.content_mwh[starts]})


def outage_starts(inp: SiteInputs, hours: float, sample: int | None, seed: int) -> np.ndarray:
    """Slices an outage of ``hours`` may start at within the run: each hour's first slice, or
    a seeded sample of ``sample`` of them."""
    per = int(round(hours * 60 / inp.slice_minutes))
    hourly = np.flatnonzero((inp.index.minute == 0) & (np.arange(inp.n) + per <= inp.n))
    if sample is not None and sample < len(hourly):
        hourly = np.sort(np.random.default_rng(seed).choice(hourly, sample, replace=False))
    return hourly


def summarise(table: pd.DataFrame) -> list[dict]:
    """Per outage length: starts, the share survived, the least and mean hours survived, the
    worst start, the mean green share of what was served, and the most fuel burnt."""
    out = []
    for hours, grp in table.groupby("outage_h", sort=True):
        worst = grp.loc[grp["survived_h"].idxmin()]
        out.append({"outage_h": float(hours), "starts": int(len(grp)),
                    "survived_share": float(grp["survived"].mean()),
                    "min_survived_h": float(grp["survived_h"].min()),
                    "mean_survived_h": float(grp["survived_h"].mean()),
                    "worst_start": str(worst["start"]),
                    "mean_green_share_served": float(grp["green_share_served"].mean()),
                    "max_fuel_l": float(grp["fuel_l"].max())})
    return out


def required_backup_mw(inp: SiteInputs, state: IslandState, hours: float,
                       tol_mw: float = 0.01) -> tuple[float, str]:
    """The least genset rating with which no outage of ``hours`` starting at any hour sheds
    (fuel for ``hours`` at that rating), and the start that needs it most [MW]."""
    starts = outage_starts(inp, hours, None, 0)
    hi = float(state.critical_mwh.max()) / inp.dt_h

    def sheds(mw: float) -> pd.DataFrame:
        return simulate_outages(inp, state, starts, hours, mw, mw * hours)

    lo = 0.0
    if sheds(lo)["survived"].all():
        return 0.0, ""
    while hi - lo > tol_mw:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if sheds(mid)["survived"].all() else (mid, hi)
    worst = sheds(lo)
    return hi, str(worst.loc[worst["survived_h"].idxmin(), "start"])


def resilience_html(table: pd.DataFrame, title: str) -> str:
    """Hours survived by the start of the outage, one line per outage length, as a
    self-contained page."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for hours, grp in table.groupby("outage_h", sort=True):
        fig.add_trace(go.Scatter(x=grp["start"], y=grp["survived_h"], mode="lines",
                                 name=f"{hours:g} h outage"))
    fig.update_layout(title=title, template="plotly_white", height=480,
                      yaxis_title="hours survived without shedding",
                      xaxis_title="outage start (UTC)")
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})


def analyse(scn, strategy: str, site: int, hours: list[float], sample: int | None,
            seed: int) -> tuple[pd.DataFrame, dict]:
    """Run the scenario as scheduled, then island site ``site`` at every start for each of
    ``hours``: the table of outcomes and its summary."""
    from twin.run import simulate

    run = simulate(scn, strategy)
    inp, site_run, score = run.inputs[site], run.runs[site], run.scores[site]
    state = island_state(inp, site_run.meters, site_run.task_energy, run.tasks,
                         site_run.soc_mwh, score.slices)
    frames = []
    for h in hours:
        starts = outage_starts(inp, h, sample, seed)
        if not len(starts):
            raise ValueError(f"--outage-hours = {h:g}: longer than the horizon")
        frames.append(simulate_outages(inp, state, starts, h))
    table = pd.concat(frames, ignore_index=True)
    b = inp.backup
    summary = {"scenario": scn.name, "site": inp.name, "strategy": strategy,
               "start": str(inp.index[0]), "slice_minutes": inp.slice_minutes,
               "battery_mwh": inp.battery.energy_mwh if inp.battery else 0.0,
               "backup_mw": b.rating_mw if b else 0.0, "sample": sample, "seed": seed,
               "outages": summarise(table)}
    return table, summary
