"""Tasks and tokens (spec section 7): the green ratio each task's tokens carry."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns of a task-energy table: one row per task, site and slice.
TASK_ENERGY_COLUMNS = ("task_id", "site", "time", "it_mwh", "tokens_in", "tokens_out")


def with_idle_share(task_energy: pd.DataFrame, slices: pd.DataFrame) -> pd.DataFrame:
    """Task energy rows joined to their slice, with the slice's idle IT energy shared out.

    IT energy no task claims (idle servers) is shared among the slice's tasks in proportion to
    their energy (spec section 7): ``it_with_idle_mwh = e_k(s,t) * it(s,t) / sum_k e_k(s,t)``.

    Parameters
    ----------
    task_energy : pandas.DataFrame
        Columns :data:`TASK_ENERGY_COLUMNS`: IT energy [MWh] and tokens [count] per task and slice.
    slices : pandas.DataFrame
        ``site``, ``time``, ``it_mwh`` [MWh], ``r_dc`` [fraction] and any further per-slice
        columns the caller needs (for example ``grid_carbon_kg_per_mwh``).

    Returns
    -------
    pandas.DataFrame
        ``task_energy`` with the slice's columns (its ``it_mwh`` as ``slice_it_mwh``) and
        ``it_with_idle_mwh`` [MWh].
    """
    missing = [c for c in TASK_ENERGY_COLUMNS if c not in task_energy.columns]
    if missing:
        raise ValueError(f"task table: column {missing[0]!r} is missing")
    te = task_energy.merge(slices.rename(columns={"it_mwh": "slice_it_mwh"}),
                           on=["site", "time"], how="left", validate="many_to_one")
    if te["r_dc"].isna().any():
        row = te[te["r_dc"].isna()].iloc[0]
        raise ValueError(
            f"task {row['task_id']!r}: no meter row for site {row['site']!r} at {row['time']}"
        )
    claimed = te.groupby(["site", "time"], sort=False)["it_mwh"].transform("sum").to_numpy()
    share = np.divide(te["slice_it_mwh"].to_numpy(), claimed, out=np.ones(len(te)),
                      where=claimed > 0)
    te["it_with_idle_mwh"] = te["it_mwh"].to_numpy() * share
    return te


def ratios_per_task(expanded: pd.DataFrame) -> pd.DataFrame:
    """``R_task`` per task from :func:`with_idle_share` rows.

    The white paper prints ``sum[w_i / (W * R_dc_i)]``, a typo that can exceed 1 and divides by
    zero at ``R_dc = 0``; the spec (section 7) uses the energy-weighted mean
    ``R_task(k) = sum_{s,t} e_k(s,t) * R_dc(s,t) / sum_{s,t} e_k(s,t)``, which this computes, with
    ``e_k`` including the task's share of idle IT energy.

    Returns
    -------
    pandas.DataFrame
        One row per task: ``task_id``, ``tokens_in``, ``tokens_out``, ``it_mwh`` (metered task
        energy) [MWh], ``it_with_idle_mwh`` [MWh] and ``r_task`` [fraction].
    """
    te = expanded.assign(weighted=expanded["it_with_idle_mwh"] * expanded["r_dc"])
    per_task = te.groupby("task_id", sort=False)[
        ["tokens_in", "tokens_out", "it_mwh", "it_with_idle_mwh", "weighted"]
    ].sum()
    e = per_task["it_with_idle_mwh"].to_numpy()
    per_task["r_task"] = np.divide(per_task["weighted"].to_numpy(), e, out=np.zeros(len(e)),
                                   where=e > 0)
    return per_task.drop(columns="weighted").reset_index()


def task_green_ratios(task_energy: pd.DataFrame, slice_ratios: pd.DataFrame) -> pd.DataFrame:
    """``R_task`` for every task (see :func:`ratios_per_task`).

    Parameters
    ----------
    task_energy : pandas.DataFrame
        Columns :data:`TASK_ENERGY_COLUMNS`.
    slice_ratios : pandas.DataFrame
        Columns ``site``, ``time``, ``it_mwh`` [MWh] and ``r_dc`` [fraction] per site and slice.
    """
    cols = ["site", "time", "it_mwh", "r_dc"]
    return ratios_per_task(with_idle_share(task_energy, slice_ratios[cols]))


def token_gti(tasks: pd.DataFrame, ratio: str = "r_task") -> float:
    """``GTI_token = sum_k E_k * R_task(k) / sum_k E_k`` over tasks [fraction] (spec section 7)."""
    e = tasks["it_with_idle_mwh"].to_numpy()
    total = e.sum()
    return float((e * tasks[ratio].to_numpy()).sum() / total) if total > 0 else 0.0


def token_weighted_gti(tasks: pd.DataFrame, ratio: str = "r_task") -> dict[str, float]:
    """The green share carried by input and by output tokens, apart [fraction].

    Every token of task ``k`` carries ``R_task(k)``; over many tasks the input-token GTI is
    ``sum_k tokens_in(k) * R_task(k) / sum_k tokens_in(k)``, and likewise for output tokens.
    """
    out = {}
    for col in ("tokens_in", "tokens_out"):
        n = tasks[col].to_numpy(float)
        total = n.sum()
        out[f"gti_{col}"] = float((n * tasks[ratio].to_numpy()).sum() / total) if total else 0.0
    return out


def task_aggregate_ratios(task_energy: pd.DataFrame, site_gti_aggregate: dict[str, float]
                          ) -> pd.Series:
    """Aggregate method: every task at site ``s`` carries ``GTI_agg(s)`` of the period; a task at
    several sites carries the energy-weighted mean of their values [fraction]."""
    te = task_energy[["task_id", "site", "it_mwh"]].copy()
    te["w"] = te["it_mwh"] * te["site"].map(site_gti_aggregate).astype(float)
    sums = te.groupby("task_id", sort=False)[["w", "it_mwh"]].sum()
    e = sums["it_mwh"].to_numpy()
    return pd.Series(np.divide(sums["w"].to_numpy(), e, out=np.zeros(len(e)), where=e > 0),
                     index=sums.index, name="r_task_aggregate")
