"""``oracle`` and ``mpc``: the dispatch optimizer of :mod:`twin.optimize` as strategies.

``oracle`` plans the whole run at once with perfect foresight and plays the plan back: the bound
no strategy can beat on its objective. ``mpc`` plans ``mpc_horizon_h`` ahead every
``mpc_step_h`` with forecasts (perfect, persistence, or perfect with seeded noise), applies the
plan until the next re-plan, and re-solves one persistent HiGHS model whose data it changes in
place (:class:`twin.optimize.highs.CompiledLP`). For green, its windows treat every discharge as
drawn from the store's green pool, which starts at the green content the controller has followed
through the past slices with gti_core's rules: grey content in the store is never counted on.
Both execute a plan as setpoints: battery charge and discharge, GPU time for batch work, and
which training jobs pause (those planned to run less than half of the slice).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from gti_core.attribution import base_green_inflow_mwh
from gti_core.storage import storage_provenance
from twin.dispatch.base import Observation, Setpoints, StrategyOptions, batch_must_run_gpu_s
from twin.inputs import SiteInputs
from twin.optimize.data import HorizonData, batch_jobs_table, horizon_data
from twin.optimize.handles import DispatchModel
from twin.optimize.highs import CompiledLP
from twin.optimize.model import (
    COST_SCALE,
    GTI_EXPORT_COST,
    SECONDARY_WEIGHT,
    build_model,
    progress_cap_tokens,
    soc_end_target_mwh,
    soc_floor_mwh,
    soc_lower_bound,
    terminal_value,
    training_run_bounds,
)
from twin.optimize.plan import Plan, optimize_horizon, plan_values

FORECASTS = ("perfect", "persistence", "noisy")


def lp_gti_or_none(plan) -> float | None:
    """The plan's own time-slice GTI, or None where the LP did not model it (NaN in the plan;
    a summary holds no NaN, twin.run.check_finite)."""
    return None if np.isnan(plan.lp_gti_slice) else float(plan.lp_gti_slice)


def _setpoints(k: int, batch, charge, discharge, run: dict) -> Setpoints:
    pause = frozenset(job for job, share in run.items() if share[k] < 0.5)
    return Setpoints(float(batch[k]), float(charge[k]), float(discharge[k]), pause)


class Oracle:
    name = "oracle"

    def __init__(self, options: StrategyOptions | None = None):
        self.options = options or StrategyOptions()
        self.plan: Plan | None = None

    def prepare(self, inp: SiteInputs) -> None:
        o = self.options
        self.plan = optimize_horizon(inp, o.accounting, o.objective, o.gti_target)

    def decide(self, obs: Observation) -> Setpoints:
        p = self.plan
        return _setpoints(obs.slice_index, p.batch_gpu_s, p.charge, p.discharge, p.run)

    def report(self) -> dict:
        p = self.plan
        lp_gti = lp_gti_or_none(p)
        return {"objective": self.options.objective, "gti_target": self.options.gti_target,
                "plan_gti_slice_lp": lp_gti, "plan_gti_slice_gti_core": p.gti_core_gti_slice,
                "fixed_point_gap": (abs(lp_gti - p.gti_core_gti_slice)
                                    if lp_gti is not None else None),
                "objective_value": p.objective_value,
                "lp_solves": p.iterations, **{k: round(v, 3) for k, v in p.timings_s.items()}}


def forecast_inputs(inp, kind: str, sigma: float, seed: int):
    """The site's inputs as a forecaster would see them ahead of time."""
    if kind not in FORECASTS:
        raise ValueError(f"forecast = {kind!r}: must be one of {list(FORECASTS)}")
    if kind == "perfect":
        return inp
    if kind == "persistence":  # each value as it was 24 h earlier (the first day as itself)
        day = int(round(1440 / inp.slice_minutes))

        def shift(a):
            a = np.asarray(a, dtype=float)
            return np.concatenate((a[:day], a[:-day])) if len(a) > day else a.copy()
    else:
        rng = np.random.default_rng(seed)

        def shift(a):
            a = np.asarray(a, dtype=float)
            noise = rng.lognormal(-0.5 * sigma**2, sigma, size=len(a))
            return a * noise
    return dataclasses.replace(
        inp, pv_avail_mw=np.minimum(shift(inp.pv_avail_mw), inp.pv_ac_mw or np.inf),
        wind_avail_mw=np.minimum(shift(inp.wind_avail_mw), inp.wind_nameplate_mw or np.inf),
        price_usd_per_mwh=shift(inp.price_usd_per_mwh),
        grid_share=np.clip(shift(inp.grid_share), 0.0, 1.0),
        cooling_fraction=shift(inp.cooling_fraction))


