"""`aidc-twin score` on metered data: the example export, resampling by energy, and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from gti_core.meters import ENERGY_COLUMNS
from tests.conftest import ROOT
from tests.tolerances import FLOAT_ATOL, FLOAT_REL

DATA = ROOT / "tests" / "data"
METERS = DATA / "example_site_meters.csv"
CONFIG = DATA / "example_accounting.yaml"


def aidc(*args):
    return subprocess.run([sys.executable, "-m", "twin.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_score_example_writes_summary_and_verifies(tmp_path):
    out = tmp_path / "score"
    r = aidc("score", METERS, "--config", CONFIG, "--out", out)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["accounting"]["alpha"] == 0.7
    assert s["accounting"]["grid_data_granularity"] == "quarterly"
    g = s["sites"]["example-dc"]["gti"]
    assert 0.0 < g["gti_slice"] <= g["gti_aggregate"] <= 1.0
    assert s["kpis"]["it_mwh"] == pytest.approx(48 * 8.0)
    assert s["kpis"]["emissions_location_kg"] > 0
    assert aidc("verify", out).returncode == 0
    # The REC (20 MWh at weight 0.8 = 16 MWh) lifts only the aggregate, by 16 / 384 MWh of IT
    # (the site leaves more than 16 MWh uncovered).
    plain = tmp_path / "plain.yaml"
    text = CONFIG.read_text()
    plain.write_text(text[:text.index("    contracts:")])
    r2 = aidc("score", METERS, "--config", plain, "--out", tmp_path / "plain")
    assert r2.returncode == 0, r2.stderr
    g0 = json.loads((tmp_path / "plain" / "summary.json").read_text())["sites"]["example-dc"]["gti"]
    assert g["gti_slice"] == pytest.approx(g0["gti_slice"], abs=FLOAT_ATOL)
    assert g["gti_aggregate"] - g0["gti_aggregate"] == pytest.approx(16 / 384, abs=FLOAT_ATOL)


def test_five_minute_export_is_summed_into_fifteen_minute_slices(tmp_path):
    hourly = pd.read_csv(METERS)
    fine = hourly.loc[hourly.index.repeat(12)].reset_index(drop=True)
    energy = list(ENERGY_COLUMNS)
    fine[energy] = fine[energy] / 12.0
    t0 = pd.Timestamp(hourly["time"].iloc[0])
    fine["time"] = pd.date_range(t0, periods=len(fine), freq="5min").strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "five_min.csv"
    fine.to_csv(path, index=False)
    out = tmp_path / "s"
    r = aidc("score", path, "--config", CONFIG, "--out", out)
    assert r.returncode == 0, r.stderr
    meters = pd.read_parquet(out / "meters.parquet")
    assert len(meters) == 48 * 4
    # energy is conserved by the resampling: same annual totals as the hourly file
    for col in energy:
        assert meters[col].sum() == pytest.approx(hourly[col].sum(), rel=FLOAT_REL)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.drop(columns="cooling_mwh"), "column 'cooling_mwh' is missing"),
        (lambda d: d.assign(pv_mwh=d["pv_mwh"].where(d.index != 13, -1.0)),
         "pv_mwh = -1.0: must be >= 0 at row 13"),
        (lambda d: d.assign(grid_import_mwh=d["grid_import_mwh"] + (d.index == 5) * 0.5),
         "energy balance does not close by 0.5 MWh at row 5"),
    ],
    ids=["missing-column", "negative-energy", "balance"],
)
def test_bad_meters_exit_2_naming_column_and_row(tmp_path, edit, message):
    path = tmp_path / "bad.csv"
    edit(pd.read_csv(METERS)).to_csv(path, index=False)
    out = tmp_path / "out"
    r = aidc("score", path, "--config", CONFIG, "--out", out)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_certificate_used_at_two_sites_is_refused(tmp_path):
    a = pd.read_csv(METERS)
    two = pd.concat([a, a.assign(site="second-dc")], ignore_index=True)
    path = tmp_path / "two.csv"
    two.to_csv(path, index=False)
    cfg = tmp_path / "acc.yaml"
    text = CONFIG.read_text()
    rec = text[text.index("    contracts:"):]
    cfg.write_text(text + "  second-dc:\n" + rec)
    r = aidc("score", path, "--config", cfg, "--out", tmp_path / "o")
    assert r.returncode == 2
    assert "certificate 'rec-2023-0001' is already retired for site 'example-dc'" in r.stderr


def test_alpha_outside_band_in_config_is_refused(tmp_path):
    cfg = tmp_path / "acc.yaml"
    shutil.copy(CONFIG, cfg)
    cfg.write_text(cfg.read_text().replace("alpha: 0.7", "alpha: 0.9"))
    r = aidc("score", METERS, "--config", cfg, "--out", tmp_path / "o")
    assert r.returncode == 2 and "alpha = 0.9: outside the quarterly band [0.6, 0.8]" in r.stderr
