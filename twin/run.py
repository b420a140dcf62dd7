"""One run: build inputs, simulate every site, check invariants, score with gti_core, summarise."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gti_core.contracts import contracts_to_table, retire_all
from gti_core.emissions import carbon_totals, site_carbon
from gti_core.ledger import CertificateLedger, LedgerError
from gti_core.policy import RatioOptions, green_power_ratio
from gti_core.score import AccountingParams, SiteScore, score_site
from gti_core.storage import StorageParams
from gti_core.summary import gti_summary, meter_kpis, score_tasks
from twin import __version__
from twin.connection import connection_flows, connection_summary, flow_table, meters_at_poi
from twin.dispatch import Strategy, StrategyOptions, make_strategy, strategy_problem
from twin.dispatch.fleet import FleetInputs
from twin.engine import SimulationError, SiteRun, simulate_fleet, simulate_sites
from twin.engine.records import join_task_records
from twin.fleet import (
    check_routing,
    fleet_inputs,
    fleet_strategy,
    fleet_summary,
    nearest_routing,
    routing_frame,
    served_inputs,
)
from twin.gcpause import paused_gc
from twin.inputs import SiteInputs, build_site_inputs
from twin.invariants import check_all
from twin.optimize.data import horizon_data
from twin.scenario import Scenario, ScenarioError


@dataclass
class RunResult:
    scenario: Scenario
    strategy: str
    inputs: list[SiteInputs]
    runs: list[SiteRun]
    scores: list[SiteScore]
    params: list[AccountingParams]
    meters: pd.DataFrame
    task_energy: pd.DataFrame
    tasks: pd.DataFrame
    signals: pd.DataFrame  # per-slice inputs: available supply, prices, grid share and carbon
    network: pd.DataFrame | None  # per-slice power-flow results and flags, when modelled
    summary: dict
    routing: pd.DataFrame | None = None  # a fleet's requests per region, site and slice
    contracts: dict = dataclasses.field(default_factory=dict)  # site -> its instruments

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the run folder but the meters, by file stem."""
        events = pd.DataFrame([(r.site, e, t) for r in self.runs for e, t in r.events],
                              columns=["site", "event", "time_s"])
        out = {"tasks": self.tasks, "task_energy": self.task_energy, "events": events,
               "inputs": self.signals}
        if self.network is not None:
            out["network"] = self.network
        if self.routing is not None:
            out["routing"] = self.routing
        if any(self.contracts.values()):
            out["contracts"] = contracts_to_table(self.contracts)
        return out


def site_carbons(runs: list[SiteRun], inputs: list[SiteInputs], params: list[AccountingParams],
                 contracts: dict[str, list]) -> dict[str, pd.DataFrame]:
    """Each site's carbon per slice under both Scope 2 methods (spec section 11)."""
    return {r.site: site_carbon(
        r.meters, inp.grid_carbon_kg_per_mwh, p.storage, contracts[r.site],
        None if inp.residual_mix_kg_per_mwh is None
        else np.full(inp.n, inp.residual_mix_kg_per_mwh),
        inp.backup.emission_kg_per_mwh if inp.backup else 0.0)
        for r, inp, p in zip(runs, inputs, params, strict=True)}


def site_contracts(scn: Scenario) -> dict[str, list]:
    """Each site's off-site instruments (spec section 5), profiles read from the scenario's
    folder, each retired once in a ledger (unique attribution: an instrument claimed by two
    sites is refused); a bad declaration is refused naming it."""
    from twin.site_score import contract_from_config

    out, ledger = {}, CertificateLedger()
    for k, site in enumerate(scn.sites):
        try:
            out[site.name] = [contract_from_config(c, scn.base_dir) for c in site.contracts]
            retire_all(ledger, site.name, "the run", out[site.name])
        except (ScenarioError, ValueError, LedgerError) as err:
            raise ScenarioError(f"sites[{k}].contracts: {err}") from None
    return out


