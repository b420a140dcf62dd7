"""Per-inference offsets (gti_core.offsets), on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gti_core.offsets import allocate_certificates, certificate_spans, request_offsets

T0 = pd.Timestamp("2023-01-01 00:00", tz="UTC")


def tasks():
    # task a: 2 MWh with idle, 75 % green, facility 1.2 x IT, 400 kg/MWh; task b: 1 MWh, 0 % green
    return pd.DataFrame({"task_id": ["a", "b"], "site": ["s", "s"],
                         "time": [T0, T0 + pd.Timedelta(minutes=15)],
                         "it_with_idle_mwh": [2.0, 1.0], "r_dc": [0.75, 0.0],
                         "facility_per_it": [1.2, 1.5], "ci_location_kg_per_mwh": [400.0, 100.0]})


def test_requests_split_their_task_by_work_and_carry_its_slice():
    req = pd.DataFrame({"task_id": ["a", "a", "b"], "work_j": [1.0, 3.0, 7.0]})
    out = request_offsets(req, tasks())
    # a's 2 MWh split 1:3 -> 0.5 and 1.5; b's single request takes all of b
    np.testing.assert_allclose(out["it_mwh"], [0.5, 1.5, 1.0])
    np.testing.assert_allclose(out["unmatched_it_mwh"], [0.125, 0.375, 1.0])
    np.testing.assert_allclose(out["green_it_mwh"], [0.375, 1.125, 0.0])
    np.testing.assert_allclose(out["facility_mwh"], [0.6, 1.8, 1.5])
    np.testing.assert_allclose(out["emissions_location_kg"], [240.0, 720.0, 150.0])
    assert list(out["slice_time"]) == [T0, T0, T0 + pd.Timedelta(minutes=15)]
    # a slice's requests carry its unmatched energy: 2 x (1 - 0.75) = 0.5
    assert out.loc[out["task_id"] == "a", "unmatched_it_mwh"].sum() == pytest.approx(0.5)


def test_unknown_task_and_bad_work_are_refused():
    with pytest.raises(ValueError, match="request row 1: task 'zz' is not a task of the run"):
        request_offsets(pd.DataFrame({"task_id": ["a", "zz"], "work_j": [1.0, 1.0]}), tasks())
    with pytest.raises(ValueError, match="request row 0: work_j = nan"):
        request_offsets(pd.DataFrame({"task_id": ["a"], "work_j": [np.nan]}), tasks())
    two_slices = pd.concat([tasks(), tasks().iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="task 'a': runs in more than one slice"):
        request_offsets(pd.DataFrame({"task_id": ["a"], "work_j": [1.0]}), two_slices)


def test_certificates_offset_requests_in_order_while_they_last():
    need = np.array([1.0, 2.0, 3.0])
    pool = np.array([2.5, 1.0])  # 3.5 MWh: the first two in full, 0.5 of the third
    got = allocate_certificates(need, pool)
    np.testing.assert_allclose(got, [1.0, 2.0, 0.5])
    # request 0 starts in certificate 0; request 1 at 1.0 (still 0); request 2 at 3.0 (1)
    assert certificate_spans(got, pool).tolist() == [0, 0, 1]
    np.testing.assert_allclose(allocate_certificates(need, np.array([10.0])), need)
    assert certificate_spans(np.array([0.0, 1.0]), np.array([1.0])).tolist() == [-1, 0]
