"""``no_control``: no energy management at all, the baseline every other strategy is judged by.

The battery stays idle; batch work runs as soon as it is released on every GPU left free and
training never pauses. The grid balances the site; surplus is exported up to the POI limit and
the rest curtailed.
"""

from __future__ import annotations

from twin.dispatch.base import Observation, RuleStrategy, Setpoints


class NoControl(RuleStrategy):
    name = "no_control"

    def decide(self, obs: Observation) -> Setpoints:
        return Setpoints(obs.batch_backlog_gpu_seconds, 0.0, 0.0)
