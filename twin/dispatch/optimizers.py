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
from gti_core.storage import StorageParams, storage_provenance
from twin.dispatch.base import Observation, Setpoints, StrategyOptions
from twin.optimize.data import HorizonData, batch_jobs_table, horizon_data
from twin.optimize.highs import CompiledLP
from twin.optimize.model import (
    COST_SCALE,
    GTI_EXPORT_COST,
    SECONDARY_WEIGHT,
    build_model,
    soc_lower_bound,
    terminal_value,
)
from twin.optimize.plan import Plan, optimize_horizon, plan_values

FORECASTS = ("perfect", "persistence", "noisy")


def _setpoints(k: int, batch, charge, discharge, run: dict) -> Setpoints:
    pause = frozenset(job for job, share in run.items() if share[k] < 0.5)
    return Setpoints(float(batch[k]), float(charge[k]), float(discharge[k]), pause)


class Oracle:
    name = "oracle"

    def __init__(self, options: StrategyOptions | None = None):
        self.options = options or StrategyOptions()
        self.plan: Plan | None = None

    def prepare(self, inp) -> None:
        o = self.options
        self.plan = optimize_horizon(inp, o.accounting, o.objective, o.gti_target)

    def decide(self, obs: Observation) -> Setpoints:
        p = self.plan
        return _setpoints(obs.slice_index, p.batch_gpu_s, p.charge, p.discharge, p.run)

    def report(self) -> dict:
        p = self.plan
        return {"objective": self.options.objective, "gti_target": self.options.gti_target,
                "plan_gti_slice_lp": p.lp_gti_slice, "plan_gti_slice_gti_core":
                p.gti_core_gti_slice,
                "fixed_point_gap": (abs(p.lp_gti_slice - p.gti_core_gti_slice)
                                    if p.lp_gti_slice == p.lp_gti_slice else None),
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


class MPC:
    name = "mpc"

    def __init__(self, options: StrategyOptions | None = None):
        self.options = options or StrategyOptions()
        self.solves = 0
        self.solve_ms: list[float] = []

    # --- setup -----------------------------------------------------------------------------
    def prepare(self, inp) -> None:
        o = self.options
        self.inp = inp
        self.fc = forecast_inputs(inp, o.forecast, o.forecast_noise_sigma, o.seed)
        self.jobs_table = batch_jobs_table(inp)
        self.nw = max(int(round(o.mpc_horizon_h * 60 / inp.slice_minutes)), 1)
        self.step = max(int(round(o.mpc_step_h * 60 / inp.slice_minutes)), 1)
        st = o.accounting.storage
        self.green_share = st.initial_green_fraction  # the controller's estimate of the store
        self.last_soc = inp.initial_soc_mwh
        t0 = time.perf_counter()
        d = self._window(0, inp.initial_soc_mwh, (), {}, placeholder=True)
        self.model = build_model(d, o.objective, o.gti_target)
        self.lp = CompiledLP(self.model)
        self.build_s = time.perf_counter() - t0
        lp, t = self.lp, range(self.nw)
        self.c = {name: lp.col_array(name, t) for name in
                  ("pv", "wind", "imp", "exp", "it_base", "free", "released", "may_wait", "it",
                   "dis")}
        self.r_balance = lp.row_array("balance", t)
        self.sign_load = lp.orientation(self.r_balance, self.c["it"], 1.0 + d.nonit_per_it)
        self.coloured = hasattr(self.model, "g_it")
        if self.coloured:
            self.r_green = lp.row_array("green_in", t)
            self.r_nonit = lp.row_array("green_nonit", t)
            self.sign_imp = lp.orientation(self.r_green, self.c["imp"], d.alpha * d.grid_share)
            self.sign_dis = lp.orientation(self.r_green, self.c["dis"], np.ones(self.nw))
            self.sign_nonit = lp.orientation(self.r_nonit, self.c["it"], d.nonit_per_it)
            if d.battery is not None:
                ed = d.battery.discharge_efficiency
                self.r_pool = lp.row_array("green_pool", t)
                self.sign_pool = lp.orientation(self.r_pool, self.c["dis"],
                                                np.ones(self.nw) / ed)
        self.jobs = [tj.job_id for tj in d.training]
        self.plan_start, self.plan = 0, None
        self.shift = lp.shift_map(self.step, self.nw)

    def _window(self, k: int, soc0: float, queue, training_state, placeholder=False
                ) -> HorizonData:
        """Window data from slice ``k``, padded to ``nw`` slices past the end of the run."""
        inp, nw = self.fc, self.nw
        end_of_run = k + nw >= inp.n
        d = horizon_data(inp, self.options.accounting.alpha, start=k, n=nw, soc0=soc0,
                         queue=queue, training_state=training_state,
                         discharge_green_fraction=np.ones(min(nw, inp.n - k)),
                         soc_end_min=None if end_of_run else self.inp.initial_soc_mwh,
                         every_job=True, jobs=self.jobs_table)
        pad = nw - d.n
        if pad:
            z = np.zeros(pad)
            for f in ("pv_avail", "wind_avail", "it_base", "free_gpu_s", "release_gpu_s",
                      "not_due_gpu_s", "price", "grid_share", "discharge_green_fraction",
                      "nonit_per_it"):
                setattr(d, f, np.concatenate((getattr(d, f), z)))
        if placeholder:  # non-zero coefficients, so that every matrix entry exists
            d.grid_share = np.ones(nw)
            d.discharge_green_fraction = np.ones(nw)
            d.nonit_per_it = np.maximum(d.nonit_per_it, 0.01)
        d.real_n = nw - pad
        return d

    # --- control ---------------------------------------------------------------------------
    def _track_green(self, obs: Observation) -> None:
        """Follow the store's green share through the last slice with gti_core's rules."""
        prev, acc = obs.previous, self.options.accounting
        if prev is None or self.inp.battery is None:
            return
        one = lambda key: np.array([prev[key]])  # noqa: E731
        share = np.array([float(self.inp.grid_share[obs.slice_index - 1])])
        base = base_green_inflow_mwh(one("pv_mwh"), one("wind_mwh"), one("grid_import_mwh"),
                                     share, acc.alpha)
        total_in = one("pv_mwh") + one("wind_mwh") + one("grid_import_mwh") + one(
            "bess_discharge_mwh")
        st = acc.storage
        params = StorageParams(st.charge_efficiency, st.discharge_efficiency,
                               st.self_discharge_per_slice, self.last_soc, self.green_share,
                               st.rule)
        flows = storage_provenance(base, one("it_mwh"), one("cooling_mwh") + one("aux_mwh"),
                                   total_in, one("bess_charge_mwh"), one("bess_discharge_mwh"),
                                   acc.allocation, params)
        held = float(flows.soc_green_mwh[0] + flows.soc_grey_mwh[0])
        self.green_share = float(flows.soc_green_mwh[0]) / held if held > 1e-9 else \
            self.green_share

    def _replan(self, obs: Observation) -> None:
        o, lp, c, inp = self.options, self.lp, self.c, self.inp
        k = obs.slice_index
        state = {}
        by_id = {tj.job_id: tj for tj in inp.training_jobs}
        for ts in obs.training:
            state[ts.job_id] = (ts.remaining_s * by_id[ts.job_id].tokens_per_s,
                                ts.state in ("running", "releasing"))
        for tj in inp.training_jobs:  # finished jobs are absent from the observation
            if tj.release_slice <= k and tj.job_id not in state:
                state[tj.job_id] = (0.0, False)
        d = self._window(k, obs.soc_mwh, obs.batch_queue, state)
        # what is known now replaces the forecast of the current slice
        d.pv_avail[0], d.wind_avail[0] = obs.pv_avail_mwh, obs.wind_avail_mwh
        d.price[0], d.grid_share[0] = obs.price_usd_per_mwh, obs.grid_share
        real = d.real_n
        lp.set_col_bounds(c["pv"], 0.0, d.pv_avail)
        lp.set_col_bounds(c["wind"], 0.0, d.wind_avail)
        lp.set_col_bounds(c["imp"], 0.0, np.where(np.arange(self.nw) < real, d.max_import, 0.0))
        lp.set_col_bounds(c["exp"], 0.0, np.where(np.arange(self.nw) < real, d.max_export, 0.0))
        for name, values in (("it_base", d.it_base), ("free", d.free_gpu_s),
                             ("released", d.release_gpu_s), ("may_wait", d.not_due_gpu_s)):
            lp.set_col_bounds(c[name], values, values)
        fixed = {"backlog_init": d.backlog0_gpu_s}
        if d.battery is not None:
            end = (d.battery.min_soc_mwh if d.soc_end_min is None
                   else min(d.soc_end_min, d.battery.max_soc_mwh))
            keep = 1.0 - d.battery.self_discharge_per_slice
            fixed.update(soc_init=d.soc0, soc_end_min=end,
                         soc_floor=min(d.battery.min_soc_mwh, d.soc0 * keep))
            lp.set_costs([lp.col("end_short")], terminal_value(d, o.objective))
            lo = soc_lower_bound(d)
            lp.set_col_bounds(lp.col_array("soc", range(self.nw)), lo, d.battery.max_soc_mwh)
        for name, value in fixed.items():
            lp.set_col_bounds([lp.col(name)], value, value)
        self._update_training(d)
        lp.set_coeffs(self.r_balance, c["it"], self.sign_load * (1.0 + d.nonit_per_it))
        if self.coloured:
            f = d.discharge_green_fraction
            lp.set_coeffs(self.r_green, c["imp"], self.sign_imp * d.alpha * d.grid_share)
            lp.set_coeffs(self.r_green, c["dis"], self.sign_dis * f)
            lp.set_coeffs(self.r_nonit, c["it"], self.sign_nonit * d.nonit_per_it)
            if d.battery is not None:
                lp.set_coeffs(self.r_pool, c["dis"],
                              self.sign_pool * f / d.battery.discharge_efficiency)
                g0 = d.soc0 * self.green_share
                lp.set_col_bounds([lp.col("soc_green_init")], g0, g0)
        w = 1.0 / COST_SCALE if o.objective == "cost" else SECONDARY_WEIGHT / COST_SCALE
        lp.set_costs(c["imp"], w * d.price)
        exp_cost = -w * d.export_price + (GTI_EXPORT_COST if o.objective == "gti" else 0.0)
        lp.set_costs(c["exp"], exp_cost * (np.arange(self.nw) < real))
        t0 = time.perf_counter()
        if self.solves:
            lp.shift_basis(*self.shift)
        x = lp.solve()
        self.solve_ms.append((time.perf_counter() - t0) * 1e3)
        self.solves += 1
        # a window's shortfalls are not errors: the engine records what really misses its
        # deadline, and a window may fall short of a run's GTI target
        v = plan_values(lp, x, d)
        self.plan_start = k
        self.plan = (v["batch"], v["ch"], v["dis"],
                     {job: v[f"run:{job}"] for job in self.jobs if f"run:{job}" in v})

    def _update_training(self, d: HorizonData) -> None:
        lp = self.lp
        if not self.jobs:
            return
        t = np.arange(self.nw)
        for j, tj in enumerate(d.training):
            cols = lp.col_array("run", [(j, i) for i in range(self.nw)])
            lo = np.where((t >= tj.release) & (t < tj.deadline) & (not tj.pausable), 1.0, 0.0)
            hi = np.where((t >= tj.release) & (t < d.real_n), 1.0, 0.0)
            lp.set_col_bounds(cols, lo, hi)
            lp.set_col_bounds([lp.col("required", j)], tj.required_tokens, tj.required_tokens)
            lp.set_col_bounds([lp.col("running_before", j)], tj.running_before,
                              tj.running_before)

    def decide(self, obs: Observation) -> Setpoints:
        self._track_green(obs)
        self.last_soc = obs.soc_mwh
        k = obs.slice_index
        if self.plan is None or k - self.plan_start >= self.step:
            self._replan(obs)
        batch, ch, dis, run = self.plan
        return _setpoints(k - self.plan_start, batch, ch, dis, run)

    def report(self) -> dict:
        ms = np.asarray(self.solve_ms)
        return {"objective": self.options.objective, "forecast": self.options.forecast,
                "horizon_h": self.options.mpc_horizon_h, "step_h": self.options.mpc_step_h,
                "solves": self.solves, "build_s": round(self.build_s, 3),
                "solve_ms_median": float(np.median(ms)) if len(ms) else 0.0,
                "solve_ms_p95": float(np.percentile(ms, 95)) if len(ms) else 0.0,
                "simplex_iterations": self.lp.iterations,
                "cold_restarts": self.lp.cold_restarts}
