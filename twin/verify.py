"""Recompute a run's GTI from its meter and task files alone, as a third party would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gti_core.contracts import contracts_from_table
from gti_core.score import AccountingParams, score_site
from gti_core.summary import storage_from_block
from gti_core.tokens import task_green_ratios
from twin.results import read_run

#: How far a recomputed GTI may differ from the recorded one [fraction].
VERIFY_ATOL = 1e-9


def params_from_summary(summary: dict, site: str) -> AccountingParams:
    """Rebuild a site's accounting parameters from ``summary.json``."""
    acc = summary["accounting"]
    st = summary["sites"][site]["storage"]
    own = summary["sites"][site].get("accounting", {})  # a site's own alpha, where it has one
    return AccountingParams(
        alpha=float(own.get("alpha", acc["alpha"])),
        allocation=acc["allocation"],
        storage=storage_from_block(st, acc["storage_rule"]),
        export_retained=acc["export_attributes"] == "retained",
        thresholds=tuple(acc["rating_thresholds"]),
    )


def verify_run(run_dir: Path) -> list[tuple[str, str, float, float]]:
    """Recompute every site's GTI and every task's ``R_task``; return the mismatches.

    Uses ``meters.parquet``, the accounting block of ``summary.json`` and, where present,
    ``contracts.parquet`` and ``task_energy.parquet``; nothing the run derived.

    Returns
    -------
    list of (what, where, recorded, recomputed)
        Empty when the run verifies.
    """
    run = read_run(run_dir)
    summary, meters = run["summary"], run["meters"]
    for block in ("accounting", "sites"):
        if not isinstance(summary, dict) or block not in summary:
            raise ValueError(f"{Path(run_dir) / 'summary.json'}: no {block!r} block (not a "
                             "summary aidc-twin wrote)")
    problems = []
    ratios = []
    contracts = contracts_from_table(run["contracts"]) if "contracts" in run else {}
    for site, rows in meters.groupby("site", sort=False):
        score = score_site(rows.reset_index(drop=True), params_from_summary(summary, str(site)),
                           contracts.get(str(site), []))
        rec = summary["sites"][str(site)]["gti"]
        for key, val in (("gti_slice", score.gti_slice), ("gti_aggregate", score.gti_aggregate)):
            if abs(rec[key] - val) > VERIFY_ATOL:
                problems.append((key, str(site), rec[key], val))
        ratios.append(score.slices.assign(site=site)[["site", "time", "it_mwh", "r_dc"]])
    if "task_energy" not in run:
        return problems
    per_task = task_green_ratios(run["task_energy"], pd.concat(ratios, ignore_index=True))
    recorded = run["tasks"].set_index("task_id")["r_task"]
    # a task that never ran (a job still queued at the horizon) has no energy rows: R_task 0
    merged = per_task.set_index("task_id")["r_task"].reindex(recorded.index, fill_value=0.0)
    diff = np.abs(merged.to_numpy() - recorded.to_numpy())
    bad = ~(diff <= VERIFY_ATOL)
    for task in recorded.index[bad][:10]:
        problems.append(("r_task", str(task), float(recorded[task]), float(merged[task])))
    return problems
