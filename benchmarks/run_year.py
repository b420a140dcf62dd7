"""One year of the default scenario at 15 minutes: inputs, SimPy simulation, scoring.

Medians of several runs; the ratio is against the same year at 60 minutes run in this process.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import record  # noqa: E402
from twin.run import simulate  # noqa: E402
from twin.scenario import from_dict, load  # noqa: E402

REPEATS = 3


def timings(minutes: int) -> dict[str, float]:
    scn = load(Path(__file__).resolve().parents[1] / "scenarios" / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["slice_minutes"] = minutes
    scn = from_dict(raw, base_dir=scn.base_dir)
    runs = [simulate(scn).summary["timings_s"] for _ in range(REPEATS)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    t15, t60 = timings(15), timings(60)
    total15, total60 = sum(t15.values()), sum(t60.values())
    path = record("run_year", {
        "what": "western_hub, one year, greedy strategy: inputs (weather, pvlib, windpowerlib, "
                "workload), SimPy simulation, invariants and gti_core scoring",
        "repeats": REPEATS,
        "median_s_15min": t15,
        "median_s_60min": t60,
        "total_15_over_60_ratio": round(total15 / total60, 2),
    })
    print(f"15 min: {t15}  60 min: {t60}  ratio {total15 / total60:.2f}; wrote {path}")


if __name__ == "__main__":
    main()
