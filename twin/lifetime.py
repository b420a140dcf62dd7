"""Runs of several years (scenario ``lifetime``): PV and batteries age as the run goes.

Each year is a complete run of the scenario (:func:`twin.run.simulate`), scored by gti_core on
its own: its weather is the scenario's weather year again (the same calendar, so that years
compare on the same weather and tariff days; a typical year has no 29 February to map onto a
leap year), or the year ``lifetime.weather_years`` names; its PV is one year older
(``pv.age_years``) and its battery has the capacity its modules have left (and, for cell
models that give resistance, conversion losses grown with it). After each year
every battery ages day by day over the year's state-of-charge trace
(:func:`models.ageing.age_days`: BLAST-Lite or the linear model of ``battery.ageing``); the
capacity at the year's end is the next year's, after the policy:
replace every module when capacity falls below ``replace_at_fraction``, or add new modules at
each year's start up to ``augment_to_fraction``. The battery's content and its green share
carry over from one year to the next (content clipped to the new window).

Capacity changes at year boundaries: within a year the dispatch sees the capacity the year
began with, while the daily fade is recorded (``battery_health``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.ageing import DEPTH_EDGES, Cohort, age_days, aged_efficiency, resistance_factor
from twin.ageing import new_module_model, replacement_usd_per_mwh, wear_cost
from twin.run import RunResult, simulate
from twin.scenario import Scenario, ScenarioError, from_dict


@dataclass
class SiteBattery:
    """One site's battery over the run: its nameplate, modules, and what was bought."""

    site: str
    k: int  # the site's position in the scenario
    nameplate_mwh: float
    cfg: object  # BatteryAgeingConfig, or None: the battery does not age
    price_usd_per_mwh: float
    wear_usd_per_mwh: float
    cohorts: list[Cohort] = field(default_factory=list)

    @property
    def capacity_mwh(self) -> float:
        if self.cfg is None:
            return self.nameplate_mwh
        return float(sum(c.capacity_mwh for c in self.cohorts))


@dataclass
class YearRun:
    year: int  # 1, 2, ...
    result: RunResult
    health: pd.DataFrame  # per site and day: capacity, state of health, cycles
    block: dict  # the year's entry of the summary


@dataclass
class LifetimeResult:
    scenario: Scenario
    strategy: str
    years: list[YearRun]
    summary: dict

    @property
    def health(self) -> pd.DataFrame:
        return pd.concat([y.health for y in self.years], ignore_index=True)


def site_batteries(scn: Scenario) -> list[SiteBattery]:
    """Every site's battery, each ageing one with its first modules; a bad ageing block (an
    unknown BLAST-Lite cell, say) is refused here, before any year runs."""
    out = []
    for k, site in enumerate(scn.sites):
        b = site.battery
        if b is None or b.energy_mwh <= 0:
            continue
        cfg = b.ageing
        if cfg is None:
            out.append(SiteBattery(site.name, k, b.energy_mwh, None, 0.0, 0.0))
            continue
        try:
            first = Cohort(b.energy_mwh, new_module_model(cfg), 0)
            wear = wear_cost(cfg, b, scn.sizing)
        except ValueError as err:
            raise ScenarioError(f"sites[{k}].battery.ageing.{err}") from None
        out.append(SiteBattery(site.name, k, b.energy_mwh, cfg,
                               replacement_usd_per_mwh(cfg, scn.sizing), wear, [first]))
    return out


def weather_year(scn: Scenario, k: int, y: int) -> int:
    """Calendar year of site ``k``'s weather in run year ``y`` (0-based)."""
    life = scn.lifetime
    if life is not None and life.weather_years is not None:
        return life.weather_years[y]
    return scn.sites[k].weather.year


