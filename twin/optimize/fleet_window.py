"""The fleet LP over a rolling window: built once, its data changed in place each re-plan.

:class:`FleetWindow` is to the fleet what :class:`twin.dispatch.optimizers.MPC`'s window model is
to a site: the model of :func:`twin.optimize.fleet_model.build_fleet_model` over ``nw`` slices,
compiled once into HiGHS. Each re-plan rewrites, through the handles, every site's window data
(:class:`twin.dispatch.optimizers._WindowRows` and ``_WindowTraining``: forecasts, the battery's
content, batch queues, training progress), and the fleet's: each region's requests at each site
(coefficients of the routing shares in the sites' IT-energy, GPU and room rows, and the cost of
a share left unrouted), where each movable training job is (what an arrival at each site costs
in tokens and energy) and what it must train by the window's end, and the batch jobs released
in the window, each in a slot of its home (the most any window holds) whose shares sent to each
linked site have their terms rewritten in both sites' account, deadline and IT-energy rows.
Batch shares on their way to a site join its window as work released when they arrive. The
shape never changes, so the solve starts from the last basis moved along the window.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from models.workloads import BatchJob
from twin.dispatch.base import Observation
from twin.dispatch.fleet import FleetInputs, JobView
from twin.inputs import SiteInputs
from twin.optimize.data import HorizonData, batch_jobs_table, horizon_data
from twin.optimize.fleet_model import (
    BatchSend,
    FleetData,
    MovableBatch,
    MovableJob,
    RegionData,
    build_fleet_model,
)
from twin.optimize.fleet_plan import (
    batch_dests,
    batch_sends,
    batch_shares,
    fleet_progress,
    move_costs,
    placed_jobs,
    region_data,
)
from twin.optimize.highs import CompiledLP
from twin.optimize.model import PENALTY
from twin.optimize.plan import PlanValues, plan_values


@dataclass
class WindowPlan:
    """A window's plan: per site its LP values, per (region, site) the share of requests, and
    per job the site it runs at in each slice ('' where it pauses)."""

    start: int
    sites: list[PlanValues]
    route_share: dict[tuple[str, str], np.ndarray]
    location: dict[str, list[str]]
    batch_send: dict[str, dict[str, float]] = field(default_factory=dict)


class FleetWindow:
    """The fleet's rolling-horizon LP.

    Parameters
    ----------
    fleet : FleetInputs
        The true inputs (requests, training pools, the run's end), regions, links, accounting.
    forecasts : list of SiteInputs
        What the planner believes of each site's supply, prices, grid share and cooling.
    objective : str
    gti_target : float or None
        The fleet's time-slice GTI each window must reach.
    nw, step : int
        Window length and re-plan interval [slices].
    """

    def __init__(self, fleet: FleetInputs, forecasts: list[SiteInputs], objective: str,
                 gti_target: float | None, nw: int, step: int):
        from twin.dispatch.optimizers import _WindowRows, _WindowTraining

        self.fleet, self.nw, self.objective = fleet, nw, objective
        self.n = fleet.inputs[0].n
        placed, self.movable = placed_jobs(fleet.inputs, fleet.links)
        self.fc = [dataclasses.replace(fc, training_jobs=tuple(jobs))
                   for fc, jobs in zip(forecasts, placed, strict=True)]
        self.tables = [batch_jobs_table(inp) for inp in fleet.inputs]
        self.dests = {h: batch_dests(h, fleet.inputs, fleet.links)
                      for h in range(len(fleet.inputs))}
        self.slots = {h: _most_released(self.tables[h][0], nw) if dests else 0
                      for h, dests in self.dests.items()}
        f = self.data(0, None, model_shape=True)
        self.fm = build_fleet_model(f, objective, gti_target)
        self.lp = lp = CompiledLP(self.fm.model)
        self.site_rows = [_WindowRows(lp, h, d, nw) for h, d in zip(self.fm.sites, f.sites,
                                                                     strict=True)]
        self.site_training = [_WindowTraining(lp, h, d, nw) for h, d in zip(self.fm.sites,
                                                                            f.sites,
                                                                            strict=True)]
        self.routes = _RouteRows(lp, self.fm, f, nw)
        self.moves = _MoveRows(lp, self.fm, f, nw)
        self.batch = _BatchRows(lp, self.fm, f, nw)
        self.shift = lp.shift_map(step, nw)
        self.solves = 0

    # --- the window's data -----------------------------------------------------------------
    def data(self, k: int, state: FleetState | None, model_shape: bool = False) -> FleetData:
        """The fleet's data over slices ``k .. k + nw`` from what is known at ``k``."""
        fl, nw = self.fleet, self.nw
        sites = []
        where = self._locations(state)
        for s, (fc, inp) in enumerate(zip(self.fc, fl.inputs, strict=True)):
            obs = state.observations[fl.inputs[s].name] if state is not None else None
            coming = [dataclasses.replace(job, release_slice=at)
                      for name, at, job in (state.arriving if state is not None else ())
                      if name == inp.name]
            table = self.tables[s] if not coming else tuple(
                np.concatenate(pair) for pair in zip(self.tables[s],
                                                     batch_jobs_table(inp, coming),
                                                     strict=True))
            d = horizon_data(
                fc, fl.params[s].alpha, start=k, n=nw,
                initial_soc_mwh=obs.soc_mwh if obs is not None else inp.initial_soc_mwh,
                queue=obs.batch_queue if obs is not None else (),
                training_state=self._training_state(s, state, where),
                discharge_green_fraction=np.ones(min(nw, self.n - k)),
                soc_end_min_mwh=None if k + nw >= self.n else inp.initial_soc_mwh,
                every_job=True, paced_training=True, jobs=table)
            if d.n < nw:
                d = d.padded(nw)
            if obs is not None:  # what is known now replaces the forecast of this slice
                d.pv_avail_mwh[0], d.wind_avail_mwh[0] = obs.pv_avail_mwh, obs.wind_avail_mwh
                d.price_usd_per_mwh[0], d.grid_share[0] = obs.price_usd_per_mwh, obs.grid_share
            if model_shape:
                d = dataclasses.replace(d, grid_share=np.ones(nw),
                                        discharge_green_fraction=np.ones(nw),
                                        nonit_per_it=np.maximum(d.nonit_per_it, 0.01))
            sites.append(d)
        jobs = self._movable_jobs(sites, where, model_shape)
        regions = self._regions(k, model_shape)
        room = []
        for inp in fl.inputs:
            own = np.zeros(nw)
            part = inp.interactive_busy_gpu_s[k:k + nw]
            own[:len(part)] = part
            room.append(np.where(np.arange(nw) < self.n - k,
                                 inp.interactive_capacity_gpu_s - own, 0.0))
        return FleetData([inp.name for inp in fl.inputs], sites, regions, jobs, room,
                         self._batch(k, model_shape))

    def _batch(self, k: int, model_shape: bool) -> list[MovableBatch]:
        """Each home's slots: its batch jobs released in the window, then empty slots; each
        with a send to every site it may ever send to (all terms 0 where this job cannot)."""
        out, nw = [], self.nw
        for h, dests in self.dests.items():
            if not self.slots[h]:
                continue
            mine = sorted((j for j in self.fleet.inputs[h].batch_jobs
                           if k <= j.release_slice < k + nw), key=lambda j: j.release_slice)
            for i in range(self.slots[h]):
                if model_shape:  # every coefficient present when the model is built
                    ones = np.ones((2, nw))
                    out.append(MovableBatch("", h, tuple(BatchSend(d, ones, ones, ones)
                                                         for d in dests)))
                    continue
                job = mine[i] if i < len(mine) else None
                sends = ({x.dest: x for x in batch_sends(job, h, self.fleet.inputs,
                                                         self.fleet.links, k, nw)}
                         if job is not None else {})
                zero = np.zeros((2, nw))
                out.append(MovableBatch(job.job_id if job is not None else "", h, tuple(
                    sends.get(d, BatchSend(d, zero, zero, zero)) for d in dests)))
        return out

    def _locations(self, state: FleetState | None) -> dict[str, int]:
        """Where each movable job is (its home before release or once done)."""
        index = {inp.name: s for s, inp in enumerate(self.fleet.inputs)}
        seen = {j.job_id: index[j.site] for j in state.jobs} if state is not None else {}
        return {tj.job_id: seen.get(tj.job_id, h) for tj, h, _ in self.movable}

    def _training_state(self, s: int, state: FleetState | None, where: dict[str, int]
                        ) -> dict[str, tuple[float, bool]] | None:
        """Per job that may run at site ``s``: tokens still to train and whether it holds
        GPUs here now."""
        if state is None:
            return None
        name = self.fleet.inputs[s].name
        out = {}
        views = {j.job_id: j for j in state.jobs}
        for tj in self.fc[s].training_jobs:
            j = views.get(tj.job_id)
            if j is not None:
                out[tj.job_id] = (j.remaining_s * tj.tokens_per_s, j.running and j.site == name)
            elif tj.release_slice <= state.slice_index:  # released and gone: done
                out[tj.job_id] = (0.0, False)
        return out

    def _movable_jobs(self, sites: list[HorizonData], where: dict[str, int],
                      model_shape: bool) -> list[MovableJob]:
        """The movable jobs of the window: what each must train comes from the site it is at;
        every site's own row requires nothing; it may pause wherever it is not."""
        out = []
        for tj, h, sites_of in self.movable:
            at = where[tj.job_id]
            local, required, cap = fleet_progress(sites, tj.job_id, sites_of, at)
            tokens, mwh = move_costs(tj, at, sites_of, self.fleet.inputs, self.fleet.links)
            if model_shape:  # every coefficient present when the model is built
                tokens = {s: 1.0 for s in sites_of}
                mwh = {s: 1.0 for s in sites_of}
            out.append(MovableJob(tj.job_id, h, tuple(sites_of), local, required, cap, tokens,
                                  mwh))
        return out

    def _regions(self, k: int, model_shape: bool) -> list[RegionData]:
        nw, out = self.nw, []
        index = {inp.name: s for s, inp in enumerate(self.fleet.inputs)}
        for r in self.fleet.regions:
            tin, tout = np.zeros(nw), np.zeros(nw)
            part = slice(k, min(k + nw, self.n))
            tin[:part.stop - k], tout[:part.stop - k] = r.tokens_in[part], r.tokens_out[part]
            reg = region_data(r, self.fleet.inputs, index, tin, tout)
            if model_shape:  # every coefficient present when the model is built
                reg = dataclasses.replace(reg, it_mwh=np.maximum(reg.it_mwh, 1.0),
                                          gpu_s=np.maximum(reg.gpu_s, 1.0))
            out.append(reg)
        return out

    # --- re-plan ---------------------------------------------------------------------------
    def solve(self, state: FleetState, green_shares: list[float]) -> WindowPlan:
        """Plan slices ``state.slice_index ..`` from the fleet's state."""
        k = state.slice_index
        f = self.data(k, state)
        for s, d in enumerate(f.sites):
            self.site_rows[s].update(d, self.objective, green_shares[s])
            self.site_training[s].update(d)
        self.routes.update(f)
        self.moves.update(f)
        self.batch.update(f)
        if self.solves:
            self.lp.shift_basis(*self.shift)
        x = self.lp.solve()
        self.solves += 1
        values = [plan_values(self.lp, x, h, d) for h, d in zip(self.fm.sites, f.sites,
                                                                 strict=True)]
        return WindowPlan(k, values, self.routes.shares(x, f), _locations(values, f),
                          batch_shares(self.lp, x, self.fm, f))


@dataclass(frozen=True)
class FleetState:
    """What a fleet planner knows at the start of a slice: each site's observation (its own
    requests only), every released, unfinished training job, and the batch shares on their way
    to a site: (site, the slice they join its queue in, the share)."""

    slice_index: int
    observations: dict[str, Observation]
    jobs: tuple[JobView, ...]
    arriving: tuple[tuple[str, int, BatchJob], ...] = ()


def _most_released(release: np.ndarray, nw: int) -> int:
    """The most jobs released within any ``nw`` consecutive slices."""
    r = np.sort(release)
    return int(np.max(np.searchsorted(r, r + nw, side="left") - np.arange(len(r)),
                      initial=0))


def _locations(values: list[PlanValues], f: FleetData) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s, v in enumerate(values):
        for job_id, share in v.run_fraction.items():
            at = out.setdefault(job_id, [""] * f.n)
            for t in np.flatnonzero(share >= 0.5):
                at[t] = f.names[s]
    return out


class _RouteRows:
    """The routing shares' coefficients in each site's IT-energy, GPU and room rows, the room
    rows' bounds and the cost of a share left unrouted, with their orientations."""

    def __init__(self, lp: CompiledLP, fm, f: FleetData, nw: int):
        self.lp, self.fm, self.nw = lp, fm, nw
        t = range(nw)
        self.entries = []  # (r, i, s, share cols, it rows, gpu rows, room rows, signs)
        for r, reg in enumerate(f.regions):
            for i, s in enumerate(reg.sites):
                h = fm.sites[s]
                cols = lp.col_array(fm.routing.share, [(r, s, k) for k in t])
                it_rows = lp.row_array(h.balance.it_energy, t)
                gpu_rows = lp.row_array(h.training.gpus, t)
                room_rows = lp.row_array(fm.model.route_room, [(s, k) for k in t])
                signs = (lp.orientation(it_rows, cols, reg.it_mwh[i]),
                         lp.orientation(gpu_rows, cols, reg.gpu_s[i]),
                         lp.orientation(room_rows, cols, reg.gpu_s[i]))
                self.entries.append((r, i, s, cols, it_rows, gpu_rows, room_rows, signs))
        self.short = [lp.col_array(fm.routing.short, [(r, k) for k in t])
                      for r in range(len(f.regions))]
        self.rooms = {}
        for _, _, s, _, _, _, room_rows, signs in self.entries:
            self.rooms[s] = (room_rows, signs[2])

    def update(self, f: FleetData) -> None:
        lp = self.lp
        for r, i, _, cols, it_rows, gpu_rows, room_rows, signs in self.entries:
            reg = f.regions[r]
            lp.set_coeffs(it_rows, cols, signs[0] * reg.it_mwh[i])
            lp.set_coeffs(gpu_rows, cols, signs[1] * reg.gpu_s[i])
            lp.set_coeffs(room_rows, cols, signs[2] * reg.gpu_s[i])
        for s, (rows, sign) in self.rooms.items():
            room = np.maximum(f.room_gpu_s[s], 0.0)
            lo, hi = np.where(sign > 0, -np.inf, -room), np.where(sign > 0, room, np.inf)
            lp.set_row_bounds(rows, lo, hi)
        for r, cols in enumerate(self.short):
            lp.set_costs(cols, PENALTY * f.regions[r].it_mwh[0])

    def shares(self, x: np.ndarray, f: FleetData) -> dict[tuple[str, str], np.ndarray]:
        return {(f.regions[r].name, f.names[s]): x[cols]
                for r, _, s, cols, *_ in self.entries}


class _MoveRows:
    """Each movable job's fleet progress row (running and pausing counted before its deadline,
    arrivals at their transfer cost, what it must train) and the transfer energy of arrivals
    in each site's IT-energy rows, with their orientations."""

    def __init__(self, lp: CompiledLP, fm, f: FleetData, nw: int):
        self.lp, self.fm, self.nw = lp, fm, nw
        t, mig = range(nw), fm.migration
        self.jobs = []
        for j, job in enumerate(f.jobs):
            row = np.full(nw, lp.row(mig.progress, j))
            cap_row = np.full(nw, lp.row(mig.progress_cap, j))
            per_site = []
            for s, loc in zip(job.sites, job.local, strict=True):
                h, td = fm.sites[s], f.sites[s].training[loc]
                run = lp.col_array(h.training.run_fraction, [(loc, k) for k in t])
                pause = lp.col_array(h.training.pause_fraction, [(loc, k) for k in t])
                arrive = lp.col_array(mig.arrive, [(j, s, k) for k in t])
                it_rows = lp.row_array(h.balance.it_energy, t)
                signs = (lp.orientation(row, run, np.full(nw, td.tokens_per_slice)),
                         lp.orientation(row, pause, np.full(nw, -td.pause_tokens)),
                         lp.orientation(row, arrive, np.full(nw, -1.0)),
                         lp.orientation(it_rows, arrive, np.ones(nw)),
                         lp.orientation(cap_row, arrive, np.full(nw, -1.0)))
                per_site.append((s, loc, run, pause, arrive, it_rows, signs))
            self.jobs.append((j, row, cap_row, lp.col(mig.required_tokens, j),
                              lp.col(mig.cap_tokens, j), per_site))

    def update(self, f: FleetData) -> None:
        lp, t = self.lp, np.arange(self.nw)
        for j, row, cap_row, required_col, cap_col, per_site in self.jobs:
            job = f.jobs[j]
            lp.set_col_bounds([required_col], job.required_tokens, job.required_tokens)
            lp.set_col_bounds([cap_col], job.cap_tokens, job.cap_tokens)
            for s, loc, run, pause, arrive, it_rows, signs in per_site:
                td = f.sites[s].training[loc]
                due = t < td.deadline_slice
                lp.set_coeffs(row, run, signs[0] * td.tokens_per_slice * due)
                lp.set_coeffs(row, pause, -signs[1] * td.pause_tokens * due)
                lp.set_coeffs(row, arrive, -signs[2] * job.transfer_tokens[s])
                lp.set_coeffs(it_rows, arrive, signs[3] * job.transfer_mwh[s])
                lp.set_coeffs(cap_row, arrive, -signs[4] * job.transfer_tokens[s])


class _BatchRows:
    """Each batch slot's send shares: their coefficients in the home's and the destination's
    account, deadline and IT-energy rows, with their orientations, and their bounds (0 where
    the slot holds no job or the job cannot reach that site)."""

    def __init__(self, lp: CompiledLP, fm, f: FleetData, nw: int):
        self.lp, self.entries, t = lp, [], range(nw)
        for b, job in enumerate(f.batch):
            for send in job.sends:
                col = lp.col(fm.batch.send, (b, send.dest))
                cols, parts = np.full(nw, col), []
                for end, s in enumerate((job.home, send.dest)):
                    h = fm.sites[s]
                    for family, con in enumerate((h.deferrable.account, h.deferrable.deadlines,
                                                  h.balance.it_energy)):
                        rows = lp.row_array(con, t)
                        parts.append((end, family, rows, lp.orientation(rows, cols,
                                                                        np.ones(nw))))
                self.entries.append((b, send.dest, col, cols, parts))

    def update(self, f: FleetData) -> None:
        lp = self.lp
        for b, dest, col, cols, parts in self.entries:
            send = next(x for x in f.batch[b].sends if x.dest == dest)
            terms = (send.released_gpu_s, send.may_wait_gpu_s, send.it_mwh)
            for end, family, rows, sign in parts:
                lp.set_coeffs(rows, cols, sign * terms[family][end])
            lp.set_col_bounds(np.array([col]), 0.0, 1.0 if send.released_gpu_s.any() else 0.0)
