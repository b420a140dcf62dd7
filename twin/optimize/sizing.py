"""Capacity expansion: the cheapest PV, wind and battery that keep a campus at a GTI target.

The sizing LP is the dispatch model family with capacities as variables: PV and wind take at most
their capacity times the site's per-MW availability (pvlib and windpowerlib on the site's weather),
the battery's power and energy limits scale with its power and energy capacity, and the run starts
and ends with the store at the same share of its size. Every other family (deferrable work,
training, balance, green with a storage pool, the target under the time-slice or the aggregate
method) is the dispatch one. The objective is the annual cost:

    sum_k (capex_k * CRF(r, life_k) + fixed O&M_k) * capacity_k
    + (import cost - export revenue) * (8760 h / horizon)
    + demand charge * 12 * peak import

with ``CRF(r, n) = r (1 + r)^n / ((1 + r)^n - 1)``. Solved at the resolution asked for (hourly
by default: FEASIBILITY.md found a 15-minute sizing LP does not solve in 10 minutes); the chosen
plant is then simulated at the scenario's own resolution and scored by gti_core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from twin.optimize.data import HorizonData, in_units
from twin.optimize.highs import CompiledLP, SolveError
from twin.optimize.model import (
    COST_SCALE,
    PENALTY,
    THROUGHPUT_TIEBREAK,
    add_balance_constraints,
    add_deferrable_constraints,
    add_green_constraints,
    add_gti_target_constraint,
    add_training_constraints,
)
from twin.optimize.periods import TypicalDays

#: Units of GPU time and training progress in the sizing LP (:func:`twin.optimize.data.in_units`).
GPU_S_UNIT, TOKEN_UNIT = 1e6, 1e9


def crf(rate: float, years: float) -> float:
    """Capital recovery factor: the annuity that repays 1 over ``years`` at ``rate`` [1/a]."""
    if rate == 0.0:
        return 1.0 / years
    g = (1.0 + rate) ** years
    return rate * g / (g - 1.0)


@dataclass(frozen=True)
class TechCost:
    """Annualised cost of one technology per unit of capacity [$ per MW (or MWh) and year]."""

    annual_usd_per_unit: float
    max_units: float | None = None  # land, permitting or supply limit


@dataclass(frozen=True)
class SizingCosts:
    pv: TechCost
    wind: TechCost
    bess_power: TechCost
    bess_energy: TechCost
    demand_charge_usd_per_mw_month: float = 0.0


@dataclass
class SizingResult:
    """One sized plant, or why there is none."""

    target: float
    method: str
    status: str  # "optimal" or "infeasible: <binding limit>"
    annual_cost: float = float("nan")
    pv_mw: float = float("nan")
    wind_mw: float = float("nan")
    bess_mw: float = float("nan")
    bess_mwh: float = float("nan")
    planned_gti: float = float("nan")
    cost_parts: dict = field(default_factory=dict)
    solve_s: float = 0.0


def add_sized_supply(m: pyo.ConcreteModel, d: HorizonData, cf_pv: np.ndarray,
                     cf_wind: np.ndarray, costs: SizingCosts) -> None:
    """PV and wind capacities [MW] and what they deliver per slice [MWh]."""
    m.pv_mw = pyo.Var(bounds=(0.0, costs.pv.max_units))
    m.wind_mw = pyo.Var(bounds=(0.0, costs.wind.max_units))
    m.pv = pyo.Var(m.T, bounds=(0.0, None))
    m.wind = pyo.Var(m.T, bounds=(0.0, None))
    m.imp = pyo.Var(m.T, bounds=(0.0, d.max_import))
    m.exp = pyo.Var(m.T, bounds=(0.0, d.max_export))
    m.unserved = pyo.Var(m.T, bounds=(0.0, None))
    pv_e, wind_e = cf_pv * d.dt_h, cf_wind * d.dt_h
    m.pv_capacity = pyo.Constraint(m.T, rule=lambda m, t: m.pv[t] <= float(pv_e[t]) * m.pv_mw)
    m.wind_capacity = pyo.Constraint(
        m.T, rule=lambda m, t: m.wind[t] <= float(wind_e[t]) * m.wind_mw)


def add_sized_storage(m: pyo.ConcreteModel, d: HorizonData, costs: SizingCosts,
                      min_frac: float, max_frac: float, start_frac: float) -> None:
    """Battery power [MW] and energy [MWh] capacities, with the dispatch family's content,
    start-of-slice limits, and the run ending at its starting content (cyclic)."""
    b = d.battery
    ec, ed = (b.charge_efficiency, b.discharge_efficiency) if b else (0.95, 0.95)
    keep = 1.0 - (b.self_discharge_per_slice if b else 0.0)
    m.bess_mw = pyo.Var(bounds=(0.0, costs.bess_power.max_units))
    m.bess_mwh = pyo.Var(bounds=(0.0, costs.bess_energy.max_units))
    m.ch = pyo.Var(m.T, bounds=(0.0, None))
    m.dis = pyo.Var(m.T, bounds=(0.0, None))
    m.soc = pyo.Var(m.T, bounds=(0.0, None))
    m.soc_init = pyo.Var(bounds=(0.0, None))
    m.start_share = pyo.Constraint(expr=m.soc_init == start_frac * m.bess_mwh)
    dt = d.dt_h
    m.charge_power = pyo.Constraint(m.T, rule=lambda m, t: m.ch[t] <= dt * m.bess_mw)
    m.discharge_power = pyo.Constraint(m.T, rule=lambda m, t: m.dis[t] <= dt * m.bess_mw)
    m.soc_max = pyo.Constraint(m.T, rule=lambda m, t: m.soc[t] <= max_frac * m.bess_mwh)
    m.soc_min = pyo.Constraint(m.T, rule=lambda m, t: m.soc[t] >= min_frac * m.bess_mwh)

    def before(m, t):
        return m.soc[t - 1] if t > 0 else m.soc_init

    m.storage = pyo.Constraint(m.T, rule=lambda m, t: m.soc[t] == before(m, t) * keep
                               + ec * m.ch[t] - m.dis[t] / ed)
    m.discharge_limit = pyo.Constraint(
        m.T, rule=lambda m, t: m.dis[t] / ed <= before(m, t) * keep - min_frac * m.bess_mwh)
    m.charge_limit = pyo.Constraint(
        m.T, rule=lambda m, t: ec * m.ch[t] <= max_frac * m.bess_mwh - before(m, t) * keep)
    m.cyclic = pyo.Constraint(expr=m.soc[d.n - 1] >= m.soc_init)


def per_real_day(m: pyo.ConcreteModel, tp: TypicalDays, name: str, rule) -> None:
    """A constraint per real day ``j`` of the horizon, built by ``rule(m, j, k)`` with ``k``
    the typical day that stands for it."""
    m.add_component(name, pyo.Constraint(m.D, rule=lambda m, j: pyo.Constraint.Skip
                                         if j == tp.days else rule(m, j, int(tp.assignments[j]))))


def add_linked_storage(m: pyo.ConcreteModel, d: HorizonData, tp: TypicalDays,
                       costs: SizingCosts, min_frac: float, max_frac: float,
                       start_frac: float) -> None:
    """The battery over typical days, linked across the real days (Kotzur et al. 2018).

    Within typical day ``k`` the content moves from 0 as ``x_t = keep x_{t-1} + eta_c C_t -
    D_t / eta_d``; ``lo_k`` and ``hi_k`` bound the lowest content a discharge leaves and the
    highest a charge reaches, from the start of each slice (the dispatch family's order). Real
    day ``d`` starts with ``s_d``, ``s_{d+1} = keep^S s_d + x_{k(d), end}``, and ``s_d + lo_k
    >= min * E``, ``s_d + hi_k <= max * E``. The run ends where it started (``s_D >= s_0``).
    The real day's start content is not decayed within the day for these bounds; at the
    scenario's self-discharge (0.1 % a day) that moves a bound by at most 0.1 % of the content.
    """
    b = d.battery
    ec, ed = (b.charge_efficiency, b.discharge_efficiency) if b else (0.95, 0.95)
    keep = 1.0 - (b.self_discharge_per_slice if b else 0.0)
    per, dt = tp.per_day, d.dt_h
    m.K = pyo.RangeSet(0, tp.k - 1)
    m.D = pyo.RangeSet(0, tp.days)
    m.bess_mw = pyo.Var(bounds=(0.0, costs.bess_power.max_units))
    m.bess_mwh = pyo.Var(bounds=(0.0, costs.bess_energy.max_units))
    m.ch = pyo.Var(m.T, bounds=(0.0, None))
    m.dis = pyo.Var(m.T, bounds=(0.0, None))
    m.intra = pyo.Var(m.T)
    m.intra_lo = pyo.Var(m.K)
    m.intra_hi = pyo.Var(m.K)
    m.soc_day = pyo.Var(m.D, bounds=(0.0, None))
    m.charge_power = pyo.Constraint(m.T, rule=lambda m, t: m.ch[t] <= dt * m.bess_mw)
    m.discharge_power = pyo.Constraint(m.T, rule=lambda m, t: m.dis[t] <= dt * m.bess_mw)

    def before(m, t):
        return m.intra[t - 1] * keep if t % per else 0.0

    m.storage = pyo.Constraint(m.T, rule=lambda m, t: m.intra[t] == before(m, t)
                               + ec * m.ch[t] - m.dis[t] / ed)
    m.discharge_low = pyo.Constraint(m.T, rule=lambda m, t: m.intra_lo[t // per]
                                     <= before(m, t) - m.dis[t] / ed)
    m.charge_high = pyo.Constraint(m.T, rule=lambda m, t: m.intra_hi[t // per]
                                   >= before(m, t) + ec * m.ch[t])
    per_real_day(m, tp, "day_link", lambda m, j, k: m.soc_day[j + 1] == keep ** per
                 * m.soc_day[j] + m.intra[k * per + per - 1])
    per_real_day(m, tp, "day_min", lambda m, j, k: m.soc_day[j] + m.intra_lo[k]
                 >= min_frac * m.bess_mwh)
    per_real_day(m, tp, "day_max", lambda m, j, k: m.soc_day[j] + m.intra_hi[k]
                 <= max_frac * m.bess_mwh)
    m.start_share = pyo.Constraint(expr=m.soc_day[0] == start_frac * m.bess_mwh)
    m.cyclic = pyo.Constraint(expr=m.soc_day[tp.days] >= m.soc_day[0])


def add_linked_green_pool(m: pyo.ConcreteModel, d: HorizonData, tp: TypicalDays,
                          initial_green_fraction: float) -> None:
    """The green content of the store over typical days, linked like the content: an intra-day
    pool from 0, a start per real day, at least 0 and at most the content throughout (``glo_k``
    and ``gap_k`` are the typical day's lowest pool and its highest excess over the content)."""
    b = d.battery
    ec, ed = (b.charge_efficiency, b.discharge_efficiency) if b else (0.95, 0.95)
    keep = 1.0 - (b.self_discharge_per_slice if b else 0.0)
    per, f = tp.per_day, d.discharge_green_fraction
    m.gintra = pyo.Var(m.T)
    m.gintra_lo = pyo.Var(m.K)
    m.gintra_gap = pyo.Var(m.K)
    m.green_day = pyo.Var(m.D, bounds=(0.0, None))
    m.green_pool = pyo.Constraint(m.T, rule=lambda m, t: m.gintra[t] == (
        m.gintra[t - 1] * keep if t % per else 0.0) + ec * m.g_charge[t]
        - float(f[t]) / ed * m.dis[t])
    m.green_low = pyo.Constraint(m.T, rule=lambda m, t: m.gintra_lo[t // per] <= m.gintra[t])
    m.green_gap = pyo.Constraint(m.T, rule=lambda m, t: m.gintra_gap[t // per]
                                 >= m.gintra[t] - m.intra[t])
    per_real_day(m, tp, "green_link", lambda m, j, k: m.green_day[j + 1] == keep ** per
                 * m.green_day[j] + m.gintra[k * per + per - 1])
    per_real_day(m, tp, "green_floor", lambda m, j, k: m.green_day[j] + m.gintra_lo[k] >= 0.0)
    per_real_day(m, tp, "green_cap", lambda m, j, k: m.green_day[j] + m.gintra_gap[k]
                 <= m.soc_day[j])
    m.green_init = pyo.Constraint(expr=m.green_day[0] == initial_green_fraction * m.soc_day[0])


def make_batch_periodic(m: pyo.ConcreteModel, tp: TypicalDays) -> None:
    """Batch work within each typical day: the backlog a day ends with is the one it starts
    with (the first slice's account refers to the day's last slice, not the day before)."""
    per = tp.per_day
    starts = list(range(0, tp.k * per, per))
    for t in starts:
        m.deferrable[t].deactivate()
    m.deferrable_periodic = pyo.Constraint(starts, rule=lambda m, t: m.backlog[t] == m.backlog[
        t + per - 1] + m.released[t] - m.batch[t])


def build_sizing_model(d: HorizonData, cf_pv: np.ndarray, cf_wind: np.ndarray,
                       costs: SizingCosts, target: float, method: str,
                       min_frac: float = 0.05, max_frac: float = 0.95,
                       start_frac: float = 0.5,
                       periods: TypicalDays | None = None) -> pyo.ConcreteModel:
    """The sizing LP of a horizon (module docstring), or of its typical days (``periods``:
    ``d`` then holds the typical days end to end, see :mod:`twin.optimize.periods`)."""
    m = pyo.ConcreteModel(name="sizing")
    m.T = pyo.RangeSet(0, d.n - 1)
    w = np.ones(d.n) if periods is None else periods.slice_weights()
    add_sized_supply(m, d, cf_pv, cf_wind, costs)
    if periods is None:
        add_sized_storage(m, d, costs, min_frac, max_frac, start_frac)
    else:
        add_linked_storage(m, d, periods, costs, min_frac, max_frac, start_frac)
    add_deferrable_constraints(m, d)
    if periods is not None:
        make_batch_periodic(m, periods)
    add_training_constraints(m, d)
    add_balance_constraints(m, d)
    d_green = d
    if d.battery is None or periods is not None:
        # the green pool needs efficiencies (the sized store has them); over typical days the
        # linked pool replaces the chronological one
        from models.battery import BatteryParams

        d_green = _with_battery(d, None if periods is not None else BatteryParams(
            1.0, 1.0, 0.95, 0.95, 0.0, 1.0, 0.0))
    add_green_constraints(m, d_green)
    if periods is not None:
        add_linked_green_pool(m, d, periods, d.initial_green_fraction)
    add_gti_target_constraint(m, d, target, method, w)
    year_scale = 8760.0 / (float(w.sum()) * d.dt_h)
    m.peak_import = pyo.Var(bounds=(0.0, None))
    m.peak = pyo.Constraint(m.T, rule=lambda m, t: m.peak_import >= m.imp[t] / d.dt_h)
    capacity = (costs.pv.annual_usd_per_unit * m.pv_mw
                + costs.wind.annual_usd_per_unit * m.wind_mw
                + costs.bess_power.annual_usd_per_unit * m.bess_mw
                + costs.bess_energy.annual_usd_per_unit * m.bess_mwh)
    energy = year_scale * sum(float(w[t]) * (float(d.price[t]) * m.imp[t]
                                             - d.export_price * m.exp[t]) for t in m.T)
    demand = 12.0 * costs.demand_charge_usd_per_mw_month * m.peak_import
    batch_mwh = d.batch_mwh_per_gpu_s
    short = (sum(float(w[t]) * (m.unserved[t] + batch_mwh * m.batch_late[t]) for t in m.T)
             + sum(d.training[j].it_mwh_per_slice / d.training[j].tokens_per_slice
                   * m.train_short[j] for j in m.J) + m.target_short)
    m.objective = pyo.Objective(
        expr=(capacity + energy + demand) / COST_SCALE
        + THROUGHPUT_TIEBREAK * sum(float(w[t]) * (m.ch[t] + m.dis[t]) for t in m.T)
        + PENALTY * year_scale * short, sense=pyo.minimize)
    return m


def _with_battery(d: HorizonData, b) -> HorizonData:
    import dataclasses

    return dataclasses.replace(d, battery=b)


class Sizer:
    """A sizing LP compiled once; targets change in place (the coefficients of IT energy in the
    target row), so a frontier re-solves warm. ``periods``: size on typical days (``d`` holds
    them end to end); ``fixed``: capacities held at given values (``pv_mw``, ``wind_mw``,
    ``bess_mw``, ``bess_mwh``), which makes the LP the plant's dispatch for the target."""

    CAPACITIES = ("pv_mw", "wind_mw", "bess_mw", "bess_mwh")

    def __init__(self, d: HorizonData, cf_pv, cf_wind, costs: SizingCosts, method: str,
                 target: float, time_limit_s: float | None = None,
                 periods: TypicalDays | None = None, fixed: dict | None = None, **storage):
        t0 = time.perf_counter()
        self.d, self.method, self.costs, self.periods = d, method, costs, periods
        self.w = np.ones(d.n) if periods is None else periods.slice_weights()
        self.model = build_sizing_model(in_units(d, GPU_S_UNIT, TOKEN_UNIT), cf_pv, cf_wind,
                                        costs, target, method, periods=periods, **storage)
        self.lp = CompiledLP(self.model)
        for name, value in (fixed or {}).items():
            self.lp.set_col_bounds([self.lp.col(name)], value, value)
        self.build_s = time.perf_counter() - t0
        self.row = self.lp.rows["gti_target"][0]
        self.it_cols = self.lp.col_array("it", range(d.n))
        self.sign = self.lp.orientation(np.full(d.n, self.row), self.it_cols,
                                        np.full(d.n, target) * self.w)
        self.target = target
        self.time_limit_s = time_limit_s
        if time_limit_s is not None:
            self.lp.h.setOptionValue("time_limit", float(time_limit_s))

    def solve(self, target: float) -> SizingResult:
        lp, d, w = self.lp, self.d, self.w
        if target != self.target:
            lp.set_coeffs(np.full(d.n, self.row), self.it_cols, self.sign * target * w)
            self.target = target
        t0 = time.perf_counter()
        try:
            x = lp.solve()
        except SolveError as err:
            return SizingResult(target=target, method=self.method,
                                status=f"not solved: {err} ({self.time_limit_s} s); size on "
                                       "typical days (--typical-days) or fewer days",
                                solve_s=time.perf_counter() - t0)
        solve_s = time.perf_counter() - t0
        val = {n: max(float(x[lp.col(n)]), 0.0) + 0.0
               for n in (*self.CAPACITIES, "target_short", "peak_import")}
        t = range(d.n)
        g_it, it = lp.values(x, "g_it", t), lp.values(x, "it", t)
        if self.method == "slice":
            green = g_it @ w
        else:
            green = (g_it + lp.values(x, "g_nonit", t) + lp.values(x, "g_export", t)) @ w
        planned = float(green / (it @ w))
        unserved = lp.values(x, "unserved", t) @ w
        c = self.costs
        parts = {"pv": c.pv.annual_usd_per_unit * val["pv_mw"],
                 "wind": c.wind.annual_usd_per_unit * val["wind_mw"],
                 "bess_power": c.bess_power.annual_usd_per_unit * val["bess_mw"],
                 "bess_energy": c.bess_energy.annual_usd_per_unit * val["bess_mwh"],
                 "energy": 8760.0 / (w.sum() * d.dt_h) * float(
                     (lp.values(x, "imp", t) * d.price - d.export_price * lp.values(
                         x, "exp", t)) @ w),
                 "demand": 12.0 * c.demand_charge_usd_per_mw_month * val["peak_import"]}
        res = SizingResult(target=target, method=self.method, status="optimal",
                           annual_cost=float(sum(parts.values())), pv_mw=val["pv_mw"],
                           wind_mw=val["wind_mw"], bess_mw=val["bess_mw"],
                           bess_mwh=val["bess_mwh"], planned_gti=planned,
                           cost_parts={k: float(v) for k, v in parts.items()}, solve_s=solve_s)
        if val["target_short"] > 1e-6 * (it @ w):
            res.status = "infeasible: " + self._binding(planned)
        elif unserved > 1e-6:
            res.status = "infeasible: grid.max_import_mw (the site cannot be supplied)"
        return res

    def _binding(self, reached: float) -> str:
        """Name the limit that stops the target: the capacity limits at their bound."""
        lp, c = self.lp, self.costs
        x = np.asarray(lp.h.getSolution().col_value)
        at_limit = [name for name, cap, tech in (("pv", "pv_mw", c.pv), ("wind", "wind_mw",
                                                  c.wind), ("battery energy", "bess_mwh",
                                                            c.bess_energy))
                    if tech.max_units is not None and x[lp.col(cap)] >= tech.max_units - 1e-6]
        limits = ", ".join(f"{n} at its max" for n in at_limit) or "POI and availability"
        return f"{limits}; the highest reachable GTI is {reached:.4f}"


def sizing_costs(cfg) -> SizingCosts:
    """Annualised costs from a scenario's ``sizing`` block."""
    def tech(t) -> TechCost:
        return TechCost(t.capex_usd_per_unit * crf(cfg.discount_rate, t.lifetime_years)
                        + t.fixed_om_usd_per_unit_year, t.max_units)

    return SizingCosts(tech(cfg.pv), tech(cfg.wind), tech(cfg.bess_power),
                       tech(cfg.bess_energy), cfg.demand_charge_usd_per_mw_month)


def per_mw_profiles(inp) -> tuple[np.ndarray, np.ndarray]:
    """Available PV and wind power per MW of capacity (AC for PV, nameplate for wind) [MW/MW]."""
    pv = inp.pv_avail_mw / inp.pv_ac_mw if inp.pv_ac_mw else np.zeros(inp.n)
    wind = inp.wind_avail_mw / inp.wind_nameplate_mw if inp.wind_nameplate_mw else np.zeros(inp.n)
    return pv, wind
