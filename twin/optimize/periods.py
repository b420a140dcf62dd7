"""Typical days for sizing: a year of slices stood for by a few days, chosen by ``tsam``.

``tsam`` (Kotzur et al., Forschungszentrum Jülich) clusters the horizon's days on the profiles
that drive a plant's size: PV and wind per MW, import price, grid green share, the non-IT share,
the IT load that cannot move and the GPU time left for batch work. Hierarchical clustering with
medoid representation, rescaled so that each profile keeps its mean over the horizon (tsam's
``preserve_column_means``): the sized plant sees the year's PV and wind energy, not the
medoids'.

**The days are the site's local days** (``first_slice``: the horizon's first local midnight,
:func:`local_day_start`), not UTC ones: a day of a site west of Greenwich cut at UTC midnight
ends in its own evening, so the evening's discharge of the afternoon's solar charge falls in
the next real day, another typical day, and every member of that cluster must discharge alike
whatever its previous day stored; the workload's day (its daily cycle, weekends, batch work
released at local midnight and due within the day) is cut in two the same way. The horizon is
read as a cycle, as the chronological LP reads it (its store ends where it started): the last
local day runs on into the first slices. Measured on the default scenario (issue 18), the
plants of 32, 48 and 128 local typical days cost 4.0, 0.8 and 0.6 % more than the
chronological optimum over every day, those of UTC days 6.0, 3.6 and 1.7 %; on
colorado_desert (UTC-7), 32 and 48 days 2.8 and 2.6 % against 8.1 and 5.3 %
(``benchmarks/sizing.py``, ``day_cut``).

What the typical days cannot hold, and how it is handled:

- **Storage** is linked across the chronological days the way Kotzur et al. (2018, "Time series
  aggregation for energy system design: modeling seasonal storage") link it: each typical day
  has an intra-day content that starts at 0, every real day has a start content that moves by
  its typical day's intra-day change, and the real day's start plus its typical day's lowest
  and highest intra-day points stay within the window (:func:`twin.optimize.sizing
  .add_linked_storage`). The green pool is linked the same way.
- **Batch work** is served within its typical day with a periodic backlog (the backlog at the
  day's end is the one it starts with); release and deadline profiles are the medoid day's,
  scaled so that the weighted days release the horizon's batch work.
- **Training** runs as it would without control (from its release, at full pace, queued for
  the training pool); its IT energy and GPU time join the profiles above. Pausing training is
  a dispatch decision that the full-year check at the chosen plant (``size --typical-days``)
  gives back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.workloads import first_slices_at
from twin.optimize.data import HorizonData


@dataclass(frozen=True)
class TypicalDays:
    """A horizon of ``days`` days stood for by ``k`` typical days of ``per_day`` slices.

    Attributes
    ----------
    assignments : numpy.ndarray
        Typical day of each real day, in order (length ``days``).
    weights : numpy.ndarray
        Real days each typical day stands for (length ``k``; sums to ``days``).
    medoids : numpy.ndarray
        Real day whose workload each typical day uses (length ``k``).
    rmse : dict of str to float
        tsam's root-mean-square error of each normalised profile over the horizon.
    first_slice : int
        Horizon slice at which real day 0 begins: real day ``j`` is slices ``first_slice + j *
        per_day`` onwards, the last one running on into the horizon's first slices.
    """

    per_day: int
    assignments: np.ndarray
    weights: np.ndarray
    medoids: np.ndarray
    rmse: dict
    first_slice: int = 0

    @property
    def k(self) -> int:
        return len(self.weights)

    @property
    def days(self) -> int:
        return len(self.assignments)

    def slice_weights(self) -> np.ndarray:
        """Real days per slice of the typical-day horizon (each slice of day k: weights[k])."""
        return np.repeat(self.weights, self.per_day)


def local_day_start(start: pd.Timestamp, utc_offset_h: float, dt_h: float) -> int:
    """The slice of a horizon starting at ``start`` (UTC) at which the first local day begins:
    the first slice that starts at the site's local midnight (``utc_offset_h``: local standard
    time), or the first after it where the offset is not a whole number of slices, as the
    workload's days begin (:func:`models.workloads.first_slices_at`)."""
    minutes = round(dt_h * 60)
    index = pd.date_range(start, periods=int(round(24.0 / dt_h)), freq=f"{minutes}min")
    return int(first_slices_at(index, utc_offset_h, minutes, 0.0)[0])


