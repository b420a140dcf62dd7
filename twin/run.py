"""One run: build inputs, simulate every site, check invariants, score with gti_core, summarise."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gti_core.rating import gti_level, label
from gti_core.score import AccountingParams, SiteScore, labels_for, score_site
from gti_core.storage import StorageParams
from gti_core.tokens import task_green_ratios, token_gti
from twin import __version__
from twin.dispatch import make_strategy
from twin.engine import SiteRun, simulate_site
from twin.inputs import SiteInputs, build_site_inputs
from twin.invariants import check_all
from twin.scenario import Scenario


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
    summary: dict


def accounting_params(scn: Scenario, inp: SiteInputs) -> AccountingParams:
    """The gti_core parameters of one site: the scenario's accounting and the site's battery."""
    acc = scn.accounting
    b = inp.battery
    storage = StorageParams(
        charge_efficiency=b.charge_efficiency if b else 1.0,
        discharge_efficiency=b.discharge_efficiency if b else 1.0,
        self_discharge_per_slice=b.self_discharge_per_slice if b else 0.0,
        initial_mwh=inp.initial_soc_mwh,
        initial_green_fraction=inp.initial_green_fraction,
        rule=acc.storage_rule,
    )
    return AccountingParams(alpha=acc.resolved_alpha, allocation=acc.allocation, storage=storage,
                            export_retained=acc.export_attributes == "retained",
                            thresholds=acc.rating.thresholds)


def simulate(scn: Scenario, strategy: str | None = None) -> RunResult:
    """Simulate a scenario with a strategy and score it.

    Parameters
    ----------
    scn : Scenario
        The validated scenario.
    strategy : str, optional
        Dispatch strategy name; the scenario's ``strategy`` when omitted.

    Returns
    -------
    RunResult
        Meters, tasks and the summary of the run, with every invariant checked.
    """
    name = strategy or scn.strategy
    t0 = time.perf_counter()
    inputs = [build_site_inputs(scn, k) for k in range(len(scn.sites))]
    t1 = time.perf_counter()
    runs = [simulate_site(inp, make_strategy(name)) for inp in inputs]
    t2 = time.perf_counter()
    params = [accounting_params(scn, inp) for inp in inputs]
    scores = [score_site(r.meters, p) for r, p in zip(runs, params, strict=True)]
    for r, s, inp in zip(runs, scores, inputs, strict=True):
        check_all(r, s, inp)
    meters = pd.concat([r.meters for r in runs], ignore_index=True)
    task_energy = pd.concat([r.task_energy for r in runs], ignore_index=True)
    tasks = _tasks_table(runs, scores)
    t3 = time.perf_counter()
    timings = {"inputs_s": t1 - t0, "simulate_s": t2 - t1, "score_s": t3 - t2}
    summary = build_summary(scn, name, inputs, runs, scores, params, tasks, timings)
    return RunResult(scn, name, inputs, runs, scores, params, meters, task_energy, tasks, summary)


def _tasks_table(runs: list[SiteRun], scores: list[SiteScore]) -> pd.DataFrame:
    ratios = pd.concat([s.slices.assign(site=s.site)[["site", "time", "it_mwh", "r_dc"]]
                        for s in scores], ignore_index=True)
    task_energy = pd.concat([r.task_energy for r in runs], ignore_index=True)
    per_task = task_green_ratios(task_energy, ratios)
    span = task_energy.groupby("task_id", sort=False).agg(
        site=("site", "first"), start=("time", "min"), last=("time", "max"))
    records = pd.concat([r.tasks for r in runs], ignore_index=True).set_index("task_id")
    out = per_task.set_index("task_id").join(span).join(records, how="outer")
    slice_len = {r.site: r.meters["time"].diff().dropna().iloc[0] if len(r.meters) > 1
                 else pd.Timedelta(minutes=15) for r in runs}
    out["end"] = out["last"] + out["site"].map(slice_len)
    for col in ("tokens_in", "tokens_out", "it_mwh", "it_with_idle_mwh", "r_task"):
        out[col] = out[col].fillna(0.0)
    out = out.reset_index()
    cols = ["task_id", "kind", "site", "start", "end", "tokens_in", "tokens_out", "it_mwh",
            "it_with_idle_mwh", "r_task", "deadline", "deadline_met", "tokens_out_late"]
    return out[cols]


def _common(values: dict[str, float]) -> float | dict[str, float]:
    """One value when every site shares it, else the mapping site -> value."""
    distinct = set(values.values())
    return next(iter(distinct)) if len(distinct) == 1 else values


def _fleet(frames: list[tuple[pd.DataFrame, str]]) -> pd.DataFrame:
    """Fleet GTI from per-site figures: slice GTI weighted by IT energy, aggregate GTI by its own
    denominator (IT under it_first, facility under pro_rata), so the fleet equals the energy-
    weighted mean of the sites."""
    parts = []
    for f, allocation in frames:
        agg_denom = f["it_mwh"] if allocation == "it_first" else f["facility_mwh"]
        parts.append(pd.DataFrame({"it": f["it_mwh"], "agg_denom": agg_denom,
                                   "slice": f["gti_slice"] * f["it_mwh"],
                                   "aggregate": f["gti_aggregate"] * agg_denom}))
    total = pd.concat(parts).groupby(level=0, sort=True).sum()
    out = pd.DataFrame(index=total.index)
    for m, d in (("slice", total["it"].to_numpy()), ("aggregate", total["agg_denom"].to_numpy())):
        out[f"gti_{m}"] = np.divide(total[m].to_numpy(), d, out=np.zeros(len(d)), where=d > 0)
    return out


def fleet_periods(scores: list[SiteScore], params: list[AccountingParams],
                  period: str) -> pd.DataFrame:
    """Both methods per period over all sites (see :func:`_fleet`)."""
    return _fleet([(s.periods[period], p.allocation) for s, p in zip(scores, params, strict=True)])


def build_summary(scn: Scenario, strategy: str, inputs: list[SiteInputs], runs: list[SiteRun],
                  scores: list[SiteScore], params: list[AccountingParams], tasks: pd.DataFrame,
                  timings: dict) -> dict:
    """The run's summary.json content."""
    acc = scn.accounting
    alpha = acc.resolved_alpha
    th = acc.rating.thresholds
    sites = {}
    for inp, run, sc, p in zip(inputs, runs, scores, params, strict=True):
        site_tasks = tasks[tasks["site"] == inp.name]
        sites[inp.name] = {
            "weather": inp.weather_source,
            "gti": {
                "gti_slice": sc.gti_slice,
                "gti_aggregate": sc.gti_aggregate,
                "mismatch_gap": sc.gti_aggregate - sc.gti_slice,
                "gti_token": token_gti(site_tasks),
            },
            "levels": {per: labels_for(sc, p, per) for per in ("year", "quarter", "month")},
            "kpis": _kpis(inp, run, site_tasks),
            "storage": {
                "charge_efficiency": p.storage.charge_efficiency,
                "discharge_efficiency": p.storage.discharge_efficiency,
                "self_discharge_per_slice": p.storage.self_discharge_per_slice,
                "initial_storage_mwh": p.storage.initial_mwh,
                "initial_storage_green_fraction": p.storage.initial_green_fraction,
            },
        }
    fleet_months = fleet_periods(scores, params, "month")
    fleet_run = _fleet_run(scores, params)
    kpis = {}
    for key in sites[inputs[0].name]["kpis"]:
        if key in ("pv_capacity_factor", "wind_capacity_factor", "pue"):
            continue
        kpis[key] = float(sum(s["kpis"][key] for s in sites.values()))
    storage = {k: _common({n: s["storage"][k] for n, s in sites.items()})
               for k in sites[inputs[0].name]["storage"]}
    return {
        "aidc_twin_version": __version__,
        "scenario": scn.name,
        "strategy": strategy,
        "slice_minutes": scn.slice_minutes,
        "start": str(inputs[0].index[0]),
        "end": str(inputs[0].index[-1] + pd.Timedelta(minutes=scn.slice_minutes)),
        "slices": int(inputs[0].n),
        "accounting": {
            "alpha": alpha,
            "grid_data_granularity": acc.grid_data_granularity,
            "allocation": acc.allocation,
            "storage_rule": acc.storage_rule,
            "export_attributes": acc.export_attributes,
            **storage,
            "rating_thresholds": list(th),
        },
        "gti": {
            "gti_slice": fleet_run["gti_slice"],
            "gti_aggregate": fleet_run["gti_aggregate"],
            "mismatch_gap": fleet_run["gti_aggregate"] - fleet_run["gti_slice"],
            "gti_token": token_gti(tasks),
            "level_slice": gti_level(fleet_run["gti_slice"], th),
            "level_aggregate": gti_level(fleet_run["gti_aggregate"], th),
        },
        "levels": {
            "month": [label(str(per), m, row[f"gti_{m}"], alpha, acc.allocation, th)
                      for per, row in fleet_months.iterrows() for m in ("slice", "aggregate")],
        },
        "kpis": kpis,
        "sites": sites,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def _fleet_run(scores: list[SiteScore], params: list[AccountingParams]) -> dict[str, float]:
    runs = [(s.run.to_frame().T, p.allocation) for s, p in zip(scores, params, strict=True)]
    return {k: float(v) for k, v in _fleet(runs).iloc[0].items()}


def _kpis(inp: SiteInputs, run: SiteRun, tasks: pd.DataFrame) -> dict[str, float]:
    m = run.meters
    batch = tasks[tasks["kind"] == "batch"]
    kpis = {
        "cost_total": float(run.cost_usd.sum()),
        "grid_import_mwh": float(m["grid_import_mwh"].sum()),
        "grid_export_mwh": float(m["grid_export_mwh"].sum()),
        "curtailed_mwh": float(m["curtailed_mwh"].sum()),
        "pv_mwh": float(m["pv_mwh"].sum()),
        "wind_mwh": float(m["wind_mwh"].sum()),
        "pv_available_mwh": float(inp.pv_avail_mw.sum() * inp.dt_h),
        "wind_available_mwh": float(inp.wind_avail_mw.sum() * inp.dt_h),
        "it_mwh": float(m["it_mwh"].sum()),
        "cooling_mwh": float(m["cooling_mwh"].sum()),
        "aux_mwh": float(m["aux_mwh"].sum()),
        "facility_mwh": float(m["facility_mwh"].sum()),
        "bess_discharge_mwh": float(m["bess_discharge_mwh"].sum()),
        "peak_import_mw": float(m["grid_import_mwh"].max() / inp.dt_h),
        "emissions_location_kg": float((m["grid_import_mwh"] * inp.grid_carbon_kg_per_mwh).sum()),
        "tokens_in": float(tasks["tokens_in"].sum()),
        "tokens_out": float(tasks["tokens_out"].sum()),
        "idle_it_mwh": float(m["it_mwh"].sum() - tasks["it_mwh"].sum()),
        "batch_jobs": float(len(batch)),
        "deadline_misses": float((~batch["deadline_met"].astype(bool)).sum()),
        "tokens_out_late": float(batch["tokens_out_late"].sum()),
        "pue": float(m["facility_mwh"].sum() / m["it_mwh"].sum()) if m["it_mwh"].sum() else 0.0,
        "pv_capacity_factor": (float(inp.pv_avail_mw.mean() / inp.pv_ac_mw)
                               if inp.pv_ac_mw else 0.0),
        "wind_capacity_factor": (float(inp.wind_avail_mw.mean() / inp.wind_nameplate_mw)
                                 if inp.wind_nameplate_mw else 0.0),
    }
    return kpis
