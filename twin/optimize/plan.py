"""Perfect-foresight planning over a horizon, and what makes a plan infeasible.

The LP of :mod:`twin.optimize.model` takes the green share of each slice's battery discharge as
data. Under the spec's storage rules (pooled or FIFO) that share depends on everything charged
and discharged before, which no LP can express (the proportional draw is bilinear), so
:func:`optimize_horizon` iterates: solve, let gti_core colour the plan's own flows and follow
green through storage, move the LP's shares towards gti_core's, re-solve warm. Every plan is
scored by gti_core itself and the best is kept, so the plan's GTI is exact; the LP's own figure
is reported next to it, and the two agree when the iteration reaches its fixed point.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gti_core.score import AccountingParams, score_site
from models import site as physics
from twin.inputs import SiteInputs
from twin.optimize import OptimizationInfeasible
from twin.optimize.data import HorizonData, horizon_data
from twin.optimize.handles import DispatchModel
from twin.optimize.highs import CompiledLP
from twin.optimize.model import build_model

#: A slack above this counts as a shortfall [MWh, GPU-s or tokens].
SHORTFALL_TOL = 1e-6
#: The fixed point is reached when the LP's and gti_core's time-slice GTI differ by less [-].
FIXED_POINT_TOL = 1e-7


@dataclass
class Plan:
    """A plan over a horizon: setpoints per slice and what the LP expects of them.

    Attributes
    ----------
    charge, discharge : numpy.ndarray
        Battery energy from and to the bus [MWh].
    batch_gpu_s : numpy.ndarray
        GPU time for batch work [GPU-s].
    run : dict of str to numpy.ndarray
        Running share of each slice per training job [fraction].
    meters : pandas.DataFrame
        The plan's own flows as a meter table (what gti_core scores).
    lp_gti_slice : float
        Time-slice GTI the LP computes for its plan [fraction] (NaN for objective ``cost``
        without a target: that LP does not colour its flows).
    gti_core_gti_slice : float
        gti_core's time-slice GTI of the same flows [fraction].
    objective_value : float
    iterations : int
        LP solves of the fixed point.
    timings_s : dict
    """

    charge: np.ndarray
    discharge: np.ndarray
    batch_gpu_s: np.ndarray
    run: dict[str, np.ndarray]
    meters: pd.DataFrame
    lp_gti_slice: float
    gti_core_gti_slice: float
    objective_value: float
    iterations: int
    timings_s: dict = field(default_factory=dict)


@dataclass
class PlanValues:
    """The LP's solution per slice, in the model's units (absent families read as zeros)."""

    pv_mwh: np.ndarray
    wind_mwh: np.ndarray
    import_mwh: np.ndarray
    export_mwh: np.ndarray
    charge_mwh: np.ndarray
    discharge_mwh: np.ndarray
    soc_mwh: np.ndarray
    batch_gpu_s: np.ndarray
    backlog_gpu_s: np.ndarray
    it_mwh: np.ndarray
    green_it_mwh: np.ndarray
    unserved_mwh: np.ndarray
    batch_late_gpu_s: np.ndarray
    run_fraction: dict[str, np.ndarray]
    train_short_tokens: np.ndarray
    target_short_mwh: float = 0.0
    backup_mwh: np.ndarray | None = None


def plan_values(lp: CompiledLP, x: np.ndarray, h: DispatchModel, d: HorizonData) -> PlanValues:
    """The columns of each per-slice variable, in slice order."""
    t = range(d.n)
    s, st, q = h.supply, h.storage, h.deferrable
    green = (lp.values(x, h.green.it_mwh, t) if h.green is not None else np.zeros(d.n))
    return PlanValues(
        pv_mwh=lp.values(x, s.pv_mwh, t), wind_mwh=lp.values(x, s.wind_mwh, t),
        import_mwh=lp.values(x, s.import_mwh, t), export_mwh=lp.values(x, s.export_mwh, t),
        charge_mwh=lp.values(x, st.charge_mwh, t),
        discharge_mwh=lp.values(x, st.discharge_mwh, t), soc_mwh=lp.values(x, st.soc_mwh, t),
        batch_gpu_s=lp.values(x, q.batch_gpu_s, t), backlog_gpu_s=lp.values(x, q.backlog_gpu_s, t),
        it_mwh=lp.values(x, h.balance.it_mwh, t), green_it_mwh=green,
        unserved_mwh=lp.values(x, s.unserved_mwh, t),
        batch_late_gpu_s=lp.values(x, q.late_gpu_s, t),
        run_fraction={tj.job_id: lp.values(x, h.training.run_fraction, [(j, k) for k in t])
                      for j, tj in enumerate(d.training)},
        train_short_tokens=lp.values(x, h.training.short_tokens, range(len(d.training))),
        target_short_mwh=(float(x[lp.col(h.target.short_mwh)]) if h.target is not None
                          else 0.0),
        backup_mwh=(lp.values(x, s.backup.backup_mwh, t) if s.backup is not None else None))


def infeasibilities(v: PlanValues, d: HorizonData, index: pd.DatetimeIndex,
                    gti_target: float | None) -> list[str]:
    """One message per violated family: the family, the first slice and the shortfall."""
    msgs = []
    # shedding is planned, not infeasible, where scheduled events lower the POI limit
    limit = np.broadcast_to(np.asarray(d.max_import_mwh, dtype=float), (d.n,))
    lowered = limit < float(limit.max(initial=0.0)) * (1.0 - 1e-12)
    over = (v.unserved_mwh > SHORTFALL_TOL) & ~lowered
    if over.any():
        k = int(np.argmax(over))
        msgs.append(f"balance: at {index[k]} the site needs {v.unserved_mwh[k] / d.dt_h:.3f} MW "
                    f"more than PV, wind, the battery and the grid limit "
                    f"({limit[k] / d.dt_h:g} MW) can supply")
    if (v.batch_late_gpu_s > SHORTFALL_TOL).any():
        k = int(np.argmax(v.batch_late_gpu_s > SHORTFALL_TOL))
        msgs.append(f"deferrable work: after the slice starting {index[k]}, "
                    f"{v.batch_late_gpu_s[k] / 3600:.1f} GPU-hours of batch work would be past "
                    f"their deadlines (the GPUs left free cannot serve it in time)")
    for j, tj in enumerate(d.training):
        short = v.train_short_tokens[j]
        if short > SHORTFALL_TOL * max(tj.required_tokens, 1.0):
            end = (index[min(tj.deadline_slice, d.n) - 1] if tj.deadline_slice > 0
                   else index[0])
            msgs.append(f"training: job {tj.job_id} is {short:.4g} tokens short of "
                        f"{tj.required_tokens:.4g} by its deadline (slice starting {end})")
    if gti_target is not None and v.target_short_mwh > SHORTFALL_TOL:
        total_it = float(v.it_mwh.sum())
        msgs.append(f"gti_target: the highest reachable time-slice GTI is "
                    f"{gti_target - v.target_short_mwh / total_it:.4f}, below the target "
                    f"{gti_target}")
    return msgs


def meters_of_plan(v: PlanValues, d: HorizonData, inp: SiteInputs, start: int) -> pd.DataFrame:
    """The plan's flows as a meter table (spec section 1)."""
    sl = slice(start, start + d.n)
    # the LP's flows hold their bounds to solver tolerance: a flow a hair below zero is zero
    pv, wind, charge, discharge, it, unserved = (np.maximum(a, 0.0) for a in (
        v.pv_mwh, v.wind_mwh, v.charge_mwh, v.discharge_mwh, v.it_mwh, v.unserved_mwh))
    backup = np.zeros(d.n) if v.backup_mwh is None else np.maximum(v.backup_mwh, 0.0)
    # load the plan sheds is not served: it leaves IT energy (with its cooling and aux)
    it = np.maximum(it - unserved / (1.0 + np.asarray(inp.cooling_fraction[sl])
                                     + inp.aux_fraction), 0.0)
    cooling, aux = physics.non_it_mwh(it, inp.cooling_fraction[sl], inp.aux_fraction)
    facility = it + cooling + aux
    # one meter cannot import and export at once, and the LP's balance holds to solver
    # tolerance: the grid meters are the net exchange that closes the balance exactly
    imp, exp = physics.net_exchange_mwh(pv, wind, discharge + backup, facility, charge)
    return pd.DataFrame({
        "time": inp.index[sl], "site": inp.name, "grid_share": inp.grid_share[sl],
        "pv_mwh": pv, "wind_mwh": wind,
        "curtailed_mwh": np.maximum(d.pv_avail_mwh - pv, 0.0)
        + np.maximum(d.wind_avail_mwh - wind, 0.0),
        "grid_import_mwh": imp, "grid_export_mwh": exp,
        "bess_charge_mwh": charge, "bess_discharge_mwh": discharge,
        "it_mwh": it, "cooling_mwh": cooling, "aux_mwh": aux, "facility_mwh": facility,
        "backup_mwh": backup, "unserved_mwh": unserved,
    })


