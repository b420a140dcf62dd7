"""Capacity expansion: the cheapest PV, wind and battery that keep a campus at a GTI target.

The sizing LP is the dispatch model family with capacities as variables: PV and wind take at most
their capacity times the site's per-MW availability (pvlib and windpowerlib on the site's weather),
the battery's power and energy limits scale with its power and energy capacity, and the run starts
and ends with the store at the same share of its size. Every other family (deferrable work,
training, balance, green with a storage pool, the target under the time-slice or the aggregate
method) is the dispatch one. The objective is the annual cost:

    sum_k (capex_k * CRF(r, life_k) + fixed O&M_k) * capacity_k
    + (import cost - export revenue + battery wear) * (8760 h / horizon)
    + demand charge * 12 * peak import

with ``CRF(r, n) = r (1 + r)^n / ((1 + r)^n - 1)``. The battery's wear (with
``battery.ageing.wear_in_dispatch``: a price per MWh discharged, twin/ageing.py) prices the
replacements its cycling brings over the project's life; its calendar life is the annuity's.
Solved at the resolution asked for (hourly by default) by HiGHS's interior-point solver HiPO
(:data:`SIZING_SOLVER`; dual simplex and IPX do not finish a year, ``benchmarks/sizing.py``);
the chosen plant is then simulated at the scenario's own resolution and scored by gti_core.

Rows that would do no work are not built: no peak-import rows without a demand charge, and no
per-slice battery window (the charge and discharge limits of the dispatch family keep every
content within it).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from twin.gcpause import paused_gc
from twin.optimize.data import HorizonData
from twin.optimize.handles import (
    DeferrableHandle,
    DispatchModel,
    GreenHandle,
    SizedStorage,
    StorageHandle,
)
from twin.optimize.highs import CompiledLP, Scaling, SolveError, SolverSettings
from twin.optimize.model import (
    COST_SCALE,
    PENALTY,
    THROUGHPUT_TIEBREAK,
    add_dispatch_families,
    add_green_constraints,
    add_gti_target_constraint,
    shortfall_mwh,
)
from twin.optimize.periods import TypicalDays

#: GPU time and training progress reach HiGHS in these units (:class:`Scaling`): a campus has
#: 1e8 GPU-seconds a slice and a training run 1e13 tokens, against MWh of order 1-100; in
#: GPU-seconds and tokens the matrix spans 17 orders of magnitude, in these units about 7.
GPU_S_UNIT, TOKEN_UNIT = 1e6, 1e9


#: Sizing solves a year's LP once per target: HiPO, no basis needed (FEASIBILITY.md, issue 18:
#: dual simplex and IPX do not finish the hourly year in 240 s, HiPO does in about a minute).
SIZING_SOLVER = SolverSettings(method="hipo", time_limit_s=600.0)


def fixed_plant_solver(solver: SolverSettings) -> SolverSettings:
    """How to solve the chronological LP of a plant with its capacities fixed (the check of a
    typical-day plant over every day): IPX where sizing runs HiPO, the rest of ``solver`` kept.

    With the capacities fixed HiPO's augmented system often stalls on the default scenario's
    hourly year and dual simplex takes over: the 32-day medoid plant's check took 149 to 225 s
    that way, the 64-day plant's 78 s (HiPO) and once 300 s. IPX solved the 32- and 64-day
    medoid plants in 90 s and 60-67 s (two runs each, one in ``sizing.json``), the 32-day
    value-distribution plant in 83 s and the optimum's plant in 78 s (one run each; issue 18)."""
    return replace(solver, method="ipx") if solver.method == "hipo" else solver


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
    certificate_usd_per_mwh: float | None = None  # None: no purchases


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
    certificates_mwh: float = 0.0  # bought per year
    solver: str = ""  # the LP method that solved it (``CompiledLP.solved_by``)


def per_real_day(m: pyo.ConcreteModel, tp: TypicalDays, name: str, rule) -> None:
    """A constraint per real day ``j`` of the horizon, built by ``rule(m, j, k)`` with ``k``
    the typical day that stands for it."""
    m.add_component(name, pyo.Constraint(m.D, rule=lambda m, j: pyo.Constraint.Skip
                                         if j == tp.days else rule(m, j, int(tp.assignments[j]))))


