"""``aidc-twin size``: size a site's plant for a GTI target (or a frontier of targets), then
simulate the chosen plant with the twin and score it with gti_core."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from twin.inputs import build_site_inputs
from twin.optimize.data import horizon_data
from twin.optimize.highs import SolverSettings
from twin.optimize.periods import local_day_start, typical_days
from twin.optimize.sizing import (
    SIZING_SOLVER,
    Plant,
    Sizer,
    SizingResult,
    fixed_plant_solver,
    per_mw_profiles,
    sizing_costs,
)
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


@dataclass(frozen=True)
class SizingProblem:
    """A site's sizing LP inputs at the sizing resolution: LP data, per-MW profiles, costs,
    the battery window and the scenario at that resolution."""

    at: Scenario
    inp: object
    d: object
    cf_pv: np.ndarray
    cf_wind: np.ndarray
    costs: object
    storage: dict

    def sizer(self, method: str, target: float, solver: SolverSettings,
              typical: int | None = None, representation: str = "medoid",
              first_slice: int | None = None) -> tuple[Sizer, object]:
        """The chronological sizer, or (``typical``) the typical-day one, each of the site's
        local days (from local midnight; from slice ``first_slice`` of each day where given)
        represented by tsam's ``representation``, and its clustering."""
        if typical is None:
            return Sizer(self.d, self.cf_pv, self.cf_wind, self.costs, method, target,
                         solver=solver, **self.storage), None
        start = self.inp.index[0]
        if first_slice is None:
            first_slice = local_day_start(start, self.inp.utc_offset_h, self.d.dt_h)
        try:
            tp, d_tp, pv_tp, wind_tp = typical_days(
                self.d, self.cf_pv, self.cf_wind, typical, start, representation, first_slice)
        except ValueError as err:
            raise ScenarioError(str(err)) from None
        return Sizer(d_tp, pv_tp, wind_tp, self.costs, method, target, solver=solver,
                     periods=tp, **self.storage), tp

    def full_check(self, res: SizingResult, tp, solver: SolverSettings) -> dict:
        """A typical-day plant dispatched over every day by the chronological LP with its
        capacities fixed (solved as :func:`twin.optimize.sizing.fixed_plant_solver` says):
        planned against full-horizon cost and GTI, and the method that solved it
        (``full_solver``: ``simplex`` where the interior point stalled and dual simplex took
        over, :meth:`twin.optimize.highs.CompiledLP.solve`)."""
        whole = Sizer(self.d, self.cf_pv, self.cf_wind, self.costs, res.method, res.target,
                      solver=fixed_plant_solver(solver), fixed=Plant.of(res),
                      **self.storage).solve(res.target)
        ok = whole.status == "optimal"
        return {"typical_days": tp.k, "days": tp.days, "first_slice": tp.first_slice,
                "target": res.target,
                "planned_cost": res.annual_cost, "full_cost": whole.annual_cost,
                "cost_error": (res.annual_cost - whole.annual_cost) / whole.annual_cost
                if ok else None, "planned_gti": res.planned_gti, "full_gti": whole.planned_gti,
                "full_status": whole.status, "full_solve_s": whole.solve_s,
                "full_solver": whole.solver,
                "profile_rmse": tp.rmse}


def sizing_problem(scn: Scenario, site: int, resolution_min: int,
                   horizon_days: int | None) -> SizingProblem:
    at = _scenario_at(scn, site, resolution_min, horizon_days)
    inp = build_site_inputs(at, 0)
    # the sized store starts grey and fills with green: every discharge draws the green pool
    d = horizon_data(inp, at.site_accounting(0).resolved_alpha,
                     discharge_green_fraction=np.ones(inp.n))
    cf_pv, cf_wind = per_mw_profiles(inp)
    b = at.sites[0].battery
    storage = dict(min_soc_fraction=b.min_soc_fraction, max_soc_fraction=b.max_soc_fraction,
                   initial_soc_fraction=b.initial_soc_fraction)
    return SizingProblem(at, inp, d, cf_pv, cf_wind, sizing_costs(scn.sizing), storage)


def _simulated(run, method: str) -> dict:
    g = run.summary["gti"]
    return {"simulated_gti": g["gti_slice"] if method == "slice" else g["gti_aggregate"],
            "simulated_gti_slice": g["gti_slice"], "simulated_gti_aggregate": g["gti_aggregate"],
            "simulated_cost": run.summary["kpis"]["cost_total"], "status": "ok"}


def recheck(plant: Scenario, res: SizingResult, strategy: str, oracle: bool = True
            ) -> tuple[dict, object]:
    """The plant simulated at the scenario's resolution and scored by gti_core: with the
    dispatch the plan assumes (the oracle: the cheapest year that reaches the target, for a
    time-slice target) and with ``strategy``, the one the site will run.

    Returns the recheck (``runs``: per strategy the simulated GTI of the sizing method, both
    methods' GTI and the cost, or the status that stopped it) and the strategy's run.
    """
    from twin.optimize import OptimizationInfeasible

    runs, strategy_run = {}, None
    names = ([] if not oracle or strategy == "oracle" else ["oracle"]) + [strategy]
    for name in names:
        target = res.target if name in ("oracle", "mpc") and res.method == "slice" else None
        try:
            run = simulate(plant, name, "cost", target)
        except OptimizationInfeasible as err:
            runs[name] = {"status": f"infeasible: {err}"}
            continue
        runs[name] = _simulated(run, res.method)
        strategy_run = run if name == strategy else strategy_run
    head = runs[strategy]
    return {"strategy": strategy, "target": res.target, "method": res.method,
            "planned_gti": res.planned_gti,
            "simulated_gti": head.get("simulated_gti", float("nan")),
            "runs": runs, "turbines": plant.sites[0].wind.turbines,
            "slice_minutes": plant.slice_minutes}, strategy_run


