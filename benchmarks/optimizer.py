"""The dispatch optimizer: how Pyomo hands the LP to HiGHS, the year-long oracle, and MPC.

1. Candidates for handing the Pyomo model to HiGHS, on 30 days of the default scenario
   (medians of 3): Pyomo's LinearStandardFormCompiler + highspy.passModel (what
   twin.optimize uses), Pyomo's persistent ``appsi_highs`` and ``highs`` interfaces
   (``set_instance``), and writing an LP file for ``highspy.readModel``. The ratio is each
   candidate's translation time over ours, measured in the same process.
2. The oracle over one year at 15 minutes (objective cost, one LP): Pyomo build, compile, pass
   and HiGHS time (one run: a solve takes about a minute), by dual simplex (the oracle's
   method) and by HiPO.
3. MPC over one year (48 h windows re-solved hourly, 8,760 solves): total time, and milliseconds
   per re-solve (median and 95th percentile), against the greedy year in the same process.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import highspy  # noqa: E402
import pyomo.environ as pyo  # noqa: E402

from benchmarks._common import RESULTS, median_seconds, record  # noqa: E402
from twin.inputs import build_site_inputs  # noqa: E402
from twin.optimize.data import horizon_data  # noqa: E402
from twin.optimize.highs import CompiledLP, SolverSettings  # noqa: E402
from twin.optimize.model import build_model  # noqa: E402
from twin.run import simulate  # noqa: E402
from twin.scenario import from_dict, load  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "western_hub.yaml"


def scenario(days: int | None):
    scn = load(SCENARIO)
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = days
    return from_dict(raw, base_dir=scn.base_dir)


def candidates(days: int = 30) -> dict:
    inp = build_site_inputs(scenario(days), 0)
    d = horizon_data(inp, 0.45)

    def ours():
        CompiledLP(build_model(d, "cost").model)

    def persistent(name):
        def go():
            opt = pyo.SolverFactory(name)
            opt.set_instance(build_model(d, "cost").model)
        return go

    def lp_file():
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "m.lp")
            build_model(d, "cost").model.write(
                path, io_options={"symbolic_solver_labels": False})
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.readModel(path)

    build, _ = median_seconds(lambda: build_model(d, "cost"), 3)
    out = {"slices": d.n, "pyomo_build_s": round(build, 3)}
    base, _ = median_seconds(ours, 3)
    out["standard_form_and_passModel_s"] = round(base - build, 3)
    for name, fn in (("appsi_highs_set_instance_s", persistent("appsi_highs")),
                     ("highs_set_instance_s", persistent("highs")),
                     ("lp_file_write_and_read_s", lp_file)):
        t, _ = median_seconds(fn, 3)
        out[name] = round(t - build, 3)
        out[name.removesuffix("_s") + "_over_ours"] = round((t - build) / (base - build), 1)
    return out


def oracle_year() -> dict:
    """The oracle's LP (dual simplex, its default: the fixed-point loop re-solves warm), and
    the same LP by HiPO, the sizing default, in the same process."""
    inp = build_site_inputs(scenario(None), 0)
    t0 = time.perf_counter()
    d = horizon_data(inp, 0.45)
    m = build_model(d, "cost").model
    build = time.perf_counter() - t0
    lp = CompiledLP(m)
    lp.solve()
    hipo = CompiledLP(m, SolverSettings("hipo"))
    hipo.solve()
    return {"columns": lp.h.getNumCol(), "rows": lp.h.getNumRow(),
            "pyomo_build_s": round(build, 2), "compile_s": round(lp.compile_s, 2),
            "pass_to_highs_s": round(lp.pass_s, 2), "highs_solve_s": round(lp.solve_s, 2),
            "build_total_over_highs": round((build + lp.compile_s + lp.pass_s) / lp.solve_s, 2),
            "simplex_iterations": lp.iterations,
            "hipo_solve_s": round(hipo.solve_s, 2), "hipo_solved_by": hipo.solved_by,
            "hipo_over_simplex": round(hipo.solve_s / lp.solve_s, 2),
            "objective_hipo_minus_simplex": hipo.objective - lp.objective}


def mpc_year() -> dict:
    scn = scenario(None)
    t0 = time.perf_counter()
    greedy = simulate(scn, "greedy")
    t_greedy = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = simulate(scn, "mpc", "cost")
    t_mpc = time.perf_counter() - t0
    rep = res.summary["sites"]["campus"]["strategy"]
    return {"solves": rep["solves"], "total_s": round(t_mpc, 1),
            "greedy_year_s": round(t_greedy, 1), "mpc_over_greedy": round(t_mpc / t_greedy, 1),
            "solve_ms_median": round(rep["solve_ms_median"], 2),
            "solve_ms_p95": round(rep["solve_ms_p95"], 2),
            "cost_mpc": round(res.summary["kpis"]["cost_total"]),
            "cost_greedy": round(greedy.summary["kpis"]["cost_total"])}


PARTS = {"candidates_30_days": candidates, "oracle_year_cost": oracle_year,
         "mpc_year_cost": mpc_year}


def main() -> None:
    """All parts, or with ``--only PART`` that part, the others kept from the last record."""
    import json

    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if only is not None and only not in PARTS:
        sys.exit(f"error: --only = {only!r}: one of {sorted(PARTS)}")
    figures = {"what": __doc__.split("\n\n")[0]}
    if only is not None:
        last = json.loads((RESULTS / "optimizer.json").read_text())
        figures.update({k: last[k] for k in PARTS})
    figures.update({k: fn() for k, fn in PARTS.items() if only in (None, k)})
    path = record("optimizer", figures)
    print(path.read_text())


if __name__ == "__main__":
    main()