def year_scenario(scn: Scenario, y: int, batteries: list[SiteBattery],
                  carry: dict[str, tuple[float, float]]) -> Scenario:
    """The scenario of run year ``y`` (0-based): its weather year, PV age, each battery's
    capacity and, after the first year, the content and green share carried over
    (``carry``: site -> (content [MWh], green share))."""
    raw = scn.model_dump(mode="json", exclude={"base_dir"})
    raw["lifetime"] = None
    by_site = {b.site: b for b in batteries}
    for k, site in enumerate(raw["sites"]):
        site["weather"]["year"] = weather_year(scn, k, y)
        if site.get("pv"):
            site["pv"]["age_years"] = scn.sites[k].pv.age_years + y
        b = by_site.get(site["name"])
        if b is None:
            continue
        bat = site["battery"]
        bat["energy_mwh"] = b.capacity_mwh
        if b.cfg is not None:  # conversion losses grow with the cells' resistance
            for key in ("charge_efficiency", "discharge_efficiency"):
                bat[key] = aged_efficiency(bat[key], b.cohorts, b.cfg.resistive_loss_fraction)
        if site["name"] in carry and b.capacity_mwh > 0:
            content, green = carry[site["name"]]
            lo, hi = bat["min_soc_fraction"], bat["max_soc_fraction"]
            bat["initial_soc_fraction"] = float(np.clip(content / b.capacity_mwh, lo, hi))
            bat["initial_green_fraction"] = float(np.clip(green, 0.0, 1.0))
    try:
        return from_dict(raw, scn.base_dir)
    except ScenarioError as err:
        raise ScenarioError(f"lifetime year {y + 1}: {err}") from None


def simulate_lifetime(scn: Scenario, strategy: str | None = None, objective: str | None = None,
                      gti_target: float | None = None, progress=None) -> LifetimeResult:
    """Run every year of ``scn.lifetime`` (module docstring); ``progress(year_run)`` after
    each year."""
    years = scn.lifetime.years if scn.lifetime is not None else 1
    batteries = site_batteries(scn)
    carry: dict[str, tuple[float, float]] = {}
    done: list[YearRun] = []
    for y in range(years):
        bought = {b.site: _augment(b, y) for b in batteries}
        res = simulate(year_scenario(scn, y, batteries, carry), strategy, objective, gti_target)
        health, sites = [], {}
        for b in batteries:
            h, block = _age_year(b, res, y, bought[b.site])
            health.append(h)
            sites[b.site] = block
        carry = _carry(res)
        run = YearRun(y + 1, res, pd.concat(health, ignore_index=True) if health else
                      pd.DataFrame(), _year_block(y, scn, res, sites))
        done.append(run)
        if progress is not None:
            progress(run)
    return LifetimeResult(scn, res.strategy, done, lifetime_summary(scn, res.strategy, done))


def _augment(b: SiteBattery, y: int) -> float:
    """Add modules at the start of year ``y`` up to ``augment_to_fraction``; MWh added."""
    cfg = b.cfg
    if cfg is None or cfg.augment_to_fraction is None or y == 0:
        return 0.0
    short = cfg.augment_to_fraction * b.nameplate_mwh - b.capacity_mwh
    if short <= 1e-9:
        return 0.0
    b.cohorts.append(Cohort(short, new_module_model(cfg), y))
    return short


