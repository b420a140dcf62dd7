"""The dispatch LP's families for scheduled events (see :mod:`models.events`).

- :func:`add_outage_constraints` - the POI limits of each slice as bounds on import and export:
  0 while a scheduled outage keeps the grid down, the limit in force during a POI-limit window
  (the slice's mean where a window covers part of it); the supply family's unserved slack,
  penalised, is the shedding the plan cannot avoid;
- :func:`add_backup_constraints` - gensets: per slice at most their rating while the grid is
  down, over the horizon at most what the fuel on site gives, at its fuel cost; backup is grey
  (it enters the balance but not the green inflow);
- :func:`add_demand_response_constraints` - per call, the import over its slices at most the
  baseline (the plan's own mean import in the same slices of the days before, as the
  settlement computes it) less the cut asked, or a shortfall that costs the penalty and the
  payment lost.

Each returns a typed handle; :func:`event_cost` is their part of the objective [$, scaled as
the objective's energy cost].
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyomo.environ as pyo

from twin.optimize.data import HorizonData
from twin.optimize.handles import BackupHandle, DemandResponseHandle, SupplyHandle


def add_event_families(m: pyo.ConcreteModel, d: HorizonData, supply: SupplyHandle
                       ) -> SupplyHandle:
    """The three families; the supply handle gains the backup and demand-response handles
    (the balance and the objective take them from it)."""
    add_outage_constraints(m, d, supply)
    return dataclasses.replace(supply, backup=add_backup_constraints(m, d),
                               demand_response=add_demand_response_constraints(m, d, supply))


def add_outage_constraints(m: pyo.ConcreteModel, d: HorizonData, supply: SupplyHandle) -> bool:
    """Per-slice POI limits as bounds (True when the horizon has any)."""
    if np.ndim(d.max_import_mwh) == 0 and np.ndim(d.max_export_mwh) == 0:
        return False
    imp = np.broadcast_to(np.asarray(d.max_import_mwh, dtype=float), (d.n,))
    exp = np.broadcast_to(np.asarray(d.max_export_mwh, dtype=float), (d.n,))
    for t in m.T:
        supply.import_mwh[t].setub(float(imp[t]))
        supply.export_mwh[t].setub(float(exp[t]))
    return True


def add_backup_constraints(m: pyo.ConcreteModel, d: HorizonData) -> BackupHandle | None:
    """Gensets' energy per slice within their rating while the grid is down, and within the
    fuel on site over the horizon (None without gensets or outages)."""
    if d.backup_mwh is None:
        return None
    cap = np.asarray(d.backup_mwh, dtype=float)
    m.backup_mwh = pyo.Var(m.T, bounds=lambda m, t: (0.0, float(cap[t])))
    m.backup_fuel = pyo.Constraint(expr=sum(m.backup_mwh[t] for t in m.T) <= d.backup_fuel_mwh)
    return BackupHandle(m.backup_mwh, m.backup_fuel)


def add_demand_response_constraints(m: pyo.ConcreteModel, d: HorizonData, supply: SupplyHandle
                                    ) -> DemandResponseHandle | None:
    """Each call's import within its baseline less the cut, or a shortfall (None without
    calls)."""
    if not d.dr_calls:
        return None
    m.DR = pyo.Set(initialize=range(len(d.dr_calls)), ordered=True)
    m.dr_short_mwh = pyo.Var(m.DR, bounds=(0.0, None))
    imp = supply.import_mwh

    def call(m, c):
        dr = d.dr_calls[c]
        slices_long = float(dr.share.sum())  # the call's length in slices
        baseline = sum(imp[int(t)] for b in dr.baseline for t in b) if dr.baseline else 0.0
        per_day = [len(b) for b in dr.baseline]
        scale = slices_long / (len(per_day) * per_day[0]) if per_day else 0.0
        return (sum(float(s) * imp[int(t)] for t, s in zip(dr.window, dr.share, strict=True))
                - scale * baseline <= -dr.asked_mwh + m.dr_short_mwh[c])

    m.dr_calls = pyo.Constraint(m.DR, rule=call)
    return DemandResponseHandle(m.dr_short_mwh, m.dr_calls)


def event_cost(m: pyo.ConcreteModel, d: HorizonData, supply: SupplyHandle):
    """Fuel of the backup and the calls' shortfalls [$]."""
    backup, dr, cost = supply.backup, supply.demand_response, 0.0
    if backup is not None:
        cost = cost + d.backup_usd_per_mwh * sum(backup.backup_mwh[t] for t in m.T)
    if dr is not None:
        cost = cost + sum(d.dr_calls[c].short_usd_per_mwh * dr.short_mwh[c] for c in m.DR)
    return cost