def add_linked_storage(m: pyo.ConcreteModel, d: HorizonData, tp: TypicalDays,
                       sized: SizedStorage) -> StorageHandle:
    """The battery over typical days, linked across the real days (Kotzur et al. 2018).

    Within typical day ``k`` the content moves from 0 as ``x_t = keep x_{t-1} + eta_c C_t -
    D_t / eta_d``; ``lo_k`` and ``hi_k`` bound the lowest content a discharge leaves and the
    highest a charge reaches, from the start of each slice (the dispatch family's order). Real
    day ``d`` starts with ``s_d``, ``s_{d+1} = keep^S s_d + x_{k(d), end}``, and ``s_d + lo_k
    >= min * E``, ``s_d + hi_k <= max * E``. The run ends where it started (``s_D >= s_0``).
    The real day's start content is not decayed within the day for these bounds; at the
    scenario's self-discharge (0.1 % a day) that moves a bound by at most 0.1 % of the content.
    Efficiencies and self-discharge are the scenario battery's (``d.battery``).
    """
    b = d.battery
    if b is None:
        raise ValueError("sizing a battery needs its efficiencies: give the site a battery "
                         "block")
    ec, ed = b.charge_efficiency, b.discharge_efficiency
    keep = 1.0 - b.self_discharge_per_slice
    per, dt = tp.per_day, d.dt_h
    m.K = pyo.RangeSet(0, tp.k - 1)
    m.D = pyo.RangeSet(0, tp.days)
    m.bess_mw = pyo.Var(bounds=(0.0, sized.max_power_mw))
    m.bess_mwh = pyo.Var(bounds=(0.0, sized.max_energy_mwh))
    m.charge_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.discharge_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.intra_soc_mwh = pyo.Var(m.T)
    m.intra_low_mwh = pyo.Var(m.K)
    m.intra_high_mwh = pyo.Var(m.K)
    m.day_start_soc_mwh = pyo.Var(m.D, bounds=(0.0, None))
    ch, dis, x, day = m.charge_mwh, m.discharge_mwh, m.intra_soc_mwh, m.day_start_soc_mwh
    m.charge_power = pyo.Constraint(m.T, rule=lambda m, t: ch[t] <= dt * m.bess_mw)
    m.discharge_power = pyo.Constraint(m.T, rule=lambda m, t: dis[t] <= dt * m.bess_mw)

    def before(m, t):
        return x[t - 1] * keep if t % per else 0.0

    m.storage = pyo.Constraint(m.T, rule=lambda m, t: x[t] == before(m, t) + ec * ch[t]
                               - dis[t] / ed)
    m.discharge_low = pyo.Constraint(m.T, rule=lambda m, t: m.intra_low_mwh[t // per]
                                     <= before(m, t) - dis[t] / ed)
    m.charge_high = pyo.Constraint(m.T, rule=lambda m, t: m.intra_high_mwh[t // per]
                                   >= before(m, t) + ec * ch[t])
    per_real_day(m, tp, "day_link", lambda m, j, k: day[j + 1] == keep ** per
                 * day[j] + x[k * per + per - 1])
    per_real_day(m, tp, "day_min", lambda m, j, k: day[j] + m.intra_low_mwh[k]
                 >= sized.min_soc_fraction * m.bess_mwh)
    per_real_day(m, tp, "day_max", lambda m, j, k: day[j] + m.intra_high_mwh[k]
                 <= sized.max_soc_fraction * m.bess_mwh)
    m.start_share = pyo.Constraint(expr=day[0] == sized.initial_soc_fraction * m.bess_mwh)
    m.cyclic = pyo.Constraint(expr=day[tp.days] >= day[0])
    return StorageHandle(ch, dis, x, day[0], m.storage, power_mw=m.bess_mw,
                         energy_mwh=m.bess_mwh)


def add_linked_green_pool(m: pyo.ConcreteModel, d: HorizonData, tp: TypicalDays,
                          storage: StorageHandle, green: GreenHandle) -> None:
    """The green content of the store over typical days, linked like the content: an intra-day
    pool from 0, a start per real day, at least 0 and at most the content throughout (the
    typical day's lowest pool and its highest excess over the content bound it)."""
    b = d.battery
    ec, ed = b.charge_efficiency, b.discharge_efficiency
    keep = 1.0 - b.self_discharge_per_slice
    per, f = tp.per_day, d.discharge_green_fraction
    m.intra_green_mwh = pyo.Var(m.T)
    m.intra_green_low_mwh = pyo.Var(m.K)
    m.intra_green_gap_mwh = pyo.Var(m.K)
    m.day_start_green_mwh = pyo.Var(m.D, bounds=(0.0, None))
    gx, gday, day = m.intra_green_mwh, m.day_start_green_mwh, m.day_start_soc_mwh
    m.green_pool = pyo.Constraint(m.T, rule=lambda m, t: gx[t] == (
        gx[t - 1] * keep if t % per else 0.0) + ec * green.charge_mwh[t]
        - float(f[t]) / ed * storage.discharge_mwh[t])
    m.green_low = pyo.Constraint(m.T, rule=lambda m, t: m.intra_green_low_mwh[t // per]
                                 <= gx[t])
    m.green_gap = pyo.Constraint(m.T, rule=lambda m, t: m.intra_green_gap_mwh[t // per]
                                 >= gx[t] - storage.soc_mwh[t])
    per_real_day(m, tp, "green_link", lambda m, j, k: gday[j + 1] == keep ** per
                 * gday[j] + gx[k * per + per - 1])
    per_real_day(m, tp, "green_floor", lambda m, j, k: gday[j]
                 + m.intra_green_low_mwh[k] >= 0.0)
    per_real_day(m, tp, "green_cap", lambda m, j, k: gday[j] + m.intra_green_gap_mwh[k]
                 <= day[j])
    m.green_init = pyo.Constraint(expr=gday[0] == d.initial_green_fraction * day[0])


def make_batch_periodic(m: pyo.ConcreteModel, tp: TypicalDays,
                        q: DeferrableHandle) -> pyo.Constraint:
    """Batch work within each typical day: the backlog a day ends with is the one it starts
    with (the first slice's account refers to the day's last slice, not the day before)."""
    per = tp.per_day
    starts = list(range(0, tp.k * per, per))
    for t in starts:
        q.account[t].deactivate()
    m.deferrable_periodic = pyo.Constraint(
        starts, rule=lambda m, t: q.backlog_gpu_s[t] == q.backlog_gpu_s[t + per - 1]
        + q.released_gpu_s[t] - q.batch_gpu_s[t])
    return m.deferrable_periodic


@dataclass(frozen=True)
class SizingModel:
    """A sizing LP, the handles of its families, and its cost parts."""

    dispatch: DispatchModel
    periodic_batch: pyo.Constraint | None
    peak_import_mw: pyo.Var | None  # None without a demand charge
    certificates: CertificateHandle | None = None

    @property
    def model(self) -> pyo.ConcreteModel:
        return self.dispatch.model

    def scaling(self) -> Scaling:
        """GPU time in :data:`GPU_S_UNIT` and tokens in :data:`TOKEN_UNIT` for HiGHS."""
        h = self.dispatch
        gpu_s_rows = [*h.deferrable.gpu_s_rows(), h.training.gpus]
        if self.periodic_batch is not None:
            gpu_s_rows.append(self.periodic_batch)
        rows = ComponentMap((r, GPU_S_UNIT) for r in gpu_s_rows)
        rows.update((r, TOKEN_UNIT) for r in h.training.token_rows())
        cols = ComponentMap((c, GPU_S_UNIT) for c in h.deferrable.gpu_s_columns())
        cols.update((c, TOKEN_UNIT) for c in h.training.token_columns())
        return Scaling(columns=cols, rows=rows)


@dataclass(frozen=True)
class CertificateHandle:
    """Certificates bought: per slice (hourly, time-slice method) or one volume (annual,
    aggregate method) [MWh], and their total over the horizon's weighted slices."""

    mwh: pyo.Var
    total: object


def add_certificate_purchases(m: pyo.ConcreteModel, d: HorizonData, balance, green,
                              method: str, w: np.ndarray, costs: SizingCosts
                              ) -> CertificateHandle | None:
    """Buy instead of build (None without a certificate price): under the time-slice method
    hourly certificates cover IT energy physical green leaves uncovered in their own slice
    (spec section 5); under the aggregate method an annual volume counts up to the IT energy
    the rest leaves uncovered (the target row caps it)."""
    if costs.certificate_usd_per_mwh is None:
        return None
    if method == "slice":
        m.certificate_mwh = pyo.Var(m.T, bounds=(0.0, None))
        m.certificate_cover = pyo.Constraint(
            m.T, rule=lambda m, t: m.certificate_mwh[t] + green.it_mwh[t]
            <= balance.it_mwh[t])
        total = sum(float(w[t]) * m.certificate_mwh[t] for t in m.T)
    else:
        m.certificate_mwh = pyo.Var(bounds=(0.0, None))
        total = m.certificate_mwh
    return CertificateHandle(m.certificate_mwh, total)


def build_sizing_model(d: HorizonData, cf_pv: np.ndarray, cf_wind: np.ndarray,
                       costs: SizingCosts, target: float, method: str,
                       min_soc_fraction: float = 0.05, max_soc_fraction: float = 0.95,
                       initial_soc_fraction: float = 0.5,
                       periods: TypicalDays | None = None) -> SizingModel:
    """The sizing LP of a horizon (module docstring), or of its typical days (``periods``:
    ``d`` then holds the typical days end to end, see :mod:`twin.optimize.periods`). The
    dispatch families with capacities as variables; the battery's efficiencies are
    ``d.battery``'s (the scenario's)."""
    m = pyo.ConcreteModel(name="sizing")
    m.T = pyo.RangeSet(0, d.n - 1)
    w = np.ones(d.n) if periods is None else periods.slice_weights()
    sized = SizedStorage(min_soc_fraction, max_soc_fraction, initial_soc_fraction,
                         costs.bess_power.max_units, costs.bess_energy.max_units)
    linked = (None if periods is None
              else lambda m, d: add_linked_storage(m, d, periods, sized))
    supply, storage, deferrable, training, balance = add_dispatch_families(
        m, d, (costs.pv.max_units, costs.wind.max_units), cf_pv, cf_wind, sized, linked)
    periodic = make_batch_periodic(m, periods, deferrable) if periods is not None else None
    green = add_green_constraints(m, d, supply, storage, balance, pool=periods is None)
    if periods is not None:
        add_linked_green_pool(m, d, periods, storage, green)
    bought = add_certificate_purchases(m, d, balance, green, method, w, costs)
    target_h = add_gti_target_constraint(m, d, balance, green, target, method, w,
                                         extra=bought.total if bought is not None else None)
    h = DispatchModel(m, supply, storage, deferrable, training, balance, green, target_h)
    year_scale = 8760.0 / (float(w.sum()) * d.dt_h)
    demand = 0.0
    peak = None
    if costs.demand_charge_usd_per_mw_month > 0.0:  # a column and rows that do no work without
        m.peak_import_mw = peak = pyo.Var(bounds=(0.0, None))
        m.peak = pyo.Constraint(m.T, rule=lambda m, t: peak >= supply.import_mwh[t] / d.dt_h)
        demand = 12.0 * costs.demand_charge_usd_per_mw_month * peak
    capacity = (costs.pv.annual_usd_per_unit * supply.pv_capacity_mw
                + costs.wind.annual_usd_per_unit * supply.wind_capacity_mw
                + costs.bess_power.annual_usd_per_unit * storage.power_mw
                + costs.bess_energy.annual_usd_per_unit * storage.energy_mwh)
    price, xp = d.price_usd_per_mwh, d.export_price_usd_per_mwh
    wear = d.battery_wear_usd_per_mwh  # cycling wear: replacements over the project's life
    energy = year_scale * sum(float(w[t]) * (float(price[t]) * supply.import_mwh[t]
                                             - xp * supply.export_mwh[t]
                                             + wear * storage.discharge_mwh[t]) for t in m.T)
    if bought is not None:
        demand = demand + year_scale * costs.certificate_usd_per_mwh * bought.total
    short = shortfall_mwh(d, h, w, batch_mwh_per_gpu_s=d.batch_mwh_per_gpu_s)
    m.objective = pyo.Objective(
        expr=(capacity + energy + demand) / COST_SCALE
        + THROUGHPUT_TIEBREAK * sum(float(w[t]) * (storage.charge_mwh[t]
                                                   + storage.discharge_mwh[t]) for t in m.T)
        + PENALTY * year_scale * short, sense=pyo.minimize)
    return SizingModel(h, periodic, peak, bought)


@dataclass(frozen=True)
class Plant:
    """Capacities of a plant: PV (AC) and wind [MW], battery power [MW] and energy [MWh]."""

    pv_mw: float
    wind_mw: float
    bess_mw: float
    bess_mwh: float

    @classmethod
    def of(cls, res: SizingResult) -> Plant:
        return cls(res.pv_mw, res.wind_mw, res.bess_mw, res.bess_mwh)

    def values(self) -> tuple[float, float, float, float]:
        """The four capacities in field order."""
        return (self.pv_mw, self.wind_mw, self.bess_mw, self.bess_mwh)


class Sizer:
    """A sizing LP compiled once; targets change in place (the coefficients of IT energy in the
    target row), so a frontier re-solves warm. ``periods``: size on typical days (``d`` holds
    them end to end); ``fixed``: capacities held at a given :class:`Plant`, which makes the LP
    the plant's dispatch for the target."""

    @paused_gc()
    def __init__(self, d: HorizonData, cf_pv, cf_wind, costs: SizingCosts, method: str,
                 target: float, solver: SolverSettings = SIZING_SOLVER,
                 periods: TypicalDays | None = None, fixed: Plant | None = None, **storage):
        t0 = time.perf_counter()
        self.d, self.method, self.costs, self.periods = d, method, costs, periods
        self.w = np.ones(d.n) if periods is None else periods.slice_weights()
        self.sm = build_sizing_model(d, cf_pv, cf_wind, costs, target, method,
                                     periods=periods, **storage)
        h = self.sm.dispatch
        self.lp = CompiledLP(self.sm.model, solver, scaling=self.sm.scaling())
        # the capacity variables in Plant's field order
        self.capacity_vars = (h.supply.pv_capacity_mw, h.supply.wind_capacity_mw,
                              h.storage.power_mw, h.storage.energy_mwh)
        if fixed is not None:
            for var, value in zip(self.capacity_vars, fixed.values(), strict=True):
                self.lp.set_col_bounds([self.lp.col(var)], value, value)
        self.build_s = time.perf_counter() - t0
        self.row = self.lp.row(h.target.row)
        self.it_cols = self.lp.col_array(h.balance.it_mwh, range(d.n))
        self.sign = self.lp.orientation(np.full(d.n, self.row), self.it_cols,
                                        np.full(d.n, target) * self.w)
        self.target = target
        self.solver = solver

    def _capacities(self, x: np.ndarray) -> Plant:
        return Plant(*(max(float(x[self.lp.col(v)]), 0.0) + 0.0
                       for v in self.capacity_vars))

    def solve(self, target: float) -> SizingResult:
        lp, d, w, h = self.lp, self.d, self.w, self.sm.dispatch
        if target != self.target:
            lp.set_coeffs(np.full(d.n, self.row), self.it_cols, self.sign * target * w)
            self.target = target
        t0 = time.perf_counter()
        try:
            x = lp.solve()
        except SolveError as err:
            return SizingResult(target=target, method=self.method,
                                status=f"not solved: {err} (time limit "
                                       f"{self.solver.time_limit_s} s); size on typical days "
                                       "(--typical-days) or fewer days",
                                solve_s=time.perf_counter() - t0, solver=lp.solved_by)
        solve_s = time.perf_counter() - t0
        plant = self._capacities(x)
        target_short = max(float(x[lp.col(h.target.short_mwh)]), 0.0)
        peak = self.sm.peak_import_mw
        peak_mw = 0.0 if peak is None else max(float(x[lp.col(peak)]), 0.0)
        t, g = range(d.n), h.green
        g_it, it = lp.values(x, g.it_mwh, t), lp.values(x, h.balance.it_mwh, t)
        if self.method == "slice":
            green = g_it @ w
        else:
            green = (g_it + lp.values(x, g.nonit_mwh, t) + lp.values(x, g.export_mwh, t)) @ w
        cert = self.sm.certificates
        bought = 0.0
        if cert is not None:
            bought = float(lp.values(x, cert.mwh, t) @ w if self.method == "slice"
                           else x[lp.col(cert.mwh)])
        green += bought
        planned = float(green / (it @ w))
        unserved = lp.values(x, h.supply.unserved_mwh, t) @ w
        c = self.costs
        energy = float((lp.values(x, h.supply.import_mwh, t) * d.price_usd_per_mwh
                        - d.export_price_usd_per_mwh * lp.values(x, h.supply.export_mwh, t))
                       @ w)
        year = 8760.0 / (w.sum() * d.dt_h)  # horizons a year holds
        parts = {"pv": c.pv.annual_usd_per_unit * plant.pv_mw,
                 "wind": c.wind.annual_usd_per_unit * plant.wind_mw,
                 "bess_power": c.bess_power.annual_usd_per_unit * plant.bess_mw,
                 "bess_energy": c.bess_energy.annual_usd_per_unit * plant.bess_mwh,
                 "energy": year * energy,
                 "demand": 12.0 * c.demand_charge_usd_per_mw_month * peak_mw}
        if cert is not None:
            parts["certificates"] = year * bought * c.certificate_usd_per_mwh
        if d.battery_wear_usd_per_mwh:
            parts["battery_wear"] = year * d.battery_wear_usd_per_mwh * float(
                lp.values(x, h.storage.discharge_mwh, t) @ w)
        res = SizingResult(target=target, method=self.method, status="optimal",
                           annual_cost=float(sum(parts.values())), **asdict(plant),
                           planned_gti=planned,
                           cost_parts={k: float(v) for k, v in parts.items()}, solve_s=solve_s,
                           certificates_mwh=year * bought, solver=lp.solved_by)
        if target_short > 1e-6 * (it @ w):
            res.status = "infeasible: " + self._binding(plant, planned)
        elif unserved > 1e-6:
            res.status = "infeasible: grid.max_import_mw (the site cannot be supplied)"
        return res

    def _binding(self, plant: Plant, reached: float) -> str:
        """Name the limit that stops the target: the capacity limits at their bound."""
        c = self.costs
        at_limit = [name for name, built, tech in (("pv", plant.pv_mw, c.pv),
                                                   ("wind", plant.wind_mw, c.wind),
                                                   ("battery energy", plant.bess_mwh,
                                                    c.bess_energy))
                    if tech.max_units is not None and built >= tech.max_units - 1e-6]
        limits = ", ".join(f"{n} at its max" for n in at_limit) or "POI and availability"
        return f"{limits}; the highest reachable GTI is {reached:.4f}"


def sizing_costs(cfg) -> SizingCosts:
    """Annualised costs from a scenario's ``sizing`` block."""
    def tech(t) -> TechCost:
        return TechCost(t.capex_usd_per_unit * crf(cfg.discount_rate, t.lifetime_years)
                        + t.fixed_om_usd_per_unit_year, t.max_units)

    return SizingCosts(tech(cfg.pv), tech(cfg.wind), tech(cfg.bess_power),
                       tech(cfg.bess_energy), cfg.demand_charge_usd_per_mw_month,
                       cfg.certificate_usd_per_mwh)


def per_mw_profiles(inp) -> tuple[np.ndarray, np.ndarray]:
    """Available PV and wind power per MW of capacity (AC for PV, nameplate for wind) [MW/MW]."""
    pv = inp.pv_avail_mw / inp.pv_ac_mw if inp.pv_ac_mw else np.zeros(inp.n)
    wind = inp.wind_avail_mw / inp.wind_nameplate_mw if inp.wind_nameplate_mw else np.zeros(inp.n)
    return pv, wind
