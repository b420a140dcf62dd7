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

from gti_core.meters import ENERGY_COLUMNS
from gti_core.score import AccountingParams, score_site
from twin.inputs import SiteInputs
from twin.optimize.data import HorizonData, horizon_data
from twin.optimize.highs import CompiledLP
from twin.optimize.model import build_model

#: A slack above this counts as a shortfall [MWh, GPU-s or tokens].
SHORTFALL_TOL = 1e-6
#: The fixed point is reached when the LP's and gti_core's time-slice GTI differ by less [-].
FIXED_POINT_TOL = 1e-7


class OptimizationInfeasible(ValueError):
    """No plan meets every constraint; the message names the family, the slice and the gap."""


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


def plan_values(lp: CompiledLP, x: np.ndarray, d: HorizonData) -> dict[str, np.ndarray]:
    """The columns of each per-slice component, in slice order."""
    t = range(d.n)
    out = {name: lp.values(x, name, t) for name in
           ("pv", "wind", "imp", "exp", "ch", "dis", "soc", "batch", "backlog", "it", "g_it",
            "unserved", "batch_late")}  # absent components (g_it under cost) read as zeros
    for j, tj in enumerate(d.training):
        out[f"run:{tj.job_id}"] = lp.values(x, "run", [(j, k) for k in t])
    out["train_short"] = lp.values(x, "train_short", range(len(d.training)))
    return out


def infeasibilities(v: dict, d: HorizonData, index: pd.DatetimeIndex,
                    gti_target: float | None, target_short: float) -> list[str]:
    """One message per violated family: the family, the first slice and the shortfall."""
    msgs = []
    if (v["unserved"] > SHORTFALL_TOL).any():
        k = int(np.argmax(v["unserved"] > SHORTFALL_TOL))
        msgs.append(f"balance: at {index[k]} the site needs {v['unserved'][k] / d.dt_h:.3f} MW "
                    f"more than PV, wind, the battery and the grid limit "
                    f"({d.max_import / d.dt_h:g} MW) can supply")
    if (v["batch_late"] > SHORTFALL_TOL).any():
        k = int(np.argmax(v["batch_late"] > SHORTFALL_TOL))
        msgs.append(f"deferrable work: after the slice starting {index[k]}, "
                    f"{v['batch_late'][k] / 3600:.1f} GPU-hours of batch work would be past "
                    f"their deadlines (the GPUs left free cannot serve it in time)")
    for j, tj in enumerate(d.training):
        short = v["train_short"][j]
        if short > SHORTFALL_TOL * max(tj.required_tokens, 1.0):
            end = index[min(tj.deadline, d.n) - 1] if tj.deadline > 0 else index[0]
            msgs.append(f"training: job {tj.job_id} is {short:.4g} tokens short of "
                        f"{tj.required_tokens:.4g} by its deadline (slice starting {end})")
    if gti_target is not None and target_short > SHORTFALL_TOL:
        total_it = float(v["it"].sum())
        msgs.append(f"gti_target: the highest reachable time-slice GTI is "
                    f"{gti_target - target_short / total_it:.4f}, below the target {gti_target}")
    return msgs


def meters_of_plan(v: dict, d: HorizonData, inp: SiteInputs, start: int) -> pd.DataFrame:
    """The plan's flows as a meter table (spec section 1)."""
    sl = slice(start, start + d.n)
    it = v["it"]
    cooling = it * inp.cooling_fraction[sl]
    aux = it * inp.aux_fraction
    frame = pd.DataFrame({
        "time": inp.index[sl], "site": inp.name, "grid_share": inp.grid_share[sl],
        "pv_mwh": v["pv"], "wind_mwh": v["wind"],
        "curtailed_mwh": np.maximum(d.pv_avail - v["pv"], 0.0)
        + np.maximum(d.wind_avail - v["wind"], 0.0),
        "grid_import_mwh": v["imp"], "grid_export_mwh": v["exp"],
        "bess_charge_mwh": v["ch"], "bess_discharge_mwh": v["dis"],
        "it_mwh": it, "cooling_mwh": cooling, "aux_mwh": aux,
        "facility_mwh": it + cooling + aux,
    })
    # one meter cannot import and export at once, and the LP's balance holds to solver
    # tolerance: the grid meters are the net exchange that closes the balance exactly
    surplus = (frame["pv_mwh"] + frame["wind_mwh"] + frame["bess_discharge_mwh"]
               - frame["facility_mwh"] - frame["bess_charge_mwh"]).to_numpy()
    frame["grid_import_mwh"] = np.maximum(-surplus, 0.0)
    frame["grid_export_mwh"] = np.maximum(surplus, 0.0)
    for col in ENERGY_COLUMNS:
        frame[col] = np.maximum(frame[col].to_numpy(dtype=float), 0.0)
    return frame


