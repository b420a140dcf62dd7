"""Scenario loading and validation: messages name the file or the field and echo the value."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import SCENARIOS
from twin.scenario import ScenarioError, from_dict, load


def raw_default() -> dict:
    return yaml.safe_load((SCENARIOS / "western_hub.yaml").read_text())


def test_default_scenario_loads_with_units_in_keys():
    scn = load(SCENARIOS / "western_hub.yaml")
    site = scn.sites[0]
    assert site.battery.energy_mwh == 800 and site.battery.power_mw == 200
    assert site.grid.max_import_mw == 150
    assert site.pv.dc_mw == 300
    assert scn.accounting.resolved_alpha == 0.45


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ScenarioError, match="does-not-exist.yaml: scenario file not found"):
        load(tmp_path / "does-not-exist.yaml")


def test_negative_battery_names_the_field_and_value():
    raw = raw_default()
    raw["sites"][0]["battery"]["energy_mwh"] = -5
    with pytest.raises(ScenarioError) as err:
        from_dict(raw)
    assert str(err.value) == "sites[0].battery.energy_mwh = -5: Input should be greater than or " \
                             "equal to 0"


def test_unknown_key_is_refused_not_ignored():
    raw = raw_default()
    raw["sites"][0]["battery"]["energy_kwh"] = 5
    with pytest.raises(ScenarioError, match=r"sites\[0\]\.battery\.energy_kwh: unknown field"):
        from_dict(raw)


def test_alpha_outside_its_band_names_the_band():
    raw = raw_default()
    raw["accounting"]["alpha"] = 0.9
    with pytest.raises(ScenarioError, match=r"accounting: alpha = 0.9: outside the annual band"):
        from_dict(raw)


def test_alpha_defaults_to_the_middle_of_the_band():
    raw = raw_default()
    del raw["accounting"]["alpha"]
    raw["accounting"]["grid_data_granularity"] = "quarterly"
    assert from_dict(raw).accounting.resolved_alpha == 0.7


def test_soc_window_checked():
    raw = raw_default()
    raw["sites"][0]["battery"]["initial_soc_fraction"] = 0.99
    with pytest.raises(ScenarioError, match=r"sites\[0\]\.battery: initial_soc_fraction = 0.99"):
        from_dict(raw)
