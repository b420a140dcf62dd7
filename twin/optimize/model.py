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

Every family that can make the problem infeasible has a slack with a large penalty, so the solver
always returns and :func:`twin.optimize.plan.infeasibilities` names the family, the slice and the
shortfall.

Data that a rolling horizon changes from one solve to the next enters in two ways only: as a
*data column*, a variable fixed by its bounds (:func:`data_var`; presolve removes it), or as a
matrix coefficient (grid share, discharge green share, the non-IT share, prices). A re-solve then
changes bounds, costs and coefficients in place and never rebuilds the model.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from twin.optimize.data import HorizonData

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


def add_supply_variables(m: pyo.ConcreteModel, d: HorizonData) -> None:
    """PV and wind taken, imports and exports [MWh per slice], and unserved energy."""
    m.pv = pyo.Var(m.T, bounds=_bounds(d.pv_avail))
    m.wind = pyo.Var(m.T, bounds=_bounds(d.wind_avail))
    m.imp = pyo.Var(m.T, bounds=(0.0, d.max_import))
    m.exp = pyo.Var(m.T, bounds=(0.0, d.max_export))
    m.unserved = pyo.Var(m.T, bounds=(0.0, None))  # slack: demand beyond every supply


def soc_lower_bound(d: HorizonData) -> float:
    """The floor of the content over a horizon: the window's minimum, or lower where a store
    that starts below it can only leak further (self-discharge over the whole horizon)."""
    b = d.battery
    if b is None:
        return 0.0
    return min(b.min_soc_mwh, d.soc0 * (1.0 - b.self_discharge_per_slice) ** d.n)


def add_storage_constraints(m: pyo.ConcreteModel, d: HorizonData) -> None:
    """Battery charge, discharge and content; without a battery all three are zero."""
    b = d.battery
    p = b.power_mw * d.dt_h if b else 0.0
    m.ch = pyo.Var(m.T, bounds=(0.0, p))
    m.dis = pyo.Var(m.T, bounds=(0.0, p))
    lo, hi = (b.min_soc_mwh, b.max_soc_mwh) if b else (0.0, 0.0)
    m.soc = pyo.Var(m.T, bounds=(soc_lower_bound(d), hi))
    if b is None:
        return
    keep, ec, ed = 1.0 - b.self_discharge_per_slice, b.charge_efficiency, b.discharge_efficiency
    m.soc_init = pyo.Var(bounds=(d.soc0, d.soc0))

    def content(m, t):
        before = m.soc[t - 1] if t > 0 else m.soc_init
        return m.soc[t] == before * keep + ec * m.ch[t] - m.dis[t] / ed

    m.storage = pyo.Constraint(m.T, rule=content)

    def start_content(m, t):
        return (m.soc[t - 1] if t > 0 else m.soc_init) * keep

    # within a slice the engine (and gti_core) discharge from the content at its start and
    # charge into the room left at its start; a store that self-discharged below its floor
    # has the floor where it is
    floor = min(lo, d.soc0 * keep)
    m.soc_floor = pyo.Var(bounds=(floor, floor))
    m.discharge_limit = pyo.Constraint(
        m.T, rule=lambda m, t: m.dis[t] / ed <= start_content(m, t) - m.soc_floor)
    m.charge_limit = pyo.Constraint(
        m.T, rule=lambda m, t: ec * m.ch[t] <= hi - start_content(m, t))
    end = lo if d.soc_end_min is None else min(d.soc_end_min, hi)
    m.soc_end_min = pyo.Var(bounds=(end, end))
    m.end_short = pyo.Var(bounds=(0.0, None))  # priced by the objective's terminal value
    m.storage_end = pyo.Constraint(expr=m.soc[d.n - 1] + m.end_short >= m.soc_end_min)


