"""The one interface every dispatch strategy implements: :class:`Strategy`.

The engine calls ``prepare(inputs)`` once before the first slice and ``decide(observation)``
every slice; ``run`` calls ``report()`` after the run and puts what it returns (plans, solver
timings; empty for rules) in ``summary.json``. :class:`RuleStrategy` gives the rules that plan
nothing ahead the first and the last.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from models.site import MeterRow

if TYPE_CHECKING:
    from twin.inputs import SiteInputs


class TrainingStatus(NamedTuple):
    """A released, unfinished training job as the EMS sees it at the start of a slice.

    Attributes
    ----------
    job_id : str
    state : str
        ``queued`` (waiting for GPUs), ``running`` (computing, checkpointing or reloading),
        ``releasing`` or ``paused``.
    gpus : int
    pausable : bool
    remaining_s : float
        Compute time it still needs on its GPUs [s].
    slack_s : float
        Time to its deadline minus the compute it still needs [s] (inf without a deadline).
    it_mwh_per_slice : float
        IT energy of a slice of it running [MWh].
    """

    job_id: str
    state: str
    gpus: int
    pausable: bool
    remaining_s: float
    slack_s: float
    it_mwh_per_slice: float


class Observation(NamedTuple):
    """What the EMS knows at the start of a slice (immutable; a named tuple, since the engine
    makes one every slice).

    Facility energy is linear in the GPU-seconds given to batch work ``b``:
    ``facility(b) = (it_fixed_mwh + b * it_mwh_per_batch_gpu_second) * (1 + nonit_per_it)``.

    Attributes
    ----------
    slice_index : int
    dt_h : float
        Slice length [h].
    pv_avail_mwh, wind_avail_mwh : float
        Renewable energy available this slice [MWh].
    it_fixed_mwh : float
        IT energy with no batch work: interactive inference, the training jobs running now,
        and all other GPUs idle [MWh].
    it_mwh_per_batch_gpu_second : float
        Extra IT energy per GPU-second of batch work [MWh/s].
    nonit_per_it : float
        Cooling and aux energy per IT energy this slice [fraction].
    free_gpu_seconds : float
        GPU-seconds not taken by interactive inference or running training jobs [s].
    batch_backlog_gpu_seconds : float
        GPU-seconds the released, unfinished batch jobs still need [s].
    batch_due_gpu_seconds : float
        Of those, GPU-seconds needed by jobs whose deadline is the end of this slice [s].
    soc_mwh : float
        Battery content at the start of the slice [MWh].
    max_charge_mwh, max_discharge_mwh : float
        Battery limits this slice at the bus [MWh] (0 without a battery).
    max_import_mwh, max_export_mwh : float
        Point-of-interconnection limits this slice [MWh].
    price_usd_per_mwh : float
        Import price [$/MWh].
    grid_share : float
        Renewable share of the grid [fraction].
    training : tuple of TrainingStatus
        Released, unfinished training jobs.
    batch_queue : tuple of (int, float)
        Released, unfinished batch jobs: (deadline slice, GPU-seconds still needed).
    previous : MeterRow or None
        The previous slice's meter row, None in slice 0.
    """

    slice_index: int
    dt_h: float
    pv_avail_mwh: float
    wind_avail_mwh: float
    it_fixed_mwh: float
    it_mwh_per_batch_gpu_second: float
    nonit_per_it: float
    free_gpu_seconds: float
    batch_backlog_gpu_seconds: float
    batch_due_gpu_seconds: float
    soc_mwh: float
    max_charge_mwh: float
    max_discharge_mwh: float
    max_import_mwh: float
    max_export_mwh: float
    price_usd_per_mwh: float
    grid_share: float
    training: tuple[TrainingStatus, ...] = ()
    batch_queue: tuple[tuple[int, float], ...] = ()
    previous: MeterRow | None = None

    def facility_mwh(self, batch_gpu_seconds: float) -> float:
        """Facility energy if batch work gets ``batch_gpu_seconds`` [MWh]."""
        it = self.it_fixed_mwh + batch_gpu_seconds * self.it_mwh_per_batch_gpu_second
        return it * (1.0 + self.nonit_per_it)


@dataclass(frozen=True)
class Setpoints:
    """What a strategy asks of the site for one slice.

    Attributes
    ----------
    batch_gpu_seconds : float
        GPU-seconds to give batch work [s] (the site caps it at free GPUs and the backlog).
    bess_charge_mwh, bess_discharge_mwh : float
        Battery energy from / to the bus [MWh] (the site caps them at the battery's limits).
    pause_training : frozenset of str
        Training jobs to pause, or keep paused, this slice; every other one runs (a job that is
        not pausable runs regardless).
    """

    batch_gpu_seconds: float
    bess_charge_mwh: float
    bess_discharge_mwh: float
    pause_training: frozenset[str] = frozenset()


def batch_must_run_gpu_s(obs: Observation, future_share: float = 0.8) -> float:
    """Least batch GPU time this slice that keeps every deadline reachable [GPU-s].

    For each deadline ``D`` in the queue, the work due by ``D`` minus what the slices between
    now and ``D`` can serve, counting each at ``future_share`` of this slice's free GPUs (a
    margin for interactive peaks to come).
    """
    need, due = 0.0, 0.0
    for deadline, remaining in sorted(obs.batch_queue):
        due += remaining
        later = max(deadline - obs.slice_index - 1, 0) * future_share * obs.free_gpu_seconds
        need = max(need, due - later)
    return min(need, obs.free_gpu_seconds)


class Strategy(Protocol):
    """What the engine and ``run`` call on a strategy.

    Attributes
    ----------
    name : str
        Its registry name.
    options : StrategyOptions
        What it was told besides the observations.
    """

    name: str
    options: StrategyOptions

    def prepare(self, inp: SiteInputs) -> None:
        """See the run's inputs before the first slice (plan ahead, rank days, ...)."""

    def decide(self, obs: Observation) -> Setpoints:
        """Setpoints for the slice ``obs`` describes."""

    def report(self) -> dict:
        """What the strategy did besides its setpoints, for ``summary.json`` (may be empty)."""


