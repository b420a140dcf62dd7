"""The fleet oracle: build and solve time of one LP over 2 and 4 sites, 28 days at 15 minutes.

The 2-site fleet is ``scenarios/east_west.yaml``. The 4-site fleet adds a second eastern and a
second western campus (copies with their own request and training seeds), every site linked to
every other (5 ms on a coast, 35 ms across), eastern API requests reaching all four sites and
each coast's users its two. Per fleet, medians of 3 runs of: the LP's data and Pyomo model
(``fleet_data`` + ``build_fleet_model``), its hand-over to HiGHS (standard-form compile and
``passModel``), and one HiGHS solve of the cost objective (dual simplex, one thread); with the
LP's size. Ratios are the 4-site figure over the 2-site one, measured in the same process.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import record  # noqa: E402
from twin.dispatch.fleet import FleetInputs  # noqa: E402
from twin.fleet import fleet_inputs  # noqa: E402
from twin.inputs import build_site_inputs  # noqa: E402
from twin.optimize.fleet_model import build_fleet_model  # noqa: E402
from twin.optimize.fleet_plan import fleet_data  # noqa: E402
from twin.optimize.highs import CompiledLP  # noqa: E402
from twin.run import accounting_params  # noqa: E402
from twin.scenario import from_dict, load_raw  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "east_west.yaml"
REPEATS = 3


def four_sites(raw: dict) -> dict:
    """The east_west fleet with a second campus on each coast."""
    out = copy.deepcopy(raw)
    east, west = out["sites"]
    for site, seed in ((east, 7), (west, 8)):
        twin = copy.deepcopy(site)
        twin["name"] = site["name"] + "2"
        for job in twin["workload"].get("training", []):
            job["tokens"] = float(job["tokens"]) * 0.8
        twin["workload"]["interactive"]["seed"] = seed
        out["sites"].append(twin)
    names = [s["name"] for s in out["sites"]]
    coast = {"east": "e", "east2": "e", "west": "w", "west2": "w"}
    links = [lk for lk in out["fleet"]["links"] if not set(lk["between"]) <= set(names)]
    links += [{"between": ["east_chat", "east2"], "latency_ms": 4},
              {"between": ["east_api", "east2"], "latency_ms": 4},
              {"between": ["east_api", "west2"], "latency_ms": 37},
              {"between": ["west_users", "west2"], "latency_ms": 5}]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            links.append({"between": [a, b], "latency_ms": 5 if coast[a] == coast[b] else 35,
                          "bandwidth_gbit_s": 100, "energy_kwh_per_gb": 0.005})
    out["fleet"]["links"] = links
    return out


def measure(raw: dict) -> dict:
    scn = from_dict(raw, SCENARIO.parent)
    inputs = [build_site_inputs(scn, k) for k in range(len(scn.sites))]
    inputs, regions, links = fleet_inputs(scn, inputs)
    params = [accounting_params(scn, inp) for inp in inputs]
    fleet = FleetInputs(inputs, regions, links, params)
    runs = {"build_s": [], "compile_and_pass_s": [], "highs_solve_s": []}
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        f = fleet_data(fleet.inputs, fleet.regions, fleet.links, [p.alpha for p in params])
        fm = build_fleet_model(f, "cost")
        runs["build_s"].append(time.perf_counter() - t0)
        lp = CompiledLP(fm.model)
        runs["compile_and_pass_s"].append(lp.compile_s + lp.pass_s)
        lp.solve()
        runs["highs_solve_s"].append(lp.solve_s)
    out = {"sites": len(inputs), "slices": inputs[0].n, "columns": lp.h.getNumCol(),
           "rows": lp.h.getNumRow(), "movable_jobs": len(f.jobs),
           "objective_usd": round(lp.objective * 100.0, 0)}
    for key, values in runs.items():
        out[key] = round(statistics.median(values), 2)
        out[key.removesuffix("_s") + "_runs_s"] = [round(v, 2) for v in values]
    return out


def main() -> None:
    raw = load_raw(SCENARIO)
    two, four = measure(raw), measure(four_sites(raw))
    ratios = {f"{k}_4_over_2": round(four[k] / two[k], 2)
              for k in ("columns", "build_s", "compile_and_pass_s", "highs_solve_s")}
    path = record("fleet_oracle", {"what": __doc__.split("\n\n")[0], "two_sites": two,
                                   "four_sites": four, **ratios})
    print(path.read_text())


if __name__ == "__main__":
    main()