def accounting_params(scn: Scenario, inp: SiteInputs) -> AccountingParams:
    """The gti_core parameters of one site: its accounting (the scenario's block, or the site's
    own alpha and granularity) and its battery."""
    acc = scn.site_accounting(site_index(scn, inp.name))
    b = inp.battery
    storage = StorageParams(
        charge_efficiency=b.charge_efficiency if b else 1.0,
        discharge_efficiency=b.discharge_efficiency if b else 1.0,
        self_discharge_per_slice=b.self_discharge_per_slice if b else 0.0,
        initial_soc_mwh=inp.initial_soc_mwh,
        initial_green_fraction=inp.initial_green_fraction,
        rule=acc.storage_rule,
    )
    return acc.params(storage)


def site_index(scn: Scenario, name: str) -> int:
    """The position of site ``name`` in the scenario."""
    return next(k for k, site in enumerate(scn.sites) if site.name == name)


def strategy_options(scn: Scenario, params: AccountingParams, objective: str | None = None,
                     gti_target: float | None = None) -> StrategyOptions:
    """The scenario's optimizer settings (with command-line overrides) for one site."""
    o = scn.optimizer
    return StrategyOptions(
        objective=objective or o.objective,
        gti_target=gti_target if gti_target is not None else o.gti_target,
        accounting=params, mpc_horizon_h=o.mpc_horizon_h, mpc_step_h=o.mpc_step_h,
        forecast=o.forecast, forecast_noise_sigma=o.forecast_noise_sigma, seed=o.seed,
        low_quantile=o.low_quantile, high_quantile=o.high_quantile)


def check_networks(scn: Scenario) -> list:
    """Build every site's grid connection once, before any work: a network file that is not
    pandapower's, or a line or transformer type it does not know, is refused naming it.
    Returns the networks, one per site (None for a site without one), for its power flows."""
    from models.network import load_network

    nets = []
    for k, site in enumerate(scn.sites):
        if site.grid.network is None:
            nets.append(None)
            continue
        cfg = site.grid.network
        try:
            nets.append(load_network(cfg, scn.base_dir))
        except (FileNotFoundError, ValueError) as err:  # ours: they name the field
            raise ScenarioError(f"sites[{k}].{str(err).splitlines()[0]}") from None
        except Exception as err:  # noqa: BLE001  (pandapower's, on building the radial network)
            raise ScenarioError(
                f"sites[{k}].grid.network: pandapower cannot build the connection "
                f"(line_std_type = {cfg.line_std_type!r}: {str(err).splitlines()[0]})") from None
    return nets


def check_run_options(scn: Scenario, name: str, objective: str | None,
                      gti_target: float | None, make) -> None:
    """Refuse a run's options before any work (:func:`simulate`'s parameters)."""
    problem = strategy_problem(name) if make is None else None
    if problem:
        raise ScenarioError(problem)
    if make is not None and scn.fleet is not None:
        raise ScenarioError("fleet: a strategy made by the caller dispatches one site")
    if objective is not None and objective not in ("cost", "gti"):
        raise ScenarioError(f"objective = {objective!r}: must be 'cost' or 'gti'")
    if gti_target is not None and not 0.0 < gti_target <= 1.0:
        raise ScenarioError(f"gti_target = {gti_target}: must lie in (0, 1]")


