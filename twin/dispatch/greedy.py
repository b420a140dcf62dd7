"""``greedy``: serve load from renewables, charge from surplus, discharge on deficit.

Batch work runs as soon as it is released, on every GPU interactive inference leaves free. The
battery charges from renewable surplus only and discharges to cover any deficit; the grid supplies
the rest; surplus beyond the battery is exported up to the POI limit and the remainder curtailed.
"""

from __future__ import annotations

from twin.dispatch.base import Observation, Setpoints


class Greedy:
    name = "greedy"

    def decide(self, obs: Observation) -> Setpoints:
        batch = min(obs.free_gpu_seconds, obs.batch_backlog_gpu_seconds)
        net = obs.pv_avail_mwh + obs.wind_avail_mwh - obs.facility_mwh(batch)
        if net >= 0.0:
            return Setpoints(batch, min(net, obs.max_charge_mwh), 0.0)
        return Setpoints(batch, 0.0, min(-net, obs.max_discharge_mwh))