def discharge_green_share(meters: pd.DataFrame, params: AccountingParams) -> tuple[
        np.ndarray, float]:
    """Green share of each slice's discharge that gti_core finds for a plan's flows (where a
    slice does not discharge: the green share of the store at its start), and its GTI."""
    score = score_site(meters, params)
    s = score.slices
    dis = meters["bess_discharge_mwh"].to_numpy()
    green, grey = s["soc_green_mwh"].to_numpy(), s["soc_grey_mwh"].to_numpy()
    st = params.storage
    start_green = np.concatenate(([st.initial_soc_mwh * st.initial_green_fraction], green[:-1]))
    start_all = np.concatenate(([st.initial_soc_mwh], (green + grey)[:-1]))
    pool = np.divide(start_green, start_all, out=np.full(len(dis), 1.0), where=start_all > 1e-9)
    share = np.divide(s["green_out_mwh"].to_numpy(), dis, out=pool.copy(), where=dis > 1e-9)
    return np.clip(share, 0.0, 1.0), score.gti_slice


def _plan_cost(meters: pd.DataFrame, inp: SiteInputs) -> float:
    """Import cost minus export revenue of a plan's meters [$]."""
    return float(meters["grid_import_mwh"].to_numpy() @ np.asarray(inp.price_usd_per_mwh)
                 - meters["grid_export_mwh"].sum() * inp.export_price_usd_per_mwh)


