"""Conformance with shared/spec/GTI_ACCOUNTING.md: hand-computed cases, each number derived in a
comment next to it.

Tolerance: GTI values are compared to 1e-12 (exact arithmetic on a few slices).
"""

from __future__ import annotations

import pandas as pd
import pytest

from gti_core.contracts import Contract
from gti_core.fleet import fleet_run
from gti_core.ledger import CertificateLedger, LedgerError
from gti_core.rating import gti_level
from gti_core.score import AccountingParams, score_site
from gti_core.sources import check_alpha, default_alpha
from gti_core.storage import StorageParams
from gti_core.tokens import task_green_ratios, token_gti
from tests.conftest import meter_table
from tests.tolerances import FLOAT_ATOL

TOL = 1e-12


def score(rows, alpha=0.45, allocation="it_first", storage=None, retained=True, contracts=(),
          start="2023-01-01", site="s"):
    params = AccountingParams(alpha=alpha, allocation=allocation,
                              storage=storage or StorageParams(), export_retained=retained)
    return score_site(meter_table(rows, site=site, start=start), params, contracts)


def profile(values, start="2023-01-01", minutes=15):
    idx = pd.date_range(start, periods=len(values), freq=f"{minutes}min", tz="UTC")
    return pd.Series(values, index=idx, dtype=float)


def test_all_green():
    # pv 10 covers it 8 + cooling 1.5 + aux 0.5. G_in = 10, g_it = 8, g_nonit = 2.
    # slice: 8/8 = 1. aggregate: min(1, (8 + 2)/8) = 1.
    s = score([{"pv_mwh": 10, "it_mwh": 8, "cooling_mwh": 1.5, "aux_mwh": 0.5}])
    assert s.gti_slice == pytest.approx(1.0, abs=TOL)
    assert s.gti_aggregate == pytest.approx(1.0, abs=TOL)
    assert s.slices["g_nonit"].iloc[0] == pytest.approx(2.0, abs=TOL)


def test_backup_is_grey_inflow_and_unserved_load_is_in_no_other_meter():
    # pv 1 and backup 1 feed it 1.6 + cooling 0.3 + aux 0.1; 0.5 of load went unserved.
    # it_first: G_in = 1 (backup adds nothing), g_it = min(1, 1.6) = 1 -> 1/1.6 = 0.625.
    # pro_rata: total inflow = pv + backup = 2, green fraction 0.5, g_it = 0.8 -> 0.5.
    row = {"pv_mwh": 1, "backup_mwh": 1, "unserved_mwh": 0.5, "it_mwh": 1.6,
           "cooling_mwh": 0.3, "aux_mwh": 0.1}
    assert score([row]).gti_slice == pytest.approx(0.625, abs=TOL)
    assert score([row], allocation="pro_rata").gti_slice == pytest.approx(0.5, abs=TOL)
    # without the backup meter the balance does not close: an error naming it
    from gti_core.meters import MeterError
    with pytest.raises(MeterError, match=r"\+ backup must equal"):
        score([{**row, "backup_mwh": 0.0}])
    with pytest.raises(MeterError, match=r"unserved_mwh = -1.0: must be >= 0"):
        score([{**row, "unserved_mwh": -1.0}])


def test_grid_only_with_alpha():
    # import 10 at grid_share 0.6, alpha 0.45: G_in = 0.45*0.6*10 = 2.7, all to IT (it = 8).
    # slice = aggregate = 2.7/8 = 0.3375 -> level 1.
    s = score([{"grid_import_mwh": 10, "grid_share": 0.6, "it_mwh": 8, "cooling_mwh": 2}])
    assert s.gti_slice == pytest.approx(0.3375, abs=TOL)
    assert s.gti_aggregate == pytest.approx(0.3375, abs=TOL)
    assert gti_level(s.gti_slice) == 1