def add_deferrable_constraints(m: pyo.ConcreteModel, d: HorizonData) -> None:
    """Batch work served per slice [GPU-s] through the backlog account."""
    m.batch = pyo.Var(m.T, bounds=(0.0, None))
    m.backlog = pyo.Var(m.T, bounds=(0.0, None))
    m.batch_late = pyo.Var(m.T, bounds=(0.0, None))  # slack: work past its deadline
    data_var(m, "free", d.free_gpu_s)
    data_var(m, "released", d.release_gpu_s)
    data_var(m, "may_wait", d.not_due_gpu_s)
    m.backlog_init = pyo.Var(bounds=(d.backlog0_gpu_s, d.backlog0_gpu_s))

    def account(m, t):
        before = m.backlog[t - 1] if t > 0 else m.backlog_init
        return m.backlog[t] == before + m.released[t] - m.batch[t]

    m.deferrable = pyo.Constraint(m.T, rule=account)
    m.deadlines = pyo.Constraint(
        m.T, rule=lambda m, t: m.backlog[t] - m.batch_late[t] <= m.may_wait[t])


def add_training_constraints(m: pyo.ConcreteModel, d: HorizonData) -> None:
    """Running share of each slice per training job, pauses and progress."""
    jobs = list(range(len(d.training)))
    m.J = pyo.Set(initialize=jobs, ordered=True)

    def run_bounds(m, j, t):
        tj = d.training[j]
        if t < tj.release:
            return (0.0, 0.0)
        return (0.0, 1.0) if tj.pausable else (1.0 if t < tj.deadline else 0.0, 1.0)

    m.run = pyo.Var(m.J, m.T, bounds=run_bounds)
    m.pause = pyo.Var(m.J, m.T, bounds=(0.0, 1.0))
    m.train_short = pyo.Var(m.J, bounds=(0.0, None))  # slack: tokens missing at the deadline
    m.running_before = pyo.Var(m.J, bounds=lambda m, j: (d.training[j].running_before,) * 2)
    m.required = pyo.Var(m.J, bounds=lambda m, j: (d.training[j].required_tokens,) * 2)

    def pauses(m, j, t):
        before = m.run[j, t - 1] if t > 0 else m.running_before[j]
        return m.pause[j, t] >= before - m.run[j, t]

    m.pauses = pyo.Constraint(m.J, m.T, rule=pauses)

    def progress(m, j):
        tj = d.training[j]
        due = range(min(tj.deadline, d.n))
        return (sum(tj.tokens_per_slice * m.run[j, t] - tj.pause_tokens * m.pause[j, t]
                    for t in due) + m.train_short[j] >= m.required[j])

    m.progress = pyo.Constraint(m.J, rule=progress)
    m.training_pool = pyo.Constraint(
        m.T, rule=lambda m, t: sum(d.training[j].gpus * m.run[j, t] for j in m.J)
        <= d.training_pool_gpus if jobs else pyo.Constraint.Skip)
    # a pause holds the job's GPUs while it writes its last checkpoint (the engine's order)
    m.gpus = pyo.Constraint(m.T, rule=lambda m, t: m.batch[t] + sum(
        d.training[j].gpu_s_per_slice * m.run[j, t]
        + d.training[j].pause_hold_gpu_s * m.pause[j, t] for j in m.J) <= m.free[t])


def add_balance_constraints(m: pyo.ConcreteModel, d: HorizonData) -> None:
    """IT energy of the placed work and the bus balance [MWh]."""
    m.it = pyo.Var(m.T, bounds=(0.0, None))
    data_var(m, "it_base", d.it_base)
    m.it_energy = pyo.Constraint(m.T, rule=lambda m, t: m.it[t] == m.it_base[t]
                                 + d.batch_mwh_per_gpu_s * m.batch[t]
                                 + sum(d.training[j].it_mwh_per_slice * m.run[j, t] for j in m.J))
    load = 1.0 + d.nonit_per_it
    m.balance = pyo.Constraint(m.T, rule=lambda m, t: m.pv[t] + m.wind[t] + m.imp[t] + m.dis[t]
                               + m.unserved[t] == float(load[t]) * m.it[t] + m.ch[t] + m.exp[t])


