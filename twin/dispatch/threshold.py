"""``threshold``: rules on the day's price (objective ``cost``) or grid share (``gti``).

Each local day the slices are ranked by the signal, which is known a day ahead (day-ahead prices,
grid-mix forecasts). A slice below the day's ``low_quantile`` of price (above its
``high_quantile`` of grid share) is *good*, one beyond the other quantile *bad*, the rest
*neutral*:

- good: run all released batch work, resume paused training, charge the battery from renewable
  surplus and, for ``cost``, from the grid at full power;
- bad: run only the batch work deadlines require (:func:`batch_must_run_gpu_s`), pause
  pausable training that has more than a day of slack, discharge to cover the deficit;
- neutral: as ``greedy``.
"""

from __future__ import annotations

import numpy as np

from twin.dispatch.base import (
    Observation,
    RuleStrategy,
    Setpoints,
    StrategyOptions,
    batch_must_run_gpu_s,
)

#: Slack a training job must keep to be paused in a bad slice [s].
PAUSE_SLACK_S = 86400.0


class Threshold(RuleStrategy):
    name = "threshold"

    def __init__(self, options: StrategyOptions | None = None):
        super().__init__(options)
        self.kind = np.zeros(0, dtype=np.int8)  # +1 good, -1 bad, 0 neutral

    def prepare(self, inp) -> None:
        """Rank each local day's slices by the signal."""
        o = self.options
        if o.objective not in ("cost", "gti"):
            raise ValueError(f"objective = {o.objective!r}: must be 'cost' or 'gti'")
        signal = (np.asarray(inp.price_usd_per_mwh, dtype=float) if o.objective == "cost"
                  else -np.asarray(inp.grid_share, dtype=float))
        per_day = int(round(1440 / inp.slice_minutes))
        local = np.arange(inp.n) + int(round(inp.utc_offset_h * 60 / inp.slice_minutes))
        day = local // per_day
        self.kind = np.zeros(inp.n, dtype=np.int8)
        for d in np.unique(day):
            idx = np.flatnonzero(day == d)
            lo, hi = np.quantile(signal[idx], [o.low_quantile, o.high_quantile])
            if hi <= lo:  # a flat day (one tariff band): nothing to exploit
                continue
            self.kind[idx[signal[idx] <= lo]] = 1
            self.kind[idx[signal[idx] >= hi]] = -1

    def decide(self, obs: Observation) -> Setpoints:
        kind = int(self.kind[obs.slice_index]) if len(self.kind) else 0
        if kind < 0:
            batch = batch_must_run_gpu_s(obs)
            pause = frozenset(t.job_id for t in obs.training
                              if t.pausable and t.slack_s > PAUSE_SLACK_S)
        else:
            batch, pause = obs.batch_backlog_gpu_seconds, frozenset()
        expected = min(batch, obs.free_gpu_seconds)
        running = sum(t.it_mwh_per_slice for t in obs.training
                      if t.job_id in pause and t.state == "running")
        load = obs.facility_mwh(expected) - running * (1.0 + obs.nonit_per_it)
        net = obs.pv_avail_mwh + obs.wind_avail_mwh - load
        if net >= 0.0:
            charge = (obs.max_charge_mwh if kind > 0 and self.options.objective == "cost"
                      else min(net, obs.max_charge_mwh))
            return Setpoints(batch, charge, 0.0, pause)
        if kind > 0 and self.options.objective == "cost":
            return Setpoints(batch, obs.max_charge_mwh, 0.0, pause)
        return Setpoints(batch, 0.0, min(-net, obs.max_discharge_mwh), pause)
