"""The cyclic collector is paused over a run and an LP's build, and back as it was after."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from tests.conftest import SCENARIOS
from tests.twin.optimize.test_sizing import COSTS, flat_load
from twin.dispatch import make_strategy
from twin.gcpause import paused_gc
from twin.optimize import sizing
from twin.run import simulate
from twin.scenario import from_dict, load


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_over_the_block_restored_after_an_error_and_left_off_when_it_was(collector_on):
    with pytest.raises(KeyError), paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # nested: the inner one leaves re-enabling to the outer
            pass
        assert not gc.isenabled()
        raise KeyError("x")
    assert gc.isenabled()
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()  # a caller that turned it off keeps it off


def test_a_run_goes_without_the_collector_and_gives_it_back(collector_on):
    scn = load(SCENARIOS / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = 1
    seen = []

    def make(opts):
        greedy = make_strategy("greedy", opts)
        decide = greedy.decide

        def watched(obs):
            seen.append(gc.isenabled())
            return decide(obs)

        greedy.decide = watched
        return greedy

    res = simulate(from_dict(raw, base_dir=scn.base_dir), "greedy", make=make)
    assert len(seen) == len(res.meters) == 96 and not any(seen)
    assert gc.isenabled()


def test_a_sizing_lp_is_built_without_the_collector(collector_on, monkeypatch):
    seen = []
    build = sizing.build_sizing_model

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return build(*args, **kwargs)

    monkeypatch.setattr(sizing, "build_sizing_model", watched)
    s = sizing.Sizer(flat_load(), np.full(4, 0.25), np.zeros(4), COSTS, "slice", 0.5)
    assert seen == [False] and gc.isenabled()
    assert s.solve(0.5).status == "optimal"
