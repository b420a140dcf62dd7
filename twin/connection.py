"""The site's grid connection after a simulation: power flows on the meters, losses into them.

Losses of the tie line and the site transformer are site consumption: they are added to
``aux_mwh`` (the spec's "distribution losses") and to ``facility_mwh``, and the grid meters move to
the point of interconnection (``import - export`` grows by the losses), so the balance still
closes. Slices where the POI exchange exceeds its limit, a branch is loaded above its rating or the
site voltage leaves its band are flagged, never silently corrected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gti_core.meters import optional_meter
from models.network import FlowResults, year_power_flows
from twin.scenario import SiteConfig

if TYPE_CHECKING:
    import pandapower as pp

#: Slack on limit checks, so that float noise is not a violation [MW] / [fraction].
LIMIT_TOL_MW = 1e-6
LOADING_TOL = 1e-9


def connection_flows(meters: pd.DataFrame, site: SiteConfig, slice_minutes: int,
                     net: pp.pandapowerNet) -> FlowResults:
    """Power flows of every slice of one site's meters (site-bus side; backup generation is
    injected at the site bus with the battery) on ``net``, the site's connection as
    :func:`models.network.load_network` built it."""
    cfg = site.grid.network
    dt_h = slice_minutes / 60.0
    facility = meters["facility_mwh"].to_numpy(float) / dt_h
    q = facility * np.tan(np.arccos(cfg.facility_power_factor))
    bess = (meters["bess_discharge_mwh"] - meters["bess_charge_mwh"]
            + optional_meter(meters, "backup_mwh")).to_numpy(float) / dt_h
    return year_power_flows(net, facility, q, meters["pv_mwh"].to_numpy(float) / dt_h,
                            meters["wind_mwh"].to_numpy(float) / dt_h, bess)


def meters_at_poi(meters: pd.DataFrame, flows: FlowResults, slice_minutes: int,
                  grid_up_fraction: np.ndarray | None = None) -> pd.DataFrame:
    """The meters with connection losses added to aux and the grid meters moved to the POI.

    Notes
    -----
    With ``L`` the losses of the slice [MWh]: ``aux += L``, ``facility += L``, and
    ``import' - export' = import - export + L`` with at most one of them non-zero. While the
    grid is down the connection is de-energised: ``L`` counts only the share of each slice the
    grid was up (``grid_up_fraction``, 1 where omitted).
    """
    dt_h = slice_minutes / 60.0
    loss = flows.losses_mw * dt_h * (1.0 if grid_up_fraction is None else grid_up_fraction)
    out = meters.copy()
    net = (meters["grid_import_mwh"] - meters["grid_export_mwh"]).to_numpy(float) + loss
    out["grid_import_mwh"] = np.maximum(net, 0.0)
    out["grid_export_mwh"] = np.maximum(-net, 0.0)
    out["aux_mwh"] = meters["aux_mwh"].to_numpy(float) + loss
    out["facility_mwh"] = meters["facility_mwh"].to_numpy(float) + loss
    return out


def flow_table(site: SiteConfig, time: pd.Series, flows: FlowResults) -> pd.DataFrame:
    """Per-slice connection results and flags (written as network.parquet)."""
    g, cfg = site.grid, site.grid.network
    table = pd.DataFrame({
        "time": time.array, "site": site.name,
        "poi_import_mw": flows.poi_import_mw, "losses_mw": flows.losses_mw,
        "vm_site_pu": flows.vm_site_pu, "vm_poi_pu": flows.vm_poi_pu,
    })
    for j, name in enumerate(flows.branch_names):
        table[f"loading_{name.replace(' ', '_')}_fraction"] = flows.branch_loading[:, j]
    table["poi_limit_exceeded"] = ((flows.poi_import_mw > g.max_import_mw + LIMIT_TOL_MW)
                                   | (-flows.poi_import_mw > g.max_export_mw + LIMIT_TOL_MW))
    table["overloaded"] = (flows.branch_loading > 1.0 + LOADING_TOL).any(axis=1)
    table["voltage_out_of_band"] = ((flows.vm_site_pu < cfg.min_voltage_pu)
                                    | (flows.vm_site_pu > cfg.max_voltage_pu))
    table["converged"] = flows.converged
    return table


def connection_summary(table: pd.DataFrame, slice_minutes: int) -> dict:
    """Counts and extremes of the flags, for summary.json."""
    dt_h = slice_minutes / 60.0
    first = {}
    for flag in ("poi_limit_exceeded", "overloaded", "voltage_out_of_band"):
        hit = table.index[table[flag]]
        first[flag] = str(table.at[hit[0], "time"]) if len(hit) else None
    loading_cols = [c for c in table.columns if c.startswith("loading_")]
    return {
        "losses_mwh": float(table["losses_mw"].sum() * dt_h),
        "max_poi_import_mw": float(table["poi_import_mw"].max()),
        "max_poi_export_mw": float(max(-table["poi_import_mw"].min(), 0.0)),
        "min_vm_site_pu": float(table["vm_site_pu"].min()),
        "max_vm_site_pu": float(table["vm_site_pu"].max()),
        "max_loading_fraction": {c.removeprefix("loading_").removesuffix("_fraction"):
                                 float(table[c].max()) for c in loading_cols},
        "poi_limit_exceeded_slices": int(table["poi_limit_exceeded"].sum()),
        "overloaded_slices": int(table["overloaded"].sum()),
        "voltage_out_of_band_slices": int(table["voltage_out_of_band"].sum()),
        "non_converged_slices": int((~table["converged"]).sum()),
        "first_flagged": first,
    }
