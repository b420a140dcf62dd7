"""Sizing the default scenario's plant for a time-slice GTI of 0.8: full horizon or typical days.

The solve is the hard part (FEASIBILITY.md: a 15-minute year did not finish in 10 minutes with
dual simplex). Recorded, one run each (a run takes minutes):

- ``full_year``: the chronological year, hourly and 15-minute, with HiGHS dual simplex and
  interior point, each stopped at a time limit (a time limit is a result here);
- ``typical_days``: the year on K typical days (tsam), and the chosen plant dispatched over every
  day of the year by the chronological LP with its capacities fixed (``check_*``): the cost the
  typical days plan against the cost the plant really has over the year;
- ``four_weeks``: the first 28 days, where the chronological sizing solves, so the typical-day
  plant can be compared with the true optimum.

Ratios are against the hourly chronological solve of the same horizon, in the same process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks._common import RESULTS, record  # noqa: E402
from twin.inputs import build_site_inputs  # noqa: E402
from twin.optimize.data import horizon_data  # noqa: E402
from twin.optimize.periods import typical_days  # noqa: E402
from twin.optimize.sizing import (  # noqa: E402
    Plant,
    Sizer,
    SizingResult,
    per_mw_profiles,
    sizing_costs,
)
from twin.scenario import load  # noqa: E402
from twin.size_run import _scenario_at  # noqa: E402

TIME_LIMIT_S = 300.0
TARGET = 0.8
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "western_hub.yaml"


def problem(minutes: int, days: int | None) -> dict:
    scn = load(SCENARIO)
    at = _scenario_at(scn, 0, minutes, days)
    inp = build_site_inputs(at, 0)
    d = horizon_data(inp, at.site_accounting(0).resolved_alpha,
                     discharge_green_fraction=np.ones(inp.n))
    cf_pv, cf_wind = per_mw_profiles(inp)
    b = at.sites[0].battery
    return {"d": d, "pv": cf_pv, "wind": cf_wind, "costs": sizing_costs(scn.sizing),
            "start": inp.index[0],
            "storage": dict(min_soc_fraction=b.min_soc_fraction,
                            max_soc_fraction=b.max_soc_fraction,
                            initial_soc_fraction=b.initial_soc_fraction)}


def _r(value: float, digits: int):
    return None if value != value else round(value, digits)  # NaN (not solved) -> null


def plant(r: SizingResult) -> dict:
    return {"status": r.status, "annual_cost_musd": _r(r.annual_cost / 1e6, 3),
            "pv_mw": _r(r.pv_mw, 1), "wind_mw": _r(r.wind_mw, 1),
            "bess_mw": _r(r.bess_mw, 1), "bess_mwh": _r(r.bess_mwh, 1)}


def chronological(p: dict, solver: str, time_limit_s: float | None) -> dict:
    t0 = time.perf_counter()
    s = Sizer(p["d"], p["pv"], p["wind"], p["costs"], "slice", TARGET,
              time_limit_s=time_limit_s, **p["storage"])
    build = time.perf_counter() - t0
    s.lp.h.setOptionValue("solver", solver)
    r = s.solve(TARGET)
    return {"slices": p["d"].n, "columns": s.lp.h.getNumCol(), "rows": s.lp.h.getNumRow(),
            "solver": solver, "build_and_pass_s": round(build, 1), "highs_s": round(r.solve_s, 1),
            **plant(r), "_result": r}


def typical(p: dict, k: int, optimum: SizingResult | None = None,
            check_limit_s: float | None = None) -> dict:
    t0 = time.perf_counter()
    tp, d_tp, pv_tp, wind_tp = typical_days(p["d"], p["pv"], p["wind"], k, p["start"])
    t1 = time.perf_counter()
    s = Sizer(d_tp, pv_tp, wind_tp, p["costs"], "slice", TARGET, periods=tp, **p["storage"])
    r = s.solve(TARGET)
    t2 = time.perf_counter()
    fixed = Plant.of(r)
    check = Sizer(p["d"], p["pv"], p["wind"], p["costs"], "slice", TARGET, fixed=fixed,
                  time_limit_s=check_limit_s, **p["storage"]).solve(TARGET)
    out = {"typical_days": k, "slices": d_tp.n, "columns": s.lp.h.getNumCol(),
           "tsam_s": round(t1 - t0, 2), "build_and_solve_s": round(t2 - t1, 2),
           "highs_s": round(r.solve_s, 2), **plant(r), "planned_gti": round(r.planned_gti, 4),
           "check_status": check.status,
           "check_annual_cost_musd": _r(check.annual_cost / 1e6, 3),
           "check_gti": _r(check.planned_gti, 4), "check_s": round(check.solve_s, 1),
           "planned_vs_check": _r(r.annual_cost / check.annual_cost - 1, 4)}
    if optimum is not None and optimum.status == "optimal":
        out["planned_vs_optimum"] = round(r.annual_cost / optimum.annual_cost - 1, 4)
        out["check_vs_optimum"] = round(check.annual_cost / optimum.annual_cost - 1, 4)
    return out


def main() -> None:
    weeks = problem(60, 28)
    ref = chronological(weeks, "simplex", None)
    four_weeks = {"chronological": {k: v for k, v in ref.items() if k != "_result"},
                  "typical": [typical(weeks, k, ref["_result"]) for k in (4, 8, 16)]}
    hourly, quarter = problem(60, None), problem(15, None)
    # the check at 15 minutes is a dispatch LP of 35,040 slices: stopped at the time limit
    year = [typical(hourly, k) for k in (8, 16, 32)] + [typical(quarter, 16,
                                                                check_limit_s=TIME_LIMIT_S)]
    if "--reuse-full-year" in sys.argv:  # 20 minutes of time limits: keep the last record
        import json

        last = json.loads((RESULTS / "sizing.json").read_text())
        full = last["full_year"]
        for r in full:
            r.setdefault("measured", "in an earlier run of this script (--reuse-full-year)")
    else:
        full = [chronological(hourly, "simplex", TIME_LIMIT_S),
                chronological(hourly, "ipm", TIME_LIMIT_S),
                chronological(quarter, "simplex", TIME_LIMIT_S),
                chronological(quarter, "ipm", TIME_LIMIT_S)]
        for r in full:
            r.pop("_result")
    base = four_weeks["chronological"]["highs_s"]
    for r in four_weeks["typical"]:
        r["highs_over_chronological"] = round(r["highs_s"] / base, 3)
    path = record("sizing", {"what": __doc__.split("\n\n")[0], "target": TARGET,
                             "time_limit_s": TIME_LIMIT_S, "four_weeks": four_weeks,
                             "typical_days": year, "full_year": full})
    print(path.read_text())


if __name__ == "__main__":
    main()
