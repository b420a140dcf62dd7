"""What a site's simulation leaves behind: meters, task energy per slice, task records, events."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.workloads import TrainingJob
from twin.engine.batch import BatchRecord
from twin.engine.training import TrainingRun
from twin.inputs import SiteInputs


@dataclass(frozen=True)
class TrainingAtSite:
    """What a training job spent at one site beyond its tokens: checkpoint and reload time
    [GPU-s] and the energy of moving its checkpoint in or out [MWh]."""

    job: TrainingJob
    overhead_gpu_s: float
    transfer_mwh: float


@dataclass
class SiteRun:
    """The physical record of one site's simulation."""

    site: str
    meters: pd.DataFrame
    task_energy: pd.DataFrame  # task_id, site, time, it_mwh, tokens_in, tokens_out
    tasks: pd.DataFrame  # one row per task: kind, deadline, deadline_met, tokens_late
    soc_mwh: np.ndarray  # battery content at the end of each slice
    events: list[tuple[str, float]] = field(default_factory=list)
    decide_s: float = 0.0  # wall time of the strategy's prepare and decide calls [s]
    training: dict[str, TrainingAtSite] = field(default_factory=dict)  # jobs that ran here
    # energy of batch jobs' data moved in or out here, per job [MWh]
    batch_transfer_mwh: dict[str, float] = field(default_factory=dict)
    # backup, shedding and demand response (twin.engine.supply.Supply.report)
    resilience: dict = field(default_factory=dict)


def task_energy_frame(rows: list, inp: SiteInputs) -> pd.DataFrame:
    """Task energy rows ``(task_id, slice, it_mwh, tokens_in, tokens_out)`` as a table."""
    te = pd.DataFrame(rows, columns=["task_id", "k", "it_mwh", "tokens_in", "tokens_out"])
    # typed even without rows (a site that served no task): numbers, not objects
    te = te.astype({"task_id": str, "k": np.int64, "it_mwh": float, "tokens_in": float,
                    "tokens_out": float})
    te.insert(1, "site", inp.name)
    te.insert(2, "time", inp.index[te["k"].to_numpy(dtype=np.int64)])
    return te.drop(columns="k")


def task_records(inp: SiteInputs, inter_ids: dict[str, int], jobs: list[BatchRecord],
                 trains: list[TrainingRun], arrived: dict[str, str] | None = None
                 ) -> pd.DataFrame:
    """Per-task facts only the engine knows: kind, deadline, whether it was met, tokens late,
    and GPU-seconds spent on checkpoints and reloads (at every site, for a job that moved).
    ``inter_ids``: each interactive task served here and its slice; ``arrived``: batch jobs
    (shares of them) sent here, with the site they were released at (their row's site; a
    fleet run joins a job's rows from every site, :func:`join_task_records`)."""
    arrived = arrived or {}
    end = inp.index + pd.Timedelta(minutes=inp.slice_minutes)
    horizon_end = end[-1]
    # one interactive task per slice that serves any: built as columns, not row by row
    interactive = pd.DataFrame({
        "task_id": pd.Series(list(inter_ids), dtype=object), "site": inp.name,
        "kind": "interactive",
        "deadline": end[np.fromiter(inter_ids.values(), dtype=np.int64, count=len(inter_ids))],
        "deadline_met": True, "tokens_late": 0.0, "overhead_gpu_s": 0.0})
    rows = []

    def add(task_id: str, kind: str, deadline_slice: int | None, met: bool, late: float,
            overhead: float) -> None:
        rows.append((task_id, arrived.get(task_id, inp.name), kind,
                     end[deadline_slice - 1] if deadline_slice else horizon_end, met, late,
                     overhead))

    for js in jobs:
        add(js.job.job_id, "batch", js.job.deadline_slice, js.end_slice is not None
            and not js.late, js.tokens_late + (js.job.tokens_out - js.served_out), 0.0)
    for ts in trains:
        if ts.state == "waiting":
            continue
        done = ts.state == "done"
        add(ts.job.job_id, "training", ts.job.deadline_slice, done and not ts.late,
            ts.tokens_late + ts.remaining_tokens if ts.late or not done else 0.0,
            sum(ts.overhead_gpu_s.values()))
    if not rows:
        return interactive
    others = pd.DataFrame(rows, columns=interactive.columns).astype(interactive.dtypes)
    if interactive.empty:  # concatenating an empty frame would cast the others' dtypes
        return others
    return pd.concat([interactive, others], ignore_index=True)


def join_task_records(records: list[pd.DataFrame]) -> pd.DataFrame:
    """The sites' task records as one row per task, indexed by task id: a batch job whose
    shares ran at several sites met its deadline where every share did, and its tokens late
    add up (its site is the one it was released at)."""
    rows = pd.concat(records, ignore_index=True)
    if not rows["task_id"].duplicated().any():
        return rows.set_index("task_id")
    return rows.groupby("task_id", sort=False).agg(
        site=("site", "first"), kind=("kind", "first"), deadline=("deadline", "first"),
        deadline_met=("deadline_met", "all"), tokens_late=("tokens_late", "sum"),
        overhead_gpu_s=("overhead_gpu_s", "sum"))
