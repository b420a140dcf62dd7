"""Trust beyond one run: the certificate registry, the GTI ledger and per-inference offsets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS
from tests.twin.test_cli import aidc
from twin.manifest import MANIFEST, file_sha256
from twin.registry import Registry, contract_claims

METERS = ROOT / "tests" / "data" / "example_site_meters.csv"
CONFIG = ROOT / "tests" / "data" / "example_accounting.yaml"  # holds REC rec-2023-0001, 20 MWh
HEADER = "certificate_id,volume_mwh,vintage,technology,region,owner\n"
TRACE = ROOT.parent / "shared" / "data" / "azure-llm-inference-2023" / \
    "AzureLLMInferenceTrace_conv.csv"


def registry_with(tmp_path, rows: str):
    csv = tmp_path / "certs.csv"
    csv.write_text(HEADER + rows)
    reg = tmp_path / "reg.duckdb"
    r = aidc("registry", "import", csv, "--registry", reg)
    assert r.returncode == 0, r.stderr
    return reg


def score(out, *more):
    return aidc("score", METERS, "--config", CONFIG, "--out", out, *more)


# --- registry ----------------------------------------------------------------------------------
def test_a_bad_certificate_row_is_refused_naming_it_and_nothing_is_imported(tmp_path):
    csv = tmp_path / "certs.csv"
    csv.write_text(HEADER + "a,10,2023,wind,NL,x\nb,abc,2023,wind,NL,x\n")
    reg = tmp_path / "reg.duckdb"
    r = aidc("registry", "import", csv, "--registry", reg)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"error: {csv}: row 3: volume_mwh = 'abc': must be a "
                                     "finite number > 0 [MWh]"]
    with Registry(reg, read_only=True) as registry:
        assert registry.certificates().empty  # row 2 was fine, and was not added either
    csv.write_text(HEADER + "a,10,1850,wind,NL,x\n")
    assert "row 2: vintage = '1850'" in aidc("registry", "import", csv, "--registry",
                                             reg).stderr


def test_the_same_certificate_retired_twice_is_refused_and_recorded_once(tmp_path):
    reg = registry_with(tmp_path, "rec-2023-0001,20,2023,wind,NL,example-dc operator\n")
    first = score(tmp_path / "s1", "--registry", reg)
    assert first.returncode == 0, first.stderr
    second = score(tmp_path / "s2", "--registry", reg)
    assert second.returncode == 2
    [line] = second.stderr.splitlines()
    assert line.startswith(f"error: --registry = {reg}: certificate 'rec-2023-0001': already "
                           "retired for site 'example-dc', 2023-06-01 00:00 .. 2023-06-03 "
                           f"00:00 UTC, by {(tmp_path / 's1').resolve()} at ")
    assert not (tmp_path / "s2").exists()
    with Registry(reg, read_only=True) as registry:
        ret = registry.retirements()
        certs = registry.certificates()
    assert len(ret) == 1 and ret.at[0, "volume_mwh"] == 20.0
    assert ret.at[0, "manifest_sha256"] == file_sha256(tmp_path / "s1" / MANIFEST)
    assert certs.at[0, "remaining_mwh"] == 0.0
    block = json.loads((tmp_path / "s1" / "summary.json").read_text())["registry"]
    assert block["retirements"][0]["volume_mwh"] == 20.0
    out = tmp_path / "retirements.csv"
    assert aidc("registry", "export", "--registry", reg, "--out", out).returncode == 0
    assert pd.read_csv(out)["certificate_id"].tolist() == ["rec-2023-0001"]


@pytest.mark.parametrize("row, message", [
    ("rec-2023-0001,10,2023,wind,NL,o\n", "certificate 'rec-2023-0001': retiring 20 MWh for site "
     "'example-dc' would exceed its issued 10 MWh (0 MWh retired already)"),
    ("rec-2023-0001,20,2022,wind,NL,o\n", "certificate 'rec-2023-0001': vintage 2022, claimed "
     "for site 'example-dc' with volume delivered in 2023"),
    ("other,20,2023,wind,NL,o\n", "certificate 'rec-2023-0001' (site 'example-dc'): not in the "
     "registry"),
])
def test_over_retirement_wrong_vintage_and_unknown_certificates_are_refused(tmp_path, row,
                                                                             message):
    reg = registry_with(tmp_path, row)
    r = score(tmp_path / "s", "--registry", reg)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_a_profiled_instrument_claims_what_it_delivered_in_the_period():
    from gti_core.contracts import Contract

    t = pd.date_range("2023-12-31 22:00", periods=4, freq="h", tz="UTC")
    ppa = Contract("ppa-1", "ppa", 0.9, pd.Series([1.0, 2.0, 3.0, 4.0], index=t), 60)
    rec = Contract("rec-1", "rec", 0.8, volume_mwh=7.0, year=2024)
    [c_ppa, c_rec] = contract_claims("s", [ppa, rec], t[1], t[3])
    assert c_ppa.volume_mwh == 5.0 and c_ppa.years == (2023, 2024)  # 23:00 and 00:00, face value
    assert c_rec.volume_mwh == 7.0 and c_rec.years == (2024,)


# --- the GTI ledger ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_scores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ledger")
    assert score(tmp / "a").returncode == 0
    other = tmp / "alpha.yaml"  # the same meters under another alpha: other labels
    other.write_text(CONFIG.read_text().replace("alpha: 0.7", "alpha: 0.65"))
    r = aidc("score", METERS, "--config", other, "--out", tmp / "b")
    assert r.returncode == 0, r.stderr
    return tmp


def test_the_ledger_chains_labels_and_names_the_entry_removed_or_edited(two_scores, tmp_path):
    led = tmp_path / "ledger.jsonl"
    for name in ("a", "b"):
        r = aidc("ledger", "append", two_scores / name, "--ledger", led)
        assert r.returncode == 0, r.stderr
    lines = led.read_text().splitlines()
    # each folder: one site, June 2023 and 2023Q2, both methods
    assert len(lines) == 8
    entries = [json.loads(x) for x in lines]
    assert [(e["period"], e["method"]) for e in entries[:4]] == [
        ("2023-06", "slice"), ("2023-06", "aggregate"), ("2023Q2", "slice"),
        ("2023Q2", "aggregate")]
    assert entries[4]["prev_hash"] == entries[3]["hash"]
    assert entries[0]["manifest_sha256"] == file_sha256(two_scores / "a" / MANIFEST)
    assert aidc("ledger", "verify", "--ledger", led).returncode == 0
    again = aidc("ledger", "append", two_scores / "a", "--ledger", led)
    assert again.returncode == 2 and "in the ledger already (entry 1" in again.stderr
    assert entries[4]["alpha"] == 0.65
    # remove entry 3
    led.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    r = aidc("ledger", "verify", "--ledger", led)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"error: {led}: entry 3 (line 3): holds seq 4 where seq 3 "
                                     "belongs; entry 3 was removed, or the entries reordered"]
    # edit entry 6's GTI
    edited = json.loads(lines[5])
    edited["gti"] = 0.99
    led.write_text("\n".join(lines[:5] + [json.dumps(edited)] + lines[6:]) + "\n")
    r = aidc("ledger", "verify", "--ledger", led)
    assert r.returncode == 1 and "entry 6 (line 6): its content does not match its hash" in \
        r.stderr
    # and a folder changed since it was written is not labelled
    (two_scores / "b" / "summary.json").write_text("{}")
    r = aidc("ledger", "append", two_scores / "b", "--ledger", tmp_path / "other.jsonl")
    assert r.returncode == 2 and "summary.json: changed since the run" in r.stderr


def test_a_signed_ledger_fails_under_another_key(tmp_path):
    keys = {}
    for who in ("ours", "theirs"):
        assert aidc("keys", "new", "--out", tmp_path / who).returncode == 0
        keys[who] = tmp_path / who
    assert score(tmp_path / "s").returncode == 0
    led = tmp_path / "ledger.jsonl"
    env = {"AIDC_TWIN_SIGNING_KEY": str(keys["ours"] / "signing_key.pem")}
    assert aidc("ledger", "append", tmp_path / "s", "--ledger", led, env=env).returncode == 0
    ok = aidc("ledger", "verify", "--ledger", led, "--trusted-key",
              keys["ours"] / "signing_key.pub")
    assert ok.returncode == 0 and "every entry signed by the trusted key" in ok.stdout
    bad = aidc("ledger", "verify", "--ledger", led, "--trusted-key",
               keys["theirs"] / "signing_key.pub")
    assert bad.returncode == 1 and "entry 1 (line 1): signed by key" in bad.stderr


# --- per-inference offsets ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def trace_run(tmp_path_factory):
    """A day of the Azure conversation trace replayed back to back on the default campus (its
    only workload, so the requests carry every slice's IT energy)."""
    if not TRACE.is_file():
        pytest.skip("../shared/data is not beside the project")
    tmp = tmp_path_factory.mktemp("offsets")
    raw = yaml.safe_load((SCENARIOS / "western_hub.yaml").read_text())
    raw["horizon_days"] = 1
    work = raw["sites"][0]["workload"]
    work.update(batch=None, training=[], interactive={
        "model": "llama-3.1-70b", "trace_file": str(TRACE), "trace_loop": True,
        "trace_start": "2023-01-01T00:00:00Z"})
    path = tmp / "trace.yaml"
    path.write_text(yaml.safe_dump(raw))
    r = aidc("run", path, "--out", tmp / "run")
    assert r.returncode == 0, r.stderr
    return tmp / "run"


def test_per_request_offsets_add_up_to_each_slices_unmatched_energy(trace_run, tmp_path):
    from gti_core.score import score_site
    from twin.results import read_run
    from twin.verify import params_from_summary

    reg = registry_with(tmp_path, "pool-2023,500,2023,solar,US-WECC,provider\n"
                                  "pool-2022,500,2022,solar,US-WECC,provider\n")
    r = aidc("offsets", trace_run, "--registry", reg, "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    req = pd.read_parquet(tmp_path / "o" / "requests.parquet")
    trace = pd.read_csv(TRACE)
    assert len(req) == 24 * len(trace)  # the one-hour trace, 24 times over the day
    assert req["tokens_out"].sum() == 24 * trace["GeneratedTokens"].sum()
    # the slices' unmatched IT energy, from the meters by gti_core: it - g_it - g_contract
    run = read_run(trace_run)
    sc = score_site(run["meters"], params_from_summary(run["summary"], "campus"))
    unmatched = (sc.slices["it_mwh"] - sc.slices["g_it"] - sc.slices["g_contract"]).to_numpy()
    per_slice = req.groupby("slice_time")["unmatched_it_mwh"].sum()
    assert len(per_slice) == 96 and unmatched.sum() > 1.0  # the night is not all green
    np.testing.assert_allclose(per_slice.to_numpy(), unmatched, rtol=0, atol=1e-9)
    # emissions: the requests of a slice carry its interactive task's, as the run recorded them
    tasks = run["tasks"].set_index("task_id")
    task_kg = req.groupby("task_id")["emissions_location_kg"].sum()
    np.testing.assert_allclose(task_kg.to_numpy(), tasks.loc[task_kg.index, "emissions_kg"],
                               rtol=1e-9)
    # certificates: vintage 2023 only, every request offset in full, retired once
    assert req["certificate_mwh"].to_numpy() == pytest.approx(req["unmatched_it_mwh"].to_numpy(),
                                                              abs=1e-12)
    assert set(req.loc[req["certificate_mwh"] > 0, "certificate_id"]) == {"pool-2023"}
    with Registry(reg, read_only=True) as registry:
        ret = registry.retirements()
    assert ret["certificate_id"].tolist() == ["pool-2023"]
    assert ret.at[0, "volume_mwh"] == pytest.approx(unmatched.sum(), abs=1e-9)
    again = aidc("offsets", trace_run, "--registry", reg, "--out", tmp_path / "o2")
    assert again.returncode == 2 and "site 'campus', 2023-01-01 00:00 .. 2023-01-02 00:00 " \
        "UTC: already offset with certificate 'pool-2023'" in again.stderr
    assert not (tmp_path / "o2").exists()


def test_offsets_refuse_a_short_registry_unless_partial(trace_run, tmp_path):
    reg = registry_with(tmp_path, "small,1,2023,wind,US-WECC,provider\n")
    r = aidc("offsets", trace_run, "--registry", reg, "--out", tmp_path / "o")
    assert r.returncode == 2 and "certificates of vintage 2023 hold 1 MWh unretired" in r.stderr
    assert not (tmp_path / "o").exists()
    r = aidc("offsets", trace_run, "--registry", reg, "--partial", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["certificate_mwh"] == pytest.approx(1.0, abs=1e-12)
    assert s["not_offset_mwh"] == pytest.approx(s["unmatched_it_mwh"] - 1.0, abs=1e-9)
    # a run changed since it was written gets no offsets
    import shutil

    copy = shutil.copytree(trace_run, tmp_path / "run")
    (copy / "events.parquet").write_bytes(b"")
    r = aidc("offsets", copy, "--out", tmp_path / "o3")
    assert r.returncode == 2 and not (tmp_path / "o3").exists()
    assert r.stderr.splitlines() == [f"error: {copy}: events.parquet: changed since the run "
                                     "(SHA-256 differs from the manifest's); offsets are "
                                     "computed only for a run as written"]


def test_a_run_retires_what_its_instruments_delivered_in_its_horizon(tmp_path):
    from tests.twin.test_rules import _short, _with_contracts

    # gc-evening delivers 20 MWh in each of the hours 20-23 UTC of Jan 1-3 (240 MWh issued)
    reg = registry_with(tmp_path, "gc-evening,240,2023,solar,US-WECC,o\n"
                                  "rec-2023,1500,2023,wind,US-WECC,o\n")
    raw = _with_contracts(_short(days=2), tmp_path)
    path = tmp_path / "two_days.yaml"
    path.write_text(yaml.safe_dump(raw))
    r = aidc("run", path, "--out", tmp_path / "r1", "--registry", reg)
    assert r.returncode == 0, r.stderr
    with Registry(reg, read_only=True) as registry:
        ret = registry.retirements().set_index("certificate_id")
    assert ret.at["gc-evening", "volume_mwh"] == 2 * 4 * 20.0  # two evenings, at face value
    assert ret.at["rec-2023", "volume_mwh"] == 1500.0
    assert str(ret.at["gc-evening", "period_end"]) == "2023-01-03 00:00:00"
    # the third day: its evening is new volume, the REC is spent
    raw["horizon_start_day"], raw["horizon_days"] = 2, 1
    path.write_text(yaml.safe_dump(raw))
    r = aidc("run", path, "--out", tmp_path / "r2", "--registry", reg)
    assert r.returncode == 2 and not (tmp_path / "r2").exists()
    assert "certificate 'rec-2023': retiring 1500 MWh for site 'campus' would exceed its " \
           "issued 1500 MWh (1500 MWh retired already; first retired for site 'campus', " \
           "2023-01-01 00:00 .. 2023-01-03 00:00 UTC" in r.stderr
    with Registry(reg, read_only=True) as registry:
        assert len(registry.retirements()) == 2  # the refused run retired nothing
    # a synthetic stream: one row per slice's stream, carrying its task's share of the slice
    r = aidc("offsets", tmp_path / "r1", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    req = pd.read_parquet(tmp_path / "o" / "requests.parquet").set_index("task_id")
    tasks = pd.read_parquet(tmp_path / "r1" / "tasks.parquet").set_index("task_id")
    inter = tasks[tasks["kind"] == "interactive"]
    assert len(req) == len(inter) == 192 and req["certificate_mwh"].sum() == 0.0
    np.testing.assert_allclose(req.loc[inter.index, "it_mwh"], inter["it_with_idle_mwh"],
                               rtol=1e-12)
    np.testing.assert_allclose(req.loc[inter.index, "unmatched_it_mwh"],
                               inter["it_with_idle_mwh"] * (1 - inter["r_task"]), rtol=1e-9,
                               atol=1e-12)
