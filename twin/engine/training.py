"""A training job as a SimPy component: its state as attributes, its process as methods.

A training job runs in segments: compute (GPUs at board power, progress at its token rate),
checkpoint writes and checkpoint reloads (GPUs held at idle power, no progress). It writes a
checkpoint every ``checkpoint_interval_s`` of compute; a pause order interrupts it
(``process.interrupt``), it writes a checkpoint, releases its GPUs and waits; on resume it queues
for GPUs again and reloads. Its segments are kept until the site settles the slice they fall in.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from models.workloads import TrainingJob

#: Training time shorter than this is treated as done [s].
DONE_TOLERANCE_S = 1e-6


class TrainingRun:
    """One training job on one site's GPU pool.

    Attributes
    ----------
    job : TrainingJob
    state : str
        ``waiting`` (not released), ``queued`` (for GPUs), ``running``, ``releasing``, ``paused``
        or ``done``.
    hold : bool
        The EMS wants it paused.
    tokens_done : float
        Tokens trained so far [tokens].
    segments : list of (str, float, float, str)
        Closed segments not yet settled: (``compute``, ``checkpoint`` or ``reload``, start [s],
        end [s], site).
    site : str
        Where it is (where it goes while it moves); ``home`` is where it was released.
    overhead_gpu_s : dict of str to float
        GPU-seconds of checkpoints and reloads per site [GPU-s].
    """

    def __init__(self, env: simpy.Environment, job: TrainingJob, gpus: simpy.Container,
                 slice_s: float, log: Callable[[str, float], None], site: str = ""):
        self.env, self.job, self.gpus, self.log = env, job, gpus, log
        self.slice_s = slice_s
        self.site = self.home = site
        self.moving = False
        self._pause_waiters: list[simpy.Event] = []
        self.state = "waiting"
        self.hold = False
        self.tokens_done = 0.0
        self.since_checkpoint_s = 0.0
        self.open_segment: tuple[str, float] | None = None  # (kind, start time)
        self.segments: list[tuple[str, float, float, str]] = []
        self.resume: simpy.Event | None = None
        self.started = False
        self.start_slice: int | None = None
        self.end_slice: int | None = None
        self.late = False
        self.tokens_late = 0.0
        self.overhead_gpu_s: dict[str, float] = {}
        self.process = env.process(self.run())

    @property
    def remaining_tokens(self) -> float:
        return max(self.job.tokens - self.tokens_done, 0.0)

    @property
    def remaining_s(self) -> float:
        """Compute time it still needs [s]."""
        return self.remaining_tokens / self.job.tokens_per_s

    def finished(self) -> bool:
        return self.remaining_s <= DONE_TOLERANCE_S

    def overlap_s(self, a: float, b: float, site: str) -> tuple[float, float]:
        """Compute and overhead (checkpoint, reload) seconds of this job at ``site`` within
        ``[a, b)``."""
        spans = [seg for seg in self.segments if seg[3] == site]
        if self.open_segment is not None and self.site == site:
            spans.append((*self.open_segment, b, site))
        compute = overhead = 0.0
        for kind, t0, t1, _ in spans:
            o = max(min(t1, b) - max(t0, a), 0.0)
            if kind == "compute":
                compute += o
            else:
                overhead += o
        return compute, overhead

    def unsettled(self, site: str) -> bool:
        """Whether it has time at ``site`` that the site has not settled yet."""
        return (self.open_segment is not None and self.site == site) or any(
            seg[3] == site for seg in self.segments)

    def forget_before(self, b: float, site: str) -> None:
        """Drop the closed segments at ``site`` that end by ``b`` (settled there)."""
        self.segments = [seg for seg in self.segments if seg[2] > b or seg[3] != site]

    # --- migration -------------------------------------------------------------------------
    def paused(self) -> simpy.Event:
        """An event that fires once the job is paused (at once if it is)."""
        ev = self.env.event()
        if self.state == "paused":
            ev.succeed()
        else:
            self._pause_waiters.append(ev)
        return ev

    def move_to(self, site: str, gpus: simpy.Container, log: Callable[[str, float], None]
                ) -> None:
        """Belong to another site's GPU pool and log from now on (a paused job that moves)."""
        self.site, self.gpus, self.log = site, gpus, log

    def resume_now(self) -> None:
        """Lift a hold and resume a paused job (a migration's end)."""
        self.hold = False
        if self.state == "paused" and self.resume is not None and not self.resume.triggered:
            self.resume.succeed()

    # --- orders from the EMS ---------------------------------------------------------------
    def order(self, pause: bool) -> None:
        """Pause (interrupting a running job) or resume; a job that is not pausable runs."""
        if self.state in ("waiting", "done"):
            return
        want = self.job.pausable and pause
        if want and not self.hold:
            self.hold = True
            if self.state == "running":
                self.process.interrupt("pause")
        elif not want and self.hold:
            self.hold = False
            if self.state == "paused" and self.resume is not None and not self.resume.triggered:
                self.resume.succeed()

    # --- the process -----------------------------------------------------------------------
    def _busy(self, kind: str, duration: float):
        """Hold the GPUs without progress for ``duration``; pause orders wait until the end.
        Returns whether one came."""
        env = self.env
        t0, end, ordered = env.now, env.now + duration, False
        self.open_segment = (kind, t0)
        while env.now < end:
            try:
                yield env.timeout(end - env.now)
            except simpy.Interrupt:
                ordered = True
        self.open_segment = None
        self.segments.append((kind, t0, env.now, self.site))
        return ordered

    def _compute(self, duration: float):
        """Train for up to ``duration``; returns whether a pause order cut it short."""
        env, job = self.env, self.job
        t0 = env.now
        self.open_segment = ("compute", t0)
        ordered = False
        try:
            yield env.timeout(duration)
        except simpy.Interrupt:
            ordered = True
        self.open_segment = None
        self.segments.append(("compute", t0, env.now, self.site))
        elapsed = env.now - t0
        if not ordered:  # ran the whole segment: exact arithmetic at the end of the job
            # (and the whole ``duration``: a sliver below the clock's resolution at this time
            # leaves ``env.now`` where it was, but it was computed)
            self.since_checkpoint_s += duration
            self.tokens_done = min(self.tokens_done + duration * job.tokens_per_s, job.tokens)
        else:
            self.since_checkpoint_s += elapsed
            self.tokens_done += elapsed * job.tokens_per_s
        return ordered

    def _train(self):
        """Compute with periodic checkpoints until done or ordered to pause."""
        job, ordered = self.job, False
        while not self.finished():
            to_checkpoint = max(job.checkpoint_interval_s - self.since_checkpoint_s, 0.0)
            ordered = yield from self._compute(min(self.remaining_s, to_checkpoint))
            if self.finished():
                break
            if (ordered or self.since_checkpoint_s
                    >= job.checkpoint_interval_s - DONE_TOLERANCE_S):
                # a periodic checkpoint, or the one written before a pause
                self.log(f"{job.job_id} checkpoint", self.env.now)
                ordered = (yield from self._busy("checkpoint", job.checkpoint_s)) or ordered
                self.since_checkpoint_s = 0.0
            if ordered and self.hold:
                return

    def run(self):
        env, job = self.env, self.job
        yield env.timeout(job.release_slice * self.slice_s)
        self.log(f"{job.job_id} released", env.now)
        while True:
            if self.hold:
                self.state = "paused"
                self.resume = env.event()
                for ev in self._pause_waiters:
                    ev.succeed()
                self._pause_waiters.clear()
                yield self.resume
            self.state = "queued"
            yield self.gpus.get(job.gpus)
            if self.hold:  # ordered to pause while it queued
                yield self.gpus.put(job.gpus)
                continue
            self.state = "running"
            ordered = False
            if self.started:
                self.log(f"{job.job_id} resume", env.now)
                ordered = yield from self._busy("reload", job.restart_s)
            else:
                self.started = True
                self.log(f"{job.job_id} start", env.now)
            if not (ordered and self.hold):
                yield from self._train()
            self.state = "releasing"
            yield self.gpus.put(job.gpus)
            if self.finished():
                self.tokens_done = job.tokens
                self.state = "done"
                self.log(f"{job.job_id} done", env.now)
                return
            self.log(f"{job.job_id} paused", env.now)
