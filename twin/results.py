"""Atomic writes of a run: everything goes to a temporary folder that is renamed into place.

A run folder holds ``meters.parquet`` (spec section 1 columns plus time, site, grid_share),
``tasks.parquet`` (one row per task), ``task_energy.parquet`` (IT energy and tokens per task and
slice, what ``R_task`` is computed from), ``events.parquet`` (the engine's event log),
``inputs.parquet`` (per-slice inputs: available PV and wind, prices, grid share and carbon),
for a fleet ``routing.parquet`` (each region's requests per serving site and slice, with the
latency) and ``summary.json``. Readers never see a half-written folder: either the old run or
the new one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from gti_core.meters import meter_columns


def write_folder(run_dir: Path, writers: dict, sources: dict[str, Path] | None = None) -> Path:
    """Write a folder atomically: each ``name -> fn(path)`` writes one file into a temporary
    folder that is renamed into place (replacing an old folder as a whole) when all succeeded.
    The folder gets ``manifest.json`` (:mod:`twin.manifest`): every file's SHA-256 and those of
    ``sources`` (label -> input file), signed with the key ``AIDC_TWIN_SIGNING_KEY`` names, if
    set.
    """
    from twin.manifest import write_manifest

    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        for name, write in writers.items():
            write(tmp / name)
        write_manifest(tmp, sources)
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


def write_file(path: Path, data: str | bytes) -> Path:
    """Write one file atomically: a temporary file beside it, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def json_writer(data: dict):
    return lambda path: path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def write_run(run_dir: Path, summary: dict, meters: pd.DataFrame,
              files: dict | None = None, sources: dict[str, Path] | None = None,
              **tables: pd.DataFrame) -> Path:
    """Write a run folder atomically and return its path.

    Parameters
    ----------
    run_dir : Path
        Target folder; replaced as a whole if it exists.
    summary : dict
        JSON-serialisable summary.
    meters : pandas.DataFrame
        The meter table; written with exactly :data:`METER_COLUMNS` and the optional meters it
        has (:func:`gti_core.meters.meter_columns`).
    files : dict, optional
        Further files: name -> ``fn(path)`` that writes it (``scenario.yaml``, ``report.html``).
    sources : dict of str to Path, optional
        The input files the run was computed from, hashed into its manifest.
    **tables : pandas.DataFrame
        Further tables, each written as ``<name>.parquet``.
    """
    return write_folder(run_dir, run_writers(summary, meters, files, **tables), sources)


def run_writers(summary: dict, meters: pd.DataFrame, files: dict | None = None,
                **tables: pd.DataFrame) -> dict:
    """The files of a run folder, name -> ``fn(path)`` (see :func:`write_run`)."""
    writers = {"meters.parquet": lambda p: meters[meter_columns(meters)].to_parquet(p, index=False)}
    for name, table in tables.items():
        writers[f"{name}.parquet"] = lambda p, t=table: t.to_parquet(p, index=False)
    writers["summary.json"] = json_writer(summary)
    writers.update(files or {})
    return writers


def subfolder_writer(writers: dict, sources: dict[str, Path] | None = None):
    """A writer of a folder inside a folder being written (a year of a multi-year run): its
    files and its own manifest."""
    from twin.manifest import write_manifest

    def write(path: Path) -> None:
        path.mkdir()
        for name, fn in writers.items():
            fn(path / name)
        write_manifest(path, sources)

    return write


def read_run(run_dir: Path) -> dict:
    """Read a run folder back: the tables as DataFrames and the summary as a dict."""
    run_dir = Path(run_dir)
    for f in ("meters.parquet", "summary.json"):
        if not (run_dir / f).is_file():
            raise FileNotFoundError(f"{run_dir}: not a run folder ({f} is missing)")
    out: dict = {f.stem: pd.read_parquet(f) for f in sorted(run_dir.glob("*.parquet"))}
    out["summary"] = json.loads((run_dir / "summary.json").read_text())
    return out
