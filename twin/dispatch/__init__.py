"""Dispatch strategies behind one protocol (:class:`twin.dispatch.base.Strategy`: ``prepare``,
``decide(observation) -> setpoints``, ``report``), and their registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from twin.dispatch.base import Observation, Setpoints, Strategy, StrategyOptions
from twin.dispatch.greedy import Greedy
from twin.dispatch.no_control import NoControl
from twin.dispatch.policy import PREFIX, load_policy
from twin.dispatch.threshold import Threshold


def _optimizers():
    # Pyomo and the LP families load only when an optimizer runs: a rule-based run does not
    # pay for them (benchmarks/run_year.py times the command)
    from twin.dispatch import optimizers

    return optimizers


class StrategyRegistry(Mapping):
    """Strategy name -> class, each class loaded on first use (``loaders``: name -> a function
    that returns the class)."""

    def __init__(self, loaders: dict[str, Callable[[], type]]):
        self._loaders = loaders

    def __getitem__(self, name: str) -> type:
        if name.startswith(PREFIX):  # your own: policy:<module>:<callable>
            return load_policy(name)
        return self._loaders[name]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)


#: Strategy name -> class. Adding a strategy adds one module and one line here.
REGISTRY = StrategyRegistry({"no_control": lambda: NoControl, "greedy": lambda: Greedy,
                             "threshold": lambda: Threshold,
                             "mpc": lambda: _optimizers().MPC,
                             "oracle": lambda: _optimizers().Oracle})


def unknown_strategy(name: str, err: KeyError | None = None) -> str:
    """Why ``name`` is not a strategy (a policy name's own problem, or the known names)."""
    if name.startswith(PREFIX) and err is not None and err.args:
        return f"strategy = {err.args[0]}"
    return (f"strategy = {name!r}: known strategies are {sorted(REGISTRY)}, or "
            "policy:<module or file.py>:<callable>")


def strategy_problem(name: str) -> str | None:
    """Why ``name`` cannot be run as a strategy (None: it can); a policy is loaded to see."""
    try:
        REGISTRY[name]
    except KeyError as err:
        return unknown_strategy(name, err)
    return None


def make_strategy(name: str, options: StrategyOptions | None = None) -> Strategy:
    """Instantiate a strategy by name; the error lists the known ones."""
    try:
        cls = REGISTRY[name]
    except KeyError as err:
        raise ValueError(unknown_strategy(name, err)) from None
    return cls(options) if options is not None else cls()


__all__ = ["REGISTRY", "Observation", "Setpoints", "Strategy", "StrategyOptions",
           "make_strategy", "strategy_problem", "unknown_strategy"]
