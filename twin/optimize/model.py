"""One Pyomo model family for dispatch: each constraint family added by its own function.

``build_model(data, objective, gti_target)`` assembles:

- :func:`add_supply_variables` - PV and wind taken (the rest curtailed), imports and exports
  within the point-of-interconnection limits;
- :func:`add_storage_constraints` - battery content ``soc_t = soc_{t-1} (1 - sd) + eta_c C_t -
  D_t / eta_d`` within its window and power limits, and each slice's charge and discharge
  within the room and the content at its start (the engine's and gti_core's order);
- :func:`add_deferrable_constraints` - batch work as an account: backlog after a slice = backlog
  before + released - served, never above the work that may still wait (so every deadline holds;
  earliest-deadline-first then meets them all), served work within the GPUs left free;
- :func:`add_training_constraints` - each training job's running share of every slice, pauses
  that cost checkpoint and reload time (and hold the GPUs while the last checkpoint is
  written), progress by its deadline, within the training pool;
- :func:`add_balance_constraints` - IT energy from the work placed, facility = IT x (1 + cooling
  and aux share), and the bus balance of spec section 1;
- :func:`add_green_constraints` - green to IT and to cooling and aux out of ``G_in = pv + wind
  + alpha * grid_share * import + f_t * discharge`` (spec section 3, with ``f_t`` the green
  share of the discharge from storage provenance, section 4), and the green pool of storage;
- :func:`add_gti_target_constraint` - ``sum g_it >= target * sum it``.

Each family returns a typed handle (:mod:`twin.optimize.handles`): a dataclass of the variables
and constraints it created, units in the names, which later families, the objective, the oracle,
MPC and sizing use; nothing is looked up by name. Sizing builds the same families with capacities
as variables (:func:`add_dispatch_families`).

Every family that can make the problem infeasible has a slack with a large penalty, so the solver
always returns and :func:`twin.optimize.plan.infeasibilities` names the family, the slice and the
shortfall.

Data that a rolling horizon changes from one solve to the next enters in two ways only: as a
*data column*, a variable fixed by its bounds (:func:`data_var`; presolve removes it), or as a
matrix coefficient (grid share, discharge green share, the non-IT share, prices). A re-solve then
changes bounds, costs and coefficients in place and never rebuilds the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from twin.optimize.data import HorizonData, TrainingData
from twin.optimize.events_model import add_event_families, event_cost
from twin.optimize.handles import (
    BalanceHandle,
    DeferrableHandle,
    DispatchModel,
    GreenHandle,
    SizedStorage,
    StorageHandle,
    SupplyHandle,
    TargetHandle,
    TrainingHandle,
)

#: Objective units: $100 for cost, 1 MWh of green IT energy for GTI.
COST_SCALE = 100.0
#: Penalty of a shortfall, per MWh (or MWh-equivalent), in objective units.
PENALTY = 1e4
#: Tie-breaks: battery throughput [objective units per MWh], and the secondary objective.
THROUGHPUT_TIEBREAK = 1e-4
SECONDARY_WEIGHT = 1e-6
#: ``gti``: what a MWh of export costs. Export brings no green to the site's loads (the green
#: constraints net it against the site's supply, as one meter nets import and export), so under
#: ``gti`` it only has to be kept from happening for nothing: a cost above any green weight.
GTI_EXPORT_COST = 1.0
#: ``gti``: worth of a MWh of green to IT, to cooling and aux, and into storage. Cooling's weight
#: lies between IT's and what a MWh of stored green can become (eta_c * eta_d of IT green), so
#: green is never held back from cooling to store it, as the spec's it_first order requires.
#: Storage's small weight (below the throughput tie-break, so that cycling the battery never
#: pays) fills the green pool with whatever green is left.
GREEN_WEIGHTS = (1.0, 0.95, 1e-5)

OBJECTIVES = ("cost", "gti")


@dataclass(frozen=True)
class ExtraLoad:
    """Load a fleet places at a site beyond its own: per slice ``t``, IT energy ``it_mwh(t)``
    [MWh] and GPU time ``gpu_s(t)`` [GPU-s], and batch work sent in (or out, negative):
    released ``batch_released_gpu_s(t)`` and allowed to wait after ``t``
    ``batch_may_wait_gpu_s(t)`` [GPU-s], as expressions of the fleet's variables."""

    it_mwh: Callable[[int], object]
    gpu_s: Callable[[int], object]
    batch_released_gpu_s: Callable[[int], object] | None = None
    batch_may_wait_gpu_s: Callable[[int], object] | None = None