@paused_gc()
def simulate(scn: Scenario, strategy: str | None = None, objective: str | None = None,
             gti_target: float | None = None,
             make: Callable[[StrategyOptions], Strategy] | None = None) -> RunResult:
    """Simulate a scenario with a strategy and score it.

    Parameters
    ----------
    scn : Scenario
        The validated scenario.
    strategy : str, optional
        Dispatch strategy name; the scenario's ``strategy`` when omitted.
    objective : str, optional
        ``cost`` or ``gti``; the scenario's ``optimizer.objective`` when omitted.
    gti_target : float, optional
        Time-slice GTI the optimizers must reach (objective ``cost``).
    make : callable, optional
        Builds each site's strategy from its options, in place of the registry (the
        Gymnasium environment's hand-over); ``strategy`` then only names it in the summary.

    Returns
    -------
    RunResult
        Meters, tasks and the summary of the run, with every invariant checked.
    """
    name = strategy or scn.strategy
    check_run_options(scn, name, objective, gti_target, make)
    t0 = time.perf_counter()
    contracts = site_contracts(scn)  # read before any work: a bad profile stops the run here
    nets = check_networks(scn)  # and a connection that cannot be built
    inputs = [build_site_inputs(scn, k) for k in range(len(scn.sites))]
    if scn.fleet is not None:
        inputs, regions, links = fleet_inputs(scn, inputs)
    params = [accounting_params(scn, inp) for inp in inputs]
    t1 = time.perf_counter()
    build = make if make is not None else (lambda opts: make_strategy(name, opts))
    strategies = [build(strategy_options(scn, p, objective, gti_target)) for p in params]
    fleet_block, routing, fleet_decide_s = None, None, 0.0
    if scn.fleet is None:
        runs = simulate_sites(list(zip(inputs, strategies, strict=True)))
    else:
        fleet_rule = fleet_strategy(scn, name, strategy_options(scn, params[0], objective,
                                                                gti_target))
        t_plan = time.perf_counter()
        fleet_rule.prepare(FleetInputs(inputs, regions, links, params))
        t_plan = time.perf_counter() - t_plan
        strategies = [fleet_rule.site_strategy(inp.name, st)
                      for inp, st in zip(inputs, strategies, strict=True)]
        planned = (served_inputs(inputs, nearest_routing(inputs, regions))
                   if fleet_rule.routes_ahead else None)
        runs, fleet = simulate_fleet(list(zip(inputs, strategies, strict=True)), regions, links,
                                     fleet_rule, planned)
        routing = routing_frame(fleet.routing, inputs[0].index)
        check_routing(routing, regions, inputs[0].index)
        inputs = served_inputs(inputs, routing)
        fleet_block = fleet_summary(fleet, routing, regions, fleet_rule, inputs[0].index[0])
        fleet_decide_s = t_plan + fleet.decide_s
        plan = fleet_rule.report()
        if plan:
            fleet_block["plan"] = plan
    t2 = time.perf_counter()
    connections = {}
    for k, (run, site, net) in enumerate(zip(runs, scn.sites, nets, strict=True)):
        if net is not None:
            try:
                flows = connection_flows(run.meters, site, scn.slice_minutes, net)
            except ValueError as err:
                raise ScenarioError(f"sites[{k}].{err}") from None
            run.meters = meters_at_poi(run.meters, flows, scn.slice_minutes,
                                       run.resilience.get("grid_up_fraction"))
            connections[site.name] = flow_table(site, run.meters["time"], flows)
    t_net = time.perf_counter()
    scores = [score_site(r.meters, p, contracts[r.site])
              for r, p in zip(runs, params, strict=True)]
    for r, s, inp in zip(runs, scores, inputs, strict=True):
        check_all(r, s, inp)
    meters = pd.concat([r.meters for r in runs], ignore_index=True)
    task_energy = pd.concat([r.task_energy for r in runs], ignore_index=True)
    signals = inputs_frame(inputs, [p.alpha for p in params])
    carbon = site_carbons(runs, inputs, params, contracts)
    tasks = _tasks_table(runs, task_energy, scores, carbon, scn.slice_minutes)
    t3 = time.perf_counter()
    timings = {"inputs_s": t1 - t0, "simulate_s": t2 - t1, "power_flow_s": t_net - t2,
               "score_s": t3 - t_net}
    if scn.fleet is not None:
        timings["fleet_decide_s"] = fleet_decide_s
    summary = build_summary(scn, name, inputs, runs, scores, params, tasks, timings, contracts,
                            carbon)
    summary["objective"] = objective or scn.optimizer.objective
    if fleet_block is not None:
        summary["fleet"] = fleet_block
    for inp, strat in zip(inputs, strategies, strict=True):
        report = strat.report()
        if report:  # rules that plan nothing report nothing
            summary["sites"][inp.name]["strategy"] = report
    for site_name, table in connections.items():
        summary["sites"][site_name]["connection"] = connection_summary(table, scn.slice_minutes)
    check_finite(summary)
    network = pd.concat(connections.values(), ignore_index=True) if connections else None
    return RunResult(scn, name, inputs, runs, scores, params, meters, task_energy, tasks, signals,
                     network, summary, routing, contracts)


