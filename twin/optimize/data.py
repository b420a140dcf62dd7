"""The data an optimization sees over a horizon, as arrays per slice, built from a site's inputs.

Everything is in the units the LP uses: energy per slice [MWh], GPU time [GPU-s]. Each array has
one value per slice of the horizon; the same structure serves the year-long oracle and every
window of the rolling-horizon MPC (whose windows only change the numbers, never the shape).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from models.battery import BatteryParams
from models.datacenter import J_PER_MWH, reserved_gpus
from models.tokens import gpu_energy_j
from twin.inputs import SiteInputs


@dataclass
class TrainingData:
    """One training job in a horizon.

    Attributes
    ----------
    job_id : str
    gpus : int
    release : int
        First slice of the horizon it may run in (0 when already released).
    deadline : int
        Slices of the horizon by whose end it must be done (the horizon length when its
        deadline or the run's end lies beyond; then ``required_tokens`` paces it).
    required_tokens : float
        Tokens it must train within the horizon [tokens].
    tokens_per_slice : float
        Progress of a slice of running, net of periodic checkpoints [tokens].
    pause_tokens : float
        Progress a pause costs: checkpoint write plus reload time [tokens].
    it_mwh_per_slice : float
        Extra IT energy of a slice of running over leaving its GPUs idle [MWh].
    gpu_s_per_slice : float
        GPU time a slice of running holds [GPU-s].
    pausable : bool
    running_before : float
        1 when it holds its GPUs at the horizon start (a pause in slice 0 costs), else 0.
    pause_hold_gpu_s : float
        GPU time a pause holds in its slice: the job writes a checkpoint before it frees its
        GPUs [GPU-s].
    """

    job_id: str
    gpus: int
    release: int
    deadline: int
    required_tokens: float
    tokens_per_slice: float
    pause_tokens: float
    it_mwh_per_slice: float
    gpu_s_per_slice: float
    pausable: bool
    running_before: float = 0.0
    pause_hold_gpu_s: float = 0.0


@dataclass
class HorizonData:
    """Arrays over a horizon of ``n`` slices; see the module docstring for units."""

    dt_h: float
    pv_avail: np.ndarray
    wind_avail: np.ndarray
    it_base: np.ndarray  # interactive work + every other GPU idle, with host overhead [MWh]
    nonit_per_it: np.ndarray  # cooling + aux per IT [fraction]
    batch_mwh_per_gpu_s: float  # extra IT of a GPU-second of batch work over idle [MWh/GPU-s]
    free_gpu_s: np.ndarray  # GPU time not taken by interactive inference [GPU-s]
    release_gpu_s: np.ndarray  # batch work released in each slice [GPU-s]
    not_due_gpu_s: np.ndarray  # most batch work that may still wait after each slice [GPU-s]
    backlog0_gpu_s: float  # batch work waiting at the horizon start [GPU-s]
    price: np.ndarray  # [$/MWh]
    export_price: float  # [$/MWh]
    grid_share: np.ndarray
    alpha: float
    max_import: float  # [MWh per slice]
    max_export: float
    battery: BatteryParams | None
    soc0: float
    initial_green_fraction: float  # green share of the content at the start [fraction]
    soc_end_min: float | None  # terminal content (MPC windows), None for none
    discharge_green_fraction: np.ndarray  # green share of a discharge, by slice (section 4)
    training: list[TrainingData] = field(default_factory=list)
    training_pool_gpus: int = 0

    @property
    def n(self) -> int:
        return len(self.price)


def batch_jobs_table(inp: SiteInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Release slice, deadline slice and GPU time [GPU-s] of every batch job, as arrays."""
    e, gpu = inp.batch_energy, inp.gpu
    if e is None or not inp.batch_jobs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    release = np.array([j.release_slice for j in inp.batch_jobs], dtype=np.int64)
    deadline = np.array([j.deadline_slice for j in inp.batch_jobs], dtype=np.int64)
    work = gpu_energy_j(np.array([j.tokens_in for j in inp.batch_jobs]),
                        np.array([j.tokens_out for j in inp.batch_jobs]), e) / gpu.serving_w
    return release, deadline, work


def batch_account(jobs: tuple[np.ndarray, np.ndarray, np.ndarray], start: int, n: int,
                  queue: tuple[tuple[int, float], ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """Release and may-wait profiles of batch work over slices ``start .. start + n``.

    ``jobs`` is :func:`batch_jobs_table`; ``queue`` holds (deadline slice, remaining GPU-s) of
    the jobs already released and unfinished at ``start``. Returns (released per slice, most
    work that may still wait after each slice, backlog at the start) [GPU-s]: after slice ``t``
    only work due at or after slice ``t + 2`` may wait, since a job due at slice ``D`` must be
    done by the start of ``D``.
    """
    release, deadline, work = jobs
    inside = (release >= start) & (release < start + n)
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
                 soc0: float | None = None, queue: tuple[tuple[int, float], ...] = (),
                 training_state: dict[str, tuple[float, bool]] | None = None,
                 discharge_green_fraction: np.ndarray | None = None,
                 soc_end_min: float | None = None, every_job: bool = False,
                 initial_green_fraction: float | None = None,
                 jobs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> HorizonData:
    """The LP data of slices ``start .. start + n`` of a site.

    Parameters
    ----------
    inp : SiteInputs
    alpha : float
        Grid attribution coefficient of the run's accounting.
    start, n : int
        First slice and number of slices (default: to the end of the run).
    soc0 : float, optional
        Battery content at ``start`` (default: the run's initial content).
    queue : tuple of (int, float)
        Released, unfinished batch jobs at ``start``: (deadline slice, remaining GPU-s).
    training_state : dict, optional
        Per training job id: (tokens still to train, holds its GPUs now). Default: every job
        from scratch, none running.
    discharge_green_fraction : numpy.ndarray, optional
        Green share of each slice's discharge (default 0: grey).
    soc_end_min : float, optional
        Lowest battery content allowed at the horizon end [MWh].
    every_job : bool
        Keep every training job, also those done or released after the horizon (with nothing
        required of them), so that windows of a rolling horizon share one model shape.
    initial_green_fraction : float, optional
        Green share of the content at ``start`` (default: the run's).
    jobs : tuple of numpy.ndarray, optional
        :func:`batch_jobs_table` of ``inp``, when the caller keeps it between windows.
    """
    n = inp.n - start if n is None else min(n, inp.n - start)
    sl = slice(start, start + n)
    gpu, dt_s = inp.gpu, inp.slice_minutes * 60.0
    host = (1.0 + gpu.host_overhead_fraction) / J_PER_MWH
    inter_j = gpu_energy_j(inp.interactive_tokens_in[sl], inp.interactive_tokens_out[sl],
                           inp.interactive_energy)
    inter_busy = inter_j / gpu.serving_w
    free = np.maximum(inp.gpu_seconds_per_slice - inter_busy, 0.0)
    it_base = (inter_j + free * gpu.idle_w) * host
    rel, not_due, backlog0 = batch_account(jobs if jobs is not None else batch_jobs_table(inp),
                                           start, n, queue)
    bat = inp.battery
    all_busy = gpu_energy_j(inp.interactive_tokens_in, inp.interactive_tokens_out,
                            inp.interactive_energy) / gpu.serving_w
    pool = inp.gpus - reserved_gpus(all_busy, dt_s, inp.gpus)
    training = []
    for tj in inp.training_jobs:
        remaining, running = (training_state or {}).get(tj.job_id, (tj.tokens, False))
        outside = remaining <= 0.0 or tj.release_slice >= start + n
        if outside and not every_job:
            continue
        run_factor = tj.checkpoint_interval_s / (tj.checkpoint_interval_s + tj.checkpoint_s)
        per_slice = tj.tokens_per_s * dt_s * run_factor
        release = min(max(tj.release_slice - start, 0), n)
        due = tj.deadline_slice if tj.deadline_slice is not None else inp.n
        deadline = min(due - start, n)
        # within the horizon, train what cannot wait: the rest at full pace after it
        after = max(due - (start + n), 0) * per_slice
        training.append(TrainingData(
            job_id=tj.job_id, gpus=tj.gpus, release=release, deadline=max(deadline, 0),
            required_tokens=0.0 if outside else max(remaining - after, 0.0),
            tokens_per_slice=per_slice,
            pause_tokens=(tj.checkpoint_s + tj.restart_s) * tj.tokens_per_s,
            it_mwh_per_slice=tj.gpus * dt_s * (gpu.tdp_w - gpu.idle_w) * host,
            gpu_s_per_slice=tj.gpus * dt_s, pausable=tj.pausable,
            running_before=1.0 if running else 0.0,
            pause_hold_gpu_s=tj.gpus * min(tj.checkpoint_s, dt_s)))
    return HorizonData(
        dt_h=inp.dt_h,
        pv_avail=inp.pv_avail_mw[sl] * inp.dt_h,
        wind_avail=inp.wind_avail_mw[sl] * inp.dt_h,
        it_base=it_base,
        nonit_per_it=inp.cooling_fraction[sl] + inp.aux_fraction,
        batch_mwh_per_gpu_s=(gpu.serving_w - gpu.idle_w) * host,
        free_gpu_s=free,
        release_gpu_s=rel,
        not_due_gpu_s=not_due,
        backlog0_gpu_s=backlog0,
        price=np.asarray(inp.price_usd_per_mwh[sl], dtype=float),
        export_price=inp.export_price_usd_per_mwh,
        grid_share=np.asarray(inp.grid_share[sl], dtype=float),
        alpha=alpha,
        max_import=inp.max_import_mw * inp.dt_h,
        max_export=inp.max_export_mw * inp.dt_h,
        battery=bat,
        soc0=inp.initial_soc_mwh if soc0 is None else soc0,
        initial_green_fraction=(inp.initial_green_fraction if initial_green_fraction is None
                                else initial_green_fraction),
        soc_end_min=soc_end_min,
        discharge_green_fraction=(np.zeros(n) if discharge_green_fraction is None
                                  else np.asarray(discharge_green_fraction, dtype=float)),
        training=training,
        training_pool_gpus=pool,
    )


def in_units(d: HorizonData, gpu_s: float = 1.0, tokens: float = 1.0) -> HorizonData:
    """The same horizon with GPU time counted in units of ``gpu_s`` GPU-seconds and training
    progress in units of ``tokens`` tokens.

    The model families only ever compare GPU time with GPU time and tokens with tokens, and
    price a GPU-second or a token through its ratio to energy, so the LP's optimum is the same
    in any units; what changes is its numerics. A 100 MW campus has about 1e8 GPU-seconds a
    slice and a training run 1e13 tokens, against MWh of order 1-100: in GPU-seconds and tokens
    the matrix spans 17 orders of magnitude, in 1e6 GPU-seconds and 1e9 tokens about 7.
    """
    jobs = [dataclasses.replace(tj, required_tokens=tj.required_tokens / tokens,
                                tokens_per_slice=tj.tokens_per_slice / tokens,
                                pause_tokens=tj.pause_tokens / tokens,
                                gpu_s_per_slice=tj.gpu_s_per_slice / gpu_s,
                                pause_hold_gpu_s=tj.pause_hold_gpu_s / gpu_s)
            for tj in d.training]
    return dataclasses.replace(
        d, batch_mwh_per_gpu_s=d.batch_mwh_per_gpu_s * gpu_s, free_gpu_s=d.free_gpu_s / gpu_s,
        release_gpu_s=d.release_gpu_s / gpu_s, not_due_gpu_s=d.not_due_gpu_s / gpu_s,
        backlog0_gpu_s=d.backlog0_gpu_s / gpu_s, training=jobs)
