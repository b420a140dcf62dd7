"""Battery ageing (models.ageing): BLAST-Lite stepped day by day, the linear model, rainflow
depths and the wear cost, on hand-computed cases and against BLAST-Lite called directly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from models.ageing import (
    BlastAgeing,
    Cohort,
    LinearAgeing,
    age_days,
    cycling_fade_per_efc,
    depth_histogram,
    wear_cost_usd_per_mwh,
)

blast = pytest.importorskip("blast", reason="blast-lite is installed by make (pyproject, ageing)")
CELL = "Lfp_Gr_250AhPrismatic"
PER_DAY = 96  # 15-minute samples


def daily_full_cycles(days: int) -> tuple[np.ndarray, np.ndarray]:
    """Times [s] and state of charge of one full cycle a day, 1 -> 0 -> 1, at 15 minutes."""
    t = np.arange(days * PER_DAY + 1) * 900.0
    phase = (t % 86400.0) / 86400.0
    return t, np.where(phase < 0.5, 1 - 2 * phase, 2 * phase - 1)


def test_a_year_of_daily_full_cycles_fades_as_blast_lite_called_directly():
    t, soc = daily_full_cycles(365)
    temp = np.full(len(t), 25.0)
    direct = blast.models.Lfp_Gr_250AhPrismatic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        direct.simulate_battery_life({"Time_s": t, "SOC": soc, "Temperature_C": temp},
                                     threshold_time=1, is_conserve_energy_throughput=False)
    ours = BlastAgeing(CELL)
    day = np.arange(PER_DAY + 1) * 900.0
    for d in range(365):
        ours.advance(day, soc[d * PER_DAY:(d + 1) * PER_DAY + 1], temp[:PER_DAY + 1])
    fade_direct, fade_ours = 1 - direct.outputs["q"][-1], 1 - ours.capacity_fraction
    assert 0.02 < fade_ours < 0.03  # a fortieth of the capacity in the first year
    assert fade_ours == pytest.approx(fade_direct, rel=0.01)
    assert ours.efc == pytest.approx(365 * 0.985, rel=0.01)  # full cycles of a fading cell


def test_the_cells_published_calendar_fade_after_a_year_at_25_c_and_half_charge():
    # Gasper et al., J. Energy Storage 73 (2023) 109042, the >250 Ah LFP-Gr cell, as BLAST-Lite
    # 1.1.1 ships it: q_loss,t = p1 exp(p2 / T) exp(p3 Ua / T) t^pcal (t in days), with Ua the
    # graphite potential at the state of charge (Safari and Delacourt 2011)
    p1, p2, p3, pcal = 8.37e4, -5.21e3, -3.56e3, 0.526
    x = 8.5e-3 + 0.5 * (0.78 - 8.5e-3)
    ua = (0.6379 + 0.5416 * np.exp(-305.5309 * x) + 0.044 * np.tanh(-(x - 0.1958) / 0.1088)
          - 0.1978 * np.tanh((x - 1.0571) / 0.0854) - 0.6875 * np.tanh((x + 0.0117) / 0.0529)
          - 0.0175 * np.tanh((x - 0.5692) / 0.0875))
    kelvin = 298.15
    loss = p1 * np.exp(p2 / kelvin) * np.exp(p3 * ua / kelvin) * 365.0 ** pcal
    cell = BlastAgeing(CELL)
    t = np.linspace(0.0, 365 * 86400.0, 366)
    cell.advance(t, np.full(366, 0.5), np.full(366, 25.0))
    assert 1 - cell.capacity_fraction == pytest.approx(loss, rel=1e-9)
    assert 0.005 < loss < 0.03


def test_the_linear_model_is_its_warranty_line():
    lin = LinearAgeing(6000, 0.7, 0.01)
    t = np.linspace(0.0, 365 * 86400.0, 3)
    lin.advance(t, np.array([1.0, 0.0, 1.0]), np.full(3, 25.0))  # one full cycle in a year
    assert lin.efc == 1.0
    assert lin.capacity_fraction == pytest.approx(1 - 0.3 / 6000 - 0.01)


def test_a_battery_ages_on_its_state_of_charge_relative_to_what_is_left():
    # 10 MWh of modules at half capacity (a linear model spent to 0.5): 5 MWh left; a content
    # swinging 0 -> 5 -> 0 MWh is one full cycle of what is left, not half of one
    spent = LinearAgeing(100, 0.5)
    spent._efc = 100.0
    cohort = Cohort(10.0, spent)
    assert cohort.capacity_mwh == pytest.approx(5.0)
    content = np.concatenate([np.linspace(0, 5, 49), np.linspace(5, 0, 49)[1:]])
    out = age_days([cohort], content, 900.0, np.full(len(content), 25.0))
    assert out.efc.tolist() == pytest.approx([1.0])
    # the linear model counts cycles of its own capacity: 1 x 0.5 = 0.5 more of its 100
    assert spent.efc == pytest.approx(100.5)


def test_rainflow_counts_cycles_by_depth():
    soc = np.array([0.5, 1.0, 0.0, 0.6, 0.45, 1.0, 0.0])
    counts = depth_histogram(soc)
    # ASTM E1049 by hand: 0.5-1.0 is a half cycle of 0.5 (it holds the start); 0.6-0.45 closes
    # a full cycle of 0.15 inside 0 -> 1; the three swings of 1.0 left are half cycles
    assert counts[5] == 0.5 and counts[1] == 1.0 and counts[9] == 1.5
    assert counts.sum() == 3.0


def test_wear_cost_of_a_warranty_and_of_blast_lite():
    # $300k/MWh of modules, 6000 cycles to 70 %: each MWh discharged spends $50 of battery
    assert wear_cost_usd_per_mwh(300e3, 0.3 / 6000, 0.7) == pytest.approx(50.0)
    fade = cycling_fade_per_efc(lambda: BlastAgeing(CELL), 0.05, 0.95, 25.0)
    # the cell loses between 0.5 % and 10 % of its capacity per 1,000 full cycles by cycling
    assert 5e-6 < fade < 1e-4


def test_conversion_losses_grow_with_the_cells_resistance():
    from dataclasses import dataclass

    from models.ageing import aged_efficiency, resistance_factor

    @dataclass
    class Aged:  # a module at 80 % capacity whose resistance grew by half
        capacity_fraction: float = 0.8
        efc: float = 0.0
        resistance_factor: float = 1.5

    new = LinearAgeing(6000)
    cohorts = [Cohort(10.0, Aged()), Cohort(8.0, new)]  # 8 MWh left of each
    assert resistance_factor(cohorts) == pytest.approx(1.25)
    # half the losses grow with resistance: 1 - 0.05 x (0.5 + 0.5 x 1.25)
    assert aged_efficiency(0.95, cohorts, 0.5) == pytest.approx(0.94375)
    assert aged_efficiency(0.95, [Cohort(8.0, new)], 0.5) == 0.95
    # a BLAST-Lite cell that models resistance: it grows over a year of daily cycles
    cell = BlastAgeing("Lfp_Gr_SonyMurata3Ah_Battery")
    t, soc = daily_full_cycles(30)
    cell.advance(t, soc, np.full(len(t), 25.0))
    assert cell.resistance_factor > 1.0
    assert BlastAgeing(CELL).resistance_factor == 1.0  # the default cell gives none
