"""Results before and after a change that must not change results (issue 14's acceptance).

``save DIR`` runs the default scenario's year under ``greedy``, its first 14 days under ``mpc``,
``oracle`` and ``threshold`` (the issue's cases), and its first 110 days under ``mpc`` and
``oracle`` (the training run, released on day 59 and due on day 104, puts the training families
to work), and writes each run's meters, tasks and GTIs to ``DIR``.
``compare OLD NEW`` checks two such folders: the year's meters, both GTIs and every task's
``r_task`` equal to 1e-9, and the 14-day meters equal to 1e-6 of the run's peak facility energy;
the 110-day meters to the same share of their peak; it records the largest differences in
``benchmarks/results/equivalence.json`` and exits 1 when a bound is broken.

It only uses ``twin.scenario`` and ``twin.run.simulate``, so one script runs any commit: put the
old tree first on ``PYTHONPATH`` to save its outputs (``git worktree add /tmp/base REV`` then
``PYTHONPATH=/tmp/base python benchmarks/equivalence.py save /tmp/old``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "western_hub.yaml"
#: (label, strategy, horizon days; None for the scenario's year)
RUNS = (("year_greedy", "greedy", None), ("d14_mpc", "mpc", 14), ("d14_oracle", "oracle", 14),
        ("d14_threshold", "threshold", 14), ("d110_mpc", "mpc", 110),
        ("d110_oracle", "oracle", 110))
YEAR_TOL = 1e-9  # absolute, on meters [MWh], GTIs and r_task [fraction]
WINDOW_TOL_OF_PEAK = 1e-6  # 14-day meters, as a share of the run's peak facility energy


def save(out: Path) -> None:
    from twin.run import simulate
    from twin.scenario import from_dict, load

    out.mkdir(parents=True, exist_ok=True)
    base = load(SCENARIO)
    for label, strategy, days in RUNS:
        raw = base.model_dump(exclude={"base_dir"})
        if days is not None:
            raw["horizon_days"] = days
        res = simulate(from_dict(raw, base_dir=base.base_dir), strategy)
        res.meters.to_parquet(out / f"{label}_meters.parquet")
        res.tasks[["task_id", "r_task", "r_task_aggregate", "it_mwh"]].to_parquet(
            out / f"{label}_tasks.parquet")
        g = res.summary["gti"]
        (out / f"{label}_gti.json").write_text(json.dumps(
            {"gti_slice": g["gti_slice"], "gti_aggregate": g["gti_aggregate"]}))
        print(f"{label}: GTI {g['gti_slice']:.9f} / {g['gti_aggregate']:.9f}")


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.select_dtypes(include="number")


def compare(old: Path, new: Path) -> dict:
    figures: dict = {}
    ok = True
    for label, _strategy, days in RUNS:
        a = pd.read_parquet(old / f"{label}_meters.parquet")
        b = pd.read_parquet(new / f"{label}_meters.parquet")
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            raise SystemExit(f"{label}: meter tables differ in shape or columns")
        diff = float(np.max(np.abs(_numeric(a).to_numpy() - _numeric(b).to_numpy())))
        peak = float(a["facility_mwh"].max())
        bound = YEAR_TOL if days is None else WINDOW_TOL_OF_PEAK * peak
        entry = {"max_meter_diff_mwh": diff, "bound_mwh": bound}
        ga = json.loads((old / f"{label}_gti.json").read_text())
        gb = json.loads((new / f"{label}_gti.json").read_text())
        entry["gti_diff"] = max(abs(ga[k] - gb[k]) for k in ga)
        if days is None:
            ta = pd.read_parquet(old / f"{label}_tasks.parquet").set_index("task_id")
            tb = pd.read_parquet(new / f"{label}_tasks.parquet").set_index("task_id")
            if set(ta.index) != set(tb.index):
                raise SystemExit(f"{label}: the task ids differ")
            tb = tb.loc[ta.index]
            entry["max_r_task_diff"] = float(np.max(np.abs(
                ta[["r_task", "r_task_aggregate"]].to_numpy()
                - tb[["r_task", "r_task_aggregate"]].to_numpy())))
            ok &= entry["gti_diff"] <= YEAR_TOL and entry["max_r_task_diff"] <= YEAR_TOL
        ok &= diff <= bound
        figures[label] = entry
        print(f"{label}: {entry}")
    figures["equal_within_bounds"] = bool(ok)
    return figures


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "save":
        save(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.path.insert(0, str(ROOT))
        from benchmarks._common import record

        figures = compare(Path(sys.argv[2]), Path(sys.argv[3]))
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        record("equivalence", {"what": __doc__.splitlines()[0], "head": rev, **figures})
        if not figures["equal_within_bounds"]:
            raise SystemExit(1)
    else:
        raise SystemExit("usage: equivalence.py save DIR | compare OLD NEW")


if __name__ == "__main__":
    main()