def test_battery_charged_green_then_discharged():
    # eta_c = eta_d = 0.9, empty store.
    # slice 1: pv 20, it 8, charge 12 -> g_it 8, g_charge 12, green pool 0.9*12 = 10.8.
    # slice 2: discharge 8.1 draws 9 from a pool that is all green -> green out 8.1;
    #          it 8, cooling 0.1: g_it 8, g_nonit 0.1.
    # slice = (8 + 8)/16 = 1; green pool left 10.8 - 9 = 1.8.
    st = StorageParams(charge_efficiency=0.9, discharge_efficiency=0.9)
    s = score([{"pv_mwh": 20, "it_mwh": 8, "bess_charge_mwh": 12},
               {"bess_discharge_mwh": 8.1, "it_mwh": 8, "cooling_mwh": 0.1}], storage=st)
    assert s.slices["green_out_mwh"].iloc[1] == pytest.approx(8.1, abs=TOL)
    assert s.slices["soc_green_mwh"].iloc[1] == pytest.approx(1.8, abs=FLOAT_ATOL)
    assert s.gti_slice == pytest.approx(1.0, abs=TOL)


def test_battery_with_grey_initial_content_pooled_vs_fifo():
    # As above but the store starts with 9 MWh of grey energy (spec: grey unless said).
    # after slice 1: green 10.8, grey 9.
    # pooled: slice 2 draws 9 in proportion 10.8/19.8 -> green out 8.1*10.8/19.8 = 4.418181...
    #   slice GTI = (8 + 4.4181818)/16 = 0.7761363636...
    # fifo: slice 2 draws the oldest layer first, the 9 grey MWh -> green out 0; GTI = 8/16 = 0.5.
    rows = [{"pv_mwh": 20, "it_mwh": 8, "bess_charge_mwh": 12},
            {"bess_discharge_mwh": 8.1, "it_mwh": 8, "cooling_mwh": 0.1}]
    pooled = score(rows, storage=StorageParams(0.9, 0.9, 0.0, 9.0, 0.0, "pooled"))
    fifo = score(rows, storage=StorageParams(0.9, 0.9, 0.0, 9.0, 0.0, "fifo"))
    assert pooled.gti_slice == pytest.approx((8 + 8.1 * 10.8 / 19.8) / 16, abs=TOL)
    assert fifo.gti_slice == pytest.approx(0.5, abs=TOL)
    assert fifo.slices["soc_green_mwh"].iloc[1] == pytest.approx(10.8, abs=FLOAT_ATOL)


def test_cooling_takes_green_under_it_first_but_not_ahead_of_it():
    # pv 9, import 1 at grid_share 0: G_in = 9. it 8, cooling 1.5, aux 0.5 (facility 10).
    # it_first: g_it = 8, g_nonit = min(1, 2) = 1 -> slice 1.0; aggregate min(1, 9/8) = 1.
    # pro_rata: every outflow carries 9/10 -> g_it = 7.2, slice 0.9; aggregate 9/10 = 0.9.
    rows = [{"pv_mwh": 9, "grid_import_mwh": 1, "it_mwh": 8, "cooling_mwh": 1.5, "aux_mwh": 0.5}]
    it_first = score(rows)
    assert it_first.slices["g_nonit"].iloc[0] == pytest.approx(1.0, abs=TOL)
    assert it_first.gti_slice == pytest.approx(1.0, abs=TOL)
    pro = score(rows, allocation="pro_rata")
    assert pro.slices["g_it"].iloc[0] == pytest.approx(7.2, abs=TOL)
    assert pro.gti_slice == pytest.approx(0.9, abs=TOL)
    assert pro.gti_aggregate == pytest.approx(0.9, abs=TOL)


def test_export_counts_in_aggregate_only_when_retained():
    # slice 1: pv 12, it 8, export 4 -> g_it 8, g_export 4.
    # slice 2: import 8 at grid_share 0, it 8 -> no green.
    # slice = 8/16 = 0.5; aggregate retained = (8 + 4)/16 = 0.75; sold = 8/16 = 0.5.
    rows = [{"pv_mwh": 12, "it_mwh": 8, "grid_export_mwh": 4},
            {"grid_import_mwh": 8, "it_mwh": 8}]
    kept = score(rows)
    sold = score(rows, retained=False)
    assert kept.gti_slice == pytest.approx(0.5, abs=TOL)
    assert kept.gti_aggregate == pytest.approx(0.75, abs=TOL)
    assert sold.gti_aggregate == pytest.approx(0.5, abs=TOL)
    assert kept.run["mismatch_gap"] == pytest.approx(0.25, abs=TOL)


