"""Examples are tests: every scenario in scenarios/ runs on a short horizon and verifies."""

from __future__ import annotations

import pytest

from tests.conftest import SCENARIOS
from twin.events_schema import utc
from twin.run import simulate
from twin.scenario import from_dict, load


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_scenario_runs_two_days(path):
    scn = load(path)
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = 2
    starts = [w.start for s in scn.sites for w in (*s.events.outages, *s.events.poi_limits,
                                                   *s.events.derates, *s.events.demand_response)]
    if starts:  # two days from the day its first scheduled event starts
        first = min(utc(t) for t in starts)
        raw["horizon_start_day"] = (first - first.replace(month=1, day=1, hour=0, minute=0,
                                                          second=0)).days
    res = simulate(from_dict(raw, base_dir=scn.base_dir))
    assert len(res.meters) == 2 * len(scn.sites) * 1440 // scn.slice_minutes
    assert 0.0 <= res.summary["gti"]["gti_slice"] <= res.summary["gti"]["gti_aggregate"] <= 1.0
