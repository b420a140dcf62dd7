"""The accounting part of a run's summary.json, shared by twin runs and ``aidc-twin score``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gti_core.emissions import g_per_1000_tokens, location_based_kg, task_emissions_kg
from gti_core.fleet import fleet_periods, fleet_run
from gti_core.meters import ENERGY_COLUMNS, OPTIONAL_ENERGY_COLUMNS, optional_meter
from gti_core.rating import gti_level, label
from gti_core.score import AccountingParams, SiteScore, labels_for
from gti_core.storage import StorageParams
from gti_core.tokens import (
    ratios_per_task,
    task_aggregate_ratios,
    token_gti,
    token_weighted_gti,
    with_idle_share,
)

STORAGE_KEYS = ("charge_efficiency", "discharge_efficiency", "self_discharge_per_slice",
                "initial_soc_mwh", "initial_green_fraction")


def storage_block(p: AccountingParams) -> dict[str, float]:
    """A site's storage parameters as ``summary.json`` holds them (:data:`STORAGE_KEYS`)."""
    s = p.storage
    return dict(zip(STORAGE_KEYS, (s.charge_efficiency, s.discharge_efficiency,
                                   s.self_discharge_per_slice, s.initial_soc_mwh,
                                   s.initial_green_fraction), strict=True))


def storage_from_block(block: dict, rule: str) -> StorageParams:
    """The storage parameters back from a :func:`storage_block` and the run's storage rule."""
    return StorageParams(**{k: float(block[k]) for k in STORAGE_KEYS}, rule=rule)


def meter_kpis(meters: pd.DataFrame, price_usd_per_mwh=None, export_usd_per_mwh: float = 0.0,
               carbon_kg_per_mwh=None) -> dict[str, float | None]:
    """KPIs that follow from meters and, where given, the signals of their slices.

    Parameters
    ----------
    meters : pandas.DataFrame
        One site's or several sites' meter rows.
    price_usd_per_mwh : array-like, optional
        Import price per row [$/MWh]; without it ``cost_total`` is None.
    export_usd_per_mwh : float
        Export price [$/MWh].
    carbon_kg_per_mwh : array-like, optional
        Grid emission factor per row [kgCO2e/MWh]; without it ``emissions_location_kg`` is None.

    Returns
    -------
    dict
        The sum of every energy meter [MWh], ``cost_total`` (import cost minus export revenue)
        [$] and ``grid_carbon_delivered_kg``, the carbon of the grid import at the grid's
        factor [kgCO2e] (the facility's emissions come from :func:`gti_core.emissions.
        site_carbon`).
    """
    k: dict[str, float | None] = {c: float(meters[c].sum()) for c in ENERGY_COLUMNS}
    for c in OPTIONAL_ENERGY_COLUMNS:
        k[c] = float(optional_meter(meters, c).sum())
    imp = meters["grid_import_mwh"].to_numpy(float)
    k["cost_total"] = (None if price_usd_per_mwh is None else float(
        imp @ np.asarray(price_usd_per_mwh, float)
        - meters["grid_export_mwh"].sum() * export_usd_per_mwh))
    k["grid_carbon_delivered_kg"] = (None if carbon_kg_per_mwh is None
                                     else location_based_kg(imp, carbon_kg_per_mwh))
    return k


