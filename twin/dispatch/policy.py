"""Your own dispatch policy as a strategy: ``policy:<module>:<callable>``.

``<module>`` is an importable module (``mypkg.policies``) or a Python file
(``path/to/policies.py``); ``<callable>`` is either a class with ``decide(observation)`` (and, if it
likes, ``prepare(inputs)`` and ``report()``; built with the run's :class:`StrategyOptions` when
its constructor takes an argument), or a function of the :class:`Observation` that returns
:class:`Setpoints`, or an action of the Gymnasium environment (three numbers: battery in
[-1, 1], the share of free GPU time for batch work, pause training >= 0.5;
:func:`setpoints_from_action`). ``aidc-twin run --strategy`` and ``aidc-twin bench
--strategies`` take such names beside the built-in ones.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path

import numpy as np

from twin.dispatch.base import Observation, RuleStrategy, Setpoints

PREFIX = "policy:"


def setpoints_from_action(action, obs: Observation) -> Setpoints:
    """The setpoints an action asks for: battery (-1 charges at the most this slice allows,
    +1 discharges at the most), the share of the free GPU-seconds batch work gets, and a
    pause of every pausable training job (>= 0.5). Setpoints pass through unchanged."""
    if isinstance(action, Setpoints):
        return action
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.isfinite(a).all():
        raise ValueError(f"action = {action!r}: three finite numbers (battery, batch, pause)")
    bat, batch = float(np.clip(a[0], -1.0, 1.0)), float(np.clip(a[1], 0.0, 1.0))
    paused = (frozenset(t.job_id for t in obs.training if t.pausable) if a[2] >= 0.5
              else frozenset())
    return Setpoints(batch * obs.free_gpu_seconds, max(-bat, 0.0) * obs.max_charge_mwh,
                     max(bat, 0.0) * obs.max_discharge_mwh, paused)


def action_from_setpoints(sp: Setpoints, obs: Observation) -> np.ndarray:
    """The action that asks for ``sp``, within what an action can say (a pause of some
    training jobs pauses every pausable one) [float64: exact to the last bit]."""
    def share(x: float, of: float) -> float:
        return min(x / of, 1.0) if of > 0 else 0.0

    bat = share(sp.bess_discharge_mwh, obs.max_discharge_mwh) - share(sp.bess_charge_mwh,
                                                                       obs.max_charge_mwh)
    return np.array([bat, share(sp.batch_gpu_seconds, obs.free_gpu_seconds),
                     1.0 if sp.pause_training else 0.0], dtype=np.float64)


class CallablePolicy(RuleStrategy):
    """A function of the observation as a strategy (its setpoints, or an action)."""

    function = staticmethod(lambda obs: Setpoints(0.0, 0.0, 0.0))

    def decide(self, obs: Observation) -> Setpoints:
        return setpoints_from_action(self.function(obs), obs)


class ClassPolicy(RuleStrategy):
    """A policy class as a strategy: built with the run's options when its constructor takes
    an argument; its ``prepare`` and ``report`` are called where it has them."""

    policy: type = object

    def __init__(self, options=None):
        super().__init__(options)
        takes = len(inspect.signature(self.policy).parameters) > 0
        self.instance = self.policy(self.options) if takes else self.policy()

    def prepare(self, inp) -> None:
        if callable(getattr(self.instance, "prepare", None)):
            self.instance.prepare(inp)

    def decide(self, obs: Observation) -> Setpoints:
        return setpoints_from_action(self.instance.decide(obs), obs)

    def report(self) -> dict:
        report = getattr(self.instance, "report", None)
        return dict(report()) if callable(report) else {}


def _module(spec: str, name: str):
    if spec.endswith(".py"):
        path = Path(spec)
        if not path.is_file():
            raise KeyError(f"{name!r}: no such file {spec!r}")
        loader = importlib.util.spec_from_file_location(f"aidc_twin_policy_{path.stem}", path)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as err:
        raise KeyError(f"{name!r}: module {spec!r} cannot be imported ({err})") from None


def load_policy(name: str) -> type:
    """The strategy class a ``policy:module:callable`` name stands for; a KeyError says what
    is wrong with the name."""
    parts = name[len(PREFIX):].rsplit(":", 1) if name.startswith(PREFIX) else []
    if len(parts) != 2 or not all(parts):
        raise KeyError(f"{name!r}: a policy is named policy:<module or file.py>:<callable>")
    module = _module(parts[0], name)
    target = module
    for attr in parts[1].split("."):
        target = getattr(target, attr, None)
        if target is None:
            raise KeyError(f"{name!r}: {parts[0]!r} has no {parts[1]!r}")
    if inspect.isclass(target):
        if not callable(getattr(target, "decide", None)):
            raise KeyError(f"{name!r}: class {parts[1]!r} has no decide(observation)")
        return type(f"Policy_{parts[1]}", (ClassPolicy,), {"name": name, "policy": target})
    if not callable(target):
        raise KeyError(f"{name!r}: {parts[1]!r} is not callable")
    return type(f"Policy_{parts[1]}", (CallablePolicy,),
                {"name": name, "function": staticmethod(target)})
