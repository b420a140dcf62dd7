"""On-site backup generation: diesel gensets.

A genset bank of ``units`` sets of ``unit_mw`` covers what the bus still lacks once renewables,
the battery and the grid (when it is up) have given theirs. It runs the fewest sets that cover
that need; a running set delivers at least ``min_load_fraction`` of its rating, and what that
floor gives beyond the need charges the battery where it has room (a set that cannot find load
for its floor runs below it, and the hours it does are counted). Fuel is burnt at
``fuel_l_per_mwh`` per MWh delivered, from a tank that holds ``tank_hours`` of every set at its
rating; an empty tank stops the bank. Each MWh carries ``emission_kg_per_mwh``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GensetParams:
    """A genset bank in the units the dispatch uses."""

    units: int
    unit_mw: float
    min_load_fraction: float
    start_delay_s: float
    fuel_l_per_mwh: float
    emission_kg_per_mwh: float
    tank_l: float
    fuel_usd_per_l: float = 0.0

    @property
    def rating_mw(self) -> float:
        return self.units * self.unit_mw


def genset_params(cfg) -> GensetParams:
    """Build :class:`GensetParams` from a scenario ``GensetConfig``."""
    return GensetParams(cfg.units, cfg.unit_mw, cfg.min_load_fraction, cfg.start_delay_s,
                        cfg.fuel_l_per_mwh, cfg.emission_kg_per_mwh,
                        cfg.tank_hours * cfg.units * cfg.unit_mw * cfg.fuel_l_per_mwh,
                        cfg.fuel_usd_per_l)


@dataclass(frozen=True)
class GensetDispatch:
    """A genset bank's part of one interval: energy to the bus [MWh], of which to the battery
    beyond the need [MWh], sets running, and whether they ran below their floor."""

    energy_mwh: float
    extra_charge_mwh: float
    running: int
    below_floor: bool


def genset_dispatch(need_mwh: float, p: GensetParams, units_available: int, hours: float,
                    fuel_l: float, charge_room_mwh: float) -> GensetDispatch:
    """Cover ``need_mwh`` over ``hours`` with the fewest sets of ``units_available`` that can,
    within the fuel left (``fuel_l``); the sets' floor beyond the need goes to the battery up to
    ``charge_room_mwh``.

    Returns
    -------
    GensetDispatch
    """
    if need_mwh <= 0.0 or units_available <= 0 or hours <= 0.0 or fuel_l <= 0.0:
        return GensetDispatch(0.0, 0.0, 0, False)
    per_set = p.unit_mw * hours
    running = min(max(math.ceil(need_mwh / per_set - 1e-12), 1), units_available)
    fuel_cap = fuel_l / p.fuel_l_per_mwh
    give = min(need_mwh, running * per_set, fuel_cap)
    floor = p.min_load_fraction * running * per_set
    extra = min(max(floor - give, 0.0), max(charge_room_mwh, 0.0), fuel_cap - give)
    return GensetDispatch(give + extra, extra, running, give + extra < floor * (1 - 1e-9))
