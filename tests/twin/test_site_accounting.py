"""Accounting per site: grid statistics are regional, so each site may have its own
granularity and alpha; the fleet's time-slice GTI is the IT-weighted mean of its sites'."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from gti_core.score import score_site
from tests.conftest import SCENARIOS
from tests.tolerances import FLOAT_ATOL
from tests.twin.test_cli import aidc
from twin.scenario import ScenarioError, from_dict


def two_sites(west_accounting: dict, days: int = 2) -> dict:
    """The default campus twice: ``east`` with the scenario's accounting (annual grid data,
    alpha 0.45) and ``west`` with its own block."""
    raw = yaml.safe_load((SCENARIOS / "western_hub.yaml").read_text())
    raw["horizon_days"] = days
    east = raw["sites"][0]
    west = json.loads(json.dumps(east))
    east["name"], west["name"] = "east", "west"
    west["accounting"] = west_accounting
    raw["sites"] = [east, west]
    return raw


def test_a_site_alpha_outside_its_band_is_refused_by_field():
    with pytest.raises(ScenarioError, match=r"sites\[1\]\.accounting\.alpha = 0\.9: outside the "
                                            r"annual band"):
        from_dict(two_sites({"alpha": 0.9}), base_dir=SCENARIOS)
    # monthly grid data allow it, and without an alpha a site takes its band's middle
    scn = from_dict(two_sites({"grid_data_granularity": "monthly"}), base_dir=SCENARIOS)
    assert scn.site_accounting(0).resolved_alpha == 0.45
    assert scn.site_accounting(1).grid_data_granularity == "monthly"
    assert scn.site_accounting(1).resolved_alpha == 0.9


def test_each_site_scores_with_its_own_alpha_and_the_fleet_is_their_it_weighted_mean(tmp_path):
    path = tmp_path / "two_sites.yaml"
    path.write_text(yaml.safe_dump(two_sites({"alpha": 0.55})))
    out = tmp_path / "run"
    r = aidc("run", path, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "alpha per site (east 0.45, west 0.55)" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accounting"]["alpha"] == {"east": 0.45, "west": 0.55}
    assert summary["sites"]["west"]["accounting"] == {"alpha": 0.55,
                                                      "grid_data_granularity": "annual"}
    # each site's GTI is gti_core's at its own alpha, recomputed here from the meters
    import pandas as pd

    from twin.verify import params_from_summary

    meters = pd.read_parquet(out / "meters.parquet")
    gti, it = {}, {}
    for site in ("east", "west"):
        rows = meters[meters["site"] == site].reset_index(drop=True)
        params = params_from_summary(summary, site)
        gti[site] = score_site(rows, params).gti_slice
        it[site] = rows["it_mwh"].sum()
        assert summary["sites"][site]["gti"]["gti_slice"] == pytest.approx(gti[site],
                                                                           abs=FLOAT_ATOL)
    # the two sites are the same plant on the same weather: only alpha separates them
    east_at_west_alpha = score_site(
        meters[meters["site"] == "east"].reset_index(drop=True),
        dataclasses.replace(params_from_summary(summary, "east"), alpha=0.55)).gti_slice
    assert gti["west"] == pytest.approx(east_at_west_alpha, abs=FLOAT_ATOL)
    assert gti["west"] > gti["east"]
    fleet = (gti["east"] * it["east"] + gti["west"] * it["west"]) / (it["east"] + it["west"])
    assert summary["gti"]["gti_slice"] == pytest.approx(fleet, abs=FLOAT_ATOL)
    # the fleet's labels name no single alpha; verify recomputes every figure from the files
    assert {lab["alpha"] for lab in summary["levels"]["year"]} == {None}
    v = aidc("verify", out)
    assert v.returncode == 0, v.stdout + v.stderr