def inputs_frame(inputs: list[SiteInputs], alphas: list[float]) -> pd.DataFrame:
    """The per-slice data the run saw, per site (written as inputs.parquet): what the oracle
    optimises over, so that its optimum can be checked independently (mpc sees forecasts of
    the same columns)."""
    frames = []
    for inp, alpha in zip(inputs, alphas, strict=True):
        d = horizon_data(inp, alpha)
        frames.append(pd.DataFrame({
            "time": inp.index, "site": inp.name,
            "pv_available_mwh": inp.pv_avail_mw * inp.dt_h,
            "wind_available_mwh": inp.wind_avail_mw * inp.dt_h,
            "temp_air_c": inp.temp_air_c,
            "price_usd_per_mwh": inp.price_usd_per_mwh,
            "grid_share": inp.grid_share,
            "grid_carbon_kg_per_mwh": inp.grid_carbon_kg_per_mwh,
            "interactive_tokens_in": inp.interactive_tokens_in,
            "interactive_tokens_out": inp.interactive_tokens_out,
            "base_it_mwh": d.it_base_mwh,
            "nonit_per_it": d.nonit_per_it,
            "free_gpu_s": d.free_gpu_s,
            "batch_released_gpu_s": d.release_gpu_s,
            "batch_may_wait_gpu_s": d.not_due_gpu_s,
            "max_import_mwh": d.max_import_mwh,
            "max_export_mwh": d.max_export_mwh,
            "export_price_usd_per_mwh": d.export_price_usd_per_mwh,
        }))
    return pd.concat(frames, ignore_index=True)


def check_finite(summary: dict) -> None:
    """Refuse a result that is not a number: inputs so large that a sum overflowed double
    precision end here as a one-line error (SimulationError), never as a written NaN."""
    stack: list[tuple[str, object]] = [("", summary)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, float) and not np.isfinite(value):
            raise SimulationError(
                f"the result's {path} is {value}: an input is too large for double precision "
                "(scale the scenario down)")


def _tasks_table(runs: list[SiteRun], task_energy: pd.DataFrame, scores: list[SiteScore],
                 carbon: dict[str, pd.DataFrame], slice_minutes: int) -> pd.DataFrame:
    """One row per task: gti_core's ratios, tokens and emissions (``carbon``: each site's
    :func:`gti_core.emissions.site_carbon`), the engine's facts (kind, deadline)."""
    per_task = score_tasks(task_energy, scores, pd.concat(
        [c.assign(site=site) for site, c in carbon.items()], ignore_index=True))
    span = task_energy.groupby("task_id", sort=False).agg(
        site=("site", "first"), start=("time", "min"), last=("time", "max"))
    # every site a task used, in the order it first used them (a migrated job has several)
    # (joined only for the tasks that used several: a join per task is most of this table's
    # time on a year of per-slice interactive tasks)
    used = task_energy[["task_id", "site"]].drop_duplicates()
    several = used[used["task_id"].duplicated(keep=False)]
    span["sites"] = span["site"]
    if len(several):
        joined = several.groupby("task_id", sort=False)["site"].agg(",".join)
        span.loc[joined.index, "sites"] = joined
    records = join_task_records([r.tasks for r in runs])
    out = per_task.set_index("task_id").join(span).join(records.drop(columns="site"),
                                                         how="outer")
    out["site"] = out["site"].fillna(records["site"])  # a job that never ran has no energy rows
    out["sites"] = out["sites"].fillna(out["site"])
    out["end"] = out["last"] + pd.Timedelta(minutes=slice_minutes)
    for col in ("tokens_in", "tokens_out", "it_mwh", "it_with_idle_mwh", "r_task",
                "r_task_aggregate", "emissions_kg", "emissions_market_kg"):
        out[col] = out[col].fillna(0.0)
    out = out.reset_index()
    cols = ["task_id", "kind", "site", "sites", "start", "end", "tokens_in", "tokens_out", "it_mwh",
            "it_with_idle_mwh", "r_task", "r_task_aggregate", "emissions_kg",
            "emissions_market_kg", "deadline",
            "deadline_met", "tokens_late", "overhead_gpu_s"]
    return out[cols]


