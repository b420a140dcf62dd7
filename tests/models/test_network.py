"""The grid connection: lightsim2grid time series against pandapower's runpp, losses in the
meters, and flags for a POI limit that the physics exceeds.

Tolerances: power and losses 1e-6 MW, voltage 1e-8 p.u., loading 1e-6 (both solve the same
Newton-Raphson problem to 1e-8 p.u. mismatch).
"""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from gti_core.meters import balance_gap_mwh
from models.network import load_network, slice_power_flow, year_power_flows
from tests.conftest import SCENARIOS
from tests.tolerances import HAND_ATOL, POWER_FLOW_ATOL
from twin.connection import connection_summary, flow_table
from twin.scenario import NetworkConfig, from_dict, load

CFG = NetworkConfig(parallel_lines=2, transformer_mva=250)


def _series(n, seed=3):
    rng = np.random.default_rng(seed)
    facility = rng.uniform(40, 130, n)
    return (facility, facility * np.tan(np.arccos(0.98)), rng.uniform(0, 240, n),
            rng.uniform(0, 97, n), rng.uniform(-150, 150, n))


def test_time_series_matches_pandapower_slice_by_slice():
    net = load_network(CFG, None)
    series = _series(6)
    res = year_power_flows(net, *series)
    assert res.converged.all()
    for k in range(6):
        ref = slice_power_flow(net, *(s[k] for s in series))
        assert res.poi_import_mw[k] == pytest.approx(ref["poi_import_mw"], abs=POWER_FLOW_ATOL)
        assert res.losses_mw[k] == pytest.approx(ref["losses_mw"], abs=POWER_FLOW_ATOL)
        assert res.vm_site_pu[k] == pytest.approx(ref["vm_site_pu"], abs=1e-8)
        assert res.branch_loading[k, :2].max() == pytest.approx(ref["line_loading"],
                                                                 abs=POWER_FLOW_ATOL)
        assert res.branch_loading[k, 2] == pytest.approx(ref["trafo_loading"], abs=POWER_FLOW_ATOL)


def test_user_json_network_gives_the_radial_results(tmp_path):
    from models.network import radial_network

    path = tmp_path / "net.json"
    pp.to_json(radial_network(CFG), str(path))
    user = load_network(NetworkConfig(json_file=str(path)), tmp_path)
    series = _series(4)
    a = year_power_flows(load_network(CFG, None), *series)
    b = year_power_flows(user, *series)
    np.testing.assert_allclose(a.poi_import_mw, b.poi_import_mw, atol=HAND_ATOL)


def test_import_beyond_the_poi_limit_is_flagged():
    # the site draws exactly the 150 MW limit at its bus; the connection's losses push the POI
    # import above it in every slice
    raw = load(SCENARIOS / "western_hub.yaml").model_dump(exclude={"base_dir"})
    site = from_dict(raw).sites[0]
    n = 4
    facility = np.full(n, 150.0)
    flows = year_power_flows(load_network(site.grid.network, None), facility,
                             facility * np.tan(np.arccos(0.98)), np.zeros(n), np.zeros(n),
                             np.zeros(n))
    time = pd.Series(pd.date_range("2023-07-01", periods=n, freq="15min", tz="UTC"))
    table = flow_table(site, time, flows)
    assert table["poi_limit_exceeded"].all()
    summary = connection_summary(table, 15)
    assert summary["poi_limit_exceeded_slices"] == n
    assert summary["first_flagged"]["poi_limit_exceeded"] == "2023-07-01 00:00:00+00:00"
    assert summary["max_poi_import_mw"] > 150.0


def test_losses_are_in_the_meters_and_the_balance_closes(week_run):
    m = week_run.meters
    net = week_run.network
    assert len(net) == len(m)
    losses_mwh = net["losses_mw"].to_numpy() * 0.25
    assert losses_mwh.min() > 0
    # aux = (UPS/distribution losses + auxiliary loads) * it + connection losses
    aux_fraction = week_run.scenario.sites[0].datacenter.non_cooling_overhead_fraction
    np.testing.assert_allclose(m["aux_mwh"] - aux_fraction * m["it_mwh"], losses_mwh,
                               atol=HAND_ATOL)
    assert np.abs(balance_gap_mwh(m)).max() <= 1e-9 * m["facility_mwh"].max()
    # the POI meters equal the power flow's exchange with the external grid
    np.testing.assert_allclose((m["grid_import_mwh"] - m["grid_export_mwh"]).to_numpy(),
                               net["poi_import_mw"].to_numpy() * 0.25, atol=HAND_ATOL)


def test_measured_signals_replace_the_modelled_ones(tmp_path):
    # an hourly CSV with the share and price; carbon then follows the measured share
    hours = pd.date_range("2023-01-01", periods=24, freq="60min", tz="UTC")
    path = tmp_path / "signals.csv"
    pd.DataFrame({"time": hours.strftime("%Y-%m-%dT%H:%MZ"), "grid_share": 0.5,
                  "price_usd_per_mwh": 100.0}).to_csv(path, index=False)
    scn = load(SCENARIOS / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = 1
    raw["sites"][0]["grid"]["signals_file"] = str(path)
    from twin.inputs import build_site_inputs

    inp = build_site_inputs(from_dict(raw, base_dir=scn.base_dir), 0)
    np.testing.assert_array_equal(inp.grid_share, np.full(96, 0.5))
    np.testing.assert_array_equal(inp.price_usd_per_mwh, np.full(96, 100.0))
    np.testing.assert_allclose(inp.grid_carbon_kg_per_mwh, np.full(96, 650.0 * 0.5))


def test_a_user_network_with_its_own_loads_is_refused(tmp_path):
    from models.network import radial_network

    net = radial_network(CFG)
    pp.create_load(net, 1, p_mw=5.0, name="a neighbour")
    path = tmp_path / "net.json"
    pp.to_json(net, str(path))
    with pytest.raises(ValueError, match="the load table holds 1 elements"):
        load_network(NetworkConfig(json_file=str(path)), tmp_path)


def test_radial_networks_share_nothing_with_each_other():
    # each starts from one empty network made per process: a copy, so changing one network
    # (pandapower writes results and elements into its tables) leaves the next as built
    from models.network import radial_network

    first = radial_network(CFG)
    pp.create_load(first, 1, p_mw=5.0, name="a neighbour")
    first.bus.loc[0, "vn_kv"] = 1.0
    second = radial_network(CFG)
    assert len(second.load) == 0 and second.bus.loc[0, "vn_kv"] == CFG.voltage_kv
    assert len(second.bus) == 3 and len(second.line) == 2 and len(second.trafo) == 1
    assert second.name == "aidc-twin radial connection" and second.sn_mva == 100.0
