"""Emissions (spec section 11, GHG Protocol Scope 2, both methods): carbon follows energy the
way green does.

Per slice the carbon into the bus is ``K_in = grid_import * ef_grid + backup * ef_backup +
K_discharge``; every outflow carries the slice's intensity ``ci = K_in / total_inflow`` (0 with
no inflow). Storage keeps a carbon pool beside its energy, with the run's rule (``pooled``: the
discharge takes carbon in proportion to the energy it draws from the pool; ``fifo``: from the
oldest charge first, layer by layer): charging puts ``bess_charge * ci`` into it while the
energy pool gains ``eta_c * bess_charge``, and self-discharge takes energy, not carbon, so the
carbon of conversion losses and self-discharge stays with the energy that comes out.

Location-based: ``ef_grid`` is the grid's average factor. Market-based: the import of a slice
first absorbs the contracted volume ``c(t)`` (profiled instruments in their own slice, annual
certificates spread over their year's slices in proportion to import) at factor 0, the rest at
the residual-mix factor (the grid's average when none is given). A site's emissions are
``sum_t facility * ci``; a task's ``sum e_k * (facility / it) * ci`` over its slices (its IT
energy with its share of idle IT, cooling and aux), so a slice's tasks add up to
``facility * ci``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from gti_core.contracts import Contract, contract_volume_on_slices
from gti_core.meters import optional_meter
from gti_core.storage import StorageParams

G_PER_KG = 1000.0


def location_based_kg(grid_import_mwh: np.ndarray, carbon_kg_per_mwh: np.ndarray) -> float:
    """``sum_t grid_import * grid_carbon(t)`` [kgCO2e]: the carbon the grid delivers."""
    return float(np.dot(np.asarray(grid_import_mwh, float), np.asarray(carbon_kg_per_mwh, float)))


def contracted_import_mwh(meters: pd.DataFrame, contracts: list[Contract]) -> np.ndarray:
    """The contracted volume each slice's import absorbs (market-based method) [MWh]:
    profiled deliveries in their slice, annual certificates spread over their year in
    proportion to import; at most the slice's import."""
    imp = meters["grid_import_mwh"].to_numpy(float)
    if not contracts:
        return np.zeros(len(meters))
    face = [dataclasses.replace(c, weight=1.0) for c in contracts]
    return np.minimum(contract_volume_on_slices(meters["time"], imp, face), imp)


def carbon_intensity(meters: pd.DataFrame, grid_kg_per_mwh: np.ndarray, storage: StorageParams,
                     backup_kg_per_mwh: float = 0.0) -> pd.DataFrame:
    """Per slice: carbon in [kg], the intensity ``ci`` [kg/MWh], the carbon that leaves
    storage with the discharge [kg] and the storage's carbon at the slice's end [kg].

    Parameters
    ----------
    meters : pandas.DataFrame
        One site's meter table (spec section 1).
    grid_kg_per_mwh : numpy.ndarray
        The factor of each slice's import [kgCO2e/MWh] (the grid's average, or the market
        method's blend).
    storage : StorageParams
        Efficiencies, self-discharge, initial content and the rule (``pooled`` or ``fifo``);
        the initial content carries no carbon.
    backup_kg_per_mwh : float
        Emission factor of backup generation [kgCO2e/MWh].
    """
    m = {c: meters[c].to_numpy(float) for c in ("pv_mwh", "wind_mwh", "grid_import_mwh",
                                                "bess_charge_mwh", "bess_discharge_mwh")}
    backup = optional_meter(meters, "backup_mwh")
    inflow = m["pv_mwh"] + m["wind_mwh"] + m["grid_import_mwh"] + m["bess_discharge_mwh"] + backup
    base = m["grid_import_mwh"] * np.asarray(grid_kg_per_mwh, float) + backup * backup_kg_per_mwh
    n, keep = len(meters), 1.0 - storage.self_discharge_per_slice
    ci = np.divide(base, inflow, out=np.zeros(n), where=inflow > 0.0)
    k_out, kg_after = np.zeros(n), np.full(n, np.nan)
    layers = [[storage.initial_soc_mwh, 0.0]] if storage.initial_soc_mwh > 0 else []  # [e, kg]
    fifo = storage.rule == "fifo"
    chg, dis = m["bess_charge_mwh"], m["bess_discharge_mwh"]
    # only slices that charge or discharge change the pools' carbon; self-discharge (energy
    # only) over the slices between is one factor, as gti_core's storage provenance does
    last = -1
    for t in np.flatnonzero((chg > 0.0) | (dis > 0.0)).tolist():
        shrink = keep ** (t - last)
        for layer in layers:
            layer[0] *= shrink
        last = t
        if dis[t] > 0.0:
            k_out[t] = _draw(layers, dis[t] / storage.discharge_efficiency, fifo)
            ci[t] = (base[t] + k_out[t]) / inflow[t] if inflow[t] > 0.0 else 0.0
        if chg[t] > 0.0:
            if fifo or not layers:
                layers.append([storage.charge_efficiency * chg[t], chg[t] * ci[t]])
            else:
                layers[0][0] += storage.charge_efficiency * chg[t]
                layers[0][1] += chg[t] * ci[t]
        kg_after[t] = sum(layer[1] for layer in layers)
    stored = pd.Series(kg_after).ffill().fillna(0.0).to_numpy()
    return pd.DataFrame({"carbon_in_kg": base + k_out, "ci_kg_per_mwh": ci,
                         "discharge_kg": k_out, "stored_kg": stored})