def build_summary(scn: Scenario, strategy: str, inputs: list[SiteInputs], runs: list[SiteRun],
                  scores: list[SiteScore], params: list[AccountingParams], tasks: pd.DataFrame,
                  timings: dict, contracts: dict | None = None,
                  carbon: dict | None = None) -> dict:
    """The run's summary.json: gti_core's accounting blocks plus the twin's KPIs (``contracts``:
    each site's instruments; ``carbon``: each site's per-slice carbon, spec section 11)."""
    contracts = contracts or {inp.name: [] for inp in inputs}
    granularities = [scn.site_accounting(k).grid_data_granularity for k in range(len(inputs))]
    acc = gti_summary(scores, params, granularities, tasks)
    site_kpis = {}
    for inp, run, score, p in zip(inputs, runs, scores, params, strict=True):
        site_kpis[inp.name] = _kpis(inp, run, tasks[tasks["site"] == inp.name])
        if carbon is not None:
            site_kpis[inp.name].update(carbon_totals(carbon[inp.name]))
        acc["sites"][inp.name] = {"weather": inp.weather_source, **acc["sites"][inp.name],
                                  "kpis": site_kpis[inp.name]}
        if inp.events.any or inp.backup is not None:
            acc["sites"][inp.name]["resilience"] = resilience_block(inp, run, score)
        acc["sites"][inp.name]["measures"] = rule_measures(run, p, contracts[inp.name])
    per_site_only = ("pv_capacity_factor", "wind_capacity_factor", "pue", "peak_import_mw",
                     "bess_equivalent_full_cycles")
    kpis = {key: float(sum(k[key] for k in site_kpis.values()))
            for key in next(iter(site_kpis.values())) if key not in per_site_only}
    kpis["pue"] = kpis["facility_mwh"] / kpis["it_mwh"] if kpis["it_mwh"] else 0.0
    # the fleet's coincident peak, and cycles of its batteries' total energy
    imports = pd.concat([r.meters[["time", "grid_import_mwh"]] for r in runs])
    kpis["peak_import_mw"] = float(imports.groupby("time")["grid_import_mwh"].sum().max()
                                   / inputs[0].dt_h)
    energy = sum(inp.battery.energy_mwh for inp in inputs if inp.battery)
    kpis["bess_equivalent_full_cycles"] = (kpis["bess_discharge_mwh"] / energy if energy
                                           else 0.0)
    # the sites' strategies, and a fleet strategy's planning, routing and migrations
    decide_s = sum(r.decide_s for r in runs) + timings.get("fleet_decide_s", 0.0)
    timings = {**timings, "decide_s": decide_s,
               "decision_ms_per_slice": 1000.0 * decide_s / sum(inp.n for inp in inputs)}
    return {
        "aidc_twin_version": __version__,
        "scenario": scn.name,
        "strategy": strategy,
        "slice_minutes": scn.slice_minutes,
        "start": str(inputs[0].index[0]),
        "end": str(inputs[0].index[-1] + pd.Timedelta(minutes=scn.slice_minutes)),
        "slices": int(inputs[0].n),
        **{k: acc[k] for k in ("accounting", "gti", "levels")},
        "kpis": kpis,
        "sites": acc["sites"],
        "timings_s": {k: round(v, 3 if k.endswith("_s") else 5) for k, v in timings.items()},
    }


