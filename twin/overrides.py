"""Scenario fields replaced by their dotted paths: what bench suites and sweeps vary."""

from __future__ import annotations

import copy

from twin.scenario import ScenarioError


def with_overrides(raw: dict, overrides: dict) -> dict:
    """A copy of a scenario mapping with fields replaced by their dotted paths.

    ``{"sites.0.battery.energy_mwh": 400, "horizon_days": 14}`` sets the first site's battery
    energy and the horizon; a list element is named by its position. The last part may name a
    field the file leaves at its default; every part before it must exist. The result still
    has to pass :func:`from_dict`, which names a field that does not exist.
    """
    out = copy.deepcopy(raw)
    for path, value in overrides.items():
        parts = str(path).split(".")
        node = out
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[:depth]) or "the scenario"
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(f"{path}: {where} is a list of {len(node)}, "
                                        f"{part!r} is not a position in it")
                key = int(part)
            elif isinstance(node, dict):
                key = part
                if not last and node.get(key) is None:
                    node[key] = {}  # a block the file leaves at its defaults
            else:
                raise ScenarioError(f"{path}: {where} is a value, not a block")
            if last:
                node[key] = copy.deepcopy(value)
            else:
                node = node[key]
    return out
