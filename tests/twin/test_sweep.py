"""Sweeps on Dask: a catalog that survives a killed driver, and the same catalog from a
LocalCluster as from one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.twin.test_cli import aidc
from twin.sweep import KPI_COLUMNS, RUN_COLUMNS, load_sweep

SWEEP = ROOT / "tests" / "data" / "sweep_small.yaml"


def catalog(path) -> pd.DataFrame:
    """The catalog's rows in key order, without the columns that say where and when."""
    with duckdb.connect(str(path), read_only=True) as con:
        frame = con.execute("SELECT * FROM points ORDER BY key").fetchdf()
    return frame.drop(columns=[*RUN_COLUMNS, "meters_path"])


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The sweep run start to end in one process: the reference catalog."""
    tmp = tmp_path_factory.mktemp("clean")
    r = aidc("sweep", SWEEP, "--workers", "0", "--catalog", tmp / "c.duckdb", "--out", tmp / "s")
    assert r.returncode == 0, r.stderr
    return tmp


def test_points_are_keyed_by_their_resolved_scenario():
    sweep = load_sweep(SWEEP)
    keys = [p.key for p in sweep["points"]]
    assert len(keys) == 4 and len(set(keys)) == 4
    assert [p.axes for p in sweep["points"]][1] == {"sites.0.battery.energy_mwh": 0,
                                                    "accounting.alpha": 0.6}
    assert load_sweep(SWEEP)["points"][1].key == keys[1]  # stable from one load to the next


def test_a_sweep_killed_midway_resumes_with_every_point_once(clean, tmp_path):
    args = [sys.executable, "-m", "twin.cli", "sweep", str(SWEEP), "--workers", "1",
            "--catalog", str(tmp_path / "c.duckdb"), "--out", str(tmp_path / "s")]
    driver = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, start_new_session=True)
    done = 0
    try:
        for line in driver.stdout:
            done += line.startswith("point ")
            if done == 2:
                os.kill(driver.pid, signal.SIGKILL)  # the driver only, mid-sweep
                break
        driver.wait(timeout=60)
    finally:
        try:  # its Dask cluster's processes, orphaned by the kill
            os.killpg(driver.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert driver.returncode == -signal.SIGKILL
    assert 2 <= len(catalog(tmp_path / "c.duckdb")) < 4
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    skipped = int(r.stdout.split(" already in the catalog")[0].split(", ")[-1].split()[0])
    assert skipped >= 2
    resumed = catalog(tmp_path / "c.duckdb")
    assert resumed["key"].is_unique and len(resumed) == 4
    pd.testing.assert_frame_equal(resumed, catalog(clean / "c.duckdb"), check_exact=True)
    # and every point's meters are there, one file each
    assert len(list((tmp_path / "s" / "points").glob("*.parquet"))) == 4


def test_a_local_cluster_of_two_workers_gives_the_in_process_catalog(clean, tmp_path):
    r = aidc("sweep", SWEEP, "--workers", "2", "--catalog", tmp_path / "c.duckdb",
             "--out", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    two = catalog(tmp_path / "c.duckdb")
    pd.testing.assert_frame_equal(two, catalog(clean / "c.duckdb"), check_exact=True)
    assert (two["status"] == "ok").all()
    # the battery and alpha move the KPIs the way they must
    two["axes"] = two["axes"].map(json.loads)
    alpha = two["axes"].map(lambda a: a["accounting.alpha"])
    bat = two["axes"].map(lambda a: a["sites.0.battery.energy_mwh"])
    no_bat = two[bat == 0].set_index(alpha[bat == 0])
    assert no_bat.at[0.6, "gti_slice"] > no_bat.at[0.3, "gti_slice"]  # more grid green counted
    assert no_bat.at[0.6, "cost_usd"] == no_bat.at[0.3, "cost_usd"]  # alpha is accounting only
    heat = (tmp_path / "s" / "heatmap.html").read_text()
    assert "time-slice GTI" in heat and "sites.0.battery.energy_mwh" in heat
    # the sweep folder's manifest covers every point's meters and the heatmap
    from twin.manifest import MANIFEST, check_folder

    listed = json.loads((tmp_path / "s" / MANIFEST).read_text())["files"]
    assert sorted(listed) == ["heatmap.html", *sorted(
        f"points/{p.name}" for p in (tmp_path / "s" / "points").glob("*.parquet"))]
    assert len(listed) == 5 and check_folder(tmp_path / "s") == []
    point = next((tmp_path / "s" / "points").glob("*.parquet"))
    point.write_bytes(point.read_bytes() + b"\0")
    assert check_folder(tmp_path / "s") == [
        f"points/{point.name}: changed since the run (SHA-256 differs from the manifest's)"]


def test_a_failing_point_is_recorded_and_the_others_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {ROOT}/scenarios/western_hub.yaml\nhorizon_days: 1\n"
                   "axes:\n  sites.0.battery.energy_mwh: [-5, 0]\n")
    r = aidc("sweep", bad, "--workers", "0", "--catalog", tmp_path / "c.duckdb",
             "--out", tmp_path / "s")
    assert r.returncode == 3, r.stderr  # a point failed; the other is written
    assert r.stderr.splitlines()[-1].startswith("error: 1 of 2 points failed")
    rows = catalog(tmp_path / "c.duckdb").set_index("status")
    assert sorted(rows.index) == ["failed", "ok"]
    assert "sites[0].battery.energy_mwh = -5" in rows.at["failed", "error"]
    q = aidc("catalog", "query", "SELECT status, count(*) AS n FROM points GROUP BY status "
             "ORDER BY status", "--catalog", tmp_path / "c.duckdb", "--csv")
    assert q.returncode == 0 and q.stdout.splitlines() == ["status,n", "failed,1", "ok,1"]
    bad_sql = aidc("catalog", "query", "SELECT nope FROM points", "--catalog",
                   tmp_path / "c.duckdb")
    assert bad_sql.returncode == 2 and "query:" in bad_sql.stderr


def test_the_catalog_holds_the_headline_kpis(clean):
    frame = catalog(clean / "c.duckdb")
    assert {"key", "sweep", "axes", "status", *KPI_COLUMNS} <= set(frame.columns)
    assert (frame["sweep"] == "small").all()
