"""Sizing the default scenario's plant for a time-slice GTI of 0.8: the chronological year and
typical days.

Recorded (HiGHS 1.15 through highspy; HiPO from highspy-extras):

- ``hourly_year``: the chronological year at 60 minutes solved by HiPO (the sizing default),
  ``REPEATS`` times, each a fresh model; the median is the figure ``aidc-twin size`` quotes;
- ``solvers``: the same LP with IPX and dual simplex, each stopped at ``OTHER_LIMIT_S`` (a time
  limit is a result here);
- ``lean_lp``: the rows the sizing LP no longer builds (the battery window per slice, implied
  by the charge and discharge limits; peak-import rows without a demand charge) added back,
  against the LP as built, in turns in this process;
- ``quarter_hour_year``: the chronological year at 15 minutes by HiPO, within ``QUARTER_LIMIT_S``;
- ``typical_days``: K typical days (tsam, :func:`twin.optimize.periods.typical_days`, the
  site's local days), the plant dispatched over every day of the year by the chronological LP
  with its capacities fixed (``check_*``, ``check_solver`` the method that solved it), against
  the chronological optimum: cost and time;
- ``day_cut``: on :data:`DAY_CUT`'s scenarios, typical days cut at UTC midnight
  (``first_slice`` 0) against the site's local midnight, each against its scenario's hourly
  year solved once in the same process.

Each timed build and solve starts after a garbage collection: a Pyomo model is full of
reference cycles, so the previous solve's model is left to the cyclic collector, which would
otherwise run in the middle of the next measurement (a year's model: 1.6 million objects,
0.8 s to collect; 48 typical days built in 1.47 s with it pending, 0.47 s without) where a
fresh ``aidc-twin size`` has nothing to collect.

``--only PART`` (``hourly_year``, ``typical_days`` or ``day_cut``) measures that part alone and
keeps the rest; typical days alone are set against one solve of the hourly year in the same
process (``typical_days_against``), run first.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyomo.environ as pyo  # noqa: E402

import twin.optimize.sizing as sizing  # noqa: E402
from benchmarks._common import record  # noqa: E402
from twin.optimize.highs import SolverSettings  # noqa: E402
from twin.optimize.sizing import SizingResult  # noqa: E402
from twin.scenario import load  # noqa: E402
from twin.size_run import sizing_problem  # noqa: E402

TARGET = 0.8
REPEATS = 3
OTHER_LIMIT_S = 180.0
QUARTER_LIMIT_S = 600.0
TYPICAL = ((32, "medoid"), (48, "medoid"), (64, "medoid"), (32, "distribution"))
#: Scenarios and typical-day counts on which UTC days are set against local days.
DAY_CUT = (("western_hub", (32, 48)), ("colorado_desert", (32, 48)))
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "western_hub.yaml"


def _r(value: float, digits: int):
    return None if value != value else round(value, digits)  # NaN (not solved) -> null


def plant(r: SizingResult) -> dict:
    return {"status": r.status, "annual_cost_musd": _r(r.annual_cost / 1e6, 3),
            "pv_mw": _r(r.pv_mw, 1), "wind_mw": _r(r.wind_mw, 1),
            "bess_mw": _r(r.bess_mw, 1), "bess_mwh": _r(r.bess_mwh, 1)}


def _with_removed_rows(build):
    """``build_sizing_model`` with the rows the lean LP leaves out added back."""
    def wrapped(d, *args, **kw):
        sm = build(d, *args, **kw)
        m, st, sup = sm.model, sm.dispatch.storage, sm.dispatch.supply
        lo, hi = kw.get("min_soc_fraction", 0.05), kw.get("max_soc_fraction", 0.95)
        m.soc_max = pyo.Constraint(m.T, rule=lambda m, t: st.soc_mwh[t] <= hi * st.energy_mwh)
        m.soc_min = pyo.Constraint(m.T, rule=lambda m, t: st.soc_mwh[t] >= lo * st.energy_mwh)
        m.old_peak_mw = pyo.Var(bounds=(0.0, None))
        m.old_peak = pyo.Constraint(m.T, rule=lambda m, t: m.old_peak_mw
                                    >= sup.import_mwh[t] / d.dt_h)
        return sm
    return wrapped


def solve_year(p, solver: SolverSettings, removed_rows: bool = False) -> dict:
    build = sizing.build_sizing_model
    if removed_rows:
        sizing.build_sizing_model = _with_removed_rows(build)
    try:
        gc.collect()  # the last solve's model is cyclic garbage: not this one's time
        t0 = time.perf_counter()
        s, _ = p.sizer("slice", TARGET, solver)
        built = time.perf_counter() - t0
    finally:
        sizing.build_sizing_model = build
    r = s.solve(TARGET)
    return {"slices": p.d.n, "rows": s.lp.h.getNumRow(), "columns": s.lp.h.getNumCol(),
            "solver": s.lp.method, "build_and_pass_s": round(built, 1),
            "highs_s": round(r.solve_s, 1), "ipm_iterations": s.lp.ipm_iterations,
            **plant(r), "_result": r}


def typical(p, k: int, representation: str, optimum_usd: float, chrono_s: float,
            first_slice: int | None = None) -> dict:
    """K typical days (from the site's local midnight, or from slice ``first_slice`` of each
    day), the plant checked over every day, against the chronological optimum."""
    gc.collect()  # as a fresh command starts: no earlier model's garbage left to collect
    t0 = time.perf_counter()
    s, tp = p.sizer("slice", TARGET, sizing.SIZING_SOLVER, typical=k,
                    representation=representation, first_slice=first_slice)
    r = s.solve(TARGET)
    took = time.perf_counter() - t0
    check = p.full_check(r, tp, sizing.SIZING_SOLVER)
    full = check["full_cost"]
    return {"typical_days": k, "representation": representation, "first_slice": tp.first_slice,
            "slices": k * tp.per_day,
            "tsam_build_and_solve_s": round(took, 2),
            "highs_s": round(r.solve_s, 2), **plant(r), "planned_gti": _r(r.planned_gti, 4),
            "check_status": check["full_status"], "check_annual_cost_musd": _r(full / 1e6, 3),
            "check_gti": _r(check["full_gti"], 4), "check_s": round(check["full_solve_s"], 1),
            "check_solver": check["full_solver"],
            "check_vs_optimum": _r(full / optimum_usd - 1, 4),
            "planned_vs_optimum": _r(r.annual_cost / optimum_usd - 1, 4),
            "faster_than_chronological": round(chrono_s / took, 1)}


def _strip(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "_result"}


def hourly_year(hourly) -> tuple[dict, SizingResult, float]:
    """``REPEATS`` solves of the hourly year: the record, the optimum, the median total [s]."""
    runs = [solve_year(hourly, sizing.SIZING_SOLVER) for _ in range(REPEATS)]
    median_total_s = statistics.median(r["highs_s"] + r["build_and_pass_s"] for r in runs)
    return ({"runs": [_strip(r) for r in runs],
             "median_highs_s": statistics.median(r["highs_s"] for r in runs),
             "median_build_and_solve_s": round(median_total_s, 1)},
            runs[0]["_result"], median_total_s)


def reference_year(p) -> tuple[dict, float, float]:
    """One solve of ``p``'s hourly year, the reference typical days are set against in the
    same process: its record, the optimum [$/a] and its build and solve time [s]."""
    year = solve_year(p, sizing.SIZING_SOLVER)
    optimum = year.pop("_result")
    return year, optimum.annual_cost, year["build_and_pass_s"] + year["highs_s"]


def day_cut(hourly) -> dict:
    """Typical days cut at UTC midnight against the site's local midnight, on the scenarios
    of :data:`DAY_CUT`: the hourly year solved once (the reference), then K medoid typical days
    each way, each plant checked over every day. ``hourly``: the default scenario's problem,
    already built."""
    out = {}
    for name, ks in DAY_CUT:
        p = (hourly if name == SCENARIO.stem
             else sizing_problem(load(SCENARIO.parent / f"{name}.yaml"), 0, 60, None))
        year, optimum_usd, chrono_s = reference_year(p)
        out[name] = {"utc_offset_h": p.inp.utc_offset_h, "hourly_year": year, "typical_days": [
            typical(p, k, "medoid", optimum_usd, chrono_s, first_slice=first)
            for k in ks for first in (0, None)]}
    return out


#: The parts ``--only`` measures alone, the others kept from the last record.
ALONE = ("hourly_year", "typical_days", "day_cut")


def only(part: str, hourly) -> None:
    """Measure ``part`` (one of :data:`ALONE`) and keep the other parts of the last record;
    the hourly year's record before is kept as ``hourly_year_before``. Typical days are set
    against one solve of the hourly year in this process, before them (the machine's speed
    drifts between records)."""
    import json

    from benchmarks._common import RESULTS

    last = json.loads((RESULTS / "sizing.json").read_text())
    last.pop("machine")
    if part == "hourly_year":
        last["hourly_year_before"] = last["hourly_year"]
        last["hourly_year"] = hourly_year(hourly)[0]
    elif part == "day_cut":
        last["day_cut"] = day_cut(hourly)
    else:
        last["typical_days_against"], optimum_usd, chrono_s = reference_year(hourly)
        last["typical_days"] = [typical(hourly, k, rep, optimum_usd, chrono_s)
                                for k, rep in TYPICAL]
    record("sizing", last)
    print(json.dumps(last[part], indent=2))


def main() -> None:
    """Every part, or with ``--only PART`` that part alone (:func:`only`)."""
    scn = load(SCENARIO)
    hourly = sizing_problem(scn, 0, 60, None)
    if "--only" in sys.argv:
        part = sys.argv[sys.argv.index("--only") + 1:]
        if len(part) != 1 or part[0] not in ALONE:
            sys.exit(f"error: --only: the parts measured alone are {', '.join(ALONE)}")
        only(part[0], hourly)
        return
    hipo = sizing.SIZING_SOLVER
    year, optimum, median_total_s = hourly_year(hourly)
    lean = {"with_removed_rows": [], "as_built": []}
    for _ in range(2):
        lean["with_removed_rows"].append(_strip(solve_year(hourly, hipo, removed_rows=True)))
        lean["as_built"].append(_strip(solve_year(hourly, hipo)))
    others = [_strip(solve_year(hourly, SolverSettings(m, time_limit_s=OTHER_LIMIT_S)))
              for m in ("ipx", "simplex")]
    typical_days = [typical(hourly, k, rep, optimum.annual_cost, median_total_s)
                    for k, rep in TYPICAL]
    quarter = _strip(solve_year(sizing_problem(scn, 0, 15, None),
                                SolverSettings("hipo", time_limit_s=QUARTER_LIMIT_S)))
    cut = day_cut(hourly)
    path = record("sizing", {
        "what": __doc__.split("\n\n")[0], "target": TARGET,
        "hourly_year": year,
        "solvers": others, "lean_lp": lean, "typical_days": typical_days,
        "quarter_hour_year": quarter, "day_cut": cut})
    print(path.read_text())


if __name__ == "__main__":
    main()
