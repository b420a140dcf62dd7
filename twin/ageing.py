"""A scenario's battery ageing as ``models.ageing`` objects: the fade model of a new module, and
the wear cost of a MWh discharged."""

from __future__ import annotations

from functools import lru_cache

from models.ageing import (
    AgeingModel,
    BlastAgeing,
    LinearAgeing,
    cycling_fade_per_efc,
    wear_cost_usd_per_mwh,
)
from twin.ageing_schema import BatteryAgeingConfig


def new_module_model(cfg: BatteryAgeingConfig) -> AgeingModel:
    """The fade model of a module fresh from the factory."""
    if cfg.model == "blast":
        return BlastAgeing(cfg.cell, cfg.degradation_scalar)
    return LinearAgeing(cfg.linear.cycles_to_end_of_life, cfg.end_of_life_fraction,
                        cfg.linear.calendar_fade_per_year_fraction)


def replacement_usd_per_mwh(cfg: BatteryAgeingConfig, sizing) -> float:
    """Price of new modules [$/MWh]: the ageing block's, else sizing's battery energy capex."""
    if cfg.replacement_usd_per_mwh is not None:
        return cfg.replacement_usd_per_mwh
    return sizing.bess_energy.capex_usd_per_unit


def wear_cost(cfg: BatteryAgeingConfig, battery, sizing) -> float:
    """Wear cost of a MWh discharged [$/MWh] (:func:`models.ageing.wear_cost_usd_per_mwh`):
    the ageing block's own figure, or the cycling fade of a year of daily cycles across the
    battery's window at the cell temperature (25 degC where it follows the air)."""
    if cfg.wear_cost_usd_per_mwh is not None:
        return cfg.wear_cost_usd_per_mwh
    fade = _fade_per_efc(cfg, battery.min_soc_fraction, battery.max_soc_fraction)
    return wear_cost_usd_per_mwh(replacement_usd_per_mwh(cfg, sizing), fade,
                                 cfg.end_of_life_fraction)


@lru_cache(maxsize=32)
def _fade_per_efc(cfg: BatteryAgeingConfig, soc_min: float, soc_max: float) -> float:
    if cfg.model == "linear":  # by definition, linear in cycles
        return (1.0 - cfg.end_of_life_fraction) / cfg.linear.cycles_to_end_of_life
    temperature = 25.0 if cfg.cell_temperature_c is None else cfg.cell_temperature_c
    return cycling_fade_per_efc(lambda: new_module_model(cfg), soc_min, soc_max, temperature)
