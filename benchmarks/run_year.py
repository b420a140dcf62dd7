"""One year of the default scenario at 15 minutes: inputs, SimPy simulation, scoring.

Medians of several runs; the ratio is against the same year at 60 minutes run in this process.
With ``--baseline REV`` the same year is also timed on commit ``REV`` (checked out with ``git
worktree`` into a temporary folder) and on this tree, in fresh processes that take turns, so that
both see the same machine at the same time: ``before_after`` records the medians and their ratio,
for the year's core (``wall_s``: inputs, simulation, power flows, scoring) and for the whole
``aidc-twin run`` command (``command_s``: imports, the run, the report and the run folder).
Each process runs ``REPEATS`` years; ``core_s_first_in_process_*`` is the median of the first
of them, the one year a single command runs (later ones reuse what a process makes once, such
as the connection's empty pandapower network). A run pauses the cyclic garbage collector
(:mod:`twin.gcpause`), which leaves its cycles to be collected after it:
``core_with_collection_s_*`` adds a full collection after each run (the run still alive), so
that code with and without the pause is compared with all of its collecting counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import record  # noqa: E402

REPEATS = 3
#: The stages of a run that ``summary.json`` times, in order; they add up to the run's core.
STAGES = ("inputs_s", "simulate_s", "power_flow_s", "score_s")
#: Rounds of the before/after comparison; each round runs REPEATS years per tree.
ROUNDS = 2
#: Times one year with whatever ``twin`` is first on the path; prints its timings as JSON.
_ONE_TREE = """
import gc, json, sys, time
from pathlib import Path
from twin.run import simulate
from twin.scenario import load
scn = load(Path(sys.argv[1]))
runs = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    res = simulate(scn)
    wall = time.perf_counter() - t0
    gc.collect()  # the cycles the run left, collected before the next (the run is alive)
    collected = time.perf_counter() - t0
    t = res.summary["timings_s"]
    runs.append({"inputs_s": t["inputs_s"], "simulate_s": t["simulate_s"],
                 "power_flow_s": t["power_flow_s"], "score_s": t["score_s"], "wall_s": wall,
                 "wall_with_collection_s": collected})
print(json.dumps(runs))
"""


def timings(minutes: int) -> dict[str, float]:
    from twin.run import simulate
    from twin.scenario import from_dict, load

    scn = load(ROOT / "scenarios" / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["slice_minutes"] = minutes
    scn = from_dict(raw, base_dir=scn.base_dir)
    runs = [simulate(scn).summary["timings_s"] for _ in range(REPEATS)]
    return {k: statistics.median(r[k] for r in runs) for k in STAGES}


def _tree_runs(tree: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", _ONE_TREE,
                          str(ROOT / "scenarios" / "western_hub.yaml"), str(REPEATS)],
                         cwd=tree, env=env, capture_output=True, text=True, check=True)
    runs = json.loads(out.stdout.strip().splitlines()[-1])
    for i, run in enumerate(runs):
        run["first_in_process"] = i == 0
        # the whole command as a user types it, imports and writes included
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "twin.cli", "run",
                            str(ROOT / "scenarios" / "western_hub.yaml"), "--out",
                            str(Path(tmp) / "run")], cwd=tree, env=env, capture_output=True,
                           check=True)
            run["command_s"] = time.perf_counter() - t0
    return runs


def before_after(rev: str) -> dict:
    """The default year on ``rev`` and on this tree, in turns [s]."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), rev],
                       check=True, capture_output=True)
        try:
            before, after = [], []
            for _ in range(ROUNDS):
                before += _tree_runs(base)
                after += _tree_runs(ROOT)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=True, capture_output=True)

    def medians(runs: list[dict]) -> dict:
        return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]
                if k != "first_in_process"}

    def first(runs: list[dict]) -> float:  # what a single run in a fresh process takes
        return round(statistics.median(r["wall_s"] for r in runs if r["first_in_process"]), 3)

    b, a = medians(before), medians(after)
    return {"baseline_rev": rev, "runs_each": len(before), "median_s_before": b,
            "median_s_after": a, "core_s_before": round(b["wall_s"], 3),
            "core_s_after": round(a["wall_s"], 3),
            "core_s_first_in_process_before": first(before),
            "core_s_first_in_process_after": first(after),
            "core_with_collection_s_before": b["wall_with_collection_s"],
            "core_with_collection_s_after": a["wall_with_collection_s"],
            "after_over_before": round(a["wall_s"] / b["wall_s"], 3),
            "command_s_before": b["command_s"], "command_s_after": a["command_s"],
            "command_after_over_before": round(a["command_s"] / b["command_s"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a commit to time the same year on, in turns")
    args = parser.parse_args()
    t15, t60 = timings(15), timings(60)
    total15, total60 = sum(t15.values()), sum(t60.values())
    figures = {
        "what": "western_hub, one year, greedy strategy: inputs (weather, pvlib, windpowerlib, "
                "workload), SimPy simulation, invariants and gti_core scoring",
        "repeats": REPEATS,
        "median_s_15min": t15,
        "median_s_60min": t60,
        "total_15_over_60_ratio": round(total15 / total60, 2),
    }
    if args.baseline:
        figures["before_after"] = before_after(args.baseline)
    path = record("run_year", figures)
    print(json.dumps(figures, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
