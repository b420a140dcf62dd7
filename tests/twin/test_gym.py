"""The Gymnasium environment (aidc_twin.gym) and policies of your own (policy:module:callable)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SCENARIOS
from tests.twin.test_cli import aidc

gym = pytest.importorskip("gymnasium")

from aidc_twin.gym import AidcTwinEnv, action_from_setpoints  # noqa: E402
from twin.dispatch.greedy import Greedy  # noqa: E402

HUB = SCENARIOS / "western_hub.yaml"
ENERGY = ["pv_mwh", "wind_mwh", "curtailed_mwh", "grid_import_mwh", "grid_export_mwh",
          "bess_charge_mwh", "bess_discharge_mwh", "it_mwh", "cooling_mwh", "aux_mwh",
          "facility_mwh"]


def test_the_environment_passes_gymnasiums_checker_without_a_warning():
    from gymnasium.utils.env_checker import check_env

    env = AidcTwinEnv(HUB, episode_days=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    env.close()
    assert [str(w.message) for w in caught] == []


def test_a_week_of_the_greedy_rule_through_the_environment_is_the_greedy_run(tmp_path):
    env = AidcTwinEnv(HUB, episode_days=7)
    obs, info = env.reset(seed=11)
    assert env.observation_space.contains(obs)
    rule, steps, done = Greedy(), 0, False
    while not done:
        action = action_from_setpoints(rule.decide(info["observation"]), info["observation"])
        obs, reward, done, truncated, info = env.step(action)
        assert np.isfinite(reward) and not truncated
        steps += 1
    assert steps == 7 * 96
    # the same days as `aidc-twin run --strategy greedy` runs them
    from twin.report import scenario_text

    path = tmp_path / "week.yaml"
    path.write_text(scenario_text(env.episode_scenario(env.start_day)))
    r = aidc("run", path, "--strategy", "greedy", "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    ran = pd.read_parquet(tmp_path / "run" / "meters.parquet")
    assert ran["time"].iloc[0] == env.result.meters["time"].iloc[0]
    np.testing.assert_allclose(env.result.meters[ENERGY].to_numpy(), ran[ENERGY].to_numpy(),
                               rtol=0, atol=1e-9)
    env.close()


def test_a_random_policy_runs_and_the_gti_reward_adds_up_to_the_green_it_energy():
    from aidc_twin import load_scenario

    # without the connection's power flows: the rewards see the site bus, and the run's meters
    # are then the bus's too (a power flow adds its losses at the POI after the run)
    scn = load_scenario(HUB, **{"sites.0.grid.network": None})
    env = AidcTwinEnv(scn, episode_days=2, reward="gti", late_usd_per_gpu_h_per_h=0.0,
                      unserved_usd_per_mwh=0.0)
    env.action_space.seed(5)
    obs, _ = env.reset(seed=5)
    total, done = 0.0, False
    while not done:
        obs, reward, done, _, _ = env.step(env.action_space.sample())
        total += reward
    # the episode's own score: the per-slice rewards chain the storage pools exactly
    green = env.result.scores[0].slices["g_it"].sum()
    assert total == pytest.approx(green, rel=1e-9)
    assert env.result.summary["strategy"] == "gym"
    first = env.start_day
    env.reset(seed=5)
    assert env.start_day == first  # seeded starts
    env.close()


def test_a_policy_of_your_own_benchmarks_beside_the_built_in_ones(tmp_path):
    pol = tmp_path / "mine.py"
    pol.write_text("from twin.dispatch.greedy import Greedy\n_g = Greedy()\n\n"
                   "def greedy_again(obs):\n    return _g.decide(obs)\n\n"
                   "def idle(obs):\n    return [0.0, 1.0, 0.0]  # an action of the environment\n")
    smoke = SCENARIOS.parent / "tests" / "data" / "bench_smoke.yaml"
    r = aidc("bench", "--suite", smoke, "--strategies",
             f"greedy,policy:{pol}:greedy_again,policy:{pol}:idle", "--out", tmp_path / "b")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "b" / "table.csv").set_index(["scenario", "strategy"])
    cols = ["gti_slice", "cost_usd", "grid_import_mwh"]
    for scenario in ("default", "tight_export"):
        again = table.loc[(scenario, f"policy:{pol}:greedy_again"), cols]
        pd.testing.assert_series_equal(again, table.loc[(scenario, "greedy"), cols],
                                       check_names=False)
        idle = table.loc[(scenario, f"policy:{pol}:idle"), cols]
        pd.testing.assert_series_equal(idle, table.loc[(scenario, "no_control"), cols],
                                       check_names=False)
    bad = aidc("run", HUB, "--strategy", f"policy:{pol}:missing", "--out", tmp_path / "x")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [f"error: --strategy = 'policy:{pol}:missing': "
                                       f"'{pol}' has no 'missing'"]
