"""Replaying the Azure LLM inference trace 2023 (conversation service) as the interactive stream.

The trace lives beside the project in ../shared/data/azure-llm-inference-2023/ (CC-BY 4.0;
Patel et al., "Splitwise", ISCA 2024); 19,366 requests recorded on 2023-11-16 from 18:15 UTC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.datacenter import J_PER_MWH
from models.workloads import read_request_trace, trace_tokens
from tests.conftest import ROOT, SCENARIOS
from tests.tolerances import FLOAT_REL
from twin.run import simulate
from twin.scenario import from_dict, load

TRACE = ROOT.parent / "shared" / "data" / "azure-llm-inference-2023" / \
    "AzureLLMInferenceTrace_conv.csv"
pytestmark = pytest.mark.skipif(not TRACE.is_file(), reason="../shared/data is not beside the "
                                                            "project")


def trace_scenario(**interactive):
    scn = load(SCENARIOS / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = 1
    site = raw["sites"][0]
    site["datacenter"]["nodes"] = 2  # 16 GPUs
    site["workload"]["batch"] = None
    site["workload"]["training"] = []
    site["workload"]["interactive"] = {"model": "llama-3.1-70b", "trace_file": str(TRACE),
                                       "trace_start": "2023-01-01T06:00:00Z", **interactive}
    return from_dict(raw, base_dir=scn.base_dir)


def test_replay_serves_exactly_the_files_tokens_and_energy():
    file = pd.read_csv(TRACE)
    res = simulate(trace_scenario())
    tasks = res.tasks
    assert tasks["tokens_in"].sum() == file["ContextTokens"].sum() == 22_361_870
    assert tasks["tokens_out"].sum() == file["GeneratedTokens"].sum() == 4_088_665
    # IT energy = sum over requests of tokens x coefficients, plus every idle GPU-second at idle
    # power, both with the node's host overhead
    inp = res.inputs[0]
    e, gpu = inp.interactive_energy, inp.gpu
    work_j = (file["ContextTokens"] * e.input_j_per_token
              + file["GeneratedTokens"] * e.output_j_per_token).sum()
    busy_s = work_j / gpu.serving_w
    idle_s = inp.gpus * 86400.0 - busy_s
    host = 1.0 + gpu.host_overhead_fraction
    expected_mwh = (work_j + idle_s * gpu.idle_w) * host / J_PER_MWH
    assert res.meters["it_mwh"].sum() == pytest.approx(expected_mwh, rel=FLOAT_REL)
    assert tasks["it_mwh"].sum() == pytest.approx(work_j * host / J_PER_MWH, rel=FLOAT_REL)


def test_requests_land_in_their_slices_and_loop_repeats_the_trace():
    trace = read_request_trace(TRACE)
    index = pd.date_range("2023-11-16 18:00", periods=96, freq="15min", tz="UTC")
    tin, tout = trace_tokens(trace, index, 15, scale=3, loop=False)
    first = trace["TIMESTAMP"].iloc[0]
    k = int((first - index[0]) // pd.Timedelta(minutes=15))
    assert tout[:k].sum() == 0 and tout[k] > 0  # nothing before 18:15, the first request's slice
    assert tout.sum() == 3 * trace["GeneratedTokens"].sum()
    looped_in, looped_out = trace_tokens(trace, index, 15, scale=1, loop=True)
    once_out = tout / 3
    # the repetition period: the trace's span rounded up to whole slices (floor + 1)
    period = int((trace["TIMESTAMP"].iloc[-1] - first) // pd.Timedelta(minutes=15)) + 1
    # the second repetition is the first shifted by whole slices; the first copy's tail that
    # spills past `period` slices is taken out before comparing
    np.testing.assert_array_equal(looped_out[k + period:k + 2 * period] -
                                  once_out[k + period:k + 2 * period],
                                  once_out[k:k + period])


def test_trace_and_synthetic_stream_are_exclusive():
    from twin.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="give either peak_output_tokens_per_s"):
        trace_scenario(peak_output_tokens_per_s=1000.0)
