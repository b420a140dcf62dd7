"""A Gymnasium environment of one site: an agent dispatches the twin slice by slice.

Each episode is a run of the scenario over ``episode_days`` (from a random day of the weather
year, seeded by ``reset(seed=...)``, or ``options={"start_day": d}``), through the same engine,
power flows, invariants and scoring as ``aidc-twin run``: at the start of every slice the agent
sees what the site's EMS sees (:class:`twin.dispatch.base.Observation`) and sets what a
strategy sets (:class:`twin.dispatch.base.Setpoints`). The engine runs in a worker thread that
hands each observation over and waits for the action: only one of the two runs at a time, so an
episode is as deterministic as a run.

Observation (``Box``, float32): :data:`OBSERVATION_FIELDS`, in that order. Action (``Box``,
float64, in [-1, 1] x [0, 1] x [0, 1]): the battery (-1 charges at the most it can this slice, +1
discharges at the most), the share of the GPU-seconds free for batch work that batch work gets,
and a pause of every pausable training job (>= 0.5). ``info["observation"]`` holds the raw
observation, so that a rule written against the EMS interface can act through the environment
(:func:`policy_from_strategy`).

Rewards (``reward``): ``cost`` is minus the slice's energy cost (import at its price, minus
export revenue) [k$]; ``gti`` is the slice's green IT energy (gti_core, spec sections 3-6: the
storage pools carry from slice to slice) [MWh]; ``mix`` is
``(green_it_mwh * green_value_usd_per_mwh - cost_usd) / 1000``. Every reward subtracts
``unserved_usd_per_mwh`` per MWh of load shed, and ``late_usd_per_gpu_h_per_h`` per GPU-hour of
batch work past its deadline (and per GPU of training behind its deadline) for each hour it
stays late, in k$ (``gti``: in MWh at ``green_value_usd_per_mwh``). The ``gti`` reward carries
the storage pools' totals from slice to slice, which is exact for the ``pooled`` storage rule;
contracts do not count per slice. Rewards see the site's bus as the engine settles it; where
the scenario models its grid connection, the run's meters (``result``) are those at the point
of interconnection, with the losses the power flow adds after the run.
"""

from __future__ import annotations

import dataclasses
import queue
import threading

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gti_core.meters import ENERGY_COLUMNS, OPTIONAL_ENERGY_COLUMNS
from twin.dispatch.base import Observation, RuleStrategy, Setpoints, StrategyOptions
from twin.dispatch.policy import action_from_setpoints, setpoints_from_action  # noqa: F401

METER_ENERGIES = (*ENERGY_COLUMNS, *OPTIONAL_ENERGY_COLUMNS)

#: The observation vector, from :class:`Observation` and the slice's time.
OBSERVATION_FIELDS = (
    "pv_avail_mwh", "wind_avail_mwh", "it_fixed_mwh", "it_mwh_per_batch_gpu_hour",
    "nonit_per_it", "free_gpu_hours", "batch_backlog_gpu_hours", "batch_due_gpu_hours",
    "soc_mwh", "max_charge_mwh", "max_discharge_mwh", "max_import_mwh", "max_export_mwh",
    "price_usd_per_mwh", "grid_share", "pausable_training_gpus", "training_slack_min_h",
    "hour_of_day_utc", "day_of_episode")
REWARDS = ("cost", "gti", "mix")
#: Bound of every observation (finite bounds: agents normalise with them) [field units].
OBSERVATION_BOUND = 1e9
_STOP = object()


class _EpisodeStopped(Exception):
    """The environment closed or reset in the middle of an episode."""


class _Handoff(RuleStrategy):
    """The strategy the engine runs during an episode: it hands each observation to the
    environment and returns the setpoints the agent chose."""

    name = "gym"

    def __init__(self, to_env: queue.Queue, from_env: queue.Queue,
                 options: StrategyOptions | None = None):
        super().__init__(options)
        self.to_env, self.from_env = to_env, from_env

    def prepare(self, inp) -> None:
        self.inputs = inp  # read by the environment once the first observation arrives

    def decide(self, obs: Observation) -> Setpoints:
        self.to_env.put(("obs", obs))
        sp = self.from_env.get()
        if sp is _STOP:
            raise _EpisodeStopped()
        return sp