#: Rounds of :func:`size_for_strategy`: each raises the planned target by the last shortfall.
STRATEGY_ROUNDS = 4


def size_for_strategy(scn: Scenario, site: int, sizer: Sizer, target: float, strategy: str,
                      horizon_days: int | None) -> dict:
    """Size so that the site reaches ``target`` with the strategy it will run, not only with
    the plan's dispatch: plan for ``target``, simulate with ``strategy``, and while the
    simulated GTI falls short, plan again for the target raised by the shortfall (at most 1,
    at most :data:`STRATEGY_ROUNDS` plans). Returns the rounds and the last plant."""
    planned, rounds, res = target, [], None
    for _ in range(STRATEGY_ROUNDS):
        res = sizer.solve(planned)
        if res.status != "optimal":
            rounds.append({"planned_target": planned, "status": res.status})
            break
        got, _ = recheck(plant_scenario(scn, site, res, horizon_days), res, strategy, False)
        gti = got["simulated_gti"]
        rounds.append({"planned_target": planned, "annual_cost": res.annual_cost,
                       "simulated_gti": gti, "status": "optimal"})
        if gti >= target - 1e-4 or planned >= 1.0:
            break
        planned = min(1.0, round(planned + (target - gti), 6))
    last = rounds[-1]
    return {"strategy": strategy, "target": target, "rounds": rounds,
            "reached": last["status"] == "optimal" and last["simulated_gti"] >= target - 1e-4,
            "plant": asdict(Plant.of(res)) if res is not None and res.status == "optimal"
            else None}


def size(scn: Scenario, targets: list[float], method: str = "slice", site: int = 0,
         resolution_min: int = 60, horizon_days: int | None = None,
         recheck_strategy: str | None = "greedy", solver: SolverSettings = SIZING_SOLVER,
         typical: int | None = None, survive_hours: float | None = None,
         oracle_recheck: bool = True, for_strategy: bool = False,
         representation: str = "medoid") -> dict:
    """Size the plant for each target; simulate the plant of the first target.

    With ``typical`` the LP sizes on that many typical days (:mod:`twin.optimize.periods`,
    each represented by tsam's ``representation``);
    the first target's plant is then dispatched over the whole horizon by the chronological
    LP with its capacities fixed (``full_check``: planned against full-horizon cost and GTI).

    Returns
    -------
    dict
        ``frontier`` (a DataFrame with :data:`FRONTIER_COLUMNS`), ``results`` (SizingResult
        per target), ``battery_enters_at`` (lowest target with a battery, or None),
        ``marginal_cost_last_percent`` ($/a per percentage point at the highest target),
        ``recheck`` (:func:`recheck` of the first target's plant), ``full_check`` (typical
        days only), ``for_strategy`` (with ``for_strategy``: :func:`size_for_strategy`),
        ``survive`` (with ``survive_hours``: the gensets with which no outage of that length
        at any hour sheds, and the plant's scenario with them), the solver and timings.
    """
    if method not in ("slice", "aggregate"):
        raise ScenarioError(f"--method = {method!r}: must be slice or aggregate")
    if scn.fleet is not None:  # a site sized alone would lose the requests routed to it
        raise ScenarioError("fleet: sizing plans one site alone, and a fleet routes requests "
                            "and moves work between its sites; size a copy of the site "
                            "without the fleet block, with the requests it serves as its own "
                            "workload.interactive")
    problem = sizing_problem(scn, site, resolution_min, horizon_days)
    sizer, tp = problem.sizer(method, targets[0], solver, typical, representation)
    results = [sizer.solve(t) for t in targets]
    top, first = results[-1], results[0]
    marginal = None
    if top.status == "optimal" and top.target - 0.01 > 0:
        below = sizer.solve(round(top.target - 0.01, 10))
        if below.status == "optimal":
            marginal = top.annual_cost - below.annual_cost
    frontier = pd.DataFrame([{k: asdict(r)[k] for k in FRONTIER_COLUMNS} for r in results])
    enters = next((r.target for r in results if r.status == "optimal" and r.bess_mwh > 1e-3),
                  None)
    ok = first.status == "optimal"
    full_check = problem.full_check(first, tp, solver) if tp is not None and ok else None
    recheck_out = survive = strategy_fit = None
    if (recheck_strategy or survive_hours) and ok:
        plant = plant_scenario(scn, site, first, horizon_days)
        recheck_out, run = recheck(plant, first, recheck_strategy or "greedy", oracle_recheck)
        if survive_hours and run is not None:
            survive = survive_backup(plant, run, survive_hours)
    if for_strategy and ok and recheck_strategy:
        strategy_fit = size_for_strategy(scn, site, sizer, first.target, recheck_strategy,
                                         horizon_days)
    return {"frontier": frontier, "results": results, "battery_enters_at": enters,
            "marginal_cost_last_percent": marginal, "recheck": recheck_out,
            "full_check": full_check, "for_strategy": strategy_fit, "survive": survive,
            "typical_days": typical, "resolution_min": resolution_min, "slices": problem.d.n,
            "solver": sizer.lp.method, "build_s": sizer.build_s,
            "solve_s": [r.solve_s for r in results],
            "profiles": {"pv_capacity_factor": float(np.mean(problem.cf_pv)),
                         "wind_capacity_factor": float(np.mean(problem.cf_wind))}}


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
