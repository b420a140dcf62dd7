"""Battery state transition: power and energy limits, charge/discharge efficiency, SoC window.

Within a slice of length ``dt`` the stored energy evolves as
``soc_end = soc * (1 - sd) + eta_c * C - D / eta_d`` where ``C`` is energy drawn from the bus,
``D`` energy delivered to the bus and ``sd`` the self-discharge per slice; gti_core's storage
provenance (spec section 4) applies the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BatteryParams:
    """A battery in the units the step function uses.

    Attributes
    ----------
    power_mw : float
        Charge and discharge limit at the bus [MW].
    energy_mwh : float
        Nameplate energy [MWh].
    charge_efficiency, discharge_efficiency : float
        eta_c, eta_d [fraction].
    min_soc_mwh, max_soc_mwh : float
        Allowed window of stored energy [MWh].
    self_discharge_per_slice : float
        Share of the content lost per slice [fraction].
    """

    power_mw: float
    energy_mwh: float
    charge_efficiency: float
    discharge_efficiency: float
    min_soc_mwh: float
    max_soc_mwh: float
    self_discharge_per_slice: float


def self_discharge_per_slice(per_day_fraction: float, slice_minutes: int) -> float:
    """Convert a daily self-discharge to a per-slice one, compounding [fraction]."""
    return 1.0 - (1.0 - per_day_fraction) ** (slice_minutes / 1440.0)


def battery_params(cfg, slice_minutes: int) -> BatteryParams:
    """Build :class:`BatteryParams` from a scenario ``BatteryConfig``."""
    return BatteryParams(
        power_mw=cfg.power_mw,
        energy_mwh=cfg.energy_mwh,
        charge_efficiency=cfg.charge_efficiency,
        discharge_efficiency=cfg.discharge_efficiency,
        min_soc_mwh=cfg.min_soc_fraction * cfg.energy_mwh,
        max_soc_mwh=cfg.max_soc_fraction * cfg.energy_mwh,
        self_discharge_per_slice=self_discharge_per_slice(cfg.self_discharge_per_day_fraction,
                                                          slice_minutes),
    )


def max_charge_mwh(soc_mwh: float, p: BatteryParams, dt_h: float) -> float:
    """Most energy the battery can draw from the bus this slice [MWh]."""
    return part_limits_mwh(soc_mwh * (1.0 - p.self_discharge_per_slice), p, dt_h)[0]


def max_discharge_mwh(soc_mwh: float, p: BatteryParams, dt_h: float) -> float:
    """Most energy the battery can deliver to the bus this slice [MWh]."""
    return part_limits_mwh(soc_mwh * (1.0 - p.self_discharge_per_slice), p, dt_h)[1]


def part_limits_mwh(content_mwh: float, p: BatteryParams, hours: float,
                    power_share: float = 1.0) -> tuple[float, float]:
    """Most energy the battery can draw from and deliver to the bus over ``hours`` [MWh],
    from a content that has already lost the slice's self-discharge (a slice settled in
    parts applies it once, at its start, as :func:`battery_step` does), with ``power_share``
    of its strings in service [fraction]."""
    power = p.power_mw * power_share * hours
    return (max(0.0, min(power, (p.max_soc_mwh - content_mwh) / p.charge_efficiency)),
            max(0.0, min(power, (content_mwh - p.min_soc_mwh) * p.discharge_efficiency)))


def battery_step(soc_mwh: float, charge_mwh: float, discharge_mwh: float,
                 p: BatteryParams) -> float:
    """Stored energy at the end of the slice [MWh].

    Parameters
    ----------
    soc_mwh : float or numpy.ndarray
        Stored energy at the start of the slice [MWh].
    charge_mwh, discharge_mwh : float or numpy.ndarray
        Energy drawn from and delivered to the bus [MWh], within the limits of
        :func:`max_charge_mwh` and :func:`max_discharge_mwh`.
    p : BatteryParams
        The battery.

    Returns
    -------
    float or numpy.ndarray
        ``soc * (1 - sd) + eta_c * charge - discharge / eta_d`` [MWh] (per slice, for arrays
        of each slice's start content and flows).
    """
    if isinstance(charge_mwh, np.ndarray) or isinstance(discharge_mwh, np.ndarray):
        negative = bool(np.any(charge_mwh < 0.0) or np.any(discharge_mwh < 0.0))
    else:
        negative = charge_mwh < 0.0 or discharge_mwh < 0.0
    if negative:
        raise ValueError(f"charge_mwh = {charge_mwh}, discharge_mwh = {discharge_mwh}: "
                         "must be >= 0")
    return (soc_mwh * (1.0 - p.self_discharge_per_slice) + p.charge_efficiency * charge_mwh
            - discharge_mwh / p.discharge_efficiency)