def test_self_discharge_takes_both_pools_in_proportion():
    # store 100 MWh, 40% green; 1% self-discharge per slice; nothing else happens for 2 slices.
    # green 40 * 0.99^2 = 39.204, grey 60 * 0.99^2 = 58.806.
    st = StorageParams(1.0, 1.0, 0.01, 100.0, 0.4, "pooled")
    s = score([{"grid_import_mwh": 1, "it_mwh": 1}] * 2, storage=st)
    assert s.slices["soc_green_mwh"].iloc[1] == pytest.approx(39.204, abs=FLOAT_ATOL)
    assert s.slices["soc_grey_mwh"].iloc[1] == pytest.approx(58.806, abs=FLOAT_ATOL)


def test_levels_at_their_thresholds():
    # spec section 8: [0.2, 0.4) -> 1, [0.8, 0.95) -> 4, >= 0.95 -> 5.
    assert [gti_level(x) for x in (0.0, 0.19999, 0.2, 0.5, 0.79999, 0.8, 0.94999, 0.95, 1.0)] \
        == [0, 0, 1, 2, 3, 4, 4, 5, 5]


def test_alpha_band_refused_and_default_at_the_middle():
    with pytest.raises(ValueError, match=r"alpha = 0.7: outside the annual band \[0.3, 0.6\]"):
        check_alpha(0.7, "annual")
    assert default_alpha("quarterly") == 0.7
    assert check_alpha(0.8, "monthly") == 0.8


def test_r_task_shares_idle_energy_within_the_slice():
    # slice 1: it 2, R_dc 1.0; slice 2: it 2, R_dc 0.5.
    # task A uses 1 MWh in each slice, task B 1 MWh in slice 2; slice 1 has 1 MWh idle -> A.
    # with idle: A = [2, 1], B = [0, 1]. R_A = (2*1 + 1*0.5)/3 = 0.8333..., R_B = 0.5.
    # token GTI = (3*0.8333 + 1*0.5)/4 = 0.75 = the slice GTI (every slice has a task).
    t = pd.date_range("2023-01-01", periods=2, freq="15min", tz="UTC")
    ratios = pd.DataFrame({"site": "s", "time": t, "it_mwh": [2.0, 2.0], "r_dc": [1.0, 0.5]})
    te = pd.DataFrame({"task_id": ["A", "A", "B"], "site": "s", "time": [t[0], t[1], t[1]],
                       "it_mwh": [1.0, 1.0, 1.0], "tokens_in": [10, 10, 5],
                       "tokens_out": [1, 1, 1]})
    tasks = task_green_ratios(te, ratios).set_index("task_id")
    assert tasks.loc["A", "r_task"] == pytest.approx(2.5 / 3, abs=TOL)
    assert tasks.loc["B", "r_task"] == pytest.approx(0.5, abs=TOL)
    assert tasks.loc["A", "it_with_idle_mwh"] == pytest.approx(3.0, abs=TOL)
    assert token_gti(tasks) == pytest.approx(0.75, abs=TOL)


def test_r_task_across_two_sites_is_energy_weighted():
    # 3 MWh at a site with R_dc 1.0 and 1 MWh at one with R_dc 0.2: (3*1 + 1*0.2)/4 = 0.8.
    # (The paper's printed sum[w_i / (W R_dc_i)] would give 3/4 + 1/(4*0.2) = 2.0 > 1.)
    t = pd.Timestamp("2023-01-01", tz="UTC")
    ratios = pd.DataFrame({"site": ["a", "b"], "time": [t, t], "it_mwh": [3.0, 1.0],
                           "r_dc": [1.0, 0.2]})
    te = pd.DataFrame({"task_id": ["k", "k"], "site": ["a", "b"], "time": [t, t],
                       "it_mwh": [3.0, 1.0], "tokens_in": [0, 0], "tokens_out": [3, 1]})
    assert task_green_ratios(te, ratios)["r_task"].iloc[0] == pytest.approx(0.8, abs=TOL)