def observation_vector(obs: Observation, slice_minutes: int, start_slice: int) -> np.ndarray:
    """The observation as :data:`OBSERVATION_FIELDS` (GPU time in GPU-hours) [float32]."""
    pausable = sum(t.gpus for t in obs.training if t.pausable and t.state != "queued")
    slack = min((t.slack_s for t in obs.training), default=np.inf) / 3600.0
    minute = (start_slice + obs.slice_index) * slice_minutes
    values = (obs.pv_avail_mwh, obs.wind_avail_mwh, obs.it_fixed_mwh,
              obs.it_mwh_per_batch_gpu_second * 3600.0, obs.nonit_per_it,
              obs.free_gpu_seconds / 3600.0, obs.batch_backlog_gpu_seconds / 3600.0,
              obs.batch_due_gpu_seconds / 3600.0, obs.soc_mwh, obs.max_charge_mwh,
              obs.max_discharge_mwh, obs.max_import_mwh, obs.max_export_mwh,
              obs.price_usd_per_mwh, obs.grid_share, float(pausable), slack,
              (minute % 1440) / 60.0, obs.slice_index * slice_minutes / 1440.0)
    return np.clip(np.asarray(values, dtype=np.float64), -OBSERVATION_BOUND,
                   OBSERVATION_BOUND).astype(np.float32)


def policy_from_strategy(strategy):
    """A policy ``(observation vector, info) -> action`` that acts as a dispatch strategy
    (a rule such as :class:`twin.dispatch.greedy.Greedy`) on ``info["observation"]``; it
    passes the strategy's setpoints through unchanged, so an episode gives the rule's run."""
    def policy(_vector, info):
        return strategy.decide(info["observation"])

    return policy


@dataclasses.dataclass(frozen=True)
class RewardSettings:
    """What a slice is worth to the agent (module docstring)."""

    kind: str = "cost"
    green_value_usd_per_mwh: float = 100.0
    unserved_usd_per_mwh: float = 10_000.0
    late_usd_per_gpu_h_per_h: float = 10.0

    def __post_init__(self) -> None:
        if self.kind not in REWARDS:
            raise ValueError(f"reward = {self.kind!r}: one of {list(REWARDS)}")
        for name in ("green_value_usd_per_mwh", "unserved_usd_per_mwh", "late_usd_per_gpu_h_per_h"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} = {value}: must be finite and >= 0")


