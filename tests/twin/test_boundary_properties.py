"""Random scenarios and meter tables at the command line: each runs with every invariant holding
or is refused with one line (tests/twin/boundary_properties.py). ``make test`` draws a few
dozen examples; ``benchmarks/robustness.py`` draws 1,000 of each and records the outcomes.

Hypothesis runs derandomized, so every run draws the same examples.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings

from tests.twin.boundary_properties import (
    check_meters_case,
    check_scenario,
    meter_cases,
    scenario_changes,
)

# no shrinking: an example costs a command line, and the failing one is printed whole
PROFILE = {"deadline": None, "derandomize": True, "database": None,
           "phases": (Phase.explicit, Phase.generate),
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


@settings(max_examples=30, **PROFILE)
@given(changes=scenario_changes())
def test_a_changed_scenario_runs_with_its_invariants_or_is_refused_in_one_line(changes):
    outcome = check_scenario(changes)
    assert outcome == "refused" or outcome.startswith("ran ("), outcome


@settings(max_examples=120, **PROFILE)
@given(case=meter_cases())
def test_a_faulty_meter_table_is_refused_naming_the_cell_and_a_clean_one_scores_exactly(case):
    outcome = check_meters_case(case)
    assert outcome == ("ran" if case[2] in ("none", "unsorted") else f"refused: {case[2]}")
