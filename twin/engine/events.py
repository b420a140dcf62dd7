"""Events as SimPy processes: what a site can draw on, changed at the events' own times.

:class:`Availability` is the site's state that events change: whether the grid is up, the
import and export limits in force, the share of each plant in service, whether the UPS carries
the load, whether the gensets are online and how much fuel is left, and the demand-response
call in force. :class:`EventProcesses` owns one process per scheduled window, per failing unit
and per islanding: each, at its time, has the site settle the part of the running slice
before the change (under the state that held then), changes the state, logs the change
(``events.parquet``) and interrupts the site's EMS, which goes on under the new state
(:meth:`twin.engine.site.Site.run_slice`).

Islanding: when the grid goes down the UPS carries the whole load at once; the gensets are
started and take the load ``start_delay_s`` later. If the UPS's ``ups_ride_through_s`` is
shorter than that, load beyond what renewables and the battery give is shed in between. The
gensets stop when the grid returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import simpy

from models.events import DemandResponse, Failures, unit_downtimes
from twin.inputs import SiteInputs


@dataclass
class Availability:
    """What a site can draw on now (changed by :class:`EventProcesses`)."""

    inp: SiteInputs
    outages: int = 0  # causes keeping the grid down (scheduled outages, grid failures)
    limits: list = field(default_factory=list)  # PoiLimit windows in force
    derates: dict = field(default_factory=lambda: {"pv": [], "wind": [], "battery": []})
    failed: dict = field(default_factory=lambda: {"grid": 0, "pv": 0, "wind": 0, "battery": 0,
                                                  "backup": 0})
    units: dict = field(default_factory=dict)  # units per failing component
    ups_on: bool = False
    gensets_online: bool = False
    fuel_l: float = 0.0
    dr: DemandResponse | None = None
    dr_baseline_mw: float = 0.0
    # what the bus reads every part of every slice, recomputed when an event changes the
    # state: the shares of PV, wind and battery in service, the import and export limits [MW]
    now: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute :attr:`now` from the state (after every change)."""
        self.now = (self.in_service("pv"), self.in_service("wind"),
                    self.in_service("battery"), self.import_mw(), self.export_mw())

    @property
    def grid_up(self) -> bool:
        return self.outages == 0

    def import_mw(self) -> float:
        """Import limit in force [MW] (0 while the grid is down)."""
        if not self.grid_up:
            return 0.0
        caps = [w.max_import_mw for w in self.limits if w.max_import_mw is not None]
        return min([self.inp.max_import_mw, *caps])

    def export_mw(self) -> float:
        """Export limit in force [MW] (0 while the grid is down)."""
        if not self.grid_up:
            return 0.0
        caps = [w.max_export_mw for w in self.limits if w.max_export_mw is not None]
        return min([self.inp.max_export_mw, *caps])

    def in_service(self, component: str) -> float:
        """Share of ``pv``, ``wind`` or ``battery`` in service [fraction]: the scheduled
        derates in force times the share of its units not failed."""
        share = 1.0
        for d in self.derates[component]:
            share *= d.available_fraction
        units = self.units.get(component)
        return share * (1.0 - self.failed[component] / units) if units else share

    def backup_units(self) -> int:
        """Gensets that can run now (online, not failed, fuel left)."""
        b = self.inp.backup
        if b is None or not self.gensets_online or self.fuel_l <= 0.0:
            return 0
        return b.units - self.failed["backup"]

    def dr_target_mw(self) -> float | None:
        """Import the demand-response call in force asks for at most [MW] (None: no call)."""
        if self.dr is None:
            return None
        return max(self.dr_baseline_mw - self.dr.reduce_import_mw, 0.0)