def follow_green_share(prev, grid_share: float, soc_before_mwh: float, green_share: float,
                       acc) -> float:
    """The green share of a store's content after a slice, from the share before it and the
    slice's meter row ``prev``, by gti_core's rules (spec sections 3 and 4) [fraction]."""
    share = np.array([grid_share])
    pv, wind, imp = (np.array([prev.pv_mwh]), np.array([prev.wind_mwh]),
                     np.array([prev.grid_import_mwh]))
    base = base_green_inflow_mwh(pv, wind, imp, share, acc.alpha)
    total_in = pv + wind + imp + prev.bess_discharge_mwh
    params = dataclasses.replace(acc.storage, initial_soc_mwh=soc_before_mwh,
                                 initial_green_fraction=green_share)
    flows = storage_provenance(base, np.array([prev.it_mwh]),
                               np.array([prev.cooling_mwh + prev.aux_mwh]), total_in,
                               np.array([prev.bess_charge_mwh]),
                               np.array([prev.bess_discharge_mwh]), acc.allocation, params)
    held = float(flows.soc_green_mwh[0] + flows.soc_grey_mwh[0])
    return float(flows.soc_green_mwh[0]) / held if held > 1e-9 else green_share


class MPC:
    name = "mpc"

    def __init__(self, options: StrategyOptions | None = None):
        self.options = options or StrategyOptions()
        self.solves = 0
        self.solve_ms: list[float] = []

    # --- setup -----------------------------------------------------------------------------
    def prepare(self, inp: SiteInputs) -> None:
        o = self.options
        self.inp = inp
        self.fc = forecast_inputs(inp, o.forecast, o.forecast_noise_sigma, o.seed)
        self.jobs_table = batch_jobs_table(inp)
        self.nw = max(int(round(o.mpc_horizon_h * 60 / inp.slice_minutes)), 1)
        self.step = max(int(round(o.mpc_step_h * 60 / inp.slice_minutes)), 1)
        self.green_share = o.accounting.storage.initial_green_fraction  # the store's, estimated
        self.last_soc_mwh = inp.initial_soc_mwh
        t0 = time.perf_counter()
        d = self._window(0, inp.initial_soc_mwh, (), {}, model_shape=True)
        self.h = build_model(d, o.objective, o.gti_target)
        self.lp = CompiledLP(self.h.model)
        self.build_s = time.perf_counter() - t0
        self.rows = _WindowRows(self.lp, self.h, d, self.nw)
        self.window_training = _WindowTraining(self.lp, self.h, d, self.nw)
        self.plan_start, self.plan = 0, None
        self.shift = self.lp.shift_map(self.step, self.nw)

    def _window(self, k: int, initial_soc_mwh: float, queue, training_state,
                model_shape: bool = False) -> HorizonData:
        """Window data from slice ``k``, padded to ``nw`` slices past the end of the run.
        ``model_shape``: the data the window model is built from, with every coefficient that
        a window rewrites non-zero, so that each matrix entry exists."""
        inp, nw = self.fc, self.nw
        end_of_run = k + nw >= inp.n
        d = horizon_data(inp, self.options.accounting.alpha, start=k, n=nw,
                         initial_soc_mwh=initial_soc_mwh, queue=queue,
                         training_state=training_state,
                         discharge_green_fraction=np.ones(min(nw, inp.n - k)),
                         soc_end_min_mwh=None if end_of_run else self.inp.initial_soc_mwh,
                         every_job=True, paced_training=True, jobs=self.jobs_table,
                         queue_has_start=not model_shape)  # the EMS released slice k's first
        if d.n < nw:
            d = d.padded(nw)
        if model_shape:
            d = dataclasses.replace(d, grid_share=np.ones(nw),
                                    discharge_green_fraction=np.ones(nw),
                                    nonit_per_it=np.maximum(d.nonit_per_it, 0.01))
        return d

    # --- control ---------------------------------------------------------------------------
    def _track_green(self, obs: Observation) -> None:
        """Follow the store's green share through the last slice with gti_core's rules."""
        if obs.previous is None or self.inp.battery is None:
            return
        self.green_share = follow_green_share(
            obs.previous, float(self.inp.grid_share[obs.slice_index - 1]), self.last_soc_mwh,
            self.green_share, self.options.accounting)

    def _training_state(self, obs: Observation) -> dict[str, tuple[float, bool]]:
        state = {}
        by_id = {tj.job_id: tj for tj in self.inp.training_jobs}
        for ts in obs.training:
            state[ts.job_id] = (ts.remaining_s * by_id[ts.job_id].tokens_per_s,
                                ts.state in ("running", "releasing"))
        for tj in self.inp.training_jobs:  # finished jobs are absent from the observation
            if tj.release_slice <= obs.slice_index and tj.job_id not in state:
                state[tj.job_id] = (0.0, False)
        return state

    def _replan(self, obs: Observation) -> None:
        o, lp, h = self.options, self.lp, self.h
        k = obs.slice_index
        d = self._window(k, obs.soc_mwh, obs.batch_queue, self._training_state(obs))
        # what is known now replaces the forecast of the current slice
        d.pv_avail_mwh[0], d.wind_avail_mwh[0] = obs.pv_avail_mwh, obs.wind_avail_mwh
        d.price_usd_per_mwh[0], d.grid_share[0] = obs.price_usd_per_mwh, obs.grid_share
        self.rows.update(d, o.objective, self.green_share)
        self.window_training.update(d)
        t0 = time.perf_counter()
        if self.solves:
            lp.shift_basis(*self.shift)
        x = lp.solve()
        self.solve_ms.append((time.perf_counter() - t0) * 1e3)
        self.solves += 1
        # a window's shortfalls are not errors: the engine records what really misses its
        # deadline, and a window may fall short of a run's GTI target
        v = plan_values(lp, x, h, d)
        self.plan_start = k
        self.plan = (v.batch_gpu_s, v.charge_mwh, v.discharge_mwh, v.run_fraction)

    def decide(self, obs: Observation) -> Setpoints:
        self._track_green(obs)
        self.last_soc_mwh = obs.soc_mwh
        k = obs.slice_index
        if self.plan is None or k - self.plan_start >= self.step:
            self._replan(obs)
        batch, ch, dis, run = self.plan
        sp = _setpoints(k - self.plan_start, batch, ch, dis, run)
        # the plan's batch work, but never less than what keeps every batch deadline within
        # reach: a training job run for a whole slice where the plan ran part of it takes GPU
        # time the plan gave to batch work, and a window does not see that coming
        must = batch_must_run_gpu_s(obs)
        if sp.batch_gpu_seconds >= must:
            return sp
        return dataclasses.replace(sp, batch_gpu_seconds=must)

    def report(self) -> dict:
        ms = np.asarray(self.solve_ms)
        return {"objective": self.options.objective, "forecast": self.options.forecast,
                "horizon_h": self.options.mpc_horizon_h, "step_h": self.options.mpc_step_h,
                "solves": self.solves, "build_s": round(self.build_s, 3),
                "solve_ms_median": float(np.median(ms)) if len(ms) else 0.0,
                "solve_ms_p95": float(np.percentile(ms, 95)) if len(ms) else 0.0,
                "simplex_iterations": self.lp.iterations,
                "cold_restarts": self.lp.cold_restarts}


