"""Multi-year runs with ageing batteries (twin.lifetime), and the wear cost in dispatch."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.conftest import SCENARIOS
from tests.twin.test_cli import aidc
from twin.lifetime import simulate_lifetime
from twin.run import simulate
from twin.scenario import from_dict, load

pytest.importorskip("blast", reason="blast-lite is installed by make (pyproject, ageing)")
AGING = SCENARIOS / "battery_aging.yaml"


def variant(**changes) -> dict:
    raw = load(AGING).model_dump(mode="json", exclude={"base_dir"})
    for path, value in changes.items():
        node = raw
        *head, last = path.split(".")
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return raw


@pytest.mark.slow
def test_three_years_of_the_shipped_scenario(tmp_path):
    out = tmp_path / "aging"
    r = aidc("run", AGING, "--out", out)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    years = s["years"]
    assert [y["year"] for y in years] == [1, 2, 3]
    soh = [y["batteries"]["campus"]["soh_end"] for y in years]
    assert 1.0 > soh[0] > soh[1] > soh[2] > 0.9  # it falls every year
    assert years[2]["gti_slice"] <= years[0]["gti_slice"]  # same weather, an older plant
    for y in years:
        assert 0 < y["gti_slice"] <= y["gti_aggregate"] <= 1
        assert y["batteries"]["campus"]["efc"] > 100  # the greedy rule cycles it daily
    health = pd.read_parquet(out / "battery_health.parquet")
    assert len(health) == 3 * 365 and health["soh"].is_monotonic_decreasing
    assert health.groupby("year")["soh"].last().tolist() == pytest.approx(soh)
    v = aidc("verify", out)
    assert v.returncode == 0 and "agree in each of 3 years" in v.stdout, v.stderr
    page = (out / "report.html").read_text()
    assert all(f'data-target="{f}"' in page for f in ("fig-soh", "fig-gti", "fig-depth"))


def test_the_oracle_cycles_less_and_spends_less_when_it_prices_wear():
    runs = {}
    for wear in (False, True):
        # hourly, a third of the year (benchmarks/ageing.py records the 15-minute year)
        raw = variant(**{"sites.0.battery.ageing.wear_in_dispatch": wear}, lifetime=None,
                      slice_minutes=60, horizon_days=120)
        runs[wear] = simulate(from_dict(raw, AGING.parent), "oracle")
    price = runs[True].inputs[0].battery_wear_usd_per_mwh
    assert 20 < price < 80  # $/MWh discharged: the LFP cell's cycling fade, $300k/MWh modules
    assert runs[False].inputs[0].battery_wear_usd_per_mwh == 0.0
    discharge = {w: r.meters["bess_discharge_mwh"].sum() for w, r in runs.items()}
    total = {w: r.summary["kpis"]["cost_total"] + price * discharge[w] for w, r in runs.items()}
    assert discharge[True] < 0.9 * discharge[False]
    assert total[True] < total[False]


def linear_years(tmp_path, **policy):
    raw = variant(horizon_days=7, **{"sites.0.battery.ageing": {
        "model": "linear", "linear": {"cycles_to_end_of_life": 5}, "end_of_life_fraction": 0.7,
        **policy}})
    return simulate_lifetime(from_dict(raw, AGING.parent))


def test_a_battery_below_its_replacement_level_is_replaced(tmp_path):
    lt = linear_years(tmp_path, replace_at_fraction=0.9)
    y1, y2 = (y.block["batteries"]["campus"] for y in lt.years[:2])
    # the linear model: capacity 1 - 0.3 x cycles / 5, counted on what is left
    assert y1["soh_end"] == pytest.approx(1 - 0.3 * y1["efc"] / 5, rel=0.02)
    assert y1["replaced"] and y1["module_cost_usd"] == 800 * 300e3
    assert y2["capacity_start_mwh"] == 800.0  # new modules
    carried = lt.years[1].result.inputs[0].initial_soc_mwh
    assert carried == pytest.approx(lt.years[0].result.runs[0].soc_mwh[-1])


def test_modules_are_added_up_to_the_augmentation_level(tmp_path):
    lt = linear_years(tmp_path, augment_to_fraction=0.99)
    y1, y2 = (y.block["batteries"]["campus"] for y in lt.years[:2])
    assert y2["augmented_mwh"] == pytest.approx(0.99 * 800 - y1["capacity_end_mwh"])
    assert y2["capacity_start_mwh"] == pytest.approx(0.99 * 800)
    assert y2["module_cost_usd"] == pytest.approx(y2["augmented_mwh"] * 300e3)
    assert lt.summary["present_value_usd"]["modules"] == pytest.approx(
        sum(y.block["module_cost_usd"] / 1.07 ** (y.year - 1) for y in lt.years))


def test_an_unknown_cell_is_refused_before_any_year_runs(tmp_path):
    raw = variant(**{"sites.0.battery.ageing.cell": "Nope"})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    r = aidc("run", path, "--out", tmp_path / "out")
    assert r.returncode == 2 and not (tmp_path / "out").exists()
    [line] = r.stderr.splitlines()
    assert line.startswith(f"error: {path}: sites[0].battery.ageing.cell: 'Nope' is not a "
                           "BLAST-Lite model; one of ['Lfp_Gr_250AhPrismatic'")


def test_sizing_prices_the_wear_of_the_battery_it_builds():
    from twin.size_run import size

    res = {}
    for wear in (False, True):
        raw = variant(**{"sites.0.battery.ageing.wear_in_dispatch": wear}, lifetime=None)
        res[wear] = size(from_dict(raw, AGING.parent), [0.8], horizon_days=14,
                         recheck_strategy=None, oracle_recheck=False)["results"][0]
    assert "battery_wear" not in res[False].cost_parts
    wear = res[True].cost_parts["battery_wear"]
    assert wear > 0 and res[True].annual_cost >= res[False].annual_cost
    # on this campus the wear price moves the plan to a smaller battery
    assert res[True].bess_mwh < res[False].bess_mwh
