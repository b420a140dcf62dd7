"""Atomic writes of a run: everything goes to a temporary folder that is renamed into place.

A run folder holds ``meters.parquet`` (spec section 1 columns plus time, site, grid_share),
``tasks.parquet`` (one row per task), ``task_energy.parquet`` (IT energy and tokens per task and
slice, what ``R_task`` is computed from), ``events.parquet`` (the engine's event log) and
``summary.json``. Readers never see a half-written folder: either the old run or the new one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from gti_core.meters import METER_COLUMNS

FILES = ("meters.parquet", "tasks.parquet", "task_energy.parquet", "events.parquet",
         "summary.json")


def write_run(run_dir: Path, meters: pd.DataFrame, tasks: pd.DataFrame,
              task_energy: pd.DataFrame, events: pd.DataFrame, summary: dict) -> Path:
    """Write a run folder atomically and return its path.

    Parameters
    ----------
    run_dir : Path
        Target folder; replaced as a whole if it exists.
    meters, tasks, task_energy, events : pandas.DataFrame
        The run's tables.
    summary : dict
        JSON-serialisable summary.
    """
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        meters[list(METER_COLUMNS)].to_parquet(tmp / "meters.parquet", index=False)
        tasks.to_parquet(tmp / "tasks.parquet", index=False)
        task_energy.to_parquet(tmp / "task_energy.parquet", index=False)
        events.to_parquet(tmp / "events.parquet", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        os.chmod(tmp, 0o755)
        old = None
        if run_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.old.", dir=run_dir.parent))
            os.rename(run_dir, old / "run")
        os.rename(tmp, run_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir


def read_run(run_dir: Path) -> dict:
    """Read a run folder back: the tables as DataFrames and the summary as a dict."""
    run_dir = Path(run_dir)
    missing = [f for f in FILES if not (run_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir}: not a run folder ({missing[0]} is missing)")
    out: dict = {f.removesuffix(".parquet"): pd.read_parquet(run_dir / f)
                 for f in FILES if f.endswith(".parquet")}
    out["summary"] = json.loads((run_dir / "summary.json").read_text())
    return out
