"""The command line as a user meets it: exit codes, messages, and no partial results."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from gti_core.meters import METER_COLUMNS, OPTIONAL_ENERGY_COLUMNS
from tests.conftest import ROOT, SCENARIOS


def aidc(*args, cwd=ROOT, env=None):
    """The command line in a fresh process (``env``: variables added to this one's)."""
    import os

    return subprocess.run([sys.executable, "-m", "twin.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def short_scenario(tmp_path, days=2, **battery):
    raw = yaml.safe_load((SCENARIOS / "western_hub.yaml").read_text())
    raw["horizon_days"] = days
    raw["sites"][0]["battery"].update(battery)
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_missing_scenario_exits_2_with_one_line_and_writes_nothing(tmp_path):
    r = aidc("run", "scenarios/does-not-exist.yaml", "--out", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: scenarios/does-not-exist.yaml: scenario file not found"]
    assert not (tmp_path / "out").exists()
    assert not (ROOT / "results" / "does-not-exist").exists()


def test_negative_battery_exits_2_naming_the_field(tmp_path):
    path = short_scenario(tmp_path, energy_mwh=-5)
    r = aidc("run", path, "--out", tmp_path / "out")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "sites[0].battery.energy_mwh = -5" in lines[0]
    assert list(tmp_path.iterdir()) == [path]  # no results folder, no temporary folder


def test_unknown_strategy_exits_2(tmp_path):
    r = aidc("run", short_scenario(tmp_path), "--strategy", "psychic", "--out", tmp_path / "o")
    assert r.returncode == 2 and "--strategy = 'psychic'" in r.stderr
    assert not (tmp_path / "o").exists()


def test_run_writes_the_files_and_verify_recomputes_them(tmp_path):
    out = tmp_path / "run"
    r = aidc("run", short_scenario(tmp_path), "--out", out)
    assert r.returncode == 0, r.stderr
    assert "GTI time-slice" in r.stdout and "GTI aggregate" in r.stdout
    meters = pd.read_parquet(out / "meters.parquet")
    assert list(meters.columns) == [*METER_COLUMNS, *OPTIONAL_ENERGY_COLUMNS]
    assert (meters[list(OPTIONAL_ENERGY_COLUMNS)] == 0.0).all().all()  # no events, no backup
    assert len(meters) == 2 * 96
    tasks = pd.read_parquet(out / "tasks.parquet")
    for col in ("site", "start", "end", "tokens_in", "tokens_out", "it_mwh", "r_task"):
        assert col in tasks.columns
    summary = json.loads((out / "summary.json").read_text())
    acc = summary["accounting"]
    assert {"alpha", "allocation", "storage_rule", "charge_efficiency", "discharge_efficiency",
            "self_discharge_per_slice"} <= set(acc)
    gti = summary["sites"]["campus"]["gti"]
    assert 0.0 <= gti["gti_slice"] <= gti["gti_aggregate"] <= 1.0
    for key in ("cost_total", "grid_import_mwh", "grid_export_mwh", "curtailed_mwh", "it_mwh",
                "tokens_in", "tokens_out"):
        assert key in summary["kpis"]
    assert all(lab["method"] in ("slice", "aggregate") and "alpha" in lab and "allocation" in lab
               for lab in summary["levels"]["month"])
    v = aidc("verify", out)
    assert v.returncode == 0, v.stderr


def test_verify_catches_a_tampered_meter_file(tmp_path):
    out = tmp_path / "run"
    assert aidc("run", short_scenario(tmp_path, days=1), "--out", out).returncode == 0
    meters = pd.read_parquet(out / "meters.parquet")
    # Turn 1 MWh of grid import into PV in one slice: the balance still closes, GTI rises.
    i = int(meters["grid_import_mwh"].to_numpy().argmax())
    meters.loc[i, "grid_import_mwh"] -= 1.0
    meters.loc[i, "pv_mwh"] += 1.0
    meters.to_parquet(out / "meters.parquet", index=False)
    r = aidc("verify", out)  # the manifest catches it before any recomputation
    assert r.returncode == 1 and "meters.parquet: changed since the run" in r.stderr
    # a folder without a manifest (written before manifests): the recomputation catches it
    (out / "manifest.json").unlink()
    r = aidc("verify", out)
    assert r.returncode == 1 and "mismatch: gti_slice at campus" in r.stderr
    assert "no manifest.json; the files cannot be checked for changes" in r.stdout


def test_catalogue_lists_every_model_on_every_gpu_and_refuses_an_unknown_method():
    r = aidc("catalogue")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("H200-SXM") == 7 and "mixtral-8x7b" in r.stdout
    assert "0.120" in r.stdout and "0.600" in r.stdout  # the two fitted points
    bad = aidc("catalogue", "--method", "magic")
    assert bad.returncode == 2 and "energy_method = 'magic'" in bad.stderr


def test_every_strategy_and_objective_runs_from_the_command_line(tmp_path):
    path = short_scenario(tmp_path, days=1)
    for strategy, objective in (("no_control", "cost"), ("threshold", "gti"), ("mpc", "gti"),
                                ("oracle", "cost")):
        out = tmp_path / f"{strategy}-{objective}"
        r = aidc("run", path, "--strategy", strategy, "--objective", objective, "--out", out)
        assert r.returncode == 0, r.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert (summary["strategy"], summary["objective"]) == (strategy, objective)
        assert aidc("verify", out).returncode == 0
    # inputs.parquet holds what the optimizer planned over: IT never falls below the base load
    # (interactive work and idle GPUs), and the batch work released is what the deadlines bound
    inputs = pd.read_parquet(out / "inputs.parquet")
    meters = pd.read_parquet(out / "meters.parquet")
    assert (meters["it_mwh"].to_numpy() >= inputs["base_it_mwh"].to_numpy() - 1e-9).all()
    assert inputs["batch_released_gpu_s"].sum() > 0
    assert (inputs["batch_may_wait_gpu_s"] <= inputs["batch_released_gpu_s"].cumsum() + 1e-6).all()
    bad = aidc("run", path, "--objective", "speed", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "--objective = 'speed'" in bad.stderr
    far = aidc("run", path, "--strategy", "oracle", "--gti-target", "0.99", "--out",
               tmp_path / "y")
    assert far.returncode == 2 and "gti_target: the highest reachable" in far.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_policy_reports_verdicts_and_writes_them(tmp_path):
    out = tmp_path / "policy"
    r = aidc("policy", short_scenario(tmp_path, days=2), "--rule", "min_green=0.8",
             "--period", "month", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "alpha" in r.stdout and ("PASS" in r.stdout or "FAIL" in r.stdout)
    summary = json.loads((out / "summary.json").read_text())
    rules = {rule["measure"]: rule["sites"]["campus"] for rule in summary["rules"]}
    assert set(rules) == {"gti_slice", "gti_aggregate", "green_power_ratio"}
    for site in rules.values():
        (month,) = site["periods"]
        assert month["period"] == "2023-01"
        assert month["margin"] == pytest.approx(month["value"] - 0.8, abs=1e-15)
    verdicts = pd.read_parquet(out / "policy.parquet")
    assert {"run", "2023", "2023Q1", "2023-01"} <= set(verdicts["period"])
    for rule, message in (("green>0.8", "--rule = 'green>0.8'"),
                          ("1.5", "the share must lie in (0, 1]")):
        bad = aidc("policy", short_scenario(tmp_path), "--rule", rule, "--out", tmp_path / "x")
        assert bad.returncode == 2 and message in bad.stderr
    bad = aidc("policy", short_scenario(tmp_path), "--measure", "gpr", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "--measure = 'gpr'" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_size_writes_the_frontier_and_simulates_the_plant(tmp_path):
    out = tmp_path / "size"
    r = aidc("size", short_scenario(tmp_path, days=2), "--frontier", "0.6:0.8:0.1",
             "--horizon-days", "2", "--out", out)
    assert r.returncode == 0, r.stderr
    frame = pd.read_csv(out / "frontier.csv")
    assert list(frame.columns) == ["target", "method", "annual_cost", "pv_mw", "wind_mw",
                                   "bess_mw", "bess_mwh", "certificates_mwh", "status"]
    assert (frame["certificates_mwh"] == 0.0).all()  # no certificate price: build only
    assert frame["target"].tolist() == [0.6, 0.7, 0.8]
    page = (out / "frontier.html").read_text()
    assert "annual cost [M$" in page and "battery [MWh]" in page and "plotly" in page
    summary = json.loads((out / "summary.json").read_text())
    rc = summary["recheck"]
    assert rc["slice_minutes"] == 15 and rc["strategy"] == "greedy"
    # simulated with the dispatch the plan assumes and with the site's strategy; both printed
    assert set(rc["runs"]) == {"oracle", "greedy"}
    assert rc["simulated_gti"] == rc["runs"]["greedy"]["simulated_gti"]
    assert 0.0 < rc["simulated_gti"] <= 1.0
    assert "with oracle: planned GTI" in r.stdout and "with greedy: planned GTI" in r.stdout
    # the oracle plays a cost plan with the target as a floor: at 15 minutes it reaches the
    # target (0.6, the frontier's first) the hourly plan was sized for
    oracle = rc["runs"]["oracle"]
    assert rc["target"] == 0.6
    assert oracle["status"] == "ok" and oracle["simulated_gti"] >= 0.6 - 1e-6
    assert summary["solver"] in ("hipo", "ipx")
    bad = aidc("size", short_scenario(tmp_path), "--resolution", "20", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "--resolution = 20" in bad.stderr


def test_size_on_typical_days_prints_the_check_against_every_day(tmp_path):
    out = tmp_path / "size"
    r = aidc("size", short_scenario(tmp_path, days=6), "--typical-days", "3", "--horizon-days",
             "6", "--strategy", "no_control", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "check against the full horizon (6 days) at this plant" in r.stdout
    check = json.loads((out / "summary.json").read_text())["full_check"]
    assert check["typical_days"] == 3 and check["days"] == 6
    # hourly days from Greensboro's local midnight, 05:00 UTC
    assert check["first_slice"] == 5
    assert check["full_status"] == "optimal" and check["full_cost"] > 0
    # which method solved the check, and in what time: IPX where sizing runs HiPO (dual
    # simplex where IPX stalled)
    assert check["full_solver"] in ("ipx", "simplex")
    assert f"s by {check['full_solver']})" in r.stdout
    bad = aidc("size", short_scenario(tmp_path, days=6), "--typical-days", "6",
               "--horizon-days", "6", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "--typical-days = 6: must lie between 1 and 5" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_size_for_the_strategy_raises_the_planned_target_by_each_shortfall(tmp_path):
    out = tmp_path / "size"
    r = aidc("size", short_scenario(tmp_path, days=3), "--target", "0.7", "--horizon-days",
             "3", "--for-strategy", "--no-oracle-recheck", "--out", out)
    assert r.returncode == 0, r.stderr
    fit = json.loads((out / "summary.json").read_text())["for_strategy"]
    rounds = fit["rounds"]
    assert fit["strategy"] == "greedy" and rounds[0]["planned_target"] == 0.7
    assert "sized for greedy: planned target -> simulated GTI" in r.stdout
    # each plan's target is the last one's raised by the last shortfall (at most 1), and it
    # stops at the first plant greedy runs at the target or after the rounds allowed
    for a, b in zip(rounds[:-1], rounds[1:], strict=True):
        assert a["simulated_gti"] < 0.7 - 1e-4
        assert b["planned_target"] == pytest.approx(min(1.0, a["planned_target"] + 0.7
                                                        - a["simulated_gti"]), abs=1e-6)
    last = rounds[-1]
    assert fit["reached"] == (last["simulated_gti"] >= 0.7 - 1e-4)
    assert fit["reached"] or len(rounds) == 4
    if len(rounds) > 1:  # a plan for a higher target costs more
        assert rounds[-1]["annual_cost"] > rounds[0]["annual_cost"]


def test_console_entry_keeps_the_exit_code_and_freezes_what_is_alive(monkeypatch):
    """``aidc-twin`` is :func:`twin.cli.main`: the app's own exit code, bad input included, and
    every object alive at the end frozen out of the collector (the interpreter's teardown then
    skips walking the imported modules)."""
    import gc
    import tomllib

    from twin.cli import main

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["aidc-twin"] == "twin.cli:main"
    monkeypatch.setattr(sys, "argv", ["aidc-twin", "run", "scenarios/does-not-exist.yaml"])
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as stop:
            main()
        assert stop.value.code == 2
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
