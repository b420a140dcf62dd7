"""``aidc-twin size``: size a site's plant for a GTI target (or a frontier of targets), then
simulate the chosen plant with the twin and score it with gti_core."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd

from twin.inputs import build_site_inputs
from twin.optimize.data import horizon_data
from twin.optimize.periods import typical_days
from twin.optimize.sizing import Plant, Sizer, SizingResult, per_mw_profiles, sizing_costs
from twin.run import simulate
from twin.scenario import BatteryConfig, PVConfig, Scenario, ScenarioError, from_dict

FRONTIER_COLUMNS = ["target", "method", "annual_cost", "pv_mw", "wind_mw", "bess_mw",
                    "bess_mwh", "certificates_mwh", "status"]


def parse_frontier(text: str) -> list[float]:
    """``0.5:1.0:0.05`` -> [0.5, 0.55, ..., 1.0]; errors name the option and the value."""
    try:
        lo, hi, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise ScenarioError(f"--frontier = {text!r}: write it as start:stop:step, e.g. "
                            "0.5:1.0:0.05") from None
    if not (0.0 < lo <= hi <= 1.0 and step > 0.0):
        raise ScenarioError(f"--frontier = {text!r}: need 0 < start <= stop <= 1 and step > 0")
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    return [round(lo + k * step, 10) for k in range(n)]


def _scenario_at(scn: Scenario, site: int, minutes: int, days: int | None) -> Scenario:
    """The scenario at the sizing resolution, with PV, wind and a battery present (their sizes
    are what the LP chooses; the configs give the per-MW profiles and efficiencies)."""
    raw = scn.model_dump(exclude={"base_dir"})
    raw["slice_minutes"] = minutes
    if days is not None:
        raw["horizon_days"] = days
    s = raw["sites"][site]
    if s.get("pv") is None:
        s["pv"] = PVConfig(dc_mw=1.25).model_dump()
    if s.get("wind") is None:
        s["wind"] = {"turbine_type": "E-141/4200", "hub_height_m": 135.0, "turbines": 1}
    if s.get("battery") is None:
        s["battery"] = BatteryConfig(power_mw=1.0, energy_mwh=4.0).model_dump()
    raw["sites"] = [s]
    return from_dict(raw, base_dir=scn.base_dir)


def plant_scenario(scn: Scenario, site: int, res: SizingResult, days: int | None) -> Scenario:
    """The scenario with the sized plant built: PV DC from AC by the site's DC/AC ratio, whole
    turbines, and the battery's power and energy."""
    from models.wind import turbine

    raw = scn.model_dump(exclude={"base_dir"})
    if days is not None:
        raw["horizon_days"] = days
    s = raw["sites"][site]
    pv = s.get("pv") or PVConfig(dc_mw=1.25).model_dump()
    pv["dc_mw"] = res.pv_mw * pv.get("dc_ac_ratio", 1.25)
    s["pv"] = pv
    wind = s.get("wind") or {"turbine_type": "E-141/4200", "hub_height_m": 135.0,
                             "turbines": 1}
    unit_mw = turbine(wind["turbine_type"], wind["hub_height_m"]).nominal_power / 1e6
    wind["turbines"] = int(round(res.wind_mw / unit_mw))
    s["wind"] = wind
    bat = s.get("battery") or BatteryConfig(power_mw=1.0, energy_mwh=4.0).model_dump()
    bat["power_mw"], bat["energy_mwh"] = res.bess_mw, res.bess_mwh
    s["battery"] = bat
    raw["sites"] = [s]
    return from_dict(raw, base_dir=scn.base_dir)


