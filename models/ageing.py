"""Battery ageing: capacity fade as a battery is used and as it waits, cycle counting, and the
wear cost of a MWh discharged.

Two fade models share one interface (:class:`AgeingModel`):

- :class:`BlastAgeing`: a cell model of NREL's BLAST-Lite (the ``blast-lite`` package; calendar
  fade as a function of temperature and state of charge, cycling fade of depth of discharge,
  state of charge and C-rate), stepped day by day with the battery's state-of-charge trace;
- :class:`LinearAgeing`: for users with only a warranty figure, capacity falls linearly with
  equivalent full cycles (``1 - end_of_life`` after ``cycles_to_end_of_life``) and, optionally,
  with time.

A battery of several cohorts (the first modules, and modules added later) is a list of
:class:`Cohort`; each ages with the same relative state of charge. Cycles are counted by the
ASTM E1049 rainflow method (the ``rainflow`` package).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import rainflow

SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.0
#: Depth-of-discharge bins of the cycle histogram [fraction of capacity].
DEPTH_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class AgeingModel(Protocol):
    """What the twin asks of a fade model."""

    def advance(self, t_s: np.ndarray, soc: np.ndarray, temperature_c: np.ndarray) -> None:
        """Age over one stretch of use: times since the stretch began [s], state of charge
        (of the aged capacity) [fraction] and cell temperature [degC] at each time."""

    @property
    def capacity_fraction(self) -> float:
        """Capacity now, per capacity new [fraction]."""

    @property
    def efc(self) -> float:
        """Equivalent full cycles so far [cycles]."""

    @property
    def resistance_factor(self) -> float:
        """Cell resistance now, per resistance new (1 where the model gives none) [-]."""


def equivalent_full_cycles(soc: np.ndarray) -> float:
    """``sum |d soc| / 2`` [cycles]."""
    return float(np.abs(np.diff(np.asarray(soc, float))).sum() / 2.0)


@dataclass
class LinearAgeing:
    """Capacity ``1 - (1 - eol) * efc / N - calendar * years`` (clipped at 0)."""

    cycles_to_end_of_life: float
    end_of_life_fraction: float = 0.7
    calendar_fade_per_year_fraction: float = 0.0
    _efc: float = 0.0
    _days: float = 0.0

    def advance(self, t_s: np.ndarray, soc: np.ndarray, temperature_c: np.ndarray) -> None:
        self._efc += equivalent_full_cycles(soc) * self.capacity_fraction
        self._days += float(t_s[-1] - t_s[0]) / SECONDS_PER_DAY

    @property
    def capacity_fraction(self) -> float:
        lost = ((1.0 - self.end_of_life_fraction) * self._efc / self.cycles_to_end_of_life
                + self.calendar_fade_per_year_fraction * self._days / DAYS_PER_YEAR)
        return max(0.0, 1.0 - lost)

    @property
    def efc(self) -> float:
        return self._efc

    @property
    def resistance_factor(self) -> float:
        return 1.0


class BlastAgeing:
    """A BLAST-Lite cell model (class name in ``blast.models``, e.g. ``Lfp_Gr_250AhPrismatic``)
    scaled by ``degradation_scalar`` (BLAST-Lite's own knob: pack life is often 20-30 % shorter
    than the cells'), stepped by :meth:`BatteryDegradationModel.update_battery_state`."""

    def __init__(self, cell: str, degradation_scalar: float = 1.0):
        self.cell_name = cell
        self.cell = blast_cell(cell)(degradation_scalar=degradation_scalar)

    def advance(self, t_s: np.ndarray, soc: np.ndarray, temperature_c: np.ndarray) -> None:
        with warnings.catch_warnings():  # np.trapz, deprecated in NumPy 2.0-2.3 (pyproject)
            warnings.simplefilter("ignore", DeprecationWarning)
            self.cell.update_battery_state(np.asarray(t_s, float), np.asarray(soc, float),
                                           np.asarray(temperature_c, float))

    @property
    def capacity_fraction(self) -> float:
        return max(0.0, float(self.cell.outputs["q"][-1]))

    @property
    def efc(self) -> float:
        return float(self.cell.stressors["efc"][-1])

    @property
    def resistance_factor(self) -> float:
        out = self.cell.outputs
        return float(out["r"][-1]) if "r" in out else 1.0


def blast_cell(name: str):
    """The BLAST-Lite model class ``name``; a ValueError names the models there are, or says
    how to install the package."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from blast import models
    except ImportError:
        raise ValueError("model = 'blast' needs the blast-lite package (make installs it: pip "
                         "install --no-deps blast-lite==1.1.1 and pip install -e '.[ageing]')"
                         ) from None
    known = list(models.available_models())
    if name not in known:
        raise ValueError(f"cell = {name!r}: not a BLAST-Lite model; one of {known}")
    return getattr(models, name)


@dataclass
class Cohort:
    """Modules installed together: their nameplate [MWh] and their fade model."""

    nameplate_mwh: float
    model: AgeingModel
    installed_year: int = 0

    @property
    def capacity_mwh(self) -> float:
        return self.nameplate_mwh * self.model.capacity_fraction


def resistance_factor(cohorts: list[Cohort]) -> float:
    """The battery's resistance per resistance new: its cohorts', weighted by capacity [-]."""
    total = sum(c.capacity_mwh for c in cohorts)
    if total <= 0:
        return 1.0
    return sum(c.capacity_mwh * c.model.resistance_factor for c in cohorts) / total


def aged_efficiency(new_efficiency: float, cohorts: list[Cohort],
                    resistive_loss_fraction: float) -> float:
    """A conversion efficiency after the cells' resistance has grown: the share
    ``resistive_loss_fraction`` of the losses new grows with the resistance
    (:func:`resistance_factor`), ``1 - (1 - eta) (1 - f + f r)`` [fraction]."""
    r = resistance_factor(cohorts)
    f = resistive_loss_fraction
    return max(0.0, 1.0 - (1.0 - new_efficiency) * (1.0 - f + f * r))


@dataclass
class DailyAgeing:
    """Capacity at the end of each day of a stretch [MWh], and its equivalent full cycles."""

    capacity_mwh: np.ndarray
    efc: np.ndarray
    depth_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(DEPTH_EDGES) - 1))


def age_days(cohorts: list[Cohort], content_mwh: np.ndarray, slice_s: float,
             temperature_c: np.ndarray) -> DailyAgeing:
    """Age every cohort day by day over a stretch of use.

    Parameters
    ----------
    cohorts : list of Cohort
        The battery's modules; each ages with the battery's relative state of charge.
    content_mwh : numpy.ndarray
        Battery content at the start of the stretch and at the end of each slice (``n + 1``
        values) [MWh].
    slice_s : float
        Slice length [s].
    temperature_c : numpy.ndarray
        Cell temperature at the same instants [degC].

    Returns
    -------
    DailyAgeing
        Capacity of the battery (every cohort) at the end of each whole or last part day
        [MWh], the equivalent full cycles of each day [cycles], and the stretch's cycles by
        depth (rainflow, bins :data:`DEPTH_EDGES`) [cycles].
    """
    content = np.asarray(content_mwh, float)
    temperature = np.asarray(temperature_c, float)
    per_day = int(round(SECONDS_PER_DAY / slice_s))
    n = len(content) - 1
    capacity, efc = [], []
    soc_all = content / max(sum(c.capacity_mwh for c in cohorts), 1e-12)
    for start in range(0, n, per_day):
        stop = min(start + per_day, n)
        total = sum(c.capacity_mwh for c in cohorts)
        soc = np.clip(content[start:stop + 1] / total, 0.0, 1.0) if total > 0 else \
            np.zeros(stop - start + 1)
        t = np.arange(stop - start + 1) * slice_s
        for c in cohorts:
            c.model.advance(t, soc, temperature[start:stop + 1])
        capacity.append(sum(c.capacity_mwh for c in cohorts))
        efc.append(equivalent_full_cycles(soc))
    return DailyAgeing(np.array(capacity), np.array(efc), depth_histogram(soc_all))


def depth_histogram(soc: np.ndarray) -> np.ndarray:
    """Cycles (half cycles count 0.5) by depth of discharge, rainflow (ASTM E1049), in the bins
    of :data:`DEPTH_EDGES` [cycles]."""
    soc = np.asarray(soc, float)
    if len(soc) < 3:
        return np.zeros(len(DEPTH_EDGES) - 1)
    cycles = list(rainflow.extract_cycles(soc))
    if not cycles:
        return np.zeros(len(DEPTH_EDGES) - 1)
    depth = np.clip([c[0] for c in cycles], 0.0, 1.0)
    counts, _ = np.histogram(depth, bins=DEPTH_EDGES, weights=[c[2] for c in cycles])
    return counts


def cycling_fade_per_efc(make_model, soc_min: float, soc_max: float, temperature_c: float,
                         days: int = 365) -> float:
    """Capacity lost per equivalent full cycle by cycling alone [fraction/cycle]: a model
    cycled once a day between ``soc_min`` and ``soc_max`` for ``days``, against one resting
    at the mean state of charge over the same days and temperature."""
    per_day = 96
    t = np.arange(per_day + 1) * SECONDS_PER_DAY / per_day
    phase = t / SECONDS_PER_DAY
    cycle = soc_min + (soc_max - soc_min) * np.where(phase < 0.5, 1 - 2 * phase, 2 * phase - 1)
    rest = np.full(per_day + 1, (soc_min + soc_max) / 2)
    temp = np.full(per_day + 1, float(temperature_c))
    cycled, resting = make_model(), make_model()
    for _ in range(days):
        cycled.advance(t, cycle, temp)
        resting.advance(t, rest, temp)
    if cycled.efc <= 0:
        return 0.0
    return max(0.0, resting.capacity_fraction - cycled.capacity_fraction) / cycled.efc


def wear_cost_usd_per_mwh(replacement_usd_per_mwh: float, fade_per_efc: float,
                          end_of_life_fraction: float) -> float:
    """What a MWh discharged costs in battery life [$/MWh]: a MWh is ``1 / E`` of a full
    cycle, which spends ``fade / (1 - eol)`` of the life a replacement at
    ``replacement_usd_per_mwh`` x E buys: ``price * fade / (1 - eol)``."""
    return replacement_usd_per_mwh * fade_per_efc / (1.0 - end_of_life_fraction)
