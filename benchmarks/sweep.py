"""Points per minute of a 100-point sweep at a one-day horizon, on 1 and 2 Dask workers.

The sweep is the default scenario over 10 battery sizes x 10 alphas, one day at 15 minutes per
point. Each configuration runs into a fresh catalog, twice; the figure is the median of the two
(a run takes minutes). The in-process run (no Dask, one point after another) is the baseline in
the same process; LocalCluster start-up is inside the timed region, as a user meets it.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from benchmarks._common import record  # noqa: E402
from twin.sweep import load_sweep, run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 2


def sweep_file(folder: Path) -> Path:
    spec = {"name": "bench100", "base": str(ROOT / "scenarios" / "western_hub.yaml"),
            "horizon_days": 1,
            "axes": {"sites.0.battery.energy_mwh": [float(100 * k) for k in range(10)],
                     "accounting.alpha": [round(0.3 + 0.03 * k, 2) for k in range(10)]}}
    path = folder / "bench100.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def one(workers: int, path: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_sweep(path)
        t0 = time.perf_counter()
        counts = run_sweep(spec, Path(tmp) / "sweep", Path(tmp) / "catalog.duckdb", workers)
        seconds = time.perf_counter() - t0
        assert counts["ok"] == 100, counts
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = sweep_file(Path(tmp))
        runs = {w: [one(w, path) for _ in range(REPEATS)] for w in (0, 1, 2)}
    figures = {}
    base = statistics.median(runs[0])
    for w, secs in runs.items():
        med = statistics.median(secs)
        figures["in_process" if w == 0 else f"workers_{w}"] = {
            "seconds": [round(s, 1) for s in secs], "median_s": round(med, 1),
            "points_per_minute": round(100 * 60 / med, 1),
            "speedup_over_in_process": round(base / med, 2)}
    path = record("sweep", {"what": __doc__.split("\n\n")[0], "points": 100,
                            "repeats": REPEATS, "runs": figures})
    print(path.read_text())


if __name__ == "__main__":
    main()
