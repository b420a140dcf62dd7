"""Dispatch strategies behind one protocol (:class:`twin.dispatch.base.Strategy`: ``prepare``,
``decide(observation) -> setpoints``, ``report``), and their registry."""

from __future__ import annotations

from twin.dispatch.base import Observation, Setpoints, Strategy, StrategyOptions
from twin.dispatch.greedy import Greedy
from twin.dispatch.no_control import NoControl
from twin.dispatch.optimizers import MPC, Oracle
from twin.dispatch.threshold import Threshold

#: Strategy name -> class. Adding a strategy adds one module and one line here.
REGISTRY: dict[str, type] = {"no_control": NoControl, "greedy": Greedy,
                             "threshold": Threshold, "mpc": MPC, "oracle": Oracle}


def make_strategy(name: str, options: StrategyOptions | None = None) -> Strategy:
    """Instantiate a strategy by name; the error lists the known ones."""
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise ValueError(f"strategy = {name!r}: known strategies are {sorted(REGISTRY)}") from None
    return cls(options) if options is not None else cls()


__all__ = ["REGISTRY", "Observation", "Setpoints", "Strategy", "StrategyOptions",
           "make_strategy"]
