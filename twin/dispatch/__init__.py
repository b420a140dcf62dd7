"""Dispatch strategies sharing ``decide(observation) -> setpoints``, and their registry."""

from __future__ import annotations

from twin.dispatch.base import Observation, Setpoints, Strategy
from twin.dispatch.greedy import Greedy

#: Strategy name -> class. Adding a strategy adds one module and one line here.
REGISTRY: dict[str, type] = {"greedy": Greedy}


def make_strategy(name: str) -> Strategy:
    """Instantiate a strategy by name; the error lists the known ones."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise ValueError(f"strategy = {name!r}: known strategies are {sorted(REGISTRY)}") from None


__all__ = ["REGISTRY", "Observation", "Setpoints", "Strategy", "make_strategy"]