class _WindowRows:
    """The columns and rows a window's data changes, found once through the model's handles,
    with the orientation of each coefficient the windows rewrite."""

    def __init__(self, lp: CompiledLP, h: DispatchModel, d: HorizonData, nw: int):
        t = range(nw)
        self.lp, self.h, self.nw = lp, h, nw
        s, q = h.supply, h.deferrable
        self.pv, self.wind = lp.col_array(s.pv_mwh, t), lp.col_array(s.wind_mwh, t)
        self.imp, self.exp = lp.col_array(s.import_mwh, t), lp.col_array(s.export_mwh, t)
        self.backup = lp.col_array(s.backup.backup_mwh, t) if s.backup is not None else None
        self.data = [(lp.col_array(var, t), values) for var, values in (
            (h.balance.it_base_mwh, lambda d: d.it_base_mwh),
            (q.free_gpu_s, lambda d: d.free_gpu_s),
            (q.released_gpu_s, lambda d: d.release_gpu_s),
            (q.may_wait_gpu_s, lambda d: d.not_due_gpu_s))]
        self.it = lp.col_array(h.balance.it_mwh, t)
        self.dis = lp.col_array(h.storage.discharge_mwh, t)
        self.soc = lp.col_array(h.storage.soc_mwh, t)
        self.balance = lp.row_array(h.balance.balance, t)
        self.sign_load = lp.orientation(self.balance, self.it, 1.0 + d.nonit_per_it)
        g = h.green
        if g is not None:
            self.green = lp.row_array(g.inflow, t)
            self.nonit = lp.row_array(g.nonit, t)
            self.sign_imp = lp.orientation(self.green, self.imp, d.alpha * d.grid_share)
            self.sign_dis = lp.orientation(self.green, self.dis, np.ones(nw))
            self.sign_nonit = lp.orientation(self.nonit, self.it, d.nonit_per_it)
            if g.pool is not None:
                ed = d.battery.discharge_efficiency
                self.pool = lp.row_array(g.pool, t)
                self.sign_pool = lp.orientation(self.pool, self.dis, np.ones(nw) / ed)

    def update(self, d: HorizonData, objective: str, green_share: float) -> None:
        """Bounds, data columns, coefficients and costs of window ``d``."""
        lp, h, nw = self.lp, self.h, self.nw
        inside = np.arange(nw) < d.real_n
        lp.set_col_bounds(self.pv, 0.0, d.pv_avail_mwh)
        lp.set_col_bounds(self.wind, 0.0, d.wind_avail_mwh)
        lp.set_col_bounds(self.imp, 0.0, np.where(inside, d.max_import_mwh, 0.0))
        lp.set_col_bounds(self.exp, 0.0, np.where(inside, d.max_export_mwh, 0.0))
        if self.backup is not None:
            lp.set_col_bounds(self.backup, 0.0, np.where(inside, d.backup_mwh, 0.0))
        for cols, data_of in self.data:
            values = data_of(d)
            lp.set_col_bounds(cols, values, values)
        fixed = [(h.deferrable.backlog_init_gpu_s, d.backlog_init_gpu_s)]
        st, b = h.storage, d.battery
        if b is not None:
            fixed += [(st.soc_init_mwh, d.initial_soc_mwh),
                      (st.soc_end_min_mwh, soc_end_target_mwh(d)),
                      (st.soc_floor_mwh, soc_floor_mwh(d))]
            lp.set_costs([lp.col(st.end_short_mwh)], terminal_value(d, objective))
            lp.set_col_bounds(self.soc, soc_lower_bound(d), b.max_soc_mwh)
        for var, value in fixed:
            lp.set_col_bounds([lp.col(var)], value, value)
        lp.set_coeffs(self.balance, self.it, self.sign_load * (1.0 + d.nonit_per_it))
        g = h.green
        if g is not None:
            f = d.discharge_green_fraction
            lp.set_coeffs(self.green, self.imp, self.sign_imp * d.alpha * d.grid_share)
            lp.set_coeffs(self.green, self.dis, self.sign_dis * f)
            lp.set_coeffs(self.nonit, self.it, self.sign_nonit * d.nonit_per_it)
            if g.pool is not None:
                lp.set_coeffs(self.pool, self.dis, self.sign_pool * f / b.discharge_efficiency)
                g0 = d.initial_soc_mwh * green_share
                lp.set_col_bounds([lp.col(g.soc_green_init_mwh)], g0, g0)
        w = 1.0 / COST_SCALE if objective == "cost" else SECONDARY_WEIGHT / COST_SCALE
        lp.set_costs(self.imp, w * d.price_usd_per_mwh)
        exp_cost = -w * d.export_price_usd_per_mwh + (GTI_EXPORT_COST if objective == "gti"
                                                       else 0.0)
        lp.set_costs(self.exp, exp_cost * inside)