def add_green_constraints(m: pyo.ConcreteModel, d: HorizonData) -> None:
    """Green of each slice under ``it_first`` and the green content of storage [MWh].

    ``g_it <= it``, ``g_nonit <= cooling + aux``, ``g_charge <= charge``, ``g_it + g_nonit
    + g_charge <= G_in - export``, and the green exported at most the export and the site's
    own supply. The green pool gains ``eta_c * g_charge``, loses the discharge's green
    draw ``f_t * D / eta_d`` and self-discharge, and holds at most the store's content. The
    objective's weights (:data:`GREEN_WEIGHTS`) give the green to IT, then to cooling and aux,
    then to storage: the order of spec section 3.
    """
    m.g_it = pyo.Var(m.T, bounds=(0.0, None))
    m.g_nonit = pyo.Var(m.T, bounds=(0.0, None))
    m.g_charge = pyo.Var(m.T, bounds=(0.0, None))
    m.g_export = pyo.Var(m.T, bounds=(0.0, None))  # counted by the aggregate method only
    m.green_it = pyo.Constraint(m.T, rule=lambda m, t: m.g_it[t] <= m.it[t])
    m.green_export = pyo.Constraint(m.T, rule=lambda m, t: m.g_export[t] <= m.exp[t])
    nonit = d.nonit_per_it
    m.green_nonit = pyo.Constraint(
        m.T, rule=lambda m, t: m.g_nonit[t] <= float(nonit[t]) * m.it[t])
    m.green_charge = pyo.Constraint(m.T, rule=lambda m, t: m.g_charge[t] <= m.ch[t])
    grid_green = d.alpha * d.grid_share
    f = d.discharge_green_fraction
    # one meter nets import and export: what is exported leaves from the site's own supply,
    # so it is taken off the green inflow of the site's loads. Otherwise importing and
    # exporting in one slice would add alpha * grid_share of green per MWh to the LP's books
    # that gti_core, reading the netted meters, never sees.
    m.green_in = pyo.Constraint(m.T, rule=lambda m, t: m.g_it[t] + m.g_nonit[t] + m.g_charge[t]
                                <= m.pv[t] + m.wind[t] - m.exp[t]
                                + float(grid_green[t]) * m.imp[t] + float(f[t]) * m.dis[t])
    m.green_export_supply = pyo.Constraint(
        m.T, rule=lambda m, t: m.g_export[t] <= m.pv[t] + m.wind[t] + m.dis[t])
    b = d.battery
    if b is None:
        return
    keep, ec, ed = 1.0 - b.self_discharge_per_slice, b.charge_efficiency, b.discharge_efficiency
    m.soc_green = pyo.Var(m.T, bounds=(0.0, None))
    if hasattr(m, "bess_mwh"):  # sizing: the initial content is a share of the chosen size
        m.soc_green_init = pyo.Var(bounds=(0.0, None))
        m.green_init = pyo.Constraint(
            expr=m.soc_green_init == d.initial_green_fraction * m.soc_init)
    else:
        g0 = d.soc0 * d.initial_green_fraction
        m.soc_green_init = pyo.Var(bounds=(g0, g0))

    def pool(m, t):
        before = m.soc_green[t - 1] if t > 0 else m.soc_green_init
        return (m.soc_green[t] == before * keep + ec * m.g_charge[t]
                - float(f[t]) / ed * m.dis[t])

    m.green_pool = pyo.Constraint(m.T, rule=pool)
    m.green_pool_cap = pyo.Constraint(m.T, rule=lambda m, t: m.soc_green[t] <= m.soc[t])