class EventProcesses:
    """The site's event processes (see the module docstring).

    Parameters
    ----------
    env : simpy.Environment
    state : Availability
    log : callable
        ``log(name, time)`` records an event.
    settle_now, interrupt : callable
        Settle the running slice up to now; interrupt the site's EMS (both no-ops between
        slices).
    baseline_mw : callable
        ``baseline_mw(call)`` the demand-response baseline at the call's start [MW].
    """

    def __init__(self, env: simpy.Environment, state: Availability,
                 log: Callable[[str, float], None], settle_now: Callable[[], None],
                 interrupt: Callable[[], None], baseline_mw: Callable[[DemandResponse], float]):
        self.env, self.state, self.log = env, state, log
        self.settle_now, self.interrupt = settle_now, interrupt
        self.baseline_mw = baseline_mw
        ev, horizon_s = state.inp.events, state.inp.n * state.inp.slice_s
        if state.inp.backup is not None:
            state.fuel_l = state.inp.backup.tank_l
        for w in ev.outages:
            env.process(self.window(w, "grid outage", self.grid_down, self.grid_back))
        for w in ev.poi_limits:
            env.process(self.window(w, "POI limit", state.limits.append, state.limits.remove))
        for w in ev.derates:
            env.process(self.window(w, f"{w.component} derate", state.derates[w.component].append,
                                    state.derates[w.component].remove))
        for w in ev.demand_response:
            env.process(self.window(w, "demand response", self.dr_start, self.dr_end))
        for i, f in enumerate(ev.failures):
            state.units[f.component] = state.units.get(f.component, 0) + f.units
            for u in range(f.units):
                times = unit_downtimes(ev.seed, i, u, f, horizon_s)
                if times:
                    env.process(self.failing_unit(f, u, times))
        state.refresh()

    def window(self, w, name: str, on: Callable, off: Callable):
        """A scheduled window: ``on(w)`` at its start, ``off(w)`` at its end."""
        yield self.env.timeout(w.start_s)
        self.change(f"{name} start", on, w)
        yield self.env.timeout(w.end_s - w.start_s)
        self.change(f"{name} end", off, w)

    def change(self, what: str, fn: Callable, *args) -> None:
        """Settle the slice so far, change the state (``fn(*args)``), log it, interrupt."""
        self.settle_now()
        fn(*args)
        self.state.refresh()
        self.log(what, self.env.now)
        self.interrupt()

    def failing_unit(self, f: Failures, unit: int, times: list[tuple[float, float]]):
        """One unit's failures and repairs, at their drawn times."""
        for fails_at, repaired_at in times:
            name = "grid feed" if f.component == "grid" else f"{f.component} unit"
            yield self.env.timeout(fails_at - self.env.now)
            self.change(f"{name} {unit} failed", self.fail, f.component, True)
            yield self.env.timeout(repaired_at - self.env.now)
            self.change(f"{name} {unit} repaired", self.fail, f.component, False)

    def fail(self, component: str, down: bool) -> None:
        """A unit fails or is repaired; the grid is down while every one of its feeds is."""
        s = self.state
        all_down = s.failed[component] == s.units[component]
        s.failed[component] += 1 if down else -1
        if component == "grid" and down and s.failed["grid"] == s.units["grid"]:
            self.grid_down(None)
        elif component == "grid" and not down and all_down:
            self.grid_back(None)

    # --- islanding: the UPS at once, the gensets after their start delay ---------------------
    def grid_down(self, _w) -> None:
        self.state.outages += 1
        if self.state.outages == 1:
            self.env.process(self.island())

    def grid_back(self, _w) -> None:
        self.state.outages -= 1
        if self.state.grid_up:
            s = self.state
            if s.gensets_online:
                self.log("gensets stop", self.env.now)
            s.ups_on = s.gensets_online = False

    def island(self):
        """The UPS from the outage's start, the gensets after their start delay."""
        s, b = self.state, self.state.inp.backup
        s.ups_on = self.state.inp.ups_ride_through_s > 0.0
        delay = b.start_delay_s if b is not None else float("inf")
        ride = self.state.inp.ups_ride_through_s
        if ride < delay:  # the UPS runs out before the gensets take over
            if ride > 0.0:
                yield self.env.timeout(ride)
                if s.grid_up:
                    return
                self.change("UPS exhausted", setattr, s, "ups_on", False)
            if b is None:
                return
            yield self.env.timeout(delay - ride)
        else:
            yield self.env.timeout(delay)
        if not s.grid_up:
            self.change("gensets online", self.online, s)

    @staticmethod
    def online(s: Availability) -> None:
        s.ups_on, s.gensets_online = False, True

    # --- demand response -----------------------------------------------------------------------
    def dr_start(self, w: DemandResponse) -> None:
        self.state.dr, self.state.dr_baseline_mw = w, self.baseline_mw(w)

    def dr_end(self, _w) -> None:
        self.state.dr = None