class AidcTwinEnv(gym.Env):
    """One site of a scenario as a Gymnasium environment (module docstring).

    Parameters
    ----------
    scenario : Scenario, str or Path
        A one-site scenario (its ``strategy`` is not used), or its YAML file.
    episode_days : int
        Days per episode [d].
    random_start : bool
        Start each episode on a random day of the weather year (seeded by ``reset``); else
        on the scenario's ``horizon_start_day``.
    reward : str
        ``cost``, ``gti`` or ``mix``.
    **reward_options
        :class:`RewardSettings` fields: ``green_value_usd_per_mwh``,
        ``unserved_usd_per_mwh``, ``late_usd_per_gpu_h_per_h``.
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario, episode_days: int = 7, random_start: bool = True,
                 reward: str = "cost", **reward_options):
        from twin.scenario import Scenario, load

        scn = scenario if isinstance(scenario, Scenario) else load(scenario)
        if len(scn.sites) != 1 or scn.fleet is not None:
            raise ValueError("scenario: the environment dispatches one site (a fleet's routing "
                             "is not an action yet)")
        if scn.lifetime is not None:
            raise ValueError("scenario.lifetime: an episode is one run; drop the block")
        if not 1 <= int(episode_days) <= 365:
            raise ValueError(f"episode_days = {episode_days}: must lie in [1, 365]")
        self.scenario, self.episode_days = scn, int(episode_days)
        self.random_start = bool(random_start)
        self.rewards = RewardSettings(reward, **reward_options)
        n_obs = len(OBSERVATION_FIELDS)
        self.observation_space = spaces.Box(-OBSERVATION_BOUND, OBSERVATION_BOUND, (n_obs,),
                                            np.float32)
        self.action_space = spaces.Box(np.array([-1.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0]),
                                       dtype=np.float64)  # float64: a rule's setpoints exactly
        self.result = None  # the finished episode's run (twin.run.RunResult)
        self._thread: threading.Thread | None = None

    # --- episodes ------------------------------------------------------------------------------
    def episode_scenario(self, start_day: int):
        """The scenario of an episode from ``start_day`` of the weather year."""
        from twin.scenario import from_dict

        raw = self.scenario.model_dump(mode="json", exclude={"base_dir"})
        raw.update(horizon_days=self.episode_days, horizon_start_day=int(start_day))
        return from_dict(raw, self.scenario.base_dir)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._stop()
        latest = 365 - self.episode_days
        if options and "start_day" in options:
            start = int(options["start_day"])
            if not 0 <= start <= latest:
                raise ValueError(f"start_day = {start}: must lie in [0, {latest}]")
        elif self.random_start:
            start = int(self.np_random.integers(0, latest + 1))
        else:
            start = min(self.scenario.horizon_start_day, latest)
        self.start_day, self.result = start, None
        self._start(self.episode_scenario(start))
        first = self._next()
        if first[0] != "obs":
            raise RuntimeError(f"the episode ended before its first slice: {first[1]!r}")
        self._obs = first[1]
        self._pools = None
        self._params = None
        return self._vector(self._obs), self._info(self._obs)

    def step(self, action):
        if self._thread is None or self.result is not None:
            raise RuntimeError("step() before reset(), or after the episode ended")
        obs = self._obs
        self._to_engine.put(setpoints_from_action(action, obs))
        msg = self._next()
        if msg[0] == "obs":
            row, self._obs = msg[1].previous, msg[1]
            reward = self._reward(obs, row, late_after=msg[1])
            return self._vector(msg[1]), reward, False, False, self._info(msg[1])
        self.result = msg[1]
        row = self._last_row(self.result)
        return (self._vector(obs), self._reward(obs, row, late_after=None), True, False,
                self._info(obs))

    def close(self) -> None:
        self._stop()

    # --- the engine's thread -------------------------------------------------------------------
    def _start(self, scn) -> None:
        from twin.run import simulate

        self._to_env, self._to_engine = queue.Queue(), queue.Queue()
        self._scn = scn

        self._handoff = None

        def make(opts: StrategyOptions) -> _Handoff:
            self._handoff = _Handoff(self._to_env, self._to_engine, opts)
            return self._handoff

        def work() -> None:
            try:
                res = simulate(scn, "gym", make=make)
                self._to_env.put(("done", res))
            except _EpisodeStopped:
                self._to_env.put(("stopped", None))
            except BaseException as err:  # noqa: BLE001  (handed to the caller's thread)
                self._to_env.put(("error", err))

        self._thread = threading.Thread(target=work, name="aidc-twin episode", daemon=True)
        self._thread.start()

    def _next(self):
        msg = self._to_env.get()
        if msg[0] == "error":
            self._thread = None
            raise msg[1]
        return msg

    def _stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            if self.result is None:
                self._to_engine.put(_STOP)
            self._thread.join()
        self._thread = None

    # --- observations and rewards --------------------------------------------------------------
    def _vector(self, obs: Observation) -> np.ndarray:
        start_slice = self.start_day * 1440 // self.scenario.slice_minutes
        return observation_vector(obs, self.scenario.slice_minutes, start_slice)

    def _info(self, obs: Observation) -> dict:
        return {"observation": obs, "start_day": self.start_day}

    def _reward(self, obs: Observation, row, late_after: Observation | None) -> float:
        r = self.rewards
        export_price = self.scenario.sites[0].grid.tariff.export_usd_per_mwh
        cost = obs.price_usd_per_mwh * row.grid_import_mwh - export_price * row.grid_export_mwh
        penalty = r.unserved_usd_per_mwh * row.unserved_mwh
        if late_after is not None:
            penalty += r.late_usd_per_gpu_h_per_h * late_gpu_h(late_after) * obs.dt_h
        if r.kind == "cost":
            return float(-(cost + penalty) / 1000.0)
        green = self._green_it_mwh(obs, row)
        if r.kind == "gti":
            value = r.green_value_usd_per_mwh
            return float(green - (penalty / value if value > 0 else 0.0))
        return float((green * r.green_value_usd_per_mwh - cost - penalty) / 1000.0)

    def _green_it_mwh(self, obs: Observation, row) -> float:
        """Green IT energy of the slice by gti_core, the storage pools carried over."""
        import pandas as pd

        from gti_core.score import score_site
        from twin.run import accounting_params

        if self._params is None:  # the episode's accounting, once
            self._params = accounting_params(self._scn, self._handoff.inputs)
        params = self._params
        if self._pools is not None:
            green, grey = self._pools
            total = green + grey
            storage = dataclasses.replace(
                params.storage, initial_soc_mwh=total,
                initial_green_fraction=green / total if total > 0 else 0.0)
            params = dataclasses.replace(params, storage=storage)
        meters = pd.DataFrame([row.values()], columns=list(METER_ENERGIES))
        meters.insert(0, "time", pd.Timestamp(0, tz="UTC") + pd.Timedelta(
            minutes=obs.slice_index * self._scn.slice_minutes))
        meters.insert(1, "site", self._scn.sites[0].name)
        meters.insert(2, "grid_share", obs.grid_share)
        sl = score_site(meters, params).slices.iloc[0]
        self._pools = (float(sl["soc_green_mwh"]), float(sl["soc_grey_mwh"]))
        return float(sl["g_it"])

    @staticmethod
    def _last_row(result):
        from models.site import MeterRow

        last = result.meters.iloc[-1]
        return MeterRow(*(float(last[c]) for c in MeterRow._fields))


def late_gpu_h(obs: Observation) -> float:
    """Work behind its deadline at the start of ``obs``'s slice, in GPU-hours of work per hour
    of delay: batch work past its deadline [GPU-h], and the GPUs of training jobs whose slack
    is negative (each GPU an hour behind per hour) [GPU]."""
    batch = sum(rem for deadline, rem in obs.batch_queue if deadline < obs.slice_index) / 3600
    training = sum(t.gpus for t in obs.training if t.slack_s < 0)
    return float(batch + training)