class RuleStrategy(ABC):
    """A strategy that needs no preparation and has nothing to report: subclasses give
    ``name`` and ``decide``."""

    name = "rule"

    def __init__(self, options: StrategyOptions | None = None):
        self.options = options or StrategyOptions()

    def prepare(self, inp: SiteInputs) -> None:
        return None

    @abstractmethod
    def decide(self, obs: Observation) -> Setpoints:
        """Setpoints for the slice ``obs`` describes."""

    def report(self) -> dict:
        return {}


@dataclass(frozen=True)
class StrategyOptions:
    """What a strategy may be told besides the observations.

    Attributes
    ----------
    objective : str
        ``cost`` (import cost - export revenue) or ``gti`` (time-slice GTI).
    gti_target : float or None
        With ``cost``: the cheapest operation whose time-slice GTI reaches it (oracle, mpc).
    accounting : gti_core.score.AccountingParams or None
        The run's alpha and storage rule (the optimizers plan green with them).
    mpc_horizon_h, mpc_step_h : float
        Look-ahead and re-planning interval of ``mpc`` [h].
    forecast : str
        ``perfect``, ``persistence`` (each value as 24 h earlier) or ``noisy`` (perfect times
        seeded log-normal noise of ``forecast_noise_sigma``), for ``mpc``.
    forecast_noise_sigma : float
    seed : int
    low_quantile, high_quantile : float
        ``threshold``: a slice is cheap (green) below the day's low quantile of price (above the
        high quantile of grid share) and dear (brown) beyond the other.
    """

    objective: str = "cost"
    gti_target: float | None = None
    accounting: object = None
    mpc_horizon_h: float = 48.0
    mpc_step_h: float = 1.0
    forecast: str = "perfect"
    forecast_noise_sigma: float = 0.1
    seed: int = 0
    low_quantile: float = 0.25
    high_quantile: float = 0.75
