"""A site's bus under events: limits in force, backup, shedding, and the EMS's guard.

:class:`Supply` is the part of a :class:`twin.engine.site.Site` that closes the bus of each part
of a slice (a slice is settled in parts when an event changes what the site can draw on in its
middle). It takes, in order: renewables and the battery as the strategy asked, the grid within
the limits in force; then the battery's whole discharge; then backup (the UPS while it carries
the load, the gensets once online, within their fuel); then it sheds interactive requests and
powers off idle servers, if the site's shedding order includes interactive work. What is shed
is ``unserved_mwh`` (with its cooling and aux), and the tokens not served are counted.

Before each part the EMS's guard (:meth:`Supply.guard`) adapts the strategy's setpoints to the
state: when supply cannot cover the load it pauses training and defers batch work in the
site's shedding order and discharges the battery; during a demand-response call it discharges
the battery, keeps batch work to what its deadlines need and pauses training until the import
fits the call's target. In the day before a scheduled outage or call it holds in the battery
what the event will need (the rule-based strategies know scheduled events in advance only
through this).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pandas as pd

from models import site as physics
from models.backup import genset_dispatch
from models.battery import part_limits_mwh
from twin.dispatch.base import Observation, Setpoints, batch_must_run_gpu_s
from twin.engine.events import Availability
from twin.inputs import SiteInputs

#: How long before a scheduled outage or demand-response call the EMS holds charge for it [s].
HOLD_AHEAD_S = 24 * 3600.0


class PartLoad(NamedTuple):
    """The load of a part of a slice: interactive and other (batch, training) GPU energy [J],
    idle GPU time [GPU-s] and the IT energy of data moved [MWh] (a named tuple: one is made
    every slice)."""

    inter_j: float
    work_j: float
    idle_gpu_s: float
    moved_mwh: float


class ShortOfSupply(RuntimeError):
    """The bus cannot close even with backup and every permitted shedding [MWh short]."""

    def __init__(self, short_mwh: float):
        super().__init__(f"short by {short_mwh} MWh")
        self.short_mwh = short_mwh


class Supply:
    """A site's bus in parts (see the module docstring).

    Parameters
    ----------
    inp : SiteInputs
    avail : Availability
        The state the site's events change.
    """

    def __init__(self, inp: SiteInputs, avail: Availability):
        self.inp, self.avail = inp, avail
        dt_h = inp.dt_h
        # the per-slice inputs as Python floats (indexed once a slice on the hot path)
        self.pv_mwh = (inp.pv_avail_mw * dt_h).tolist()
        self.wind_mwh = (inp.wind_avail_mw * dt_h).tolist()
        self.cooling = np.asarray(inp.cooling_fraction, dtype=float).tolist()
        self.content_mwh = 0.0  # battery content, net of the slice's self-discharge
        self.genset_mwh = self.ups_mwh = self.fuel_l = self.below_floor_h = 0.0
        self.shed_tokens_in = np.zeros(inp.n)
        self.shed_tokens_out = np.zeros(inp.n)
        self.grid_up = [0.0] * inp.n  # share of each slice the grid was up [fraction]
        # the last limits computed and what they are a function of (slice, share, the state in
        # service, the battery's content): the EMS's view and the slice's settlement ask for
        # the same ones when nothing happens in between
        self._limits_of: tuple | None = None
        self._limits: physics.BusLimits | None = None
        self.dr: dict = {}  # demand-response call -> [baseline MW, import in its window MWh]

    def start_slice(self, soc_mwh: float) -> None:
        bat = self.inp.battery
        self.content_mwh = soc_mwh * (1.0 - bat.self_discharge_per_slice) if bat else 0.0

    def bus_limits(self, k: int, f: float) -> physics.BusLimits:
        """What the bus can draw on over share ``f`` of slice ``k`` in the state now [MWh]."""
        of = (k, f, self.avail.now, self.content_mwh)
        if of == self._limits_of:
            return self._limits
        inp = self.inp
        pv, wind, battery, import_mw, export_mw = self.avail.now
        h = inp.dt_h * f
        charge = discharge = 0.0
        if inp.battery is not None:
            charge, discharge = part_limits_mwh(self.content_mwh, inp.battery, h, battery)
        self._limits_of = of
        self._limits = physics.BusLimits(self.pv_mwh[k] * f * pv, self.wind_mwh[k] * f * wind,
                                         charge, discharge, import_mw * h, export_mw * h)
        return self._limits

    def backup_mwh(self, hours: float) -> float:
        """Backup energy the bus may draw over ``hours`` now: any while the UPS carries the
        load, else what the gensets online can give within their fuel [MWh]."""
        st, b = self.avail, self.inp.backup
        if st.ups_on:
            return float("inf")
        if b is None or st.backup_units() == 0:
            return 0.0
        return min(st.backup_units() * b.unit_mw * hours, st.fuel_l / b.fuel_l_per_mwh)

    # --- closing the bus of a part ---------------------------------------------------------
    def close(self, k: int, f: float, load: PartLoad, sp: Setpoints
              ) -> tuple[physics.MeterRow, float]:
        """The meter row of share ``f`` of slice ``k`` and the share of its interactive work
        shed [fraction]; the battery's content moves on.

        Raises
        ------
        ShortOfSupply
            Nothing permitted closes the bus.
        """
        inp, gpu = self.inp, self.inp.gpu
        lim = self.bus_limits(k, f)
        grid_mwh = lim.max_import_mwh
        discharge, inter_j, idle_s, shed, short = sp.bess_discharge_mwh * f, load.inter_j, \
            load.idle_gpu_s, 0.0, 0.0
        nonit = 1.0 + self.cooling[k] + inp.aux_fraction
        shed_idle = "interactive" in inp.shedding
        for step in ("asked", "battery", "backup", "shed requests", "shed idle"):
            if step == "battery":
                discharge = lim.max_discharge_mwh
            elif step == "backup":
                lim = lim._replace(max_import_mwh=grid_mwh + self.backup_mwh(inp.dt_h * f))
            elif step == "shed requests":
                per_share = float(physics.host_energy_mwh(inter_j, gpu)) * nonit
                if not shed_idle or per_share <= 0.0:
                    continue
                shed = min(short / per_share * (1.0 + 1e-9), 1.0)
            elif step == "shed idle":
                if not shed_idle or idle_s <= 0.0:
                    continue
                idle_s = 0.0
            it = physics.it_energy_mwh(inter_j * (1.0 - shed) + load.work_j, idle_s,
                                       gpu) + load.moved_mwh
            cooling, aux = physics.non_it_mwh(it, self.cooling[k], inp.aux_fraction)
            try:
                row = physics.settle_bus(lim, it, cooling, aux, sp.bess_charge_mwh * f,
                                         discharge)
                break
            except physics.SupplyShortfall as err:
                short = err.short_mwh - lim.max_import_mwh
        else:
            raise ShortOfSupply(short)
        full = physics.it_energy_mwh(inter_j + load.work_j, load.idle_gpu_s, gpu) + load.moved_mwh
        unserved = (full - row.it_mwh) * nonit
        row = self._backup(row, grid_mwh, lim, f)
        if unserved > 0.0:  # a row is built with none unserved
            row = row._replace(unserved_mwh=unserved)
        bat = inp.battery
        if bat is not None:
            self.content_mwh += (bat.charge_efficiency * row.bess_charge_mwh
                                 - row.bess_discharge_mwh / bat.discharge_efficiency)
        if self.avail.dr is not None:
            self.dr[self.avail.dr][1] += row.grid_import_mwh
        if self.avail.grid_up:
            self.grid_up[k] += f
        return row, shed

    def _backup(self, row: physics.MeterRow, grid_mwh: float, lim: physics.BusLimits,
                f: float) -> physics.MeterRow:
        """Split the row's import into grid and backup; gensets run at least at their floor,
        the excess taking the battery's discharge first, then charging it."""
        extra = row.grid_import_mwh - grid_mwh
        if extra <= 0.0:
            return row
        row = row._replace(grid_import_mwh=grid_mwh)
        st, b, hours = self.avail, self.inp.backup, self.inp.dt_h * f
        if st.ups_on:
            self.ups_mwh += extra
            return row._replace(backup_mwh=extra)
        room = row.bess_discharge_mwh + lim.max_charge_mwh - row.bess_charge_mwh
        g = genset_dispatch(extra, b, st.backup_units(), hours, st.fuel_l, room)
        less = min(g.extra_charge_mwh, row.bess_discharge_mwh)
        burnt = g.energy_mwh * b.fuel_l_per_mwh
        st.fuel_l -= burnt
        self.fuel_l += burnt
        self.genset_mwh += g.energy_mwh
        self.below_floor_h += hours if g.below_floor else 0.0
        return row._replace(backup_mwh=g.energy_mwh,
                            bess_discharge_mwh=row.bess_discharge_mwh - less,
                            bess_charge_mwh=row.bess_charge_mwh + g.extra_charge_mwh - less)

    # --- the EMS's guard -------------------------------------------------------------------
    def guard(self, k: int, now_s: float, obs: Observation, sp: Setpoints,
              pausable: list[tuple[str, float]]) -> Setpoints:
        """The strategy's setpoints adapted to the state now (see the module docstring).
        ``pausable``: the running jobs here that may pause, with their IT energy per slice."""
        inp, st = self.inp, self.avail
        lim = self.bus_limits(k, 1.0)
        nonit = 1.0 + obs.nonit_per_it
        # what the site would serve of the batch asked (it caps it at free GPUs and backlog)
        batch = min(sp.batch_gpu_seconds, obs.free_gpu_seconds, obs.batch_backlog_gpu_seconds)
        pause = set(sp.pause_training)
        load = (obs.it_fixed_mwh + batch * obs.it_mwh_per_batch_gpu_second) * nonit
        backup = 0.0 if st.grid_up or inp.backup is None else min(
            inp.backup.rating_mw * inp.dt_h, st.fuel_l / inp.backup.fuel_l_per_mwh)
        green = lim.pv_avail_mwh + lim.wind_avail_mwh
        short = load - (green + lim.max_discharge_mwh + lim.max_import_mwh + backup)
        target = st.dr_target_mw()
        # short of supply, or islanded: stored energy and fuel are kept for what cannot wait,
        # so deferrable work runs only on what renewables give
        emergency = short > 0.0 or not st.grid_up
        if not emergency and target is None:
            return self._hold(now_s, sp, load / inp.dt_h)
        # the battery covers what renewables leave (in a call, down to the target), no more:
        # a discharge beyond it would only be exported; it charges only from surplus
        need = load - green - (0.0 if emergency else target * inp.dt_h)
        charge = min(sp.bess_charge_mwh, max(green - load, 0.0))
        discharge = max(sp.bess_discharge_mwh, min(lim.max_discharge_mwh, max(need, 0.0)))
        if emergency:
            over = short if st.grid_up else load - green
        else:
            over = need - discharge
        for kind in inp.shedding:
            if over <= 0.0:
                break
            if kind == "training":
                for job, it_mwh in pausable:
                    if over > 0.0 and job not in pause:
                        pause.add(job)
                        over -= it_mwh * nonit
            elif kind == "batch":
                keep = 0.0 if emergency else min(batch, batch_must_run_gpu_s(obs))
                over -= (batch - keep) * obs.it_mwh_per_batch_gpu_second * nonit
                batch = keep
        return dataclasses.replace(sp, batch_gpu_seconds=batch, bess_charge_mwh=charge,
                                   bess_discharge_mwh=discharge, pause_training=frozenset(pause))

    def _hold(self, now_s: float, sp: Setpoints, load_mw: float) -> Setpoints:
        """Before a scheduled outage or demand-response call (within ``HOLD_AHEAD_S``), keep
        in the battery what it will need: the call's cut, or the load now, over the event's
        length, through the discharge efficiency."""
        bat, ev = self.inp.battery, self.inp.events
        if bat is None:
            return sp
        need_mwh = 0.0
        for w, mw in [*((w, w.reduce_import_mw) for w in ev.demand_response),
                      *((w, load_mw) for w in ev.outages)]:
            if 0.0 < w.start_s - now_s <= HOLD_AHEAD_S:
                need_mwh = max(need_mwh, mw * (w.end_s - w.start_s) / 3600.0
                               / bat.discharge_efficiency)
        if need_mwh <= 0.0:
            return sp
        hold = min(bat.min_soc_mwh + need_mwh, bat.max_soc_mwh)
        room = max(self.content_mwh - hold, 0.0) * bat.discharge_efficiency
        if sp.bess_discharge_mwh <= room:
            return sp
        return dataclasses.replace(sp, bess_discharge_mwh=room)

    # --- what it did -----------------------------------------------------------------------
    def report(self, start: pd.Timestamp) -> dict:
        """Backup energy and fuel, tokens shed, and per demand-response call the MW asked,
        the baseline, the MW delivered (baseline minus the mean import in the window), and
        its payment and penalty (``start``: the run's first slice)."""
        calls = []
        for call, (baseline_mw, import_mwh) in self.dr.items():
            hours = (call.end_s - call.start_s) / 3600.0
            delivered_mwh = max(baseline_mw * hours - import_mwh, 0.0)
            asked_mwh = call.reduce_import_mw * hours
            calls.append({
                "start": str(start + pd.Timedelta(seconds=call.start_s)),
                "end": str(start + pd.Timedelta(seconds=call.end_s)),
                "asked_mw": call.reduce_import_mw, "baseline_mw": baseline_mw,
                "mean_import_mw": import_mwh / hours, "delivered_mw": delivered_mwh / hours,
                "delivered_share": min(delivered_mwh / asked_mwh, 1.0),
                "payment_usd": min(delivered_mwh, asked_mwh) * call.payment_usd_per_mwh,
                "penalty_usd": max(asked_mwh - delivered_mwh, 0.0) * call.penalty_usd_per_mwh})
        b = self.inp.backup
        return {"genset_mwh": self.genset_mwh, "ups_mwh": self.ups_mwh,
                "fuel_l": self.fuel_l, "genset_below_floor_h": self.below_floor_h,
                # the UPS's energy is metered as backup and carried at the gensets' factor
                "backup_emissions_kg": (self.genset_mwh + self.ups_mwh)
                * (b.emission_kg_per_mwh if b else 0.0),
                "shed_tokens_in": float(self.shed_tokens_in.sum()),
                "shed_tokens_out": float(self.shed_tokens_out.sum()),
                "demand_response": calls, "grid_up_fraction": np.asarray(self.grid_up)}
