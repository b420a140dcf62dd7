"""Full-year runs of the default scenario (marked slow; `make test` runs them).

Capacity-factor ranges: the Greensboro NC TMY3 gives a fixed-tilt (25 deg, south) PV plant with
PVWatts losses an AC capacity factor of about 0.20 on its inverters, and 24 E-141/4200 turbines at
135 m (log profile from the 10 m anemometer, z0 = 0.1 m) about 0.17; the bounds below allow
+-0.01 around what pvlib and windpowerlib give when run directly (tests/models/test_supply.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT, SCENARIOS
from twin.run import simulate
from twin.scenario import from_dict, load

STEP_INVARIANCE_RTOL = 0.005


@pytest.mark.slow
def test_make_run_equivalent_full_year(tmp_path):
    out = tmp_path / "western_hub"
    r = subprocess.run([sys.executable, "-m", "twin.cli", "run",
                        str(SCENARIOS / "western_hub.yaml"), "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    meters = pd.read_parquet(out / "meters.parquet")
    assert len(meters) == 35040
    assert meters["time"].iloc[0] == pd.Timestamp("2023-01-01", tz="UTC")
    s = json.loads((out / "summary.json").read_text())
    k = s["sites"]["campus"]["kpis"]
    assert 0.19 < k["pv_capacity_factor"] < 0.21
    assert 0.16 < k["wind_capacity_factor"] < 0.18
    g = s["gti"]
    assert 0.0 < g["gti_slice"] <= g["gti_aggregate"] <= 1.0
    assert len([m for m in s["levels"]["month"] if m["method"] == "slice"]) == 12
    assert k["deadline_misses"] == 0 and k["batch_jobs"] == 365
    # the campus: about 100 MW of IT at full load, PUE within the cooling curve's range. The
    # ceiling: 4,096 training GPUs at 700 W board power, the other 119,104 serving at 600 W,
    # all with 35% host overhead.
    assert 1.06 + 0.05 <= k["pue"] <= 1.35 + 0.05
    assert meters["it_mwh"].max() * 4 <= (119_104 * 600 + 4096 * 700) * 1.35 / 1e6 + 1e-6
    assert k["training_jobs"] == 1 and k["training_tokens"] == pytest.approx(1.0e13)
    v = subprocess.run([sys.executable, "-m", "twin.cli", "verify", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert v.returncode == 0, v.stderr


@pytest.mark.slow
def test_time_step_invariance_15_vs_60_minutes():
    base = load(SCENARIOS / "western_hub.yaml")
    totals = {}
    for minutes in (15, 60):
        raw = base.model_dump(exclude={"base_dir"})
        raw["slice_minutes"] = minutes
        res = simulate(from_dict(raw, base_dir=base.base_dir))
        k = res.summary["kpis"]
        totals[minutes] = (k["pv_available_mwh"], k["wind_available_mwh"], k["it_mwh"],
                           k["facility_mwh"])
    for a, b in zip(totals[15], totals[60], strict=True):
        assert a == pytest.approx(b, rel=STEP_INVARIANCE_RTOL)
