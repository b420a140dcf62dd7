"""Scoring a year of 15-minute meters for 10 sites (issue 3).

The meters come from one simulated year of the default scenario; ten sites are made from it by
scaling each site's energies (the balance still closes). Figures are medians of several runs and
the ratio to a baseline measured in the same process: scoring one site.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import median_seconds, record  # noqa: E402
from gti_core.meters import ENERGY_COLUMNS  # noqa: E402
from gti_core.score import score_site  # noqa: E402
from twin.run import simulate  # noqa: E402
from twin.scenario import load  # noqa: E402

REPEATS = 7


def main() -> None:
    res = simulate(load(Path(__file__).resolve().parents[1] / "scenarios" / "western_hub.yaml"))
    base = res.meters
    p0 = res.params[0]
    sites, params = [], []
    for k in range(10):
        scale = 1.0 + 0.05 * k
        m = base.copy()
        m["site"] = f"site-{k}"
        m[list(ENERGY_COLUMNS)] *= scale
        sites.append(m)
        storage = replace(p0.storage, initial_soc_mwh=p0.storage.initial_soc_mwh * scale)
        params.append(replace(p0, storage=storage))
    one, one_runs = median_seconds(lambda: score_site(sites[0], params[0]), REPEATS)
    ten, ten_runs = median_seconds(
        lambda: [score_site(m, p) for m, p in zip(sites, params, strict=True)], REPEATS)
    fleet = pd.concat(sites, ignore_index=True)
    path = record("score_fleet", {
        "what": "gti_core.score_site over 10 site-years of 15-minute meters (35,040 slices each)",
        "repeats": REPEATS,
        "one_site_median_s": round(one, 4),
        "ten_sites_median_s": round(ten, 4),
        "ten_over_one_ratio": round(ten / one, 2),
        "rows": len(fleet),
        "runs_s": {"one": [round(x, 4) for x in one_runs], "ten": [round(x, 4) for x in ten_runs]},
    })
    print(f"one site {one * 1e3:.1f} ms, ten sites {ten * 1e3:.1f} ms (x{ten / one:.2f}); "
          f"wrote {path}")


if __name__ == "__main__":
    main()
