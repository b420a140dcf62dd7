"""A year of 15-minute AC power flows of the default scenario's grid connection (issue 4).

lightsim2grid's TimeSeriesCPP on the pandapower network, against pandapower's own runpp run
slice by slice on a sample of the same slices in this process (the baseline), as a ratio of the
time per slice. Medians of several runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandapower as pp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import median_seconds, record  # noqa: E402
from models.network import load_network, slice_power_flow, year_power_flows  # noqa: E402
from twin.connection import connection_flows  # noqa: E402
from twin.dispatch import make_strategy  # noqa: E402
from twin.engine import simulate_site  # noqa: E402
from twin.inputs import build_site_inputs  # noqa: E402
from twin.scenario import load  # noqa: E402

REPEATS = 5
BASELINE_SLICES = 100


def main() -> None:
    scn = load(Path(__file__).resolve().parents[1] / "scenarios" / "western_hub.yaml")
    site = scn.sites[0]
    meters = simulate_site(build_site_inputs(scn, 0), make_strategy("greedy")).meters
    dt = scn.slice_minutes / 60
    fac = meters["facility_mwh"].to_numpy() / dt
    q = fac * np.tan(np.arccos(site.grid.network.facility_power_factor))
    pv, wind = meters["pv_mwh"].to_numpy() / dt, meters["wind_mwh"].to_numpy() / dt
    bess = (meters["bess_discharge_mwh"] - meters["bess_charge_mwh"]).to_numpy() / dt
    net = load_network(site.grid.network, scn.base_dir)
    year, year_runs = median_seconds(lambda: year_power_flows(net, fac, q, pv, wind, bess),
                                     REPEATS)
    with_build, _ = median_seconds(lambda: connection_flows(
        meters, site, scn.slice_minutes, load_network(site.grid.network, scn.base_dir)),
        REPEATS)
    sample = np.linspace(0, len(fac) - 1, BASELINE_SLICES).astype(int)
    facility = net.load.index[net.load["name"] == "facility"][0]
    sgen = {name: net.sgen.index[net.sgen["name"] == name][0] for name in ("pv", "wind", "bess")}

    def runpp_loop() -> None:
        # the baseline: write the slice's injections into the net, then pandapower's runpp
        for k in sample:
            net.load.at[facility, "p_mw"], net.load.at[facility, "q_mvar"] = fac[k], q[k]
            for name, series in (("pv", pv), ("wind", wind), ("bess", bess)):
                net.sgen.at[sgen[name], "p_mw"] = series[k]
            pp.runpp(net)

    base, _ = median_seconds(runpp_loop, 3)
    k = int(sample[BASELINE_SLICES // 2])
    check = slice_power_flow(net, fac[k], q[k], pv[k], wind[k], bess[k])
    agree = abs(check["poi_import_mw"] - year_power_flows(
        net, fac[k:k + 1], q[k:k + 1], pv[k:k + 1], wind[k:k + 1], bess[k:k + 1]
    ).poi_import_mw[0])
    per_slice_ls2g = year / len(fac)
    per_slice_pp = base / BASELINE_SLICES
    path = record("power_flows", {
        "what": "AC power flows of the western_hub connection (ext grid, 2 x 15 km 110 kV "
                "circuits, 250 MVA 110/33 kV transformer, site bus) for every 15-minute slice",
        "slices": int(len(fac)),
        "repeats": REPEATS,
        "year_solve_median_s": round(year, 4),
        "year_with_network_build_median_s": round(with_build, 4),
        "pandapower_runpp_ms_per_slice": round(per_slice_pp * 1e3, 2),
        "lightsim2grid_us_per_slice": round(per_slice_ls2g * 1e6, 2),
        "speedup_over_runpp": round(per_slice_pp / per_slice_ls2g, 1),
        "runpp_year_extrapolated_s": round(per_slice_pp * len(fac), 1),
        "runs_s": [round(x, 4) for x in year_runs],
        "poi_import_difference_mw_at_a_sample_slice": agree,
    })
    print(f"year {year:.3f} s ({per_slice_ls2g * 1e6:.1f} us/slice), with build {with_build:.3f}"
          f" s; runpp {per_slice_pp * 1e3:.1f} ms/slice (x{per_slice_pp / per_slice_ls2g:.0f});"
          f" wrote {path}")


if __name__ == "__main__":
    main()
