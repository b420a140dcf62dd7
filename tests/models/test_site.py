"""models.site: the site's physics at the function layer, each value derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from models import site
from models.datacenter import gpu_type
from tests.tolerances import FLOAT_REL

H100 = gpu_type("H100-SXM")  # idle 75 W, serving 600 W, board 700 W, host overhead 0.35


def test_it_energy_of_work_and_idle_gpus_with_host_overhead():
    # 3.6e9 J of work + 1,000 idle GPU-s at 75 W = 3.600075e9 J at the GPUs; x 1.35 / 3.6e9 J/MWh
    assert site.it_energy_mwh(3.6e9, 1000.0, H100) == pytest.approx(1.35 * 3.600075e9 / 3.6e9,
                                                                     rel=FLOAT_REL)
    # vectorised over slices
    out = site.it_energy_mwh(np.array([0.0, 3.6e9]), np.array([0.0, 0.0]), H100)
    np.testing.assert_allclose(out, [0.0, 1.35], rtol=FLOAT_REL)


def test_gpu_time_of_inference_and_energy_of_training():
    # 6,000 J at 600 W occupy 10 GPU-s, and 10 GPU-s of serving draw 6,000 J
    assert site.busy_gpu_s(6000.0, H100) == pytest.approx(10.0, rel=FLOAT_REL)
    assert site.serving_energy_j(10.0, H100) == pytest.approx(6000.0, rel=FLOAT_REL)
    # 100 s of compute on 8 GPUs at 700 W and 20 s of checkpoint at 75 W: 560,000 + 12,000 J
    assert site.training_gpu_energy_j(100.0, 20.0, 8, H100) == pytest.approx(572_000.0)
    # a slice of training (900 s on 8 GPUs) at 700 W: 5.04e6 J x 1.35 / 3.6e9 MWh; over idle
    # GPUs it adds (700 - 75) W: 4.5e6 J x 1.35 / 3.6e9
    assert site.training_it_mwh(8, 900.0, H100) == pytest.approx(5.04e6 * 1.35 / 3.6e9,
                                                                 rel=FLOAT_REL)
    assert site.training_extra_it_mwh(8, 900.0, H100) == pytest.approx(4.5e6 * 1.35 / 3.6e9,
                                                                       rel=FLOAT_REL)
    # a GPU-second of batch work over an idle one: 525 J x 1.35 / 3.6e9
    assert site.batch_it_mwh_per_gpu_s(H100) == pytest.approx(525 * 1.35 / 3.6e9, rel=FLOAT_REL)


def test_gpu_pool_and_free_gpu_time():
    # 10 GPUs; interactive work peaks at 6.2 GPUs busy on average over a 900 s slice: 7 are
    # reserved for it, 3 are left for training
    busy = np.array([900.0 * 3, 900.0 * 6.2, 0.0])
    assert site.training_pool_gpus(busy, 900.0, 10) == 3
    # free time never goes below zero, and each piece of work is taken in turn
    np.testing.assert_allclose(site.free_gpu_s(9000.0, busy, 3000.0), [3300.0, 420.0, 6000.0])
    assert site.free_gpu_s(100.0, 60.0, 50.0) == 0.0


def test_non_it_loads_and_the_meter_row():
    cooling, aux = site.non_it_mwh(10.0, 0.2, 0.05)
    assert (cooling, aux) == pytest.approx((2.0, 0.5))
    row = site.MeterRow(1, 2, 0, 3, 0, 0, 0, 5, 1, 0)
    assert row.facility_mwh == 6
    assert row.values() == (1, 2, 0, 3, 0, 0, 0, 5, 1, 0, 6, 0.0, 0.0)  # backup, unserved
    # two parts of a slice add up field by field
    part = site.MeterRow(1, 0, 0, 0, 0, 0, 0, 0.5, 0.1, 0, backup_mwh=0.4, unserved_mwh=0.2)
    assert site.sum_rows([row, part]).values() == pytest.approx(
        (2, 2, 0, 3, 0, 0, 0, 5.5, 1.1, 0, 6.6, 0.4, 0.2))


LIMITS = site.BusLimits(pv_avail_mwh=6.0, wind_avail_mwh=2.0, max_charge_mwh=1.0,
                        max_discharge_mwh=1.0, max_import_mwh=3.0, max_export_mwh=1.0)


def test_bus_with_surplus_charges_exports_then_curtails_in_proportion():
    # 8 MWh offered, 4 MWh of load, 1.5 MWh asked into the battery (capped at 1): 3 MWh left,
    # 1 exported, 2 curtailed: PV gives 6/8 of it (1.5), wind 2/8 (0.5)
    row = site.settle_bus(LIMITS, it_mwh=3.0, cooling_mwh=0.5, aux_mwh=0.5, charge_mwh=1.5,
                          discharge_mwh=0.0)
    assert row.bess_charge_mwh == 1.0 and row.grid_export_mwh == 1.0
    assert row.curtailed_mwh == pytest.approx(2.0)
    assert (row.pv_mwh, row.wind_mwh) == pytest.approx((4.5, 1.5))
    assert row.grid_import_mwh == 0.0
    # the bus closes: supply = loads + charge + export
    supply = row.pv_mwh + row.wind_mwh + row.grid_import_mwh + row.bess_discharge_mwh
    assert supply == pytest.approx(row.facility_mwh + row.bess_charge_mwh + row.grid_export_mwh)


def test_a_discharge_the_bus_cannot_take_is_cut_and_renewables_stay_non_negative():
    # 1 MWh of PV, 2 MWh of load, 1 MWh of export allowed, 5 MWh asked from the battery: even
    # with the PV curtailed the bus takes only 2 + 1 MWh, so the battery delivers 3 MWh
    limits = site.BusLimits(1.0, 0.0, 1.0, 5.0, 3.0, 1.0)
    row = site.settle_bus(limits, 2.0, 0.0, 0.0, 0.0, 5.0)
    assert row.bess_discharge_mwh == pytest.approx(3.0) and row.grid_export_mwh == 1.0
    assert (row.curtailed_mwh, row.pv_mwh, row.wind_mwh) == pytest.approx((1.0, 0.0, 0.0))
    supply = row.pv_mwh + row.wind_mwh + row.grid_import_mwh + row.bess_discharge_mwh
    assert supply == pytest.approx(row.facility_mwh + row.bess_charge_mwh + row.grid_export_mwh)
    # where curtailing renewables makes room, the discharge stands (the setpoint is the
    # strategy's; before this rule such a slice metered negative PV or wind)
    row = site.settle_bus(site.BusLimits(6.0, 2.0, 1.0, 1.0, 3.0, 1.0), 2.0, 0.0, 0.0, 0.0, 1.0)
    assert row.bess_discharge_mwh == 1.0 and row.curtailed_mwh == pytest.approx(6.0)
    assert (row.pv_mwh, row.wind_mwh) == pytest.approx((1.5, 0.5))


def test_bus_at_the_import_limit_cuts_grid_charging_first_and_then_refuses():
    dark = site.BusLimits(0.0, 0.0, 1.0, 1.0, 3.0, 0.0)
    # 2.5 MWh of load + 1 MWh of charging: 3.5 needed, 3 allowed: charging is cut to 0.5
    row = site.settle_bus(dark, 2.5, 0.0, 0.0, 1.0, 0.0)
    assert row.bess_charge_mwh == pytest.approx(0.5) and row.grid_import_mwh == pytest.approx(3.0)
    with pytest.raises(site.SupplyShortfall) as err:
        site.settle_bus(dark, 4.0, 0.0, 0.0, 0.0, 0.0)
    assert err.value.short_mwh == pytest.approx(4.0)


def test_net_exchange_closes_the_bus():
    imp, exp = site.net_exchange_mwh(np.array([1.0, 5.0]), 0.0, 0.0, np.array([3.0, 2.0]), 0.0)
    np.testing.assert_allclose(imp, [2.0, 0.0])
    np.testing.assert_allclose(exp, [0.0, 3.0])