def optimize_horizon(inp: SiteInputs, params: AccountingParams, objective: str = "cost",
                     gti_target: float | None = None, max_iterations: int = 12,
                     damping: float = 0.5) -> Plan:
    """Plan the whole run with perfect foresight (the oracle).

    With objective ``cost`` and no target the LP does not colour its flows and one solve is the
    optimum. Otherwise the green share of each slice's discharge is iterated: solve, let
    gti_core follow green through storage on the plan's flows, move the shares ``damping`` of
    the way to gti_core's, re-solve warm. Every plan is scored by gti_core, and the best one is
    kept (``gti``: the highest time-slice GTI; ``cost`` with a target: the cheapest plan that
    reaches it, or else the one that comes closest).

    Parameters
    ----------
    inp : SiteInputs
    params : AccountingParams
        The run's accounting: alpha, allocation and the storage rule the plan is scored by.
    objective : str
        ``cost`` or ``gti``.
    gti_target : float, optional
        Minimum time-slice GTI of the run (with ``cost``: the cheapest plan that reaches it).
    max_iterations : int
        LP solves allowed.
    damping : float
        Share of the step towards gti_core's discharge shares taken per iteration.

    Raises
    ------
    OptimizationInfeasible
        A deadline, the grid limit or the GTI target cannot be met; the message says which.
    """
    t0 = time.perf_counter()
    share = np.ones(inp.n)
    d = horizon_data(inp, params.alpha, discharge_green_fraction=share)
    h = build_model(d, objective, gti_target)
    t1 = time.perf_counter()
    lp = CompiledLP(h.model)
    g = h.green
    if g is not None and d.battery is not None:
        dis_cols = lp.col_array(h.storage.discharge_mwh, range(d.n))
        in_rows, pool_rows = lp.row_array(g.inflow, range(d.n)), lp.row_array(g.pool, range(d.n))
        ed = d.battery.discharge_efficiency
        in_sign = lp.orientation(in_rows, dis_cols, share)
        pool_sign = lp.orientation(pool_rows, dis_cols, share / ed)
    best, it = None, 0
    while True:
        x = lp.solve()
        it += 1
        candidate = _scored(lp, x, h, d, inp, params, gti_target)
        best = candidate if best is None else _better(best, candidate, objective, gti_target,
                                                      inp)
        if (g is None or d.battery is None or abs(candidate.lp_gti - candidate.core_gti)
                < FIXED_POINT_TOL or it >= max_iterations):
            break
        share = share + damping * (candidate.core_share - share)
        # the discharge's green share is a coefficient of the discharge in two rows
        lp.set_coeffs(in_rows, dis_cols, in_sign * share)
        lp.set_coeffs(pool_rows, dis_cols, pool_sign * share / ed)
    if any(_fractional(r) for r in best.values.run_fraction.values()):
        best = _whole_slice_training(lp, h, d, best.values, inp, params, gti_target)
        it += 1
    t2 = time.perf_counter()
    v = best.values
    return Plan(
        charge=v.charge_mwh, discharge=v.discharge_mwh, batch_gpu_s=v.batch_gpu_s,
        run=v.run_fraction, meters=best.meters, lp_gti_slice=best.lp_gti,
        gti_core_gti_slice=best.core_gti, objective_value=best.objective_value, iterations=it,
        timings_s={"build_s": t1 - t0, "compile_s": lp.compile_s, "pass_s": lp.pass_s,
                   "highs_s": lp.solve_s, "total_s": t2 - t0})