def test_ppa_surplus_lost_per_slice_but_counted_in_aggregate():
    # slice 1: pv 6, import 2 (share 0), it 8 -> g_it 6, uncovered 2.
    # slice 2: pv 10, it 8, export 2 -> g_it 8, uncovered 0, g_export 2.
    # PPA, 15-minute profile [1, 1] MWh at weight 0.9 -> [0.9, 0.9].
    # slice: cover [min(0.9, 2), min(0.9, 0)] = [0.9, 0]; GTI = (6 + 0.9 + 8)/16 = 0.93125;
    #   the second 0.9 is lost.
    # aggregate, export attributes sold: physical 14, uncovered 2, contracts min(1.8, 2) = 1.8
    #   -> (14 + 1.8)/16 = 0.9875: the volume counts whole.
    rows = [{"pv_mwh": 6, "grid_import_mwh": 2, "it_mwh": 8},
            {"pv_mwh": 10, "it_mwh": 8, "grid_export_mwh": 2}]
    ppa = Contract("ppa-1", "ppa", 0.9, profile([1.0, 1.0]), 15)
    s = score(rows, retained=False, contracts=[ppa])
    assert s.slices["g_contract"].tolist() == pytest.approx([0.9, 0.0], abs=TOL)
    assert s.gti_slice == pytest.approx(0.93125, abs=TOL)
    assert s.gti_aggregate == pytest.approx(0.9875, abs=TOL)


def test_hourly_certificate_covers_the_hour_shared_by_uncovered_energy():
    # 4 slices of one hour, it 2 each; pv [2, 1, 0, 0], import [0, 1, 2, 2] at share 0.
    # g_it [2, 1, 0, 0], uncovered [0, 1, 2, 2] = 5 MWh in the hour.
    # certificate 4 MWh (weight 1): cover min(4, 5) = 4 shared as [0, 0.8, 1.6, 1.6];
    #   GTI = (3 + 4)/8 = 0.875. A 6 MWh certificate covers all 5, 1 is lost: GTI = 1.
    rows = [{"pv_mwh": p, "grid_import_mwh": 2 - p, "it_mwh": 2} for p in (2, 1, 0, 0)]
    s4 = score(rows, contracts=[Contract("hc-4", "hourly_certificate", 1.0, profile([4.0],
                                         minutes=60), 60)])
    assert s4.slices["g_contract"].tolist() == pytest.approx([0, 0.8, 1.6, 1.6], abs=TOL)
    assert s4.gti_slice == pytest.approx(0.875, abs=TOL)
    s6 = score(rows, contracts=[Contract("hc-6", "hourly_certificate", 1.0, profile([6.0],
                                         minutes=60), 60)])
    assert s6.gti_slice == pytest.approx(1.0, abs=TOL)


def test_annual_rec_counts_in_aggregate_only():
    # same meters as above (g_it 3 of it 8). REC 2 MWh at weight 0.8 for 2023.
    # slice: 3/8 = 0.375 (RECs never count per slice).
    # aggregate: (3 + min(1.6, 5))/8 = 0.575.
    rows = [{"pv_mwh": p, "grid_import_mwh": 2 - p, "it_mwh": 2} for p in (2, 1, 0, 0)]
    s = score(rows, contracts=[Contract("rec-1", "rec", 0.8, volume_mwh=2.0, year=2023)])
    assert s.gti_slice == pytest.approx(0.375, abs=TOL)
    assert s.gti_aggregate == pytest.approx(0.575, abs=TOL)


def test_certificate_retired_once_and_offsite_weight_in_band():
    ledger = CertificateLedger()
    ledger.retire("cert-7", "site-a", "2023")
    with pytest.raises(LedgerError, match="certificate 'cert-7' is already retired for site "
                                          "'site-a', period 2023"):
        ledger.retire("cert-7", "site-b", "2023")
    with pytest.raises(ValueError, match=r"weight = 0.7: w_offsite must lie in \[0.8, 1.0\]"):
        Contract("rec-x", "rec", 0.7, volume_mwh=1.0, year=2023)


def test_period_boundary_mid_day():
    # 24 h from 2023-01-31 12:00 UTC in 15-minute slices, it 1 each.
    # January part (48 slices, 12:00-24:00): pv = it -> R = 1.
    # February part (48 slices): import at share 0.5, alpha 0.45 -> R = 0.225.
    # months: 2023-01 -> 1.0, 2023-02 -> 0.225.
    # custom range [Jan 31 18:00, Feb 1 06:00): 24 slices of each -> (24 + 24*0.225)/48 = 0.6125.
    rows = [{"pv_mwh": 1, "it_mwh": 1}] * 48 + \
        [{"grid_import_mwh": 1, "grid_share": 0.5, "it_mwh": 1}] * 48
    s = score(rows, start="2023-01-31 12:00")
    months = s.periods["month"]["gti_slice"]
    assert months.to_dict() == pytest.approx({"2023-01": 1.0, "2023-02": 0.225}, abs=TOL)
    assert s.periods["quarter"].index.tolist() == ["2023Q1"]
    part = s.over("2023-01-31 18:00", "2023-02-01 06:00")
    assert part["gti_slice"] == pytest.approx(0.6125, abs=TOL)
    assert part["it_mwh"] == pytest.approx(48.0, abs=TOL)


