"""Sizing the default scenario's plant for a time-slice GTI of 0.8 over one year.

The solve is the hard part (FEASIBILITY.md: a 15-minute year did not finish in 10 minutes with
dual simplex). Recorded per resolution and HiGHS solver, one run each (a run takes minutes):
model build and hand-over time, HiGHS time (or the time limit it hit), and the plant. The
hourly simplex solve is the baseline the others are compared with, in the same process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks._common import record  # noqa: E402
from twin.inputs import build_site_inputs  # noqa: E402
from twin.optimize.data import horizon_data  # noqa: E402
from twin.optimize.sizing import Sizer, per_mw_profiles, sizing_costs  # noqa: E402
from twin.scenario import load  # noqa: E402
from twin.size_run import _scenario_at  # noqa: E402

TIME_LIMIT_S = 300.0


def one(minutes: int, solver: str) -> dict:
    scn = load(Path(__file__).resolve().parents[1] / "scenarios" / "western_hub.yaml")
    at = _scenario_at(scn, 0, minutes, None)
    inp = build_site_inputs(at, 0)
    d = horizon_data(inp, at.accounting.resolved_alpha, discharge_green_fraction=np.ones(inp.n))
    cf_pv, cf_wind = per_mw_profiles(inp)
    t0 = time.perf_counter()
    s = Sizer(d, cf_pv, cf_wind, sizing_costs(scn.sizing), "slice", 0.8,
              time_limit_s=TIME_LIMIT_S)
    build = time.perf_counter() - t0
    s.lp.h.setOptionValue("solver", solver)
    out = {"slices": d.n, "columns": s.lp.h.getNumCol(), "rows": s.lp.h.getNumRow(),
           "build_and_pass_s": round(build, 1), "solver": solver}
    r = s.solve(0.8)  # a time limit is a result here, recorded in the status
    out.update(status=r.status, highs_s=round(r.solve_s, 1),
               annual_cost_musd=round(r.annual_cost / 1e6, 3), pv_mw=round(r.pv_mw, 1),
               wind_mw=round(r.wind_mw, 1), bess_mw=round(r.bess_mw, 1),
               bess_mwh=round(r.bess_mwh, 1))
    return out


def main() -> None:
    runs = [one(60, "simplex"), one(60, "ipm"), one(15, "simplex"), one(15, "ipm")]
    base = runs[0]["highs_s"]
    for r in runs:
        r["highs_over_hourly_simplex"] = round(r["highs_s"] / base, 1) if base else None
    path = record("sizing", {"what": __doc__.split("\n\n")[0], "time_limit_s": TIME_LIMIT_S,
                             "runs": runs})
    print(path.read_text())


if __name__ == "__main__":
    main()