def size(scn: Scenario, targets: list[float], method: str = "slice", site: int = 0,
         resolution_min: int = 60, horizon_days: int | None = None,
         recheck_strategy: str | None = "greedy", time_limit_s: float | None = 600.0,
         typical: int | None = None, survive_hours: float | None = None) -> dict:
    """Size the plant for each target; simulate the plant of the first target.

    With ``typical`` the LP sizes on that many typical days (:mod:`twin.optimize.periods`);
    the first target's plant is then dispatched over the whole horizon by the chronological
    LP with its capacities fixed (``full_check``: planned against full-horizon cost and GTI).

    Returns
    -------
    dict
        ``frontier`` (a DataFrame with :data:`FRONTIER_COLUMNS`), ``results`` (SizingResult
        per target), ``battery_enters_at`` (lowest target with a battery, or None),
        ``marginal_cost_last_percent`` ($/a per percentage point at the highest target),
        ``recheck`` (planned vs simulated GTI of the first target's plant), ``full_check``
        (typical days only), ``survive`` (with ``survive_hours``: the gensets with which no
        outage of that length at any hour sheds, and the plant's scenario with them) and
        timings.
    """
    if method not in ("slice", "aggregate"):
        raise ScenarioError(f"--method = {method!r}: must be slice or aggregate")
    if scn.fleet is not None:  # a site sized alone would lose the requests routed to it
        raise ScenarioError("fleet: sizing plans one site alone, and a fleet routes requests "
                            "and moves work between its sites; size a copy of the site "
                            "without the fleet block, with the requests it serves as its own "
                            "workload.interactive")
    at = _scenario_at(scn, site, resolution_min, horizon_days)
    inp = build_site_inputs(at, 0)
    # the sized store starts grey and fills with green: every discharge draws the green pool
    d = horizon_data(inp, at.site_accounting(0).resolved_alpha,
                     discharge_green_fraction=np.ones(inp.n))
    cf_pv, cf_wind = per_mw_profiles(inp)
    b = at.sites[0].battery
    storage = dict(min_soc_fraction=b.min_soc_fraction, max_soc_fraction=b.max_soc_fraction,
                   initial_soc_fraction=b.initial_soc_fraction)
    costs = sizing_costs(scn.sizing)
    tp = None
    if typical is not None:
        try:
            tp, d_tp, pv_tp, wind_tp = typical_days(d, cf_pv, cf_wind, typical, inp.index[0])
        except ValueError as err:
            raise ScenarioError(str(err)) from None
        sizer = Sizer(d_tp, pv_tp, wind_tp, costs, method, targets[0],
                      time_limit_s=time_limit_s, periods=tp, **storage)
    else:
        sizer = Sizer(d, cf_pv, cf_wind, costs, method, targets[0], time_limit_s=time_limit_s,
                      **storage)
    results = [sizer.solve(t) for t in targets]
    top = results[-1]
    marginal = None
    if top.status == "optimal" and top.target - 0.01 > 0:
        below = sizer.solve(round(top.target - 0.01, 10))
        if below.status == "optimal":
            marginal = top.annual_cost - below.annual_cost
    frontier = pd.DataFrame([{k: asdict(r)[k] for k in FRONTIER_COLUMNS} for r in results])
    enters = next((r.target for r in results if r.status == "optimal" and r.bess_mwh > 1e-3),
                  None)
    recheck = None
    first = results[0]
    full_check = None
    if tp is not None and first.status == "optimal":
        whole = Sizer(d, cf_pv, cf_wind, costs, method, first.target, time_limit_s=time_limit_s,
                      fixed=Plant.of(first), **storage).solve(first.target)
        full_check = {"typical_days": tp.k, "days": tp.days, "target": first.target,
                      "planned_cost": first.annual_cost, "full_cost": whole.annual_cost,
                      "cost_error": (first.annual_cost - whole.annual_cost)
                      / whole.annual_cost if whole.status == "optimal" else None,
                      "planned_gti": first.planned_gti, "full_gti": whole.planned_gti,
                      "full_status": whole.status, "full_solve_s": whole.solve_s,
                      "profile_rmse": tp.rmse}
    survive = None
    if (recheck_strategy or survive_hours) and first.status == "optimal":
        plant = plant_scenario(scn, site, first, horizon_days)
        run = simulate(plant, recheck_strategy or "greedy")
        if survive_hours:
            survive = survive_backup(plant, run, survive_hours)
        g = run.summary["gti"]
        recheck = {"strategy": recheck_strategy, "target": first.target, "method": method,
                   "planned_gti": first.planned_gti,
                   "simulated_gti": g["gti_slice"] if method == "slice" else g["gti_aggregate"],
                   "simulated_gti_slice": g["gti_slice"],
                   "simulated_gti_aggregate": g["gti_aggregate"],
                   "simulated_cost": run.summary["kpis"]["cost_total"],
                   "turbines": plant.sites[0].wind.turbines,
                   "slice_minutes": plant.slice_minutes}
    return {"frontier": frontier, "results": results, "battery_enters_at": enters,
            "marginal_cost_last_percent": marginal, "recheck": recheck,
            "full_check": full_check, "survive": survive, "typical_days": typical,
            "resolution_min": resolution_min, "slices": d.n,
            "build_s": sizer.build_s, "solve_s": [r.solve_s for r in results],
            "profiles": {"pv_capacity_factor": float(np.mean(cf_pv)),
                         "wind_capacity_factor": float(np.mean(cf_wind))}}