def add_gti_target_constraint(m: pyo.ConcreteModel, d: HorizonData, target: float,
                              method: str = "slice", weights: np.ndarray | None = None) -> None:
    """GTI of the horizon at least ``target``: time-slice (green IT energy) or aggregate
    (``it_first``: green delivered to every load plus green exported, spec section 6, with the
    export attributes retained), both over IT energy. ``weights``: how many real slices each
    slice stands for (typical days; default 1)."""
    w = np.ones(d.n) if weights is None else np.asarray(weights, dtype=float)
    m.target_short = pyo.Var(bounds=(0.0, None))
    if method == "slice":
        green = sum(float(w[t]) * m.g_it[t] for t in m.T)
    elif method == "aggregate":
        green = sum(float(w[t]) * (m.g_it[t] + m.g_nonit[t] + m.g_export[t]) for t in m.T)
    else:
        raise ValueError(f"method = {method!r}: must be 'slice' or 'aggregate'")
    m.gti_target = pyo.Constraint(expr=green + m.target_short
                                  >= target * sum(float(w[t]) * m.it[t] for t in m.T))


def terminal_value(d: HorizonData, objective: str) -> float:
    """What a MWh of battery content short of a window's end level costs, in objective units:
    for ``cost`` its replacement at the window's median import price. For ``gti`` nothing: the
    store refills only from green surplus, which a window two days long sees coming, and a
    price on the end level would keep green in store that the window's own deficits need."""
    if objective == "cost":
        return float(np.median(d.price)) / COST_SCALE
    return 0.0


def add_objective(m: pyo.ConcreteModel, d: HorizonData, objective: str) -> None:
    """``cost``: import cost - export revenue; ``gti``: green IT energy, cost breaking ties."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective = {objective!r}: must be one of {list(OBJECTIVES)}")
    price, xp = d.price, d.export_price
    cost = sum(float(price[t]) * m.imp[t] - xp * m.exp[t] for t in m.T) / COST_SCALE
    throughput = THROUGHPUT_TIEBREAK * sum(m.ch[t] + m.dis[t] for t in m.T)
    has_green = hasattr(m, "g_it")
    green = sum(m.g_it[t] for t in m.T) if has_green else 0.0
    batch_mwh = d.batch_mwh_per_gpu_s * (1.0 + float(np.max(d.nonit_per_it, initial=0.0)))
    short = (sum(m.unserved[t] + batch_mwh * m.batch_late[t] for t in m.T)
             + sum(d.training[j].it_mwh_per_slice / d.training[j].tokens_per_slice
                   * m.train_short[j] for j in m.J))
    if hasattr(m, "target_short"):
        short = short + m.target_short
    if objective == "cost":
        expr = cost - SECONDARY_WEIGHT * green  # without green families: cost alone
    else:
        w_it, w_nonit, w_charge = GREEN_WEIGHTS
        expr = (-sum(w_it * m.g_it[t] + w_nonit * m.g_nonit[t] + w_charge * m.g_charge[t]
                     for t in m.T)
                + SECONDARY_WEIGHT * cost
                + GTI_EXPORT_COST * sum(m.exp[t] for t in m.T))
    if hasattr(m, "end_short"):  # content short of a window's end level, valued per MWh
        expr = expr + terminal_value(d, objective) * m.end_short
    m.objective = pyo.Objective(expr=expr + throughput + PENALTY * short, sense=pyo.minimize)


def build_model(d: HorizonData, objective: str = "cost",
                gti_target: float | None = None) -> pyo.ConcreteModel:
    """The dispatch LP of a horizon: every family above, and the objective."""
    m = pyo.ConcreteModel(name="dispatch")
    m.T = pyo.RangeSet(0, d.n - 1)
    add_supply_variables(m, d)
    add_storage_constraints(m, d)
    add_deferrable_constraints(m, d)
    add_training_constraints(m, d)
    add_balance_constraints(m, d)
    if objective == "gti" or gti_target is not None:  # cost alone needs no colours
        add_green_constraints(m, d)
    if gti_target is not None:
        add_gti_target_constraint(m, d, gti_target)
    add_objective(m, d, objective)
    return m