def _age_year(b: SiteBattery, res: RunResult, y: int, augmented_mwh: float
              ) -> tuple[pd.DataFrame, dict]:
    """Age ``b`` over the year's trace; replace it at the year's end if the policy says so."""
    i = [inp.name for inp in res.inputs].index(b.site)
    inp, run = res.inputs[i], res.runs[i]
    content = np.concatenate(([inp.initial_soc_mwh], run.soc_mwh))
    start_mwh = b.capacity_mwh
    discharge = float(run.meters["bess_discharge_mwh"].sum())
    b_inp = inp.battery
    block = {"capacity_start_mwh": start_mwh, "augmented_mwh": augmented_mwh,
             "charge_efficiency": b_inp.charge_efficiency if b_inp else None,
             "discharge_efficiency": b_inp.discharge_efficiency if b_inp else None,
             "discharge_mwh": discharge, "wear_cost_usd": discharge * b.wear_usd_per_mwh}
    days = pd.DatetimeIndex(inp.index[::int(round(86400 / inp.slice_s))]).normalize()
    if b.cfg is None:
        block.update(capacity_end_mwh=start_mwh, soh_end=start_mwh / b.nameplate_mwh,
                     efc=discharge / b.nameplate_mwh, replaced=False, module_cost_usd=0.0)
        return pd.DataFrame(), block
    temp = (np.full(len(content), b.cfg.cell_temperature_c)
            if b.cfg.cell_temperature_c is not None
            else np.concatenate(([inp.temp_air_c[0]], inp.temp_air_c)))
    aged = age_days(b.cohorts, content, inp.slice_s, temp)
    n_days = len(aged.capacity_mwh)
    health = pd.DataFrame({"site": b.site, "year": y + 1, "day": y * n_days + np.arange(n_days),
                           "date": days[:n_days],
                           "capacity_mwh": aged.capacity_mwh,
                           "soh": aged.capacity_mwh / b.nameplate_mwh, "efc": aged.efc})
    end = b.capacity_mwh
    replaced = (b.cfg.replace_at_fraction is not None
                and end < b.cfg.replace_at_fraction * b.nameplate_mwh)
    block.update(capacity_end_mwh=end, soh_end=end / b.nameplate_mwh,
                 resistance_factor_end=resistance_factor(b.cohorts),
                 efc=float(aged.efc.sum()), replaced=bool(replaced),
                 module_cost_usd=(augmented_mwh + (b.nameplate_mwh if replaced else 0.0))
                 * b.price_usd_per_mwh,
                 cycles_by_depth={f"{lo:.1f}-{hi:.1f}": float(c) for lo, hi, c in
                                  zip(DEPTH_EDGES[:-1], DEPTH_EDGES[1:], aged.depth_counts,
                                      strict=True)})
    if replaced:
        b.cohorts = [Cohort(b.nameplate_mwh, new_module_model(b.cfg), y + 1)]
    return health, block


def _carry(res: RunResult) -> dict[str, tuple[float, float]]:
    """Each site's battery content at the year's end and its green share (gti_core's pools)."""
    out = {}
    for run, score in zip(res.runs, res.scores, strict=True):
        last = score.slices.iloc[-1]
        content = float(last["soc_green_mwh"] + last["soc_grey_mwh"])
        out[run.site] = (float(run.soc_mwh[-1]) if len(run.soc_mwh) else 0.0,
                         float(last["soc_green_mwh"]) / content if content > 0 else 0.0)
    return out


def _year_block(y: int, scn: Scenario, res: RunResult, sites: dict) -> dict:
    g, k = res.summary["gti"], res.summary["kpis"]
    module = sum(s["module_cost_usd"] for s in sites.values())
    wear = sum(s["wear_cost_usd"] for s in sites.values())
    return {"year": y + 1, "start": res.summary["start"], "end": res.summary["end"],
            "weather_year": [weather_year(scn, i, y) for i in range(len(scn.sites))],
            "gti_slice": g["gti_slice"], "gti_aggregate": g["gti_aggregate"],
            "level_slice": g["level_slice"], "level_aggregate": g["level_aggregate"],
            "gti_token": g["gti_token"], "energy_cost_usd": k["cost_total"],
            "battery_wear_usd": wear, "module_cost_usd": module, "batteries": sites}


def lifetime_summary(scn: Scenario, strategy: str, years: list[YearRun]) -> dict:
    """``summary.json`` of a multi-year run: each year's GTI (both methods), costs and
    batteries, and the present value of the costs at ``lifetime.discount_rate``."""
    from twin import __version__

    rate = scn.lifetime.discount_rate if scn.lifetime is not None else 0.0
    rows = [y.block for y in years]
    factor = [(1.0 + rate) ** -(r["year"] - 1) for r in rows]  # costs at each year's start
    pv_energy = sum(f * r["energy_cost_usd"] for f, r in zip(factor, rows, strict=True))
    pv_modules = sum(f * r["module_cost_usd"] for f, r in zip(factor, rows, strict=True))
    return {"aidc_twin_version": __version__, "scenario": scn.name, "strategy": strategy,
            "kind": "lifetime", "years": rows,
            "present_value_usd": {"discount_rate": rate, "energy": pv_energy,
                                  "modules": pv_modules, "total": pv_energy + pv_modules}}