def frontier_html(frontier: pd.DataFrame, title: str) -> str:
    """The cost curve across targets with the plant at each point, as a self-contained page:
    annual cost [M$/a] over the target (top), and PV, wind, battery power [MW] and battery
    energy [MWh] per target (bottom). Targets that could not be met are left out of the lines
    and named in the hover text."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ok = frontier[frontier["status"] == "optimal"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("annual cost [M$/a]", "plant"))
    fig.add_trace(go.Scatter(x=ok["target"], y=ok["annual_cost"] / 1e6, mode="lines+markers",
                             name="annual cost", line=dict(color="#1d2b22")), row=1, col=1)
    for col, name, colour in (("pv_mw", "PV [MW AC]", "#f4c20d"),
                              ("wind_mw", "wind [MW]", "#3d9bd9"),
                              ("bess_mw", "battery [MW]", "#8e44ad"),
                              ("bess_mwh", "battery [MWh]", "#c39bd3")):
        fig.add_trace(go.Bar(x=ok["target"], y=ok[col], name=name, marker_color=colour),
                      row=2, col=1)
    bad = frontier[frontier["status"] != "optimal"]
    if len(bad):
        fig.add_trace(go.Scatter(x=bad["target"], y=[0.0] * len(bad), mode="markers",
                                 marker=dict(symbol="x", color="#c0392b", size=10),
                                 name="not met", text=bad["status"], hoverinfo="text+x"),
                      row=1, col=1)
    fig.update_layout(title=title, template="plotly_white", barmode="group", height=700)
    fig.update_xaxes(title_text="GTI target", row=2, col=1)
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})


def survive_backup(plant: Scenario, run, hours: float) -> dict:
    """The gensets with which the plant, as its run left it at every hour, rides through an
    outage of ``hours`` without shedding (:func:`twin.resilience.required_backup_mw`), in
    whole sets of the site's unit rating (2.5 MW without one), with fuel for ``hours`` at
    least; and the plant's scenario with them."""
    from twin.resilience import island_state, required_backup_mw

    inp, site_run = run.inputs[0], run.runs[0]
    state = island_state(inp, site_run.meters, site_run.task_energy, run.tasks,
                         site_run.soc_mwh, run.scores[0].slices)
    need_mw, worst = required_backup_mw(inp, state, hours)
    raw = plant.model_dump(exclude={"base_dir"})
    backup = raw["sites"][0]["backup"]
    sets = backup.get("gensets") or {"unit_mw": 2.5}
    units = max(int(np.ceil(need_mw / sets["unit_mw"] - 1e-9)), 0)
    if units:
        sets.update(units=units, tank_hours=max(float(sets.get("tank_hours", 24.0)), hours))
        backup["gensets"] = sets
    sized = from_dict(raw, base_dir=plant.base_dir)
    return {"hours": hours, "required_mw": need_mw, "units": units,
            "unit_mw": sets["unit_mw"], "worst_start": worst, "scenario": sized}