def rigid_training(d: HorizonData) -> tuple[np.ndarray, np.ndarray]:
    """IT energy [MWh] and GPU time [GPU-s] per slice of the training jobs run without control:
    each from its release at full pace until its tokens are trained, waiting in release order
    while the training pool is full."""
    it, gpu_s = np.zeros(d.n), np.zeros(d.n)
    busy = np.zeros(d.n)
    for tj in sorted(d.training, key=lambda j: j.release_slice):
        need = tj.required_tokens / tj.tokens_per_slice  # slices of running
        t = tj.release_slice
        while need > 1e-12 and t < d.n:
            if busy[t] + tj.gpus <= d.training_pool_gpus:
                share = min(1.0, need)
                busy[t] += tj.gpus
                it[t] += tj.it_mwh_per_slice * share
                gpu_s[t] += tj.gpu_s_per_slice * share
                need -= share
            t += 1
    return it, gpu_s


#: tsam's representations of a cluster that ``size --typical-days`` offers: a real day
#: (``medoid``), the members' mean, or a profile with the members' value distribution
#: (``distribution_minmax`` also keeps their extremes).
REPRESENTATIONS = ("medoid", "mean", "distribution", "distribution_minmax")


def _nearest_members(values: np.ndarray, assign: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """Per cluster, the member day whose profiles (days x features, normalised) lie nearest
    the cluster's representative: the real day whose workload stands for the cluster."""
    out = np.empty(len(rep), dtype=int)
    for c in range(len(rep)):
        members = np.flatnonzero(assign == c)
        out[c] = members[np.argmin(((values[members] - rep[c]) ** 2).sum(axis=1))]
    return out


def typical_days(d: HorizonData, cf_pv: np.ndarray, cf_wind: np.ndarray, k: int,
                 start: pd.Timestamp | None = None, representation: str = "medoid",
                 first_slice: int = 0) -> tuple[TypicalDays, HorizonData, np.ndarray,
                                                np.ndarray]:
    """Cluster the horizon's days into ``k`` typical days, each represented by tsam's
    ``representation`` (one of :data:`REPRESENTATIONS`); the days begin at slice
    ``first_slice`` of every 24 hours (the site's local midnight, :func:`local_day_start`).

    Returns
    -------
    (TypicalDays, HorizonData, numpy.ndarray, numpy.ndarray)
        The clustering, the LP data of the ``k`` typical days laid end to end (``k * per_day``
        slices, without training jobs: their rigid schedule is in ``it_base``), and the PV and
        wind availability per MW of those slices [MW/MW].
    """
    import tsam

    per_day = int(round(24.0 / d.dt_h))
    if d.n % per_day:
        raise ValueError(f"typical days need whole days: {d.n} slices of {d.dt_h} h is "
                         f"{d.n / per_day:.2f} days")
    days = d.n // per_day
    if not 1 <= k < days:
        raise ValueError(f"--typical-days = {k}: must lie between 1 and {days - 1} (the "
                         "horizon's days)")
    if representation not in REPRESENTATIONS:
        raise ValueError(f"--representation = {representation!r}: must be one of "
                         f"{list(REPRESENTATIONS)}")
    if not 0 <= first_slice < per_day:
        raise ValueError(f"first slice of a day = {first_slice}: must lie between 0 and "
                         f"{per_day - 1}")
    # the horizon's slices in real-day order: day j is order[j * per_day:(j + 1) * per_day]
    order = (np.arange(d.n) + first_slice) % d.n
    train_it, train_gpu_s = rigid_training(d)
    minutes = round(d.dt_h * 60)
    profiles = pd.DataFrame({
        "pv": cf_pv, "wind": cf_wind, "price": d.price_usd_per_mwh, "grid_share": d.grid_share,
        "nonit": d.nonit_per_it, "it_base": d.it_base_mwh + train_it,
        "free_gpu_s": np.maximum(d.free_gpu_s - train_gpu_s, 0.0),
    }).iloc[order].set_index(pd.date_range(
        pd.Timestamp(start or "2001-01-01") + pd.Timedelta(minutes=first_slice * minutes),
        periods=d.n, freq=f"{minutes}min"))
    # a profile that never changes (no wind, a flat price) carries no information and
    # tsam's normalisation divides by its range: keep it out of the clustering
    varying = [c for c in profiles if np.ptp(profiles[c].to_numpy()) > 0.0]
    agg = tsam.aggregate(profiles[varying], n_clusters=k, period_duration=24,
                         temporal_resolution=d.dt_h,
                         cluster=tsam.ClusterConfig(method="hierarchical",
                                                    representation=representation))
    assign = np.asarray(agg.cluster_assignments, dtype=int)
    weights = np.bincount(assign, minlength=k).astype(float)
    rep = agg.cluster_representatives
    col = {c: (rep[c].to_numpy() if c in varying else
               np.full(k * per_day, profiles[c].iloc[0])) for c in profiles}
    if agg.clustering.cluster_centers is not None:
        medoids = np.asarray(agg.clustering.cluster_centers, dtype=int)
    else:  # a synthetic representative: its nearest real day gives the workload
        span = {c: np.ptp(profiles[c].to_numpy()) for c in varying}
        norm = np.stack([profiles[c].to_numpy() / span[c] for c in varying], axis=1)
        rep_norm = np.stack([col[c] / span[c] for c in varying], axis=1)
        medoids = _nearest_members(norm.reshape(days, -1), assign,
                                   rep_norm.reshape(k, -1))
    # each typical day's batch work is its medoid's, scaled to the horizon's total
    slices = order[np.concatenate([np.arange(m * per_day, (m + 1) * per_day)
                                   for m in medoids])]
    rel, may_wait = d.release_gpu_s[slices], d.not_due_gpu_s[slices]
    represented = float(np.repeat(weights, per_day) @ rel)
    scale = float(d.release_gpu_s.sum()) / represented if represented > 0 else 0.0
    tp = TypicalDays(per_day=per_day, assignments=assign, weights=weights, medoids=medoids,
                     rmse={c: float(v) for c, v in agg.accuracy.rmse.items()},
                     first_slice=first_slice)
    data = dataclasses.replace(
        d, pv_avail_mwh=col["pv"] * d.dt_h, wind_avail_mwh=col["wind"] * d.dt_h,
        it_base_mwh=col["it_base"], nonit_per_it=col["nonit"], free_gpu_s=col["free_gpu_s"],
        release_gpu_s=rel * scale, not_due_gpu_s=may_wait * scale, backlog_init_gpu_s=0.0,
        price_usd_per_mwh=col["price"], grid_share=col["grid_share"],
        discharge_green_fraction=d.discharge_green_fraction[slices], training=[],
        training_pool_gpus=0, max_import_mwh=_days_of(d.max_import_mwh, slices),
        max_export_mwh=_days_of(d.max_export_mwh, slices),
        backup_mwh=None if d.backup_mwh is None else d.backup_mwh[slices], dr_calls=())
    return tp, data, col["pv"], col["wind"]


def _days_of(limit, slices: np.ndarray):
    """A POI limit on the typical days' slices (a scalar stays one)."""
    return limit if np.ndim(limit) == 0 else np.asarray(limit)[slices]
