"""The data an optimization sees over a horizon, as arrays per slice, built from a site's inputs.

Every quantity carries its unit in its name: energy per slice [MWh], GPU time [GPU-s], training
progress [tokens]; each comes from :mod:`models.site`, as the engine's does. Each array has
one value per slice of the horizon; the same structure serves the year-long oracle and every
window of the rolling-horizon MPC (whose windows only change the numbers, never the shape).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from models import events
from models import site as physics
from models.battery import BatteryParams
from models.tokens import gpu_energy_j
from twin.inputs import SiteInputs


@dataclass
class TrainingData:
    """One training job in a horizon.

    Attributes
    ----------
    job_id : str
    gpus : int
    release_slice : int
        First slice of the horizon it may run in (0 when already released).
    deadline_slice : int
        Slices of the horizon by whose end it must be done (the horizon length when its
        deadline or the run's end lies beyond; then ``required_tokens`` paces it).
    required_tokens : float
        Tokens it must train within the horizon [tokens].
    remaining_tokens : float
        Tokens it has left to train at the horizon start: it trains no more than these (the
        engine stops it there) [tokens].
    tokens_per_slice : float
        Progress of a slice of running, net of periodic checkpoints [tokens].
    pause_tokens : float
        Progress a pause costs: checkpoint write plus reload time [tokens].
    it_mwh_per_slice : float
        Extra IT energy of a slice of running over leaving its GPUs idle [MWh].
    gpu_s_per_slice : float
        GPU time a slice of running holds [GPU-s].
    pausable : bool
    running_before_fraction : float
        1 when it holds its GPUs at the horizon start (a pause in slice 0 costs), else 0.
    pause_hold_gpu_s : float
        GPU time a pause holds in its slice: the job writes a checkpoint before it frees its
        GPUs [GPU-s].
    """

    job_id: str
    gpus: int
    release_slice: int
    deadline_slice: int
    required_tokens: float
    tokens_per_slice: float
    pause_tokens: float
    it_mwh_per_slice: float
    gpu_s_per_slice: float
    pausable: bool
    running_before_fraction: float = 0.0
    pause_hold_gpu_s: float = 0.0
    remaining_tokens: float = float("inf")


@dataclass
class HorizonData:
    """Arrays over a horizon of ``n`` slices, one value per slice, units in the names.

    Attributes
    ----------
    dt_h : float
        Slice length [h].
    pv_avail_mwh, wind_avail_mwh : numpy.ndarray
        Renewable energy offered [MWh].
    it_base_mwh : numpy.ndarray
        IT energy of interactive work with every other GPU idle, host overhead included [MWh].
    nonit_per_it : numpy.ndarray
        Cooling and aux energy per IT energy [fraction].
    batch_mwh_per_gpu_s : float
        Extra IT energy of a GPU-second of batch work over idle [MWh/GPU-s].
    free_gpu_s, release_gpu_s, not_due_gpu_s : numpy.ndarray
        GPU time interactive inference leaves, batch work released, and the most batch work
        that may still wait after each slice [GPU-s].
    backlog_init_gpu_s : float
        Batch work waiting at the horizon start [GPU-s].
    price_usd_per_mwh : numpy.ndarray
        Import price [$/MWh].
    export_price_usd_per_mwh : float
    grid_share : numpy.ndarray
        Renewable share of grid energy [fraction].
    alpha : float
        Grid attribution coefficient [fraction].
    max_import_mwh, max_export_mwh : float or numpy.ndarray
        Point-of-interconnection limits per slice [MWh] (per slice where scheduled outages
        or POI limits change them).
    battery : BatteryParams or None
    initial_soc_mwh : float
        Battery content at the horizon start [MWh].
    initial_green_fraction : float
        Green share of that content [fraction].
    soc_end_min_mwh : float or None
        Lowest content at the horizon end (MPC windows) [MWh]; None for the window's floor.
    discharge_green_fraction : numpy.ndarray
        Green share of each slice's discharge (spec section 4) [fraction].
    training : list of TrainingData
    training_pool_gpus : int
    padded_slices : int
        Slices at the end past the run (an MPC window near the end): no supply, no grid.
    backup_mwh : numpy.ndarray or None
        Backup energy the gensets could give in each slice (while scheduled outages keep the
        grid down) [MWh]; None without gensets or outages.
    backup_fuel_mwh : float
        Backup energy the fuel on site allows over the horizon [MWh].
    backup_usd_per_mwh : float
        Fuel cost of a MWh of backup [$/MWh].
    dr_calls : tuple of DemandResponseData
        Demand-response calls within the horizon (the oracle plans them; windows do not).
    battery_wear_usd_per_mwh : float
        Wear cost of a MWh the battery discharges (battery ageing) [$/MWh].
    """

    dt_h: float
    pv_avail_mwh: np.ndarray
    wind_avail_mwh: np.ndarray
    it_base_mwh: np.ndarray
    nonit_per_it: np.ndarray
    batch_mwh_per_gpu_s: float
    free_gpu_s: np.ndarray
    release_gpu_s: np.ndarray
    not_due_gpu_s: np.ndarray
    backlog_init_gpu_s: float
    price_usd_per_mwh: np.ndarray
    export_price_usd_per_mwh: float
    grid_share: np.ndarray
    alpha: float
    max_import_mwh: float | np.ndarray
    max_export_mwh: float | np.ndarray
    battery: BatteryParams | None
    initial_soc_mwh: float
    initial_green_fraction: float
    soc_end_min_mwh: float | None
    discharge_green_fraction: np.ndarray
    training: list[TrainingData] = field(default_factory=list)
    training_pool_gpus: int = 0
    padded_slices: int = 0
    backup_mwh: np.ndarray | None = None
    backup_fuel_mwh: float = 0.0
    backup_usd_per_mwh: float = 0.0
    dr_calls: tuple = ()
    battery_wear_usd_per_mwh: float = 0.0

    @property
    def n(self) -> int:
        return len(self.price_usd_per_mwh)

    @property
    def real_n(self) -> int:
        """Slices within the run."""
        return self.n - self.padded_slices

    def padded(self, n: int) -> HorizonData:
        """The same horizon with zeros appended to every per-slice array up to ``n`` slices
        (an MPC window that reaches past the end of the run keeps its shape)."""
        z = np.zeros(n - self.n)

        def pad(a: np.ndarray) -> np.ndarray:
            return np.concatenate((a, z))

        return dataclasses.replace(
            self, pv_avail_mwh=pad(self.pv_avail_mwh), wind_avail_mwh=pad(self.wind_avail_mwh),
            it_base_mwh=pad(self.it_base_mwh), nonit_per_it=pad(self.nonit_per_it),
            free_gpu_s=pad(self.free_gpu_s), release_gpu_s=pad(self.release_gpu_s),
            not_due_gpu_s=pad(self.not_due_gpu_s),
            price_usd_per_mwh=pad(self.price_usd_per_mwh), grid_share=pad(self.grid_share),
            discharge_green_fraction=pad(self.discharge_green_fraction),
            max_import_mwh=pad_limit(self.max_import_mwh, z),
            max_export_mwh=pad_limit(self.max_export_mwh, z),
            backup_mwh=None if self.backup_mwh is None else pad(self.backup_mwh),
            padded_slices=self.padded_slices + n - self.n)


def pad_limit(limit: float | np.ndarray, zeros: np.ndarray) -> float | np.ndarray:
    """A POI limit padded like the per-slice arrays (a scalar stays one: windows cut it past
    the run)."""
    return limit if np.ndim(limit) == 0 else np.concatenate((limit, zeros))


@dataclass(frozen=True)
class DemandResponseData:
    """A demand-response call in a horizon: its slices (with the share of each it covers),
    per baseline day the slices the baseline averages, the cut asked [MWh over the call], and
    what a MWh short costs (the penalty and the payment lost) [$/MWh]."""

    window: np.ndarray
    share: np.ndarray
    baseline: tuple[np.ndarray, ...]
    asked_mwh: float
    short_usd_per_mwh: float


def batch_jobs_table(inp: SiteInputs, jobs=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Release slice, deadline slice and GPU time at this site [GPU-s] of every batch job (of
    ``jobs`` when given, else the site's own), as arrays."""
    e, gpu = inp.batch_energy, inp.gpu
    jobs = inp.batch_jobs if jobs is None else jobs
    if e is None or not jobs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    release = np.array([j.release_slice for j in jobs], dtype=np.int64)
    deadline = np.array([j.deadline_slice for j in jobs], dtype=np.int64)
    work = physics.busy_gpu_s(gpu_energy_j(np.array([j.tokens_in for j in jobs]),
                                           np.array([j.tokens_out for j in jobs]), e), gpu)
    return release, deadline, work


def batch_account(jobs: tuple[np.ndarray, np.ndarray, np.ndarray], start: int, n: int,
                  queue: tuple[tuple[int, float], ...], queue_has_start: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """Release and may-wait profiles of batch work over slices ``start .. start + n``.

    ``jobs`` is :func:`batch_jobs_table`; ``queue`` holds (deadline slice, remaining GPU-s) of
    the jobs already released and unfinished at ``start`` (``queue_has_start``: also those
    released in slice ``start``, as the EMS sees its queue once the slice's jobs came in; they
    are then not counted again as released). Returns (released per slice, most
    work that may still wait after each slice, backlog at the start) [GPU-s]: after slice ``t``
    only work due at or after slice ``t + 2`` may wait, since a job due at slice ``D`` must be
    done by the start of ``D``.
    """
    release, deadline, work = jobs
    inside = (release >= start + (1 if queue_has_start else 0)) & (release < start + n)
    k = release[inside] - start
    rel = np.zeros(n)
    np.add.at(rel, k, work[inside])
    q_dead = np.array([dl for dl, _ in queue], dtype=np.int64)
    q_work = np.array([r for _, r in queue], dtype=float)
    first = np.concatenate((np.zeros(len(q_dead), dtype=np.int64), k))
    last = np.minimum(np.concatenate((q_dead, deadline[inside])) - start - 1, n)
    amount = np.concatenate((q_work, work[inside]))
    ok = last > first  # may wait after slices first .. last - 1
    diff = np.zeros(n + 1)
    np.add.at(diff, first[ok], amount[ok])
    np.add.at(diff, last[ok], -amount[ok])
    return rel, np.maximum(np.cumsum(diff[:n]), 0.0), float(q_work.sum())


def horizon_data(inp: SiteInputs, alpha: float, start: int = 0, n: int | None = None,
                 initial_soc_mwh: float | None = None,
                 queue: tuple[tuple[int, float], ...] = (),
                 training_state: dict[str, tuple[float, bool]] | None = None,
                 discharge_green_fraction: np.ndarray | None = None,
                 soc_end_min_mwh: float | None = None, every_job: bool = False,
                 paced_training: bool = False,
                 initial_green_fraction: float | None = None,
                 jobs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 queue_has_start: bool = False) -> HorizonData:
    """The LP data of slices ``start .. start + n`` of a site.

    Parameters
    ----------
    inp : SiteInputs
    alpha : float
        Grid attribution coefficient of the run's accounting [fraction].
    start, n : int
        First slice and number of slices (default: to the end of the run).
    initial_soc_mwh : float, optional
        Battery content at ``start`` (default: the run's initial content) [MWh].
    queue : tuple of (int, float)
        Released, unfinished batch jobs at ``start``: (deadline slice, remaining GPU-s).
    training_state : dict, optional
        Per training job id: (tokens still to train, holds its GPUs now). Default: every job
        from scratch, none running.
    discharge_green_fraction : numpy.ndarray, optional
        Green share of each slice's discharge (default 0: grey) [fraction].
    soc_end_min_mwh : float, optional
        Lowest battery content allowed at the horizon end [MWh].
    every_job : bool
        Keep every training job, also those done or released after the horizon (with nothing
        required of them), so that windows of a rolling horizon share one model shape.
    paced_training : bool
        A rolling window's terminal condition: a training job whose deadline lies beyond the
        horizon must have made, by the horizon's end, the progress of a straight path from its
        release to one horizon before its deadline (milestones fixed in time), not only what
        running at full pace after the horizon could not make up. Without it every window
        defers the job to its latest start, and the pauses and slices lost to rounding on the
        way make it miss its deadline; with it the job is never more than a horizon of full
        running behind a path that ends a horizon early.
    initial_green_fraction : float, optional
        Green share of the content at ``start`` (default: the run's) [fraction].
    jobs : tuple of numpy.ndarray, optional
        :func:`batch_jobs_table` of ``inp``, when the caller keeps it between windows.
    queue_has_start : bool
        ``queue`` already holds the jobs released in slice ``start`` (:func:`batch_account`).
    """
    n = inp.n - start if n is None else min(n, inp.n - start)
    sl = slice(start, start + n)
    gpu = inp.gpu
    scheduled = event_data(inp, sl)
    free = physics.free_gpu_s(inp.gpu_seconds_per_slice, inp.interactive_busy_gpu_s[sl])
    rel, not_due, backlog0 = batch_account(jobs if jobs is not None else batch_jobs_table(inp),
                                           start, n, queue, queue_has_start)
    training = [_training_data(tj, inp, start, n, training_state, every_job, paced_training)
                for tj in inp.training_jobs]
    return HorizonData(
        dt_h=inp.dt_h,
        pv_avail_mwh=inp.pv_avail_mw[sl] * inp.dt_h * scheduled.get("pv", 1.0),
        wind_avail_mwh=inp.wind_avail_mw[sl] * inp.dt_h * scheduled.get("wind", 1.0),
        it_base_mwh=physics.it_energy_mwh(inp.interactive_gpu_energy_j[sl], free, gpu),
        nonit_per_it=inp.cooling_fraction[sl] + inp.aux_fraction,
        batch_mwh_per_gpu_s=physics.batch_it_mwh_per_gpu_s(gpu),
        free_gpu_s=free,
        release_gpu_s=rel,
        not_due_gpu_s=not_due,
        backlog_init_gpu_s=backlog0,
        price_usd_per_mwh=np.asarray(inp.price_usd_per_mwh[sl], dtype=float),
        export_price_usd_per_mwh=inp.export_price_usd_per_mwh,
        grid_share=np.asarray(inp.grid_share[sl], dtype=float),
        alpha=alpha,
        max_import_mwh=scheduled.get("import_mw", inp.max_import_mw) * inp.dt_h,
        max_export_mwh=scheduled.get("export_mw", inp.max_export_mw) * inp.dt_h,
        battery=inp.battery,
        initial_soc_mwh=inp.initial_soc_mwh if initial_soc_mwh is None else initial_soc_mwh,
        initial_green_fraction=(inp.initial_green_fraction if initial_green_fraction is None
                                else initial_green_fraction),
        soc_end_min_mwh=soc_end_min_mwh,
        discharge_green_fraction=(np.zeros(n) if discharge_green_fraction is None
                                  else np.asarray(discharge_green_fraction, dtype=float)),
        training=[t for t in training if t is not None],
        training_pool_gpus=inp.training_pool_gpus,
        backup_mwh=scheduled.get("backup_mwh"),
        backup_fuel_mwh=inp.backup.tank_l / inp.backup.fuel_l_per_mwh if inp.backup else 0.0,
        backup_usd_per_mwh=(inp.backup.fuel_l_per_mwh * inp.backup.fuel_usd_per_l
                            if inp.backup else 0.0),
        dr_calls=scheduled.get("dr", ()),
        battery_wear_usd_per_mwh=inp.battery_wear_usd_per_mwh,
    )


def event_data(inp: SiteInputs, sl: slice) -> dict:
    """What the scheduled events change in slices ``sl`` (only what they change): the share
    of PV and wind in service, the POI limits [MW], the gensets' energy while outages keep the
    grid down [MWh], and, for a horizon over the whole run, the demand-response calls (a
    call's baseline is the plan's own import on the days before it)."""
    ev, out, n, s_s = inp.events, {}, inp.n, inp.slice_s
    first, size = sl.start, sl.stop - sl.start  # only the horizon's slices are computed
    for component in ("pv", "wind"):
        if any(w.component == component for w in ev.derates):
            out[component] = events.in_service_share(ev, component, size, s_s, first)
    if ev.outages or ev.poi_limits:
        out["import_mw"], out["export_mw"] = events.grid_limits_mw(
            ev, inp.max_import_mw, inp.max_export_mw, size, s_s, first)
    if ev.outages and inp.backup is not None:
        out["backup_mwh"] = (inp.backup.rating_mw * inp.dt_h
                             * events.grid_down_share(ev, size, s_s, first))
    calls = []
    whole_run = first == 0 and sl.stop >= n
    for c in ev.demand_response if whole_run else ():
        window, back = events.dr_baseline_slices(c.start_s, c.end_s, s_s, c.baseline_days)
        if window[0] >= sl.start and window[-1] < sl.stop:
            hours = (c.end_s - c.start_s) / 3600.0
            share = events.window_fraction(c.start_s, c.end_s, s_s, n)[window]
            calls.append(DemandResponseData(
                window - sl.start, share, tuple(b - sl.start for b in back),
                c.reduce_import_mw * hours, c.penalty_usd_per_mwh + c.payment_usd_per_mwh))
    if calls:
        out["dr"] = tuple(calls)
    return out


def _training_data(tj, inp: SiteInputs, start: int, n: int,
                   training_state: dict[str, tuple[float, bool]] | None,
                   every_job: bool, paced: bool = False) -> TrainingData | None:
    """One training job's data in slices ``start .. start + n`` (None: outside and dropped)."""
    dt_s = inp.slice_s
    remaining, running = (training_state or {}).get(tj.job_id, (tj.tokens, False))
    outside = remaining <= 0.0 or tj.release_slice >= start + n
    if outside and not every_job:
        return None
    run_factor = tj.checkpoint_interval_s / (tj.checkpoint_interval_s + tj.checkpoint_s)
    per_slice = tj.tokens_per_s * dt_s * run_factor
    due = tj.deadline_slice if tj.deadline_slice is not None else inp.n
    # within the horizon, train what cannot wait: the rest at full pace after it
    after = max(due - (start + n), 0) * per_slice
    required = max(remaining - after, 0.0)
    deadline, pausable = max(min(due - start, n), 0), tj.pausable
    if paced and tj.deadline_slice is not None and not outside:
        required, deadline, pausable = _paced(tj, start, n, remaining, required, deadline)
    elif due <= start:  # past its deadline: late, and what is left is due in this horizon
        deadline = n
    return TrainingData(
        job_id=tj.job_id, gpus=tj.gpus, release_slice=min(max(tj.release_slice - start, 0), n),
        deadline_slice=deadline,
        required_tokens=0.0 if outside else required,
        remaining_tokens=max(remaining, 0.0),
        tokens_per_slice=per_slice,
        pause_tokens=(tj.checkpoint_s + tj.restart_s) * tj.tokens_per_s,
        it_mwh_per_slice=physics.training_extra_it_mwh(tj.gpus, dt_s, inp.gpu),
        gpu_s_per_slice=tj.gpus * dt_s, pausable=pausable,
        running_before_fraction=1.0 if running else 0.0,
        pause_hold_gpu_s=tj.gpus * min(tj.checkpoint_s, dt_s))


def _paced(tj, start: int, n: int, remaining: float, required: float,
           deadline: int) -> tuple[float, int, bool]:
    """A rolling window's terminal condition for a training job with a deadline: (tokens
    required, the window slice by whose start they count, whether the plan may pause it).

    The job keeps to a straight path from its release to one window before its deadline, with
    milestones fixed in time, so that rolling windows cannot defer it step by step: a window
    that ends before the path's end must reach the path there; one that contains the path's end
    must have trained everything by then; a job still unfinished past the path's end (or its
    deadline) catches up without pausing.
    """
    path_end = max(tj.deadline_slice - n, tj.release_slice + 1)
    if start + n < path_end:
        share = min(max((start + n - tj.release_slice) / (path_end - tj.release_slice), 0.0),
                    1.0)
        return max(required, tj.tokens * share - (tj.tokens - remaining)), deadline, tj.pausable
    if start < path_end:
        return remaining, path_end - start, tj.pausable
    return remaining, max(deadline, 1) if tj.deadline_slice > start else n, False