def score_tasks(task_energy: pd.DataFrame, scores: list[SiteScore],
                carbon: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per task: tokens, energy, ``r_task`` (time-slice), ``r_task_aggregate`` and emissions.

    Parameters
    ----------
    task_energy : pandas.DataFrame
        ``task_id, site, time, it_mwh, tokens_in, tokens_out``.
    scores : list of SiteScore
    carbon : pandas.DataFrame, optional
        ``site, time, facility_per_it, ci_location_kg_per_mwh, ci_market_kg_per_mwh`` (the
        columns of :func:`gti_core.emissions.site_carbon`); without it the emissions
        (``emissions_kg``, location-based, and ``emissions_market_kg``) are not computed.
    """
    cols = ["site", "time", "it_mwh", "r_dc"]
    slices = pd.concat([s.slices.assign(site=s.site)[cols] for s in scores], ignore_index=True)
    if carbon is not None:
        slices = slices.merge(carbon, on=["site", "time"], how="left", validate="one_to_one")
    expanded = with_idle_share(task_energy, slices)  # one join for ratios and emissions
    per_task = ratios_per_task(expanded).set_index("task_id")
    per_task["r_task_aggregate"] = task_aggregate_ratios(
        task_energy, {s.site: s.gti_aggregate for s in scores})
    if carbon is not None:
        per_task["emissions_kg"] = task_emissions_kg(expanded, "ci_location_kg_per_mwh")
        per_task["emissions_market_kg"] = task_emissions_kg(expanded, "ci_market_kg_per_mwh")
    return per_task.reset_index()


def _tokens_block(tasks: pd.DataFrame) -> dict[str, float]:
    out = {"gti_token": token_gti(tasks),
           "gti_token_aggregate": token_gti(tasks, "r_task_aggregate"),
           **token_weighted_gti(tasks)}
    if "emissions_kg" in tasks:
        kg = float(tasks["emissions_kg"].sum())
        tokens = float(tasks["tokens_in"].sum() + tasks["tokens_out"].sum())
        out["task_emissions_kg"] = kg
        out["gco2e_per_1000_tokens"] = g_per_1000_tokens(kg, tokens)
        out["gco2e_per_1000_output_tokens"] = g_per_1000_tokens(
            kg, float(tasks["tokens_out"].sum()))
    if "emissions_market_kg" in tasks:
        kg = float(tasks["emissions_market_kg"].sum())
        out["task_emissions_market_kg"] = kg
        out["gco2e_per_1000_tokens_market"] = g_per_1000_tokens(
            kg, float(tasks["tokens_in"].sum() + tasks["tokens_out"].sum()))
    return out


def _shared_or_per_site(values: dict[str, object]) -> object:
    """One value when every site has it, else the mapping site -> value."""
    distinct = set(values.values())
    return next(iter(distinct)) if len(distinct) == 1 else dict(values)


def gti_summary(scores: list[SiteScore], params: list[AccountingParams],
                granularity: str | list[str], tasks: pd.DataFrame | None = None) -> dict:
    """``accounting``, ``gti``, ``levels`` and per-site ``sites.<name>`` blocks of a summary.

    ``granularity`` is the grid-data granularity of every site, or one per site. Alpha, the
    granularity and the storage parameters appear once under ``accounting`` when every site
    shares them, else as a mapping site -> value; each site always carries its own under
    ``sites.<name>.accounting`` and ``sites.<name>.storage``. The fleet's labels name an alpha
    only when the sites share one.
    """
    p0 = params[0]
    th = p0.thresholds
    names = [s.site for s in scores]
    grans = [granularity] * len(scores) if isinstance(granularity, str) else list(granularity)
    storage = {n: storage_block(p) for n, p in zip(names, params, strict=True)}
    alpha = _shared_or_per_site({n: p.alpha for n, p in zip(names, params, strict=True)})
    accounting = {
        "alpha": alpha,
        "grid_data_granularity": _shared_or_per_site(dict(zip(names, grans, strict=True))),
        "allocation": p0.allocation,
        "storage_rule": p0.storage.rule,
        "export_attributes": "retained" if p0.export_retained else "sold",
        **{k: _shared_or_per_site({n: v[k] for n, v in storage.items()}) for k in STORAGE_KEYS},
        "rating_thresholds": list(th),
    }
    run = fleet_run(scores)
    gti = {"gti_slice": float(run["gti_slice"]), "gti_aggregate": float(run["gti_aggregate"]),
           "mismatch_gap": float(run["mismatch_gap"]),
           "level_slice": gti_level(run["gti_slice"], th),
           "level_aggregate": gti_level(run["gti_aggregate"], th)}
    if tasks is not None:
        gti.update(_tokens_block(tasks))
    fleet_alpha = alpha if not isinstance(alpha, dict) else None
    levels = {per: [label(str(name), m, row[f"gti_{m}"], fleet_alpha, p0.allocation, th)
                    for name, row in fleet_periods(scores, per).iterrows()
                    for m in ("slice", "aggregate")]
              for per in ("year", "quarter", "month")}
    sites = {}
    for s, p, gran in zip(scores, params, grans, strict=True):
        site_gti = {"gti_slice": s.gti_slice, "gti_aggregate": s.gti_aggregate,
                    "mismatch_gap": s.gti_aggregate - s.gti_slice}
        if tasks is not None and "site" in tasks:
            site_gti.update(_tokens_block(tasks[tasks["site"] == s.site]))
        sites[s.site] = {
            "gti": site_gti,
            "levels": {per: labels_for(s, p, per) for per in ("year", "quarter", "month")},
            "accounting": {"alpha": p.alpha, "grid_data_granularity": gran},
            "storage": storage[s.site],
        }
    return {"accounting": accounting, "gti": gti, "levels": levels, "sites": sites}