def _bounds(values):
    arr = np.asarray(values, dtype=float)
    return lambda m, t: (0.0, float(arr[t]))


def data_var(m: pyo.ConcreteModel, name: str, values, index=None) -> pyo.Var:
    """A data column: a variable fixed by its bounds to ``values`` (one per index)."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    idx = m.T if index is None else index
    var = pyo.Var(idx, bounds=lambda m, *k: (float(arr[k[-1] if len(k) else 0]),) * 2)
    m.add_component(name, var)
    return var


def fixed_var(m: pyo.ConcreteModel, name: str, value: float) -> pyo.Var:
    """A scalar data column: a variable fixed by its bounds to ``value``."""
    var = pyo.Var(bounds=(value, value))
    m.add_component(name, var)
    return var


# --- families ------------------------------------------------------------------------------
def add_supply_variables(m: pyo.ConcreteModel, d: HorizonData,
                         capacity_limits_mw: tuple[float | None, float | None] | None = None,
                         pv_mw_per_mw: np.ndarray | None = None,
                         wind_mw_per_mw: np.ndarray | None = None) -> SupplyHandle:
    """PV and wind taken, imports and exports [MWh per slice], and unserved energy.

    Dispatch takes at most what ``d`` offers. Sizing (``capacity_limits_mw`` given, the most
    PV and wind that may be built) takes at most capacity x availability per MW of capacity:
    ``pv_t <= pv_mw_per_mw_t * dt * pv_capacity_mw``.
    """
    sized = capacity_limits_mw is not None
    m.pv_mwh = pyo.Var(m.T, bounds=(0.0, None) if sized else _bounds(d.pv_avail_mwh))
    m.wind_mwh = pyo.Var(m.T, bounds=(0.0, None) if sized else _bounds(d.wind_avail_mwh))
    m.import_mwh = pyo.Var(m.T, bounds=(0.0, d.max_import_mwh))
    m.export_mwh = pyo.Var(m.T, bounds=(0.0, d.max_export_mwh))
    m.unserved_mwh = pyo.Var(m.T, bounds=(0.0, None))  # slack: demand beyond every supply
    handle = SupplyHandle(m.pv_mwh, m.wind_mwh, m.import_mwh, m.export_mwh, m.unserved_mwh)
    if not sized:
        return handle
    m.pv_capacity_mw = pyo.Var(bounds=(0.0, capacity_limits_mw[0]))
    m.wind_capacity_mw = pyo.Var(bounds=(0.0, capacity_limits_mw[1]))
    pv_e, wind_e = pv_mw_per_mw * d.dt_h, wind_mw_per_mw * d.dt_h
    m.pv_capacity = pyo.Constraint(
        m.T, rule=lambda m, t: m.pv_mwh[t] <= float(pv_e[t]) * m.pv_capacity_mw)
    m.wind_capacity = pyo.Constraint(
        m.T, rule=lambda m, t: m.wind_mwh[t] <= float(wind_e[t]) * m.wind_capacity_mw)
    return SupplyHandle(m.pv_mwh, m.wind_mwh, m.import_mwh, m.export_mwh, m.unserved_mwh,
                        m.pv_capacity_mw, m.wind_capacity_mw)


def soc_lower_bound(d: HorizonData) -> float:
    """The floor of the content over a horizon: the window's minimum, or lower where a store
    that starts below it can only leak further (self-discharge over the whole horizon)."""
    b = d.battery
    if b is None:
        return 0.0
    return min(b.min_soc_mwh, d.initial_soc_mwh * (1.0 - b.self_discharge_per_slice) ** d.n)


def soc_floor_mwh(d: HorizonData) -> float:
    """The lowest content a discharge may leave: the window's minimum, or lower where a store
    that self-discharged below it starts (its floor is where it is) [MWh]."""
    b = d.battery
    return min(b.min_soc_mwh, d.initial_soc_mwh * (1.0 - b.self_discharge_per_slice))


def soc_end_target_mwh(d: HorizonData) -> float:
    """The content the horizon should end with: ``soc_end_min_mwh`` within the window, or the
    window's minimum [MWh]."""
    b = d.battery
    return b.min_soc_mwh if d.soc_end_min_mwh is None else min(d.soc_end_min_mwh, b.max_soc_mwh)


