"""Tamper-evident run folders: manifests, signatures, and verify naming the changed file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.twin.test_cli import aidc, short_scenario
from twin.manifest import MANIFEST, build_manifest, check_folder, file_sha256, sign


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two key pairs: the run's, and another."""
    tmp = tmp_path_factory.mktemp("keys")
    out = {}
    for who in ("ours", "theirs"):
        r = aidc("keys", "new", "--out", tmp / who)
        assert r.returncode == 0, r.stderr
        out[who] = tmp / who
    return out


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory, keys):
    tmp = tmp_path_factory.mktemp("signed")
    out = tmp / "run"
    r = aidc("run", short_scenario(tmp, days=2), "--out", out,
             env={"AIDC_TWIN_SIGNING_KEY": str(keys["ours"] / "signing_key.pem")})
    assert r.returncode == 0, r.stderr
    return out


def test_the_manifest_lists_every_file_by_its_sha256_and_the_inputs(signed_run):
    m = json.loads((signed_run / MANIFEST).read_text())
    names = sorted(p.name for p in signed_run.iterdir() if p.name != MANIFEST)
    assert sorted(m["files"]) == names and "meters.parquet" in names
    assert all(m["files"][n] == file_sha256(signed_run / n) for n in names)
    assert m["aidc_twin_version"] and m["signature"]["algorithm"] == "Ed25519"
    # the scenario file and the weather it names are hashed as inputs
    assert {"scenario", "sites[0].weather.file"} <= set(m["inputs"])
    assert m["inputs"]["scenario"]["sha256"] == file_sha256(m["inputs"]["scenario"]["path"])


def test_edited_meters_with_a_matching_summary_fail_verify_and_name_the_file(signed_run,
                                                                             tmp_path):
    import shutil

    from gti_core.score import score_site
    from gti_core.tokens import task_green_ratios
    from twin.verify import params_from_summary, verify_run

    run = tmp_path / "run"
    shutil.copytree(signed_run, run)
    assert aidc("verify", run).returncode == 0
    # one value of meters.parquet edited (1 MWh more PV taken, 1 MWh less imported), and
    # summary.json and tasks.parquet recomputed to match, as a forger would
    meters = pd.read_parquet(run / "meters.parquet")
    k = int(meters["grid_import_mwh"].to_numpy().argmax())
    meters.loc[k, "pv_mwh"] += 1.0
    meters.loc[k, "grid_import_mwh"] -= 1.0
    meters.to_parquet(run / "meters.parquet")
    summary = json.loads((run / "summary.json").read_text())
    score = score_site(meters, params_from_summary(summary, "campus"))
    summary["sites"]["campus"]["gti"].update(gti_slice=score.gti_slice,
                                             gti_aggregate=score.gti_aggregate)
    (run / "summary.json").write_text(json.dumps(summary))
    tasks = pd.read_parquet(run / "tasks.parquet")
    ratios = task_green_ratios(pd.read_parquet(run / "task_energy.parquet"),
                               score.slices.assign(site="campus")[["site", "time", "it_mwh",
                                                                   "r_dc"]])
    tasks["r_task"] = tasks["task_id"].map(ratios.set_index("task_id")["r_task"]).fillna(0.0)
    tasks.to_parquet(run / "tasks.parquet")
    assert verify_run(run) == []  # the figures alone agree with the edited meters
    r = aidc("verify", run)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert "error: " in lines[0] and "meters.parquet: changed since the run" in r.stderr
    assert "summary.json: changed since the run" in r.stderr  # every changed file is named
    assert "events.parquet" not in r.stderr and "GTI" not in r.stderr  # nothing else


def test_a_manifest_resigned_under_another_key_fails_with_the_trusted_key(signed_run, tmp_path,
                                                                          keys):
    import shutil

    from twin.manifest import load_private_key
    run = tmp_path / "run"
    shutil.copytree(signed_run, run)
    trusted = keys["ours"] / "signing_key.pub"
    assert aidc("verify", run, "--trusted-key", trusted).returncode == 0
    # whoever edits the files and rebuilds the manifest can sign it only with their own key
    (run / "events.parquet").write_bytes((run / "events.parquet").read_bytes())
    forged = sign(build_manifest(run), load_private_key(keys["theirs"] / "signing_key.pem"))
    (run / MANIFEST).write_text(json.dumps(forged))
    assert check_folder(run) == []  # consistent in itself
    r = aidc("verify", run, "--trusted-key", trusted)
    assert r.returncode != 0 and "signed by key" in r.stderr and "not the trusted key" in r.stderr
    # a signature that does not cover the manifest fails without any trusted key
    forged["files"]["events.parquet"] = "0" * 64
    (run / MANIFEST).write_text(json.dumps(forged))
    assert check_folder(run)[0] == f"{MANIFEST}: the signature does not match what it signs"


def test_a_signing_key_that_cannot_be_read_is_refused_before_any_work(tmp_path):
    out = tmp_path / "run"
    r = aidc("run", short_scenario(tmp_path, days=1), "--out", out,
             env={"AIDC_TWIN_SIGNING_KEY": str(tmp_path / "missing.pem")})
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.strip().splitlines() == [
        f"error: AIDC_TWIN_SIGNING_KEY = {tmp_path / 'missing.pem'}: not a readable "
        "unencrypted PEM private key"]


def test_an_unsigned_run_fails_when_a_trusted_key_is_asked_for(tmp_path, keys):
    out = tmp_path / "run"
    assert aidc("run", short_scenario(tmp_path, days=1), "--out", out).returncode == 0
    assert "signature" not in json.loads((out / MANIFEST).read_text())
    assert aidc("verify", out).returncode == 0
    r = aidc("verify", out, "--trusted-key", keys["ours"] / "signing_key.pub")
    assert r.returncode == 1
    assert f"{MANIFEST}: not signed, and a trusted key was given" in r.stderr
    again = aidc("keys", "new", "--out", keys["ours"])  # never replaces a key pair
    assert again.returncode == 2 and "holds a key pair already" in again.stderr
