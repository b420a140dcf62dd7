"""The fleet ``oracle`` and ``mpc``: one LP over every site with routing and migration.

:class:`FleetOracle` plans the whole run before the first slice
(:func:`twin.optimize.fleet_plan.optimize_fleet`) and then plays its plan back: it routes each
region's requests in the planned shares, moves each training job to the site the plan runs it
at next, and gives every site a :class:`SitePlayback` strategy with that site's battery, batch
and pause setpoints. :class:`FleetMPC` does the same with the plan of a rolling window
(:class:`twin.optimize.fleet_window.FleetWindow`), re-planned every ``mpc_step_h`` from the
fleet's state and forecasts.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from twin.dispatch.base import (
    Observation,
    Setpoints,
    Strategy,
    StrategyOptions,
    batch_must_run_gpu_s,
)
from twin.dispatch.fleet import FleetInputs, FleetRule, FleetView
from twin.dispatch.optimizers import follow_green_share, forecast_inputs, lp_gti_or_none
from twin.optimize.fleet_plan import FleetPlan, optimize_fleet
from twin.optimize.fleet_window import FleetState, FleetWindow, WindowPlan


class SitePlayback:
    """One site's part of a fleet plan, as setpoints (the fleet planner's ``setpoints``)."""

    def __init__(self, fleet: FleetOracle | FleetMPC, site: str):
        self.fleet, self.site, self.name = fleet, site, fleet.name

    def prepare(self, inp) -> None:
        return None

    def decide(self, obs: Observation) -> Setpoints:
        return self.fleet.setpoints(self.site, obs)

    def report(self) -> dict:
        return {}


def _setpoints(k: int, batch, charge, discharge, run: dict) -> Setpoints:
    """Slice ``k`` of a plan: a job pauses where the plan runs it less than half the slice."""
    pause = frozenset(job for job, share in run.items() if share[k] < 0.5)
    return Setpoints(float(batch[k]), float(charge[k]), float(discharge[k]), pause)


def _planned_order(share: dict, region: str, reachable: tuple[tuple[str, float], ...],
                   i: int) -> list[tuple[str, float]]:
    """A region's reachable sites with the plan's shares in slice ``i`` of the plan, largest
    first."""
    planned = [(site, float(share[(region, site)][i])) for site, _ in reachable]
    return sorted(planned, key=lambda p: -p[1])


#: A planned batch share below this is not sent (solver noise) [fraction]; one above
#: ``1 - BATCH_SHARE_TOL`` sends the whole job.
BATCH_SHARE_TOL = 1e-6


def _planned_batch(view: FleetView, send: dict[str, dict[str, float]]
                   ) -> list[tuple[str, str, float]]:
    """The shares of the batch jobs released now that the plan sends to other sites."""
    moves = []
    for job in view.released:
        parts = [(dest, share) for dest, share in send.get(job.job_id, {}).items()
                 if share > BATCH_SHARE_TOL and dest in job.arrival_slice]
        total = sum(share for _, share in parts)
        scale = 1.0 / total if total > 1.0 - BATCH_SHARE_TOL else 1.0
        moves += [(job.job_id, dest, min(share * scale, 1.0)) for dest, share in parts]
    return moves


def _planned_moves(view: FleetView, location: dict[str, list[str]], i: int
                   ) -> list[tuple[str, str]]:
    """A movable job that runs or pauses moves when the next slice the plan runs it in (from
    slice ``i`` of the plan) is at another site."""
    moves = []
    for job in view.jobs:
        where = location.get(job.job_id)
        if where is None or not job.move_cost_s or job.state not in ("running", "paused"):
            continue
        nxt = next((site for site in where[i:] if site), "")
        if nxt and nxt != job.site:
            moves.append((job.job_id, nxt))
    return moves


class FleetOracle(FleetRule):
    """Perfect foresight over the fleet: the bound no fleet strategy beats on its objective."""

    name = "fleet_oracle"

    def __init__(self, options: StrategyOptions):
        self.options = options
        self.plan: FleetPlan | None = None

    def prepare(self, fleet: FleetInputs) -> None:
        o = self.options
        self.plan = optimize_fleet(fleet.inputs, fleet.regions, fleet.links, fleet.params,
                                   o.objective, o.gti_target)

    def site_strategy(self, site: str, own: Strategy) -> Strategy:
        return SitePlayback(self, site)

    def setpoints(self, site: str, obs: Observation) -> Setpoints:
        p = self.plan.sites[site]
        return _setpoints(obs.slice_index, p.batch_gpu_s, p.charge, p.discharge, p.run)

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        return _planned_order(self.plan.route_share, region, reachable, view.slice_index)

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        return _planned_moves(view, self.plan.location, view.slice_index)

    def batch_moves(self, view: FleetView) -> list[tuple[str, str, float]]:
        return _planned_batch(view, self.plan.batch_send)

    def report(self) -> dict:
        p = self.plan
        return {"objective": self.options.objective, "gti_target": self.options.gti_target,
                "plan_gti_slice_lp": lp_gti_or_none(p), "plan_gti_slice_gti_core":
                p.gti_core_gti_slice, "objective_value": p.objective_value,
                "lp_solves": p.iterations, **{k: round(v, 3) for k, v in p.timings_s.items()}}


class FleetMPC(FleetRule):
    """The fleet LP over a rolling window of ``mpc_horizon_h``, re-planned every
    ``mpc_step_h`` from the fleet's state and forecasts, and played back between re-plans.

    Each site's battery green share is followed through the slices with gti_core's rules, as
    :class:`twin.dispatch.optimizers.MPC` does; batch work never falls below what keeps every
    batch deadline within reach."""

    name = "fleet_mpc"

    def __init__(self, options: StrategyOptions):
        self.options = options
        self.plan: WindowPlan | None = None
        self.solve_ms: list[float] = []

    def prepare(self, fleet: FleetInputs) -> None:
        o, inputs = self.options, fleet.inputs
        self.fleet = fleet
        fc = [forecast_inputs(inp, o.forecast, o.forecast_noise_sigma, o.seed) for inp in inputs]
        sm = inputs[0].slice_minutes
        nw = max(int(round(o.mpc_horizon_h * 60 / sm)), 1)
        self.step = max(int(round(o.mpc_step_h * 60 / sm)), 1)
        t0 = time.perf_counter()
        self.window = FleetWindow(fleet, fc, o.objective, o.gti_target, nw, self.step)
        self.build_s = time.perf_counter() - t0
        self.green_share = [p.storage.initial_green_fraction for p in fleet.params]
        self.last_soc = [inp.initial_soc_mwh for inp in inputs]
        self.index = {inp.name: s for s, inp in enumerate(inputs)}

    def observe(self, view: FleetView) -> None:
        k = view.slice_index
        for s, inp in enumerate(self.fleet.inputs):
            obs = view.observations[inp.name]
            if obs.previous is not None and inp.battery is not None:
                self.green_share[s] = follow_green_share(
                    obs.previous, float(inp.grid_share[k - 1]), self.last_soc[s],
                    self.green_share[s], self.fleet.params[s])
            self.last_soc[s] = obs.soc_mwh
        if self.plan is None or k - self.plan.start >= self.step:
            t0 = time.perf_counter()
            self.plan = self.window.solve(FleetState(k, view.observations, view.jobs,
                                                     view.arriving), self.green_share)
            self.solve_ms.append((time.perf_counter() - t0) * 1e3)

    def site_strategy(self, site: str, own: Strategy) -> Strategy:
        return SitePlayback(self, site)

    def setpoints(self, site: str, obs: Observation) -> Setpoints:
        p = self.plan.sites[self.index[site]]
        sp = _setpoints(obs.slice_index - self.plan.start, p.batch_gpu_s, p.charge_mwh,
                        p.discharge_mwh, p.run_fraction)
        must = batch_must_run_gpu_s(obs)
        return sp if sp.batch_gpu_seconds >= must else dataclasses.replace(
            sp, batch_gpu_seconds=must)

    def route(self, view: FleetView, region: str, reachable: tuple[tuple[str, float], ...]
              ) -> list[tuple[str, float]]:
        return _planned_order(self.plan.route_share, region, reachable,
                              view.slice_index - self.plan.start)

    def migrations(self, view: FleetView) -> list[tuple[str, str]]:
        return _planned_moves(view, self.plan.location, view.slice_index - self.plan.start)

    def batch_moves(self, view: FleetView) -> list[tuple[str, str, float]]:
        return _planned_batch(view, self.plan.batch_send)

    def report(self) -> dict:
        ms = np.asarray(self.solve_ms)
        o = self.options
        return {"objective": o.objective, "forecast": o.forecast, "horizon_h": o.mpc_horizon_h,
                "step_h": o.mpc_step_h, "solves": len(ms), "build_s": round(self.build_s, 3),
                "solve_ms_median": float(np.median(ms)) if len(ms) else 0.0,
                "solve_ms_p95": float(np.percentile(ms, 95)) if len(ms) else 0.0,
                "simplex_iterations": self.window.lp.iterations,
                "cold_restarts": self.window.lp.cold_restarts}