def rule_measures(run: SiteRun, params: AccountingParams, contracts: list) -> dict:
    """A site's rule measures over the run (spec section 10) beside its GTI: the green power
    ratio as a hub-node rule counts it (no grid share, contracts at face value) and with the
    grid's share at the site's alpha."""
    with_grid = RatioOptions(count_grid_share=True)
    return {
        "green_power_ratio": float(green_power_ratio(run.meters, params, contracts,
                                                     period="run").iloc[0]),
        "green_power_ratio_with_grid_share": float(green_power_ratio(
            run.meters, params, contracts, with_grid, "run").iloc[0]),
    }


def resilience_block(inp: SiteInputs, run: SiteRun, score: SiteScore) -> dict:
    """A site's events in summary.json: hours without the grid, backup energy, fuel and its
    emissions, what was shed, the time-slice GTI over the slices the grid was up in full
    (outage periods left out), and each demand-response call."""
    r = run.resilience
    up = np.asarray(r["grid_up_fraction"]) >= 1.0 - 1e-9
    s = score.slices
    it = s["it_mwh"].to_numpy()[up]
    green = (s["g_it"] + s["g_contract"]).to_numpy()[up]
    return {
        "grid_down_h": float((1.0 - np.asarray(r["grid_up_fraction"])).sum() * inp.dt_h),
        "gti_slice_grid_up": float(green.sum() / it.sum()) if it.sum() > 0 else 0.0,
        **{k: v for k, v in r.items() if k != "grid_up_fraction"},
        "failures": sum(1 for name, _ in run.events if name.endswith(" failed")),
    }


def _kpis(inp: SiteInputs, run: SiteRun, tasks: pd.DataFrame) -> dict[str, float]:
    m = run.meters
    batch = tasks[tasks["kind"] == "batch"]
    training = tasks[tasks["kind"] == "training"]
    deferrable = tasks[tasks["kind"] != "interactive"]
    kpis = {
        **meter_kpis(m, inp.price_usd_per_mwh, inp.export_price_usd_per_mwh,
                     inp.grid_carbon_kg_per_mwh),
        "pv_available_mwh": float(inp.pv_avail_mw.sum() * inp.dt_h),
        "wind_available_mwh": float(inp.wind_avail_mw.sum() * inp.dt_h),
        "peak_import_mw": float(m["grid_import_mwh"].max() / inp.dt_h),
        "tokens_in": float(tasks["tokens_in"].sum()),
        "tokens_out": float(tasks["tokens_out"].sum()),
        "idle_it_mwh": float(m["it_mwh"].sum() - tasks["it_mwh"].sum()),
        "batch_jobs": float(len(batch)),
        "training_jobs": float(len(training)),
        "training_tokens": float(training["tokens_in"].sum()),
        "training_overhead_gpu_hours": float(training["overhead_gpu_s"].sum() / 3600.0),
        "deadline_misses": float((~deferrable["deadline_met"].astype(bool)).sum()),
        "tokens_late": float(deferrable["tokens_late"].sum()),
        "interactive_tokens_shed": run.resilience.get("shed_tokens_out", 0.0),
        "pue": float(m["facility_mwh"].sum() / m["it_mwh"].sum()) if m["it_mwh"].sum() else 0.0,
        "bess_equivalent_full_cycles": (float(m["bess_discharge_mwh"].sum()
                                               / inp.battery.energy_mwh)
                                         if inp.battery and inp.battery.energy_mwh else 0.0),
        "pv_capacity_factor": (float(inp.pv_avail_mw.mean() / inp.pv_ac_mw)
                               if inp.pv_ac_mw else 0.0),
        "wind_capacity_factor": (float(inp.wind_avail_mw.mean() / inp.wind_nameplate_mw)
                                 if inp.wind_nameplate_mw else 0.0),
    }
    return kpis
