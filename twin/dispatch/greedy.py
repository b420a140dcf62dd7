"""``greedy``: serve load from renewables, charge from surplus, discharge on deficit.

Batch work runs as soon as it is released, on every GPU interactive inference and training leave
free (it asks for its whole backlog; the site gives what the slice's free GPUs can take), and
training is never paused. The battery charges from renewable surplus only and discharges to cover
any deficit; the grid supplies the rest; surplus beyond the battery is exported up to the POI
limit and the remainder curtailed.
"""

from __future__ import annotations

from twin.dispatch.base import Observation, RuleStrategy, Setpoints


class Greedy(RuleStrategy):
    name = "greedy"

    def decide(self, obs: Observation) -> Setpoints:
        expected = min(obs.free_gpu_seconds, obs.batch_backlog_gpu_seconds)
        net = obs.pv_avail_mwh + obs.wind_avail_mwh - obs.facility_mwh(expected)
        ask = obs.batch_backlog_gpu_seconds
        if net >= 0.0:
            return Setpoints(ask, min(net, obs.max_charge_mwh), 0.0)
        return Setpoints(ask, 0.0, min(-net, obs.max_discharge_mwh))
