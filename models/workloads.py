"""Workloads: interactive inference with a daily and weekly pattern, deferrable batch jobs and
training runs.

Interactive rate per slice (generated tokens per second):
``peak * weekly(t) * (low + (1 - low) * (1 + cos(2 pi (h - h_peak) / 24)) / 2) * noise`` with
``h`` the local hour at the slice midpoint, ``low`` the night-to-peak ratio, ``weekly`` 1 on
weekdays and ``weekend_factor`` on Saturday and Sunday, and seeded log-normal noise with unit mean.
Prompt tokens are generated tokens times ``input_tokens_per_output_token``; the default 5.47 is the
ratio of the Azure LLM inference trace 2023, conversation service (22,361,870 context tokens over
4,088,665 generated tokens in 19,366 requests; Patel et al., "Splitwise", ISCA 2024, CC-BY 4.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import tables


def local_hours(index: pd.DatetimeIndex, utc_offset_h: float, slice_minutes: int) -> np.ndarray:
    """Local standard time of each slice midpoint, in hours since the first local midnight [h]."""
    mid = index + pd.Timedelta(minutes=slice_minutes / 2) + pd.Timedelta(hours=utc_offset_h)
    return (mid - mid[0].normalize()).total_seconds().to_numpy() / 3600.0


def first_slices_at(index: pd.DatetimeIndex, utc_offset_h: float, slice_minutes: int,
                    local_hour: float) -> np.ndarray:
    """Each day's first slice that starts at ``local_hour`` local standard time, or the first
    after it where no slice starts on it (UTC+5:30 at 60 minutes: 00:30 for midnight)."""
    start_h = local_hours(index, utc_offset_h, slice_minutes) - slice_minutes / 120.0
    # 1e-9 h absorbs the rounding of slice starts that lie on the hour
    after = np.mod(start_h - local_hour + 1e-9, 24.0)
    return np.flatnonzero(after < slice_minutes / 60.0)


def interactive_output_tokens(index: pd.DatetimeIndex, cfg, utc_offset_h: float,
                              slice_minutes: int) -> np.ndarray:
    """Generated tokens of the interactive stream in each slice [tokens].

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Slice starts (UTC).
    cfg : twin.scenario.InteractiveConfig
        Peak rate, daily low, peak hour, weekend factor, noise and seed.
    utc_offset_h : float
        Local standard time minus UTC [h].
    slice_minutes : int
        Slice length [min].

    Returns
    -------
    numpy.ndarray
        Generated tokens per slice (whole numbers) [tokens].
    """
    hours = local_hours(index, utc_offset_h, slice_minutes)
    hod = np.mod(hours, 24.0)
    daily = cfg.night_to_peak_ratio + (1.0 - cfg.night_to_peak_ratio) * 0.5 * (
        1.0 + np.cos(2.0 * np.pi * (hod - cfg.peak_local_hour) / 24.0))
    local = index + pd.Timedelta(hours=utc_offset_h)
    weekly = np.where(local.dayofweek >= 5, cfg.weekend_factor, 1.0)
    rng = np.random.default_rng(cfg.seed)
    sigma = cfg.noise_sigma
    noise = rng.lognormal(mean=-0.5 * sigma**2, sigma=sigma, size=len(index)) if sigma else 1.0
    rate = cfg.peak_output_tokens_per_s * daily * weekly * noise
    return np.round(rate * slice_minutes * 60.0)


@dataclass(frozen=True)
class BatchJob:
    """A deferrable batch inference job.

    Attributes
    ----------
    job_id : str
    release_slice, deadline_slice : int
        First slice it may run in; the slice by whose start it must be done.
    tokens_in, tokens_out : float
        Prompt and generated tokens [tokens].
    data_gb : float
        Its prompts and generations as data: what crosses a link if it runs at another site
        [GB].
    """

    job_id: str
    release_slice: int
    deadline_slice: int
    tokens_in: float
    tokens_out: float
    data_gb: float = 0.0

    def part(self, share: float) -> BatchJob:
        """A share of the job (its tokens and data) [fraction]; the same task."""
        return BatchJob(self.job_id, self.release_slice, self.deadline_slice,
                        self.tokens_in * share, self.tokens_out * share, self.data_gb * share)


def daily_batch_jobs(index: pd.DatetimeIndex, interactive_out: np.ndarray, cfg,
                     utc_offset_h: float, slice_minutes: int, site: str) -> list[BatchJob]:
    """One batch job per local day, sized as a share of that day's interactive output tokens.

    A job is released at ``release_local_hour`` each day (the first day's job is released at the
    first slice at or after that hour), carries ``share_of_interactive`` times the interactive
    generated tokens of the 24 h after its release (or ``output_tokens_per_day``, pro rata for
    a last day cut by the horizon), and must finish ``deadline_h`` later (deadlines past the
    horizon are clipped to its end). Its data is ``data_bytes_per_token`` per prompt and
    generated token.
    """
    per_day = int(round(1440 / slice_minutes))
    release = first_slices_at(index, utc_offset_h, slice_minutes, cfg.release_local_hour)
    cum = np.concatenate(([0.0], np.cumsum(interactive_out)))
    n = len(index)
    deadline_slices = int(round(cfg.deadline_h * 60 / slice_minutes))
    jobs = []
    for k, r in enumerate(release):
        window_end = min(r + per_day, n)
        if cfg.output_tokens_per_day is not None:
            tokens_out = float(np.round(cfg.output_tokens_per_day * (window_end - r) / per_day))
        else:
            tokens_out = float(np.round(cfg.share_of_interactive * (cum[window_end] - cum[r])))
        if tokens_out <= 0:
            continue
        tokens_in = float(np.round(tokens_out * cfg.input_tokens_per_output_token))
        jobs.append(BatchJob(
            job_id=f"{site}-batch-{k:04d}",
            release_slice=int(r),
            deadline_slice=int(min(r + deadline_slices, n)),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            data_gb=(tokens_in + tokens_out) * cfg.data_bytes_per_token / 1e9,
        ))
    return jobs


@dataclass(frozen=True)
class TrainingJob:
    """A training run that holds a fixed set of GPUs while it runs and may pause at a cost.

    Attributes
    ----------
    job_id : str
    gpus : int
        GPUs it holds while running (data x tensor x pipeline parallel).
    tokens : float
        Training tokens to process [tokens].
    j_per_token : float
        GPU energy per training token, ``models.tokens.training_j_per_token`` [J].
    tokens_per_s : float
        Throughput on its ``gpus`` GPUs [tokens/s].
    release_slice : int
        First slice it may run in.
    deadline_slice : int or None
        The slice by whose start it must be done (None: no deadline).
    checkpoint_interval_s : float
        Compute time between periodic checkpoints [s].
    checkpoint_s : float
        Time to write a checkpoint: at every interval and before every pause [s].
    restart_s : float
        Time to reload a checkpoint when resuming after a pause [s].
    pausable : bool
        Whether a dispatch strategy may pause it (and a fleet strategy migrate it).
    checkpoint_gb : float
        Size of the checkpoint a migration moves [GB].
    """

    job_id: str
    gpus: int
    tokens: float
    j_per_token: float
    tokens_per_s: float
    release_slice: int
    deadline_slice: int | None
    checkpoint_interval_s: float
    checkpoint_s: float
    restart_s: float
    pausable: bool = True
    checkpoint_gb: float = 0.0


TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def read_request_trace(path) -> pd.DataFrame:
    """An LLM request trace: ``TIMESTAMP, ContextTokens, GeneratedTokens`` per request.

    The format of the Azure LLM inference traces 2023 (Patel et al., "Splitwise", ISCA 2024,
    CC-BY 4.0). Timestamps without an offset are read as UTC.
    """
    where = "workload.interactive.trace_file"
    try:
        data = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{where}: not a readable CSV file ({str(err).splitlines()[0]})"
                         ) from None
    missing = [c for c in TRACE_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"{where}: column {missing[0]!r} is missing")
    if data.empty:
        raise ValueError(f"{where}: no requests (only a header)")
    try:
        data["TIMESTAMP"] = pd.to_datetime(data["TIMESTAMP"], utc=True, format="mixed")
    except (ValueError, TypeError) as err:
        raise ValueError(f"{where}: column 'TIMESTAMP' is not a timestamp "
                         f"({str(err).splitlines()[0]})") from None
    try:
        for col in TRACE_COLUMNS[1:]:
            data[col] = tables.finite_numbers(data, col, lo=0.0, what="a token count >= 0")
    except tables.CellError as err:
        raise ValueError(f"{where}: {err}") from None
    return data.sort_values("TIMESTAMP", kind="stable").reset_index(drop=True)


def _replays(trace: pd.DataFrame, index: pd.DatetimeIndex, slice_minutes: int, loop: bool,
             start: pd.Timestamp | None):
    """Each play of a trace over the horizon: (repetition, arrival times, the rows of ``trace``
    served, their slice positions in ``index``)."""
    dt = pd.Timedelta(minutes=slice_minutes)
    t0 = trace["TIMESTAMP"].iloc[0]
    offset = (trace["TIMESTAMP"] - t0).to_numpy()
    origin = start if start is not None else t0
    period = ((trace["TIMESTAMP"].iloc[-1] - t0) // dt + 1) * dt
    n = len(index)
    horizon_end = index[0] + n * dt
    k = 0
    while True:
        times = pd.DatetimeIndex(origin + k * period + offset)
        if times[0] >= horizon_end:
            return
        slot = np.asarray((times - index[0]) // dt, dtype=np.int64)
        rows = np.flatnonzero((slot >= 0) & (slot < n))
        yield k, times[rows], rows, slot[rows]
        if not loop:
            return
        k += 1


def _check_scale(scale: int) -> None:
    if scale < 1:
        raise ValueError(f"workload.interactive.trace_scale = {scale}: must be >= 1")


def trace_tokens(trace: pd.DataFrame, index: pd.DatetimeIndex, slice_minutes: int,
                 scale: int, loop: bool, start: pd.Timestamp | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and generated tokens per slice from replaying a request trace [tokens].

    Every request lands in the slice that holds its timestamp, moved so that the trace begins at
    ``start`` (default: its own first timestamp). ``scale`` replays each request that many times
    at once (a fleet many times the traced one). With ``loop`` the trace repeats back to back over
    the horizon, each repetition ``ceil(duration / slice) * slice`` after the previous; without it
    it plays once and requests outside the horizon are not served (and not counted).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Prompt and generated tokens per slice (whole numbers) [tokens].
    """
    _check_scale(scale)
    n = len(index)
    tin, tout = np.zeros(n), np.zeros(n)
    ctx = trace["ContextTokens"].to_numpy(float)
    gen = trace["GeneratedTokens"].to_numpy(float)
    for _, _, rows, slot in _replays(trace, index, slice_minutes, loop, start):
        np.add.at(tin, slot, ctx[rows])
        np.add.at(tout, slot, gen[rows])
    return tin * scale, tout * scale


def trace_requests(trace: pd.DataFrame, index: pd.DatetimeIndex, slice_minutes: int,
                   scale: int, loop: bool, start: pd.Timestamp | None = None) -> pd.DataFrame:
    """The requests a replayed trace serves over the horizon (as :func:`trace_tokens` counts
    them), one row each, in time order.

    Returns
    -------
    pandas.DataFrame
        ``request`` (its row in ``trace``), ``repetition`` (0 for the first play), ``time``
        (arrival, UTC), ``slice`` (position in ``index``), ``tokens_in`` and ``tokens_out``
        (times ``scale``) [tokens].
    """
    _check_scale(scale)
    ctx = trace["ContextTokens"].to_numpy(float) * scale
    gen = trace["GeneratedTokens"].to_numpy(float) * scale
    parts = [pd.DataFrame({"request": rows, "repetition": k, "time": times, "slice": slot,
                           "tokens_in": ctx[rows], "tokens_out": gen[rows]})
             for k, times, rows, slot in _replays(trace, index, slice_minutes, loop, start)]
    if not parts:
        return pd.DataFrame(columns=["request", "repetition", "time", "slice", "tokens_in",
                                     "tokens_out"])
    return pd.concat(parts, ignore_index=True)
