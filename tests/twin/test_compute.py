"""Compute in a full scenario: training jobs next to inference, deadlines in the summary, the
EcoLogits estimator as an alternative, and bad workload input refused by field."""

from __future__ import annotations

import pytest

from models.datacenter import GPU_TYPES
from models.tokens import MODELS, training_tokens_per_gpu_second
from tests.conftest import SCENARIOS
from tests.tolerances import HAND_REL
from twin.run import simulate
from twin.scenario import ScenarioError, from_dict, load


def short_scenario(days: int = 2, **workload) -> dict:
    scn = load(SCENARIOS / "western_hub.yaml")
    raw = scn.model_dump(exclude={"base_dir"})
    raw["horizon_days"] = days
    raw["sites"][0]["workload"].update(workload)
    return raw, scn.base_dir


def test_a_training_job_that_misses_its_deadline_is_counted_with_its_late_tokens():
    # 512 H100s, llama-2-7b at MFU 0.4; 3 h of compute due 2 h after release. With a checkpoint
    # after each hour of compute taking 5 min, it has computed 3,600 + 3,300 = 6,900 s by then,
    # so 10,800 - 6,900 = 3,900 s of tokens are late.
    rate = 512 * training_tokens_per_gpu_second(MODELS["llama-2-7b"].active_params,
                                                GPU_TYPES["H100-SXM"], 0.4)
    job = {"name": "llm7b", "model": "llama-2-7b", "gpus": 512, "tokens": rate * 3 * 3600,
           "deadline_h": 2.0, "checkpoint_interval_h": 1.0, "checkpoint_minutes": 5.0}
    raw, base = short_scenario(training=[job])
    r = simulate(from_dict(raw, base_dir=base))  # every invariant, training energy included
    k = r.summary["kpis"]
    assert k["training_jobs"] == 1 and k["deadline_misses"] == 1
    assert k["tokens_late"] == pytest.approx(rate * 3900, rel=HAND_REL)
    assert k["training_tokens"] == pytest.approx(rate * 3 * 3600, rel=HAND_REL)
    # two periodic checkpoints (after 1 h and 2 h of compute, at 1:00 and 2:05) on 512 GPUs
    assert k["training_overhead_gpu_hours"] == pytest.approx(2 * 5 / 60 * 512)
    t = r.tasks.set_index("task_id").loc["campus-train-llm7b"]
    assert t["kind"] == "training" and not t["deadline_met"]
    assert t["tokens_in"] == pytest.approx(rate * 3 * 3600, rel=HAND_REL) and t["tokens_out"] == 0
    assert 0.0 <= t["r_task"] <= 1.0
    events = [e for _, e, _ in r.tables()["events"].itertuples(index=False)
              if e.startswith("campus-train")]
    assert events == [f"campus-train-llm7b {e}" for e in (
        "released", "start", "checkpoint", "deadline missed", "checkpoint", "done")]


def test_ecologits_estimator_raises_the_token_energy_of_the_same_workload():
    raw, base = short_scenario(days=1)
    base_run = simulate(from_dict(raw, base_dir=base))
    raw, base = short_scenario(days=1, token_energy_method="ecologits")
    raw["sites"][0]["workload"]["interactive"]["peak_output_tokens_per_s"] /= 50
    raw["sites"][0]["workload"].pop("batch", None)
    eco = simulate(from_dict(raw, base_dir=base))
    inp = eco.inputs[0]
    assert inp.interactive_energy.method == "ecologits"
    # the engine priced every generated token at EcoLogits' figure (no prompt energy)
    te = eco.task_energy
    assert te["it_mwh"].sum() == pytest.approx(
        te["tokens_out"].sum() * inp.interactive_energy.output_j_per_token * 1.35 / 3.6e9,
        rel=HAND_REL)
    assert inp.interactive_energy.output_j_per_token > 20 * base_run.inputs[
        0].interactive_energy.output_j_per_token


@pytest.mark.parametrize(("job", "match"), [
    ({"name": "x", "model": "gpt-9", "gpus": 8, "tokens": 1e9},
     r"sites\[0\]\.workload\.training\[0\]\.model = 'gpt-9': known models"),
    ({"name": "x", "model": "llama-2-7b", "gpus": 10_000_000, "tokens": 1e9},
     r"sites\[0\]\.workload\.training\[0\]\.gpus = 10000000: more than the \d+ GPUs left"),
    ({"name": "x", "model": "llama-2-7b", "gpus": 8, "tokens": 1e9, "mfu": 1.5},
     r"sites\[0\]\.workload\.training\[0\]\.mfu = 1\.5"),
])
def test_bad_training_jobs_are_refused_by_field(job, match):
    raw, base = short_scenario(days=1, training=[job])
    with pytest.raises(ScenarioError, match=match):
        simulate(from_dict(raw, base_dir=base))