def _draw(layers: list[list[float]], energy: float, fifo: bool) -> float:
    """Take ``energy`` from the store's layers (pooled: one layer), oldest first; returns the
    carbon it carries [kg] (in proportion to the energy drawn from each layer)."""
    kg = 0.0
    while energy > 1e-15 and layers:
        e, c = layers[0]
        take = min(energy, e)
        share = take / e if e > 0.0 else 1.0
        kg += c * share
        layers[0] = [e - take, c * (1.0 - share)]
        energy -= take
        if not fifo:
            break
        if layers[0][0] <= 1e-12:
            layers.pop(0)
    return kg


def site_carbon(meters: pd.DataFrame, grid_kg_per_mwh: np.ndarray, storage: StorageParams,
                contracts: list[Contract] = (), residual_kg_per_mwh: np.ndarray | None = None,
                backup_kg_per_mwh: float = 0.0) -> pd.DataFrame:
    """Both methods per slice: ``ci_location_kg_per_mwh``, ``ci_market_kg_per_mwh``, and the
    facility's emissions under each [kg], with ``time`` and ``facility_per_it`` (for tasks)."""
    grid = np.asarray(grid_kg_per_mwh, float)
    residual = grid if residual_kg_per_mwh is None else np.asarray(residual_kg_per_mwh, float)
    imp = meters["grid_import_mwh"].to_numpy(float)
    covered = contracted_import_mwh(meters, list(contracts))
    market = np.divide((imp - covered) * residual, imp, out=np.zeros(len(imp)), where=imp > 0)
    loc = carbon_intensity(meters, grid, storage, backup_kg_per_mwh)
    # without contracts or a residual mix the market method is the location method
    same = not contracts and residual_kg_per_mwh is None
    mkt = loc if same else carbon_intensity(meters, market, storage, backup_kg_per_mwh)
    facility = meters["facility_mwh"].to_numpy(float)
    it = meters["it_mwh"].to_numpy(float)
    return pd.DataFrame({
        "time": meters["time"].array, "ci_location_kg_per_mwh": loc["ci_kg_per_mwh"],
        "ci_market_kg_per_mwh": mkt["ci_kg_per_mwh"],
        "facility_location_kg": facility * loc["ci_kg_per_mwh"].to_numpy(),
        "facility_market_kg": facility * mkt["ci_kg_per_mwh"].to_numpy(),
        "export_location_kg": meters["grid_export_mwh"].to_numpy(float)
        * loc["ci_kg_per_mwh"].to_numpy(),
        "stored_location_kg": loc["stored_kg"],
        "facility_per_it": np.divide(facility, it, out=np.zeros(len(it)), where=it > 0)})


def carbon_totals(carbon: pd.DataFrame) -> dict[str, float]:
    """A site's Scope 2 emissions from :func:`site_carbon`: the facility's under both methods,
    and, location-based, what left with the export and the carbon stored at the end [kgCO2e]
    (with the grid's delivered carbon and the backup's they balance: spec section 11)."""
    return {"emissions_location_kg": float(carbon["facility_location_kg"].sum()),
            "emissions_market_kg": float(carbon["facility_market_kg"].sum()),
            "export_carbon_kg": float(carbon["export_location_kg"].sum()),
            "stored_carbon_end_kg": (float(carbon["stored_location_kg"].iloc[-1])
                                     if len(carbon) else 0.0)}


def task_emissions_kg(expanded: pd.DataFrame, column: str) -> pd.Series:
    """Per task: ``sum e_k * (facility / it) * ci`` over its slices [kgCO2e], with ``e_k`` its
    IT energy with its share of idle IT (``it_with_idle_mwh``).

    Parameters
    ----------
    expanded : pandas.DataFrame
        Rows of :func:`gti_core.tokens.with_idle_share` that carry ``facility_per_it`` and the
        intensity ``column``.
    """
    kg = (expanded["it_with_idle_mwh"].to_numpy() * expanded["facility_per_it"].to_numpy()
          * expanded[column].to_numpy())
    return pd.Series(kg, index=expanded["task_id"]).groupby(level=0, sort=False).sum()


def g_per_1000_tokens(kg: float, tokens: float) -> float:
    """Emissions intensity [gCO2e per 1,000 tokens]; 0 when there are no tokens."""
    return kg * G_PER_KG * 1000.0 / tokens if tokens > 0 else 0.0
