"""Robustness (issue 22): 1,000 random scenarios and 1,000 random meter tables with injected
faults at the command line (``tests/twin/boundary_properties.py``), each either run with every
invariant holding or refused with one line.

Records per property the examples drawn, how each ended (ran, refused, refused by fault), the
failures (an example that broke the property: none is the result this file should show) and the
time. ``--examples N`` draws another number (the suite draws a few dozen of each).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hypothesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from benchmarks._common import record  # noqa: E402
from tests.twin.boundary_properties import (  # noqa: E402
    EXAMPLE_LIMIT_S,
    FAULTS,
    LEAVES,
    check_meters_case,
    check_scenario,
    meter_cases,
    scenario_changes,
)


def run_property(name: str, strategy, check, examples: int) -> dict:
    """Draw ``examples`` inputs; count how each ended and keep every failure's message."""
    outcomes: Counter = Counter()
    failures: list[dict] = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(value):
        try:
            outcomes[check(value)] += 1
        except Exception as err:  # recorded, then the next example is drawn
            outcomes["failed"] += 1
            failures.append({"input": repr(value)[:2000], "error": "".join(
                traceback.format_exception_only(type(err), err)).strip()[:2000]})

    t0 = time.perf_counter()
    prop()
    seconds = time.perf_counter() - t0
    drawn = sum(outcomes.values())
    print(f"{name}: {drawn} examples in {seconds:.0f} s: {dict(sorted(outcomes.items()))}")
    return {"examples": drawn, "seconds": round(seconds, 1),
            "outcomes": dict(sorted(outcomes.items())), "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=1000)
    examples = parser.parse_args().examples
    figures = {
        "what": "random scenarios (one to three of the default scenario's fields changed, one "
                "day) and random meter tables (one or two battery sites, CSV or Parquet, one "
                "fault injected or none) through aidc-twin run / score; each must run with "
                "every invariant holding (verify, finite summary, GTI in [0, 1], slice <= "
                "aggregate under it_first, a clean table scored as gti_core scores it) or be "
                "refused with one error line and nothing written",
        "hypothesis": hypothesis.__version__, "derandomized": True,
        "example_limit_s": EXAMPLE_LIMIT_S, "scenario_fields": len(LEAVES),
        "meter_faults": list(FAULTS),
        "scenarios": run_property("scenarios", scenario_changes(), check_scenario, examples),
        "meter_tables": run_property("meter tables", meter_cases(), check_meters_case,
                                     examples),
    }
    failed = len(figures["scenarios"]["failures"]) + len(figures["meter_tables"]["failures"])
    path = record("robustness", figures)
    print(f"{failed} failures; wrote {path}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
