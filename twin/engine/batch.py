"""Batch inference jobs of one site: released, queued earliest deadline first, served as a fluid
on the GPUs that a slice leaves free."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from models.site import host_energy_mwh, serving_energy_j
from models.tokens import TokenEnergy, gpu_energy_j
from models.workloads import BatchJob

#: Work smaller than this is treated as done (floating-point remainder of a split job) [J].
DONE_TOLERANCE_J = 1e-3
#: ... or smaller than this share of the job's work: a plan solved to an LP solver's tolerance
#: (HiGHS: 1e-7 on GPU-seconds of order 1e8) leaves remainders of a few joules on jobs of
#: 1e12 J, a fraction of one token, which would otherwise count as a missed deadline.
DONE_TOLERANCE_SHARE = 1e-9


@dataclass
class BatchRecord:
    """One batch job's progress [J and tokens] and the facts its task record needs."""

    job: BatchJob
    total_j: float
    remaining_j: float
    served_in: float = 0.0
    served_out: float = 0.0
    start_slice: int | None = None
    end_slice: int | None = None
    late: bool = False
    tokens_late: float = 0.0


class BatchQueue:
    """The site's batch jobs: every one released (``jobs``) and those still waiting (``queue``,
    earliest deadline first).

    ``log(name, time)`` records an event; ``task_rows`` receives ``(task_id, slice, it_mwh,
    tokens_in, tokens_out)`` for each job's share of a slice.
    """

    def __init__(self, energy: TokenEnergy | None, gpu, slice_s: float,
                 log: Callable[[str, float], None], task_rows: list):
        self.energy, self.gpu, self.slice_s = energy, gpu, slice_s
        self.log, self.task_rows = log, task_rows
        self.jobs: list[BatchRecord] = []
        self.queue: list[BatchRecord] = []

    def release(self, released: tuple[BatchJob, ...], now: float) -> None:
        for job in released:
            total = float(gpu_energy_j(job.tokens_in, job.tokens_out, self.energy))
            self.jobs.append(BatchRecord(job, total, total))
            self.queue.append(self.jobs[-1])
            self.log(f"{job.job_id} released", now)
        if released:
            self.queue.sort(key=lambda j: (j.job.deadline_slice, j.job.job_id))

    def mark_late(self, k: int, now: float) -> None:
        """Jobs whose deadline is the start of slice ``k`` and are not done are late."""
        for js in self.queue:
            if not js.late and js.job.deadline_slice == k:
                js.late = True
                self.log(f"{js.job.job_id} deadline missed", now)

    def backlog_j(self) -> float:
        return sum(j.remaining_j for j in self.queue)

    def due_j(self, deadline_slice: int) -> float:
        return sum(j.remaining_j for j in self.queue if j.job.deadline_slice == deadline_slice)

    def serve(self, k: int, t0: float, gpu_seconds: float, free_s: float,
              dt_s: float | None = None) -> float:
        """Give ``gpu_seconds`` to queued jobs, earliest deadline first; returns GPU energy [J].

        Within the slice (or the part of it from ``t0`` that lasts ``dt_s``) the granted work
        runs on every free GPU from its start, through the queue as a fluid: a job that gets the
        energy between ``u0`` and ``u1`` runs from ``t0 + dt * u0 / C`` to ``t0 + dt * u1 / C``
        with ``C`` the free GPUs' energy over ``dt``; its start and completion are logged at
        those instants.
        """
        budget_j = serving_energy_j(gpu_seconds, self.gpu)
        capacity_j = serving_energy_j(free_s, self.gpu)
        used_j = 0.0
        dt_s = self.slice_s if dt_s is None else dt_s
        for js in list(self.queue):
            if budget_j - used_j <= DONE_TOLERANCE_J:
                break
            use = min(budget_j - used_j, js.remaining_j)
            if js.start_slice is None:
                js.start_slice = k
                self.log(f"{js.job.job_id} start", t0 + dt_s * used_j / capacity_j)
            js.remaining_j -= use
            used_j += use
            if js.remaining_j <= max(DONE_TOLERANCE_J, DONE_TOLERANCE_SHARE * js.total_j):
                tin = js.job.tokens_in - js.served_in
                tout = js.job.tokens_out - js.served_out
                js.remaining_j = 0.0
                js.end_slice = k
                self.queue.remove(js)
                self.log(f"{js.job.job_id} done", t0 + dt_s * used_j / capacity_j)
            else:
                frac = use / js.total_j
                tin, tout = js.job.tokens_in * frac, js.job.tokens_out * frac
            js.served_in += tin
            js.served_out += tout
            if js.late:
                js.tokens_late += tout
            self.task_rows.append((js.job.job_id, k, host_energy_mwh(use, self.gpu), tin, tout))
        return used_j