@dataclass
class _Scored:
    """A solved plan with gti_core's view of it."""

    values: PlanValues
    meters: pd.DataFrame
    lp_gti: float
    core_gti: float
    core_share: np.ndarray
    objective_value: float


def _scored(lp: CompiledLP, x: np.ndarray, h: DispatchModel, d: HorizonData, inp: SiteInputs,
            params: AccountingParams, gti_target: float | None, prefix: str = "") -> _Scored:
    """Read a solution, refuse it where a family fell short, and score it with gti_core."""
    v = plan_values(lp, x, h, d)
    problems = infeasibilities(v, d, inp.index, gti_target)
    if problems:
        raise OptimizationInfeasible(prefix + "; ".join(problems))
    meters = meters_of_plan(v, d, inp, 0)
    core_share, core_gti = discharge_green_share(meters, params)
    lp_gti = (float(v.green_it_mwh.sum() / v.it_mwh.sum()) if h.green is not None
              else float("nan"))
    return _Scored(v, meters, lp_gti, core_gti, core_share, lp.objective)


def _fractional(run: np.ndarray) -> bool:
    return bool(np.any((run > 1e-6) & (run < 1.0 - 1e-6)))


def whole_slices(run: np.ndarray, pause_slices: float = 0.0) -> np.ndarray:
    """A training schedule in whole slices from the LP's running shares.

    Slices the LP runs whole or not at all keep their value. Each stretch of fractional shares
    becomes one contiguous block of running slices, as many as the stretch's shares add up to
    plus ``pause_slices`` (the progress a pause costs, in slices of running: the block may add
    one pause the shares did not pay for), at most the stretch's length. The block sits next to
    a running neighbour where there is one (after the stretch first, then before it), so that
    it adds as few pauses as it can.
    """
    run = np.asarray(run, dtype=float)
    out = np.where(run >= 1.0 - 1e-6, 1.0, 0.0)
    frac = (run > 1e-6) & (run < 1.0 - 1e-6)
    n, t = len(run), 0
    while t < n:
        if not frac[t]:
            t += 1
            continue
        end = t
        while end < n and frac[end]:
            end += 1
        size = min(int(np.ceil(run[t:end].sum() + pause_slices - 1e-6)), end - t)
        if end < n and out[end] == 1.0:  # join the run that follows
            out[end - size:end] = 1.0
        else:  # join the run before it, if any
            out[t:t + size] = 1.0
        t = end
    return out


def _whole_slice_training(lp: CompiledLP, h: DispatchModel, d: HorizonData, v: PlanValues,
                          inp: SiteInputs, params: AccountingParams,
                          gti_target: float | None) -> _Scored:
    """Re-solve with every training job held to whole slices.

    The engine runs a job for a whole slice or pauses it (at a share of 0.5); an LP share in
    between would have the plan count GPU time for batch work that the running job holds, and
    a share held below 1 for hours pays no pause at all. The schedule in whole slices
    (:func:`whole_slices`) is fixed and the rest re-planned around it, so the engine plays back
    the plan it is given.
    """
    for j, tj in enumerate(d.training):
        cols = lp.col_array(h.training.run_fraction, [(j, k) for k in range(d.n)])
        fixed = whole_slices(v.run_fraction[tj.job_id], tj.pause_tokens / tj.tokens_per_slice)
        lp.set_col_bounds(cols, fixed, fixed)
    return _scored(lp, lp.solve(), h, d, inp, params, gti_target,
                   prefix="with training in whole slices: ")


def _better(a: _Scored, b: _Scored, objective: str, gti_target: float | None,
            inp: SiteInputs) -> _Scored:
    """The better of two scored plans."""
    if objective == "gti":
        return b if b.core_gti > a.core_gti else a
    if gti_target is not None:
        ok_a, ok_b = a.core_gti >= gti_target, b.core_gti >= gti_target
        if ok_a != ok_b:
            return b if ok_b else a
        if not ok_a:
            return b if b.core_gti > a.core_gti else a
    return b if _plan_cost(b.meters, inp) < _plan_cost(a.meters, inp) else a