def test_fleet_is_the_it_weighted_mean_of_its_sites():
    # site a: it 8, all green -> 1.0; site b: it 2, half from pv, half grid at share 0 -> 0.5.
    # fleet slice GTI = (8*1.0 + 2*0.5)/10 = 0.9.
    a = score([{"pv_mwh": 8, "it_mwh": 8}], site="a")
    b = score([{"pv_mwh": 1, "grid_import_mwh": 1, "it_mwh": 2}], site="b")
    assert fleet_run([a, b])["gti_slice"] == pytest.approx(0.9, abs=TOL)


def test_pro_rata_aggregate_can_fall_below_slice():
    # A deviation of the spec's claim "GTI_agg >= GTI_slice" under pro_rata, kept as a test:
    # slice 1: pv 10, it 10, no cooling -> fraction 1; slice 2: import 100 at share 0, it 1,
    # cooling 99 -> fraction 0. slice GTI = 10/11; pro_rata aggregate = 10/110.
    rows = [{"pv_mwh": 10, "it_mwh": 10}, {"grid_import_mwh": 100, "it_mwh": 1, "cooling_mwh": 99}]
    s = score(rows, allocation="pro_rata")
    assert s.gti_slice == pytest.approx(10 / 11, abs=TOL)
    assert s.gti_aggregate == pytest.approx(10 / 110, abs=TOL)


def test_scope2_carbon_follows_energy_through_storage():
    # Slice 0: 10 MWh imported at 500 kg/MWh feed 8 of IT and charge 2: ci = 500, the store
    # holds 1.8 MWh carrying 1,000 kg (the charge's carbon, losses included).
    # Slice 1: 4 MWh of PV and a discharge of 0.81 (0.9 drawn: half the store, 500 kg) feed
    # 4.81 of IT: ci = 500 / 4.81. Facility 4,000 + 500 kg, 500 kg left in store: 5,000 kg,
    # the grid's. Market-based, an hourly certificate covering slice 0's import zeroes it all.
    from gti_core.emissions import carbon_totals, site_carbon
    m = meter_table([{"grid_import_mwh": 10, "it_mwh": 8, "bess_charge_mwh": 2},
                     {"pv_mwh": 4, "bess_discharge_mwh": 0.81, "it_mwh": 4.81}],
                    slice_minutes=60)
    st = StorageParams(charge_efficiency=0.9, discharge_efficiency=0.9)
    c = site_carbon(m, [500.0, 500.0], st)
    assert c["ci_location_kg_per_mwh"].tolist() == pytest.approx([500.0, 500.0 / 4.81], abs=TOL)
    assert c["facility_location_kg"].tolist() == pytest.approx([4000.0, 500.0], abs=1e-9)
    totals = carbon_totals(c)
    assert totals["stored_carbon_end_kg"] == pytest.approx(500.0, abs=1e-9)
    assert (totals["emissions_location_kg"] + totals["export_carbon_kg"]
            + totals["stored_carbon_end_kg"]) == pytest.approx(5000.0, abs=1e-9)
    cert = Contract("gc", "hourly_certificate", 1.0, profile([10.0, 0.0], minutes=60), 60)
    market = site_carbon(m, [500.0, 500.0], st, [cert])
    assert market["facility_market_kg"].sum() == pytest.approx(0.0, abs=1e-9)
    # FIFO: the same here (one layer), and backup carries its own factor
    fifo = site_carbon(m, [500.0, 500.0], StorageParams(0.9, 0.9, rule="fifo"))
    assert fifo["facility_location_kg"].tolist() == pytest.approx([4000.0, 500.0], abs=1e-9)
    b = meter_table([{"backup_mwh": 2, "it_mwh": 2}])
    assert site_carbon(b, [500.0], st, backup_kg_per_mwh=700.0)[
        "facility_location_kg"].iloc[0] == pytest.approx(1400.0)
