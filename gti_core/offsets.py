"""Per-inference offsets: what each request's tokens carry and must offset (spec sections 7, 11).

A request is part of its slice's interactive task; it takes the share of that task's IT energy
(its share of idle IT included, spec section 7) that its GPU work is of the task's:
``e_r = e_k(s,t) * work_r / sum_{r in k} work_r``. Per request:

- ``it_mwh = e_r``; ``facility_mwh = e_r * facility / it`` (the slice's cooling and aux);
- ``r_dc``, the green share of its slice (spec section 6), and
  ``unmatched_it_mwh = e_r * (1 - r_dc)``: what physical green and contracts left uncovered,
  the volume a provider retires certificates for to offset it;
- ``emissions_location_kg = e_r * (facility / it) * ci_location`` (spec section 11).

When a slice's requests are all its tasks, they carry the whole slice: their unmatched energy
adds up to ``it - g_it - g_contract`` of the slice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns a request table needs: its task (``task_id``) and a GPU-work weight [J].
REQUEST_COLUMNS = ("task_id", "work_j")
#: Columns of each task's slice rows (from :func:`gti_core.tokens.with_idle_share` joined to the
#: slice's carbon, :func:`gti_core.emissions.site_carbon`).
TASK_ROW_COLUMNS = ("task_id", "site", "time", "it_with_idle_mwh", "r_dc", "facility_per_it",
                    "ci_location_kg_per_mwh")


def request_offsets(requests: pd.DataFrame, task_rows: pd.DataFrame) -> pd.DataFrame:
    """Each request's energy, green share, unmatched energy and emissions (module docstring).

    Parameters
    ----------
    requests : pandas.DataFrame
        :data:`REQUEST_COLUMNS` and any columns to keep (tokens, arrival time); each ``task_id``
        names a task that runs in one slice.
    task_rows : pandas.DataFrame
        :data:`TASK_ROW_COLUMNS`, one row per task: IT energy with idle [MWh], ``r_dc``
        [fraction], facility per IT energy [-], location-based intensity [kgCO2e/MWh].

    Returns
    -------
    pandas.DataFrame
        ``requests`` with ``site``, ``slice_time``, ``it_mwh``, ``facility_mwh``, ``r_dc``,
        ``green_it_mwh``, ``unmatched_it_mwh`` [MWh] and ``emissions_location_kg`` [kgCO2e].

    Raises
    ------
    ValueError
        A request whose task is not in ``task_rows``, a task with more than one row, or a
        negative or non-finite work.
    """
    missing = [c for c in TASK_ROW_COLUMNS if c not in task_rows.columns]
    if missing:
        raise ValueError(f"task rows: column {missing[0]!r} is missing")
    if task_rows["task_id"].duplicated().any():
        dup = task_rows.loc[task_rows["task_id"].duplicated(), "task_id"].iloc[0]
        raise ValueError(f"task {dup!r}: runs in more than one slice; requests split one "
                         "slice's task")
    work = requests["work_j"].to_numpy(float)
    if not np.isfinite(work).all() or (work < 0).any():
        i = int(np.flatnonzero(~(np.isfinite(work) & (work >= 0)))[0])
        raise ValueError(f"request row {i}: work_j = {work[i]}: must be finite and >= 0")
    rows = task_rows.set_index("task_id")
    unknown = ~requests["task_id"].isin(rows.index)
    if unknown.any():
        raise ValueError(f"request row {int(np.flatnonzero(unknown)[0])}: task "
                         f"{requests['task_id'][unknown].iloc[0]!r} is not a task of the run")
    task = rows.loc[requests["task_id"]]
    total = requests.groupby("task_id", sort=False)["work_j"].transform("sum").to_numpy(float)
    share = np.divide(work, total, out=np.zeros(len(work)), where=total > 0)
    it = share * task["it_with_idle_mwh"].to_numpy(float)
    r_dc = task["r_dc"].to_numpy(float)
    facility = it * task["facility_per_it"].to_numpy(float)
    green = it * r_dc
    return requests.assign(
        site=task["site"].to_numpy(), slice_time=task["time"].to_numpy(), it_mwh=it,
        facility_mwh=facility, r_dc=r_dc, green_it_mwh=green, unmatched_it_mwh=it - green,
        emissions_location_kg=facility * task["ci_location_kg_per_mwh"].to_numpy(float))


def allocate_certificates(unmatched_mwh: np.ndarray, volumes_mwh: np.ndarray) -> np.ndarray:
    """Certificate volume retired for each request, in order, from a pool of ``volumes_mwh``
    (in the order they are drawn): each request is offset in full while the pool lasts, the
    first it exhausts in part [MWh]. The result sums to ``min(sum unmatched, sum volumes)``."""
    need = np.maximum(np.asarray(unmatched_mwh, float), 0.0)
    pool = float(np.sum(volumes_mwh))
    before = np.concatenate(([0.0], np.cumsum(need)[:-1]))
    return np.clip(pool - before, 0.0, need)


def certificate_spans(retired_mwh: np.ndarray, volumes_mwh: np.ndarray) -> np.ndarray:
    """For each request, the position (in ``volumes_mwh``) of the certificate its offset
    starts in (-1: none retired for it)."""
    retired = np.asarray(retired_mwh, float)
    start = np.concatenate(([0.0], np.cumsum(retired)[:-1]))
    ends = np.cumsum(np.asarray(volumes_mwh, float))
    pos = np.searchsorted(ends, start, side="right")
    return np.where(retired > 0, np.minimum(pos, len(ends) - 1), -1)