def discharge_green_share(meters: pd.DataFrame, params: AccountingParams) -> tuple[
        np.ndarray, float]:
    """Green share of each slice's discharge that gti_core finds for a plan's flows (where a
    slice does not discharge: the green share of the store at its start), and its GTI."""
    score = score_site(meters, params)
    s = score.slices
    dis = meters["bess_discharge_mwh"].to_numpy()
    green, grey = s["soc_green_mwh"].to_numpy(), s["soc_grey_mwh"].to_numpy()
    st = params.storage
    start_green = np.concatenate(([st.initial_mwh * st.initial_green_fraction], green[:-1]))
    start_all = np.concatenate(([st.initial_mwh], (green + grey)[:-1]))
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
    m = build_model(d, objective, gti_target)
    t1 = time.perf_counter()
    lp = CompiledLP(m)
    coloured = hasattr(m, "g_it")
    if coloured and d.battery is not None:
        dis_cols = lp.col_array("dis", range(d.n))
        in_rows, pool_rows = lp.row_array("green_in", range(d.n)), lp.row_array(
            "green_pool", range(d.n))
        ed = d.battery.discharge_efficiency
        in_sign = lp.orientation(in_rows, dis_cols, share)
        pool_sign = lp.orientation(pool_rows, dis_cols, share / ed)
    best, it = None, 0
    while True:
        x = lp.solve()
        it += 1
        v = plan_values(lp, x, d)
        target_short = (x[lp.col("target_short")] if gti_target is not None else 0.0)
        problems = infeasibilities(v, d, inp.index, gti_target, target_short)
        if problems:
            raise OptimizationInfeasible("; ".join(problems))
        meters = meters_of_plan(v, d, inp, 0)
        core_share, core_gti = discharge_green_share(meters, params)
        lp_gti = float(v["g_it"].sum() / v["it"].sum()) if coloured else float("nan")
        candidate = (v, meters, lp_gti, core_gti, lp.objective)
        best = candidate if best is None else _better(best, candidate, objective, gti_target,
                                                      inp)
        if (not coloured or d.battery is None or abs(lp_gti - core_gti) < FIXED_POINT_TOL
                or it >= max_iterations):
            break
        share = share + damping * (core_share - share)
        # the discharge's green share is a coefficient of the discharge in two rows
        lp.set_coeffs(in_rows, dis_cols, in_sign * share)
        lp.set_coeffs(pool_rows, dis_cols, pool_sign * share / ed)
    v, meters, lp_gti, core_gti, value = best
    if any(_fractional(v[f"run:{tj.job_id}"]) for tj in d.training):
        v, meters, lp_gti, core_gti, value = _whole_slice_training(lp, d, v, inp, params,
                                                                   gti_target)
        it += 1
    t2 = time.perf_counter()
    return Plan(
        charge=v["ch"], discharge=v["dis"], batch_gpu_s=v["batch"],
        run={tj.job_id: v[f"run:{tj.job_id}"] for tj in d.training},
        meters=meters, lp_gti_slice=lp_gti, gti_core_gti_slice=core_gti,
        objective_value=value, iterations=it,
        timings_s={"build_s": t1 - t0, "compile_s": lp.compile_s, "pass_s": lp.pass_s,
                   "highs_s": lp.solve_s, "total_s": t2 - t0})


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


def _whole_slice_training(lp: CompiledLP, d: HorizonData, v: dict, inp: SiteInputs,
                          params: AccountingParams, gti_target: float | None):
    """Re-solve with every training job held to whole slices.

    The engine runs a job for a whole slice or pauses it (at a share of 0.5); an LP share in
    between would have the plan count GPU time for batch work that the running job holds, and
    a share held below 1 for hours pays no pause at all. The schedule in whole slices
    (:func:`whole_slices`) is fixed and the rest re-planned around it, so the engine plays back
    the plan it is given.
    """
    for j, tj in enumerate(d.training):
        cols = lp.col_array("run", [(j, k) for k in range(d.n)])
        fixed = whole_slices(v[f"run:{tj.job_id}"], tj.pause_tokens / tj.tokens_per_slice)
        lp.set_col_bounds(cols, fixed, fixed)
    x = lp.solve()
    w = plan_values(lp, x, d)
    target_short = x[lp.col("target_short")] if gti_target is not None else 0.0
    problems = infeasibilities(w, d, inp.index, gti_target, target_short)
    if problems:
        raise OptimizationInfeasible("with training in whole slices: " + "; ".join(problems))
    meters = meters_of_plan(w, d, inp, 0)
    _, core_gti = discharge_green_share(meters, params)
    lp_gti = float(w["g_it"].sum() / w["it"].sum()) if "g_it" in lp.cols else float("nan")
    return w, meters, lp_gti, core_gti, lp.objective


def _better(a, b, objective: str, gti_target: float | None, inp: SiteInputs):
    """The better of two scored plans (v, meters, lp_gti, core_gti, objective value)."""
    if objective == "gti":
        return b if b[3] > a[3] else a
    if gti_target is not None:
        ok_a, ok_b = a[3] >= gti_target, b[3] >= gti_target
        if ok_a != ok_b:
            return b if ok_b else a
        if not ok_a:
            return b if b[3] > a[3] else a
    return b if _plan_cost(b[1], inp) < _plan_cost(a[1], inp) else a