class _WindowTraining:
    """Each training job's columns and progress row in the window model, with the orientation
    of the progress coefficients: a window moves the job's release and deadline, and only the
    slices before the deadline count towards the progress it must make."""

    def __init__(self, lp: CompiledLP, h: DispatchModel, d: HorizonData, nw: int):
        self.lp, self.h, self.nw = lp, h, nw
        tr, self.jobs = h.training, []
        for j, tj in enumerate(d.training):
            idx = [(j, i) for i in range(nw)]
            run, pause = lp.col_array(tr.run_fraction, idx), lp.col_array(tr.pause_fraction, idx)
            row = np.full(nw, lp.row(tr.progress, j))
            # the model is built with every slice before the deadline (a window's deadline
            # at its end), so every coefficient exists with its sign
            run_sign = lp.orientation(row, run, np.full(nw, tj.tokens_per_slice))
            pause_sign = (lp.orientation(row, pause, np.full(nw, -tj.pause_tokens))
                          if tj.pause_tokens > 0.0 else None)
            self.jobs.append((run, pause, row, run_sign, pause_sign))

    def update(self, d: HorizonData) -> None:
        """Running bounds, the progress counted before the deadline, tokens required and
        whether each job runs at the window's start."""
        lp, tr, nw = self.lp, self.h.training, self.nw
        t = np.arange(nw)
        for j, (tj, (run, pause, row, run_sign, pause_sign)) in enumerate(
                zip(d.training, self.jobs, strict=True)):
            lp.set_col_bounds(run, *training_run_bounds(tj, nw, d.real_n))
            due = t < tj.deadline_slice
            lp.set_coeffs(row, run, run_sign * tj.tokens_per_slice * due)
            if pause_sign is not None:
                lp.set_coeffs(row, pause, -pause_sign * tj.pause_tokens * due)
            lp.set_col_bounds([lp.col(tr.required_tokens, j)], tj.required_tokens,
                              tj.required_tokens)
            cap = progress_cap_tokens(tj)
            lp.set_col_bounds([lp.col(tr.remaining_tokens, j)], cap, cap)
            lp.set_col_bounds([lp.col(tr.running_before_fraction, j)], tj.running_before_fraction,
                              tj.running_before_fraction)