def training_run_bounds(tj: TrainingData, n: int, real_n: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of a training job's running share in each of ``n`` slices [fraction]: none
    before its release or past the run's end (``real_n``); a job that may not pause runs
    whole slices until its deadline."""
    t = np.arange(n)
    released = t >= tj.release_slice
    lo = np.where(released & (t < tj.deadline_slice) & (not tj.pausable), 1.0, 0.0)
    hi = np.where(released & (t < (n if real_n is None else real_n)), 1.0, 0.0)
    return lo, hi


def _fixed(value: float) -> tuple[float | None, float | None]:
    """Bounds that fix a data column to ``value``; free where it is infinite (no limit)."""
    return (value, value) if np.isfinite(value) else (None, None)


def progress_cap_tokens(tj: TrainingData) -> float:
    """The most progress a plan may give a training job: what it has left, plus one slice
    (its last slice may end part way) [tokens]."""
    return tj.remaining_tokens + tj.tokens_per_slice


def _add_content(m: pyo.ConcreteModel, d: HorizonData, soc_init, floor, ceiling
                 ) -> pyo.Constraint:
    """``soc_t = soc_{t-1} (1 - sd) + eta_c C_t - D_t / eta_d``, and each slice's charge and
    discharge within the room and the content at its start (the engine's and gti_core's
    order): ``D_t / eta_d <= soc_{t-1} (1 - sd) - floor(t)``, ``eta_c C_t <= ceiling(t) -
    soc_{t-1} (1 - sd)`` (``floor`` and ``ceiling``: slice -> expression [MWh]). These keep
    every ``soc_t`` within the floor and the ceiling too."""
    b = d.battery
    keep, ec, ed = 1.0 - b.self_discharge_per_slice, b.charge_efficiency, b.discharge_efficiency

    def start_content(m, t):
        return (m.soc_mwh[t - 1] if t > 0 else soc_init) * keep

    m.storage = pyo.Constraint(m.T, rule=lambda m, t: m.soc_mwh[t] == start_content(m, t)
                               + ec * m.charge_mwh[t] - m.discharge_mwh[t] / ed)
    m.discharge_limit = pyo.Constraint(
        m.T, rule=lambda m, t: m.discharge_mwh[t] / ed <= start_content(m, t) - floor(t))
    m.charge_limit = pyo.Constraint(
        m.T, rule=lambda m, t: ec * m.charge_mwh[t] <= ceiling(t) - start_content(m, t))
    return m.storage


def add_storage_constraints(m: pyo.ConcreteModel, d: HorizonData,
                            sized: SizedStorage | None = None) -> StorageHandle:
    """Battery charge, discharge and content [MWh]; without a battery all three are zero.

    Dispatch: power and window from ``d.battery``; the horizon ends at ``soc_end_min_mwh``
    or the window's floor, short of it at the objective's terminal value. Sizing (``sized``):
    ``C_t, D_t <= dt * power_mw``, ``min * energy_mwh <= soc_t <= max * energy_mwh``, the
    start at ``initial * energy_mwh``, and the horizon ends where it started (cyclic); the
    efficiencies and self-discharge are ``d.battery``'s in both.
    """
    b = d.battery
    if sized is not None:
        if b is None:
            raise ValueError("sizing a battery needs its efficiencies: give the site a "
                             "battery block")
        return _add_sized_storage(m, d, sized)
    p = b.power_mw * d.dt_h if b else 0.0
    m.charge_mwh = pyo.Var(m.T, bounds=(0.0, p))
    m.discharge_mwh = pyo.Var(m.T, bounds=(0.0, p))
    hi = b.max_soc_mwh if b else 0.0
    m.soc_mwh = pyo.Var(m.T, bounds=(soc_lower_bound(d), hi))
    if b is None:
        return StorageHandle(m.charge_mwh, m.discharge_mwh, m.soc_mwh)
    soc_init = fixed_var(m, "soc_init_mwh", d.initial_soc_mwh)
    floor = fixed_var(m, "soc_floor_mwh", soc_floor_mwh(d))
    content = _add_content(m, d, soc_init, lambda t: floor, lambda t: hi)
    end_min = fixed_var(m, "soc_end_min_mwh", soc_end_target_mwh(d))
    m.end_short_mwh = pyo.Var(bounds=(0.0, None))  # priced by the objective's terminal value
    m.storage_end = pyo.Constraint(expr=m.soc_mwh[d.n - 1] + m.end_short_mwh >= end_min)
    return StorageHandle(m.charge_mwh, m.discharge_mwh, m.soc_mwh, soc_init, content, floor,
                         end_min, m.end_short_mwh)


def _add_sized_storage(m: pyo.ConcreteModel, d: HorizonData, s: SizedStorage) -> StorageHandle:
    m.bess_mw = pyo.Var(bounds=(0.0, s.max_power_mw))
    m.bess_mwh = pyo.Var(bounds=(0.0, s.max_energy_mwh))
    m.charge_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.discharge_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.soc_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.soc_init_mwh = pyo.Var(bounds=(0.0, None))
    m.start_share = pyo.Constraint(expr=m.soc_init_mwh == s.initial_soc_fraction * m.bess_mwh)
    dt = d.dt_h
    m.charge_power = pyo.Constraint(m.T, rule=lambda m, t: m.charge_mwh[t] <= dt * m.bess_mw)
    m.discharge_power = pyo.Constraint(
        m.T, rule=lambda m, t: m.discharge_mwh[t] <= dt * m.bess_mw)
    # no rows for min * E <= soc_t <= max * E: the charge and discharge limits below hold
    # each slice's charge and discharge within them from its start content, which implies them
    content = _add_content(m, d, m.soc_init_mwh, lambda t: s.min_soc_fraction * m.bess_mwh,
                           lambda t: s.max_soc_fraction * m.bess_mwh)
    m.cyclic = pyo.Constraint(expr=m.soc_mwh[d.n - 1] >= m.soc_init_mwh)
    return StorageHandle(m.charge_mwh, m.discharge_mwh, m.soc_mwh, m.soc_init_mwh, content,
                         power_mw=m.bess_mw, energy_mwh=m.bess_mwh)


def add_deferrable_constraints(m: pyo.ConcreteModel, d: HorizonData,
                               extra: ExtraLoad | None = None) -> DeferrableHandle:
    """Batch work served per slice [GPU-s] through the backlog account (with the work a fleet
    sends in or out, ``extra``)."""
    m.batch_gpu_s = pyo.Var(m.T, bounds=(0.0, None))
    m.backlog_gpu_s = pyo.Var(m.T, bounds=(0.0, None))
    m.batch_late_gpu_s = pyo.Var(m.T, bounds=(0.0, None))  # slack: work past its deadline
    free = data_var(m, "free_gpu_s", d.free_gpu_s)
    released = data_var(m, "released_gpu_s", d.release_gpu_s)
    may_wait = data_var(m, "may_wait_gpu_s", d.not_due_gpu_s)
    backlog_init = fixed_var(m, "backlog_init_gpu_s", d.backlog_init_gpu_s)

    sent_in = extra.batch_released_gpu_s if extra is not None else None
    may_wait_in = extra.batch_may_wait_gpu_s if extra is not None else None

    def account(m, t):
        before = m.backlog_gpu_s[t - 1] if t > 0 else backlog_init
        return m.backlog_gpu_s[t] == before + released[t] - m.batch_gpu_s[t] + (
            sent_in(t) if sent_in is not None else 0.0)

    m.deferrable = pyo.Constraint(m.T, rule=account)
    m.deadlines = pyo.Constraint(
        m.T, rule=lambda m, t: m.backlog_gpu_s[t] - m.batch_late_gpu_s[t] <= may_wait[t] + (
            may_wait_in(t) if may_wait_in is not None else 0.0))
    return DeferrableHandle(m.batch_gpu_s, m.backlog_gpu_s, m.batch_late_gpu_s, free, released,
                            may_wait, backlog_init, m.deferrable, m.deadlines)


def add_training_constraints(m: pyo.ConcreteModel, d: HorizonData,
                             deferrable: DeferrableHandle,
                             extra_gpu_s: Callable[[int], object] | None = None
                             ) -> TrainingHandle:
    """Running share of each slice per training job, pauses and progress, within the
    training pool and, with batch work, within the GPU time left free (less ``extra_gpu_s(t)``,
    GPU time a fleet routes to the site [GPU-s])."""
    jobs = list(range(len(d.training)))
    m.J = pyo.Set(initialize=jobs, ordered=True)

    bounds = [training_run_bounds(tj, d.n, d.real_n) for tj in d.training]
    m.run_fraction = pyo.Var(m.J, m.T, bounds=lambda m, j, t: (float(bounds[j][0][t]),
                                                               float(bounds[j][1][t])))
    m.pause_fraction = pyo.Var(m.J, m.T, bounds=(0.0, 1.0))
    m.train_short_tokens = pyo.Var(m.J, bounds=(0.0, None))  # slack: tokens missing
    m.running_before_fraction = pyo.Var(
        m.J, bounds=lambda m, j: (d.training[j].running_before_fraction,) * 2)
    m.required_tokens = pyo.Var(m.J, bounds=lambda m, j: (d.training[j].required_tokens,) * 2)
    run, pause = m.run_fraction, m.pause_fraction

    def pauses(m, j, t):
        before = run[j, t - 1] if t > 0 else m.running_before_fraction[j]
        return pause[j, t] >= before - run[j, t]

    m.pauses = pyo.Constraint(m.J, m.T, rule=pauses)

    def progress(m, j):
        tj = d.training[j]
        due = range(min(tj.deadline_slice, d.n))
        return (sum(tj.tokens_per_slice * run[j, t] - tj.pause_tokens * pause[j, t]
                    for t in due) + m.train_short_tokens[j] >= m.required_tokens[j])

    m.progress = pyo.Constraint(m.J, rule=progress)
    # and no more than it has left (one slice over: the engine's last slice may end part way,
    # so a plan rounded to whole slices may run it into one more)
    m.remaining_tokens = pyo.Var(m.J, bounds=lambda m, j: _fixed(
        progress_cap_tokens(d.training[j])))
    m.progress_cap = pyo.Constraint(m.J, rule=lambda m, j: sum(
        d.training[j].tokens_per_slice * run[j, t] - d.training[j].pause_tokens * pause[j, t]
        for t in m.T) <= m.remaining_tokens[j])
    m.training_pool = pyo.Constraint(
        m.T, rule=lambda m, t: sum(d.training[j].gpus * run[j, t] for j in m.J)
        <= d.training_pool_gpus if jobs else pyo.Constraint.Skip)
    # a pause holds the job's GPUs while it writes its last checkpoint (the engine's order)
    m.gpus = pyo.Constraint(m.T, rule=lambda m, t: deferrable.batch_gpu_s[t] + sum(
        d.training[j].gpu_s_per_slice * run[j, t]
        + d.training[j].pause_hold_gpu_s * pause[j, t] for j in m.J)
        + (extra_gpu_s(t) if extra_gpu_s is not None else 0.0)
        <= deferrable.free_gpu_s[t])
    return TrainingHandle(m.J, run, pause, m.train_short_tokens, m.running_before_fraction,
                          m.required_tokens, m.progress, m.gpus, m.remaining_tokens,
                          m.progress_cap)


def add_balance_constraints(m: pyo.ConcreteModel, d: HorizonData, supply: SupplyHandle,
                            storage: StorageHandle, deferrable: DeferrableHandle,
                            training: TrainingHandle,
                            extra_it_mwh: Callable[[int], object] | None = None
                            ) -> BalanceHandle:
    """IT energy of the placed work and the bus balance [MWh] (spec section 1):
    ``it_t = it_base_t + batch_mwh_per_gpu_s * batch_t + sum_j it_j * run_jt (+ extra_it_mwh(t),
    what a fleet routes or moves to the site)`` and
    ``pv + wind + import + discharge + backup + unserved = (1 + nonit_per_it) it + charge
    + export``."""
    m.it_mwh = pyo.Var(m.T, bounds=(0.0, None))
    it_base = data_var(m, "it_base_mwh", d.it_base_mwh)
    run = training.run_fraction
    m.it_energy = pyo.Constraint(m.T, rule=lambda m, t: m.it_mwh[t] == it_base[t]
                                 + d.batch_mwh_per_gpu_s * deferrable.batch_gpu_s[t]
                                 + sum(d.training[j].it_mwh_per_slice * run[j, t]
                                       for j in training.jobs)
                                 + (extra_it_mwh(t) if extra_it_mwh is not None else 0.0))
    load = 1.0 + d.nonit_per_it
    s, st = supply, storage
    backup = s.backup.backup_mwh if s.backup is not None else None
    m.balance = pyo.Constraint(m.T, rule=lambda m, t: s.pv_mwh[t] + s.wind_mwh[t]
                               + s.import_mwh[t] + st.discharge_mwh[t] + s.unserved_mwh[t]
                               + (backup[t] if backup is not None else 0.0)
                               == float(load[t]) * m.it_mwh[t] + st.charge_mwh[t]
                               + s.export_mwh[t])
    return BalanceHandle(m.it_mwh, it_base, m.balance, m.it_energy)


def add_green_constraints(m: pyo.ConcreteModel, d: HorizonData, supply: SupplyHandle,
                          storage: StorageHandle, balance: BalanceHandle,
                          pool: bool = True) -> GreenHandle:
    """Green of each slice under ``it_first`` and the green content of storage [MWh].

    ``g_it <= it``, ``g_nonit <= cooling + aux``, ``g_charge <= charge``, ``g_it + g_nonit
    + g_charge <= G_in - export``, and the green exported at most the export and the site's
    own supply. The green pool gains ``eta_c * g_charge``, loses the discharge's green
    draw ``f_t * D / eta_d`` and self-discharge, and holds at most the store's content
    (``pool=False``: the caller links its own, as typical days do). The objective's weights
    (:data:`GREEN_WEIGHTS`) give the green to IT, then to cooling and aux, then to storage:
    the order of spec section 3.
    """
    s, st, it = supply, storage, balance.it_mwh
    m.green_it_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.green_nonit_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.green_charge_mwh = pyo.Var(m.T, bounds=(0.0, None))
    m.green_export_mwh = pyo.Var(m.T, bounds=(0.0, None))  # counted by the aggregate method
    g_it, g_nonit, g_charge = m.green_it_mwh, m.green_nonit_mwh, m.green_charge_mwh
    m.green_it = pyo.Constraint(m.T, rule=lambda m, t: g_it[t] <= it[t])
    m.green_export = pyo.Constraint(
        m.T, rule=lambda m, t: m.green_export_mwh[t] <= s.export_mwh[t])
    nonit = d.nonit_per_it
    m.green_nonit = pyo.Constraint(
        m.T, rule=lambda m, t: g_nonit[t] <= float(nonit[t]) * it[t])
    m.green_charge = pyo.Constraint(m.T, rule=lambda m, t: g_charge[t] <= st.charge_mwh[t])
    grid_green = d.alpha * d.grid_share
    f = d.discharge_green_fraction
    # one meter nets import and export: what is exported leaves from the site's own supply,
    # so it is taken off the green inflow of the site's loads. Otherwise importing and
    # exporting in one slice would add alpha * grid_share of green per MWh to the LP's books
    # that gti_core, reading the netted meters, never sees.
    m.green_in = pyo.Constraint(m.T, rule=lambda m, t: g_it[t] + g_nonit[t] + g_charge[t]
                                <= s.pv_mwh[t] + s.wind_mwh[t] - s.export_mwh[t]
                                + float(grid_green[t]) * s.import_mwh[t]
                                + float(f[t]) * st.discharge_mwh[t])
    m.green_export_supply = pyo.Constraint(
        m.T, rule=lambda m, t: m.green_export_mwh[t] <= s.pv_mwh[t] + s.wind_mwh[t]
        + st.discharge_mwh[t])
    handle = GreenHandle(g_it, g_nonit, g_charge, m.green_export_mwh, m.green_in,
                         m.green_nonit)
    b = d.battery
    if b is None or not pool:
        return handle
    keep, ec, ed = 1.0 - b.self_discharge_per_slice, b.charge_efficiency, b.discharge_efficiency
    m.soc_green_mwh = pyo.Var(m.T, bounds=(0.0, None))
    if storage.sized:  # the initial content is a share of the chosen size
        m.soc_green_init_mwh = pyo.Var(bounds=(0.0, None))
        m.green_init = pyo.Constraint(
            expr=m.soc_green_init_mwh == d.initial_green_fraction * storage.soc_init_mwh)
    else:
        fixed_var(m, "soc_green_init_mwh", d.initial_soc_mwh * d.initial_green_fraction)
    g_init = m.soc_green_init_mwh

    def green_pool(m, t):
        before = m.soc_green_mwh[t - 1] if t > 0 else g_init
        return (m.soc_green_mwh[t] == before * keep + ec * g_charge[t]
                - float(f[t]) / ed * st.discharge_mwh[t])

    m.green_pool = pyo.Constraint(m.T, rule=green_pool)
    m.green_pool_cap = pyo.Constraint(
        m.T, rule=lambda m, t: m.soc_green_mwh[t] <= st.soc_mwh[t])
    return GreenHandle(g_it, g_nonit, g_charge, m.green_export_mwh, m.green_in, m.green_nonit,
                       m.green_pool, m.soc_green_mwh, g_init)


def add_gti_target_constraint(m: pyo.ConcreteModel, d: HorizonData, balance: BalanceHandle,
                              green: GreenHandle, target: float, method: str = "slice",
                              weights: np.ndarray | None = None, extra=None) -> TargetHandle:
    """GTI of the horizon at least ``target``: time-slice (green IT energy) or aggregate
    (``it_first``: green delivered to every load plus green exported, spec section 6, with the
    export attributes retained), both over IT energy. ``weights``: how many real slices each
    slice stands for (typical days; default 1); ``extra``: contracted green counted too
    [MWh]."""
    w = np.ones(d.n) if weights is None else np.asarray(weights, dtype=float)
    m.target_short_mwh = pyo.Var(bounds=(0.0, None))
    g = green
    if method == "slice":
        total = sum(float(w[t]) * g.it_mwh[t] for t in m.T)
    elif method == "aggregate":
        total = sum(float(w[t]) * (g.it_mwh[t] + g.nonit_mwh[t] + g.export_mwh[t]) for t in m.T)
    else:
        raise ValueError(f"method = {method!r}: must be 'slice' or 'aggregate'")
    if extra is not None:
        total = total + extra
    m.gti_target = pyo.Constraint(expr=total + m.target_short_mwh
                                  >= target * sum(float(w[t]) * balance.it_mwh[t] for t in m.T))
    return TargetHandle(m.target_short_mwh, m.gti_target)


def terminal_value(d: HorizonData, objective: str) -> float:
    """What a MWh of battery content short of a window's end level costs, in objective units:
    for ``cost`` its replacement at the window's median import price. For ``gti`` nothing: the
    store refills only from green surplus, which a window two days long sees coming, and a
    price on the end level would keep green in store that the window's own deficits need."""
    if objective == "cost":
        return float(np.median(d.price_usd_per_mwh)) / COST_SCALE
    return 0.0


def shortfall_mwh(d: HorizonData, h: DispatchModel, weights: np.ndarray | None = None,
                  batch_mwh_per_gpu_s: float | None = None):
    """Every slack of the model in MWh-equivalents: unserved energy, batch work past its
    deadline at its facility energy, training tokens short at their IT energy, and the GTI
    target's shortfall."""
    w = np.ones(d.n) if weights is None else weights
    batch_mwh = (d.batch_mwh_per_gpu_s * (1.0 + float(np.max(d.nonit_per_it, initial=0.0)))
                 if batch_mwh_per_gpu_s is None else batch_mwh_per_gpu_s)
    t_ = h.training
    short = (sum(float(w[t]) * (h.supply.unserved_mwh[t]
                                + batch_mwh * h.deferrable.late_gpu_s[t]) for t in h.model.T)
             + sum(d.training[j].it_mwh_per_slice / d.training[j].tokens_per_slice
                   * t_.short_tokens[j] for j in t_.jobs))
    if h.target is not None:
        short = short + h.target.short_mwh
    return short


def add_objective(h: DispatchModel, d: HorizonData, objective: str) -> None:
    """``cost``: import cost - export revenue; ``gti``: green IT energy, cost breaking ties."""
    h.model.objective = pyo.Objective(expr=objective_expr(h, d, objective), sense=pyo.minimize)


def objective_expr(h: DispatchModel, d: HorizonData, objective: str):
    """The objective of one site's families, to minimise (a fleet adds its sites')."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective = {objective!r}: must be one of {list(OBJECTIVES)}")
    m, s, st, g = h.model, h.supply, h.storage, h.green
    price, xp = d.price_usd_per_mwh, d.export_price_usd_per_mwh
    cost = (sum(float(price[t]) * s.import_mwh[t] - xp * s.export_mwh[t] for t in m.T)
            + event_cost(m, d, s) + wear_cost(m, d, st)) / COST_SCALE
    throughput = THROUGHPUT_TIEBREAK * sum(st.charge_mwh[t] + st.discharge_mwh[t] for t in m.T)
    green = sum(g.it_mwh[t] for t in m.T) if g is not None else 0.0
    if objective == "cost":
        expr = cost - SECONDARY_WEIGHT * green  # without green families: cost alone
    else:
        w_it, w_nonit, w_charge = GREEN_WEIGHTS
        expr = (-sum(w_it * g.it_mwh[t] + w_nonit * g.nonit_mwh[t]
                     + w_charge * g.charge_mwh[t] for t in m.T)
                + SECONDARY_WEIGHT * cost
                + GTI_EXPORT_COST * sum(s.export_mwh[t] for t in m.T)
                + pause_value(h, d))
    if st.end_short_mwh is not None:  # content short of a window's end level, valued per MWh
        expr = expr + terminal_value(d, objective) * st.end_short_mwh
    return expr + throughput + PENALTY * shortfall_mwh(d, h)


def wear_cost(m: pyo.ConcreteModel, d: HorizonData, st):
    """The battery's wear: every MWh discharged at ``battery_wear_usd_per_mwh`` [$]."""
    if not d.battery_wear_usd_per_mwh:
        return 0.0
    return d.battery_wear_usd_per_mwh * sum(st.discharge_mwh[t] for t in m.T)


def pause_value(h: DispatchModel, d: HorizonData):
    """``gti``: what a training pause costs, in MWh of green. A pause loses progress that
    running must make up; the green objective does not see that IT energy as a cost (green
    running only adds to it), so without a price a plan could write down pauses it does not
    take, to run a job past its end (:func:`add_training_constraints` caps net progress) on
    green it does not need. Each pause is valued at the facility energy of the slices its
    lost progress takes, at the weight of green IT energy, which no green use of them
    exceeds."""
    t_ = h.training
    load = 1.0 + float(np.max(d.nonit_per_it, initial=0.0))
    return sum(GREEN_WEIGHTS[0] * load * tj.pause_tokens / tj.tokens_per_slice
               * tj.it_mwh_per_slice * t_.pause_fraction[j, t]
               for j, tj in enumerate(d.training) for t in h.model.T)


def add_dispatch_families(m: pyo.ConcreteModel, d: HorizonData,
                          sized_supply: tuple[float | None, float | None] | None = None,
                          pv_mw_per_mw: np.ndarray | None = None,
                          wind_mw_per_mw: np.ndarray | None = None,
                          sized_storage: SizedStorage | None = None,
                          linked_storage=None, extra: ExtraLoad | None = None
                          ) -> tuple[SupplyHandle, StorageHandle, DeferrableHandle,
                                     TrainingHandle, BalanceHandle]:
    """Supply, storage, deferrable work, training and the balance: the families every
    dispatch and sizing LP has (sizing passes capacities; ``linked_storage(m, d)`` replaces
    the chronological storage family, as typical days do; a fleet passes the load it routes
    to the site as ``extra``)."""
    supply = add_event_families(m, d, add_supply_variables(m, d, sized_supply, pv_mw_per_mw,
                                                           wind_mw_per_mw))
    storage = (linked_storage(m, d) if linked_storage is not None
               else add_storage_constraints(m, d, sized_storage))
    deferrable = add_deferrable_constraints(m, d, extra)
    training = add_training_constraints(m, d, deferrable,
                                        extra.gpu_s if extra is not None else None)
    balance = add_balance_constraints(m, d, supply, storage, deferrable, training,
                                      extra.it_mwh if extra is not None else None)
    return supply, storage, deferrable, training, balance


def build_model(d: HorizonData, objective: str = "cost",
                gti_target: float | None = None) -> DispatchModel:
    """The dispatch LP of a horizon: every family above, and the objective."""
    m = pyo.ConcreteModel(name="dispatch")
    m.T = pyo.RangeSet(0, d.n - 1)
    supply, storage, deferrable, training, balance = add_dispatch_families(m, d)
    green = target = None
    if objective == "gti" or gti_target is not None:  # cost alone needs no colours
        green = add_green_constraints(m, d, supply, storage, balance)
    if gti_target is not None:
        target = add_gti_target_constraint(m, d, balance, green, gti_target)
    h = DispatchModel(m, supply, storage, deferrable, training, balance, green, target)
    add_objective(h, d, objective)
    return h
