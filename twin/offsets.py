"""Per-inference offsets of a run: each request's energy, green share, unmatched energy,
emissions and the certificate volume retired for it (``aidc-twin offsets RUN``).

The requests are the run's interactive ones: replayed from the trace the run was made from (the
file its manifest hashed, checked unchanged), or, for a synthetic stream or a fleet region's
routed requests, one row per slice's stream. The accounting is gti_core's
(:mod:`gti_core.offsets`), recomputed from the run's meters as ``verify`` does: the run must
match its manifest and verify first. With a registry, each site and year draws on the
certificates of that vintage (:meth:`twin.registry.Registry.available`) in id order, each request
offset in full while they last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gti_core.contracts import contracts_from_table
from gti_core.emissions import site_carbon
from gti_core.offsets import allocate_certificates, certificate_spans, request_offsets
from gti_core.score import score_site
from gti_core.tokens import with_idle_share
from twin.registry import Claim, Registry, RegistryError, claims_block

#: More requests than this need a shorter run (a year of a looped trace has ~1.7e8) [requests].
MAX_REQUESTS = 20_000_000


class OffsetsError(ValueError):
    """A run folder offsets cannot be computed for; the message names the file or field."""


@dataclass
class Offsets:
    requests: pd.DataFrame
    slices: pd.DataFrame
    retirements: list[Claim]
    summary: dict


def _scenario(run_dir: Path):
    from twin.scenario import ScenarioError, from_dict

    path = run_dir / "scenario.yaml"
    if not path.is_file():
        raise OffsetsError(f"{run_dir}: no scenario.yaml (offsets need a twin run folder)")
    try:
        return from_dict(yaml.safe_load(path.read_text()), base_dir=run_dir)
    except (ScenarioError, yaml.YAMLError) as err:
        raise OffsetsError(f"{path}: {str(err).splitlines()[0]}") from None


def _trace(run_dir: Path, k: int) -> pd.DataFrame:
    """Site ``k``'s trace: the file the manifest hashed, refused if it changed since."""
    from models.workloads import read_request_trace
    from twin.manifest import MANIFEST, file_sha256

    field = f"sites[{k}].workload.interactive.trace_file"
    inputs = json.loads((run_dir / MANIFEST).read_text()).get("inputs", {})
    if field not in inputs:
        raise OffsetsError(f"{run_dir / MANIFEST}: inputs.{field} is missing (the trace the "
                           "run replayed is not recorded)")
    path = Path(inputs[field]["path"])
    if not path.is_file():
        raise OffsetsError(f"{field} = {path}: no such file")
    if file_sha256(path) != inputs[field]["sha256"]:
        raise OffsetsError(f"{field} = {path}: changed since the run (SHA-256 differs from the "
                           "manifest's)")
    return read_request_trace(path)


def site_requests(run_dir: Path, scn, k: int, index: pd.DatetimeIndex,
                  tasks: pd.DataFrame) -> pd.DataFrame:
    """Site ``k``'s interactive requests: ``task_id, request_id, time, tokens_in, tokens_out,
    work_j`` (GPU energy of its tokens [J]); streams for tasks no trace describes."""
    from models.tokens import gpu_energy_j
    from models.workloads import trace_requests
    from twin.inputs import site_token_energy

    site = scn.sites[k]
    mine = tasks[(tasks["kind"] == "interactive") & (tasks["site"] == site.name)]
    icfg = site.workload.interactive
    traced = pd.DataFrame()
    if icfg is not None and icfg.trace_file is not None:
        start = pd.to_datetime(icfg.trace_start, utc=True) if icfg.trace_start else None
        req = trace_requests(_trace(run_dir, k), index, scn.slice_minutes, icfg.trace_scale,
                             icfg.trace_loop, start)
        if len(req) > MAX_REQUESTS:
            raise OffsetsError(f"sites[{k}]: {len(req):,} requests over the run; offsets take at "
                               f"most {MAX_REQUESTS:,} (run a shorter horizon_days)")
        te = site_token_energy(site, icfg.model, "interactive")
        traced = pd.DataFrame({
            "task_id": [f"{site.name}-interactive-{s:06d}" for s in req["slice"]],
            "request_id": [f"{r}.{rep}" for r, rep in zip(req["request"], req["repetition"],
                                                          strict=True)],
            "time": req["time"].to_numpy(), "tokens_in": req["tokens_in"].to_numpy(),
            "tokens_out": req["tokens_out"].to_numpy(),
            "work_j": gpu_energy_j(req["tokens_in"].to_numpy(), req["tokens_out"].to_numpy(),
                                   te)})
        _check_tokens(traced, mine, k)
    streams = mine[~mine["task_id"].isin(set(traced.get("task_id", [])))]
    streams = pd.DataFrame({
        "task_id": streams["task_id"].to_numpy(), "request_id": streams["task_id"].to_numpy(),
        "time": streams["start"].to_numpy(), "tokens_in": streams["tokens_in"].to_numpy(),
        "tokens_out": streams["tokens_out"].to_numpy(),
        # one stream per task: its weight only needs to be positive
        "work_j": np.ones(len(streams))})
    return pd.concat([f for f in (traced, streams) if len(f)] or [streams], ignore_index=True)


def _check_tokens(traced: pd.DataFrame, tasks: pd.DataFrame, k: int) -> None:
    """The replayed requests must hold exactly the tokens the run's interactive tasks served."""
    got = traced.groupby("task_id")[["tokens_in", "tokens_out"]].sum()
    rec = tasks.set_index("task_id")[["tokens_in", "tokens_out"]].reindex(got.index)
    bad = ~np.isclose(got.to_numpy(), rec.to_numpy(), rtol=1e-12, atol=0.5).all(axis=1)
    if bad.any():
        task = got.index[bad][0]
        raise OffsetsError(f"sites[{k}]: the trace replayed gives task {task!r} "
                           f"{got.loc[task].tolist()} tokens, the run recorded "
                           f"{rec.loc[task].tolist()}")


def task_rows(run: dict, scn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every task's slice rows with the slice's green share and location-based intensity, and
    every slice's ``it_mwh``, ``r_dc`` and ``unmatched_it_mwh`` (``it - g_it - g_contract``),
    recomputed from the run's meters (spec sections 6, 7 and 11)."""
    from twin.verify import params_from_summary

    summary, meters, signals = run["summary"], run["meters"], run["inputs"]
    contracts = contracts_from_table(run["contracts"]) if "contracts" in run else {}
    rows = []
    for site_cfg in scn.sites:
        name = site_cfg.name
        m = meters[meters["site"] == name].reset_index(drop=True)
        p = params_from_summary(summary, name)
        score = score_site(m, p, contracts.get(name, []))
        ef = signals.loc[signals["site"] == name, "grid_carbon_kg_per_mwh"].to_numpy(float)
        gensets = site_cfg.backup.gensets
        carbon = site_carbon(m, ef, p.storage, contracts.get(name, []),
                             backup_kg_per_mwh=gensets.emission_kg_per_mwh if gensets else 0.0)
        rows.append(score.slices[["time", "it_mwh", "r_dc"]].assign(
            site=name, facility_per_it=carbon["facility_per_it"].to_numpy(),
            ci_location_kg_per_mwh=carbon["ci_location_kg_per_mwh"].to_numpy(),
            unmatched_it_mwh=score.slices["it_mwh"] - score.slices["g_it"]
            - score.slices["g_contract"]))
    slices = pd.concat(rows, ignore_index=True)
    return with_idle_share(run["task_energy"], slices.drop(columns="unmatched_it_mwh")), slices


def compute_offsets(run_dir: Path, registry: Registry | None = None, owner: str | None = None,
                    partial: bool = False) -> Offsets:
    """Per-request offsets of a run folder (module docstring); with ``registry``, the
    certificate volume retired for each request and the claims to retire (not yet retired:
    see :meth:`twin.registry.Registry.retiring`). Without ``partial``, certificates that cannot
    cover a site's unmatched energy in a year are refused."""
    from gti_core.offsets import TASK_ROW_COLUMNS
    from twin.results import read_run

    run_dir = Path(run_dir)
    run = read_run(run_dir)
    scn = _scenario(run_dir)
    if "task_energy" not in run or "inputs" not in run:
        raise OffsetsError(f"{run_dir}: no task_energy.parquet or inputs.parquet")
    rows, slices = task_rows(run, scn)
    parts = []
    for k, site in enumerate(scn.sites):
        index = pd.DatetimeIndex(slices.loc[slices["site"] == site.name, "time"])
        parts.append(site_requests(run_dir, scn, k, index, run["tasks"]))
    reqs = pd.concat(parts, ignore_index=True)
    if reqs.empty:
        raise OffsetsError(f"{run_dir}: the run served no interactive requests")
    rows = rows[rows["task_id"].isin(set(reqs["task_id"]))]
    per = request_offsets(reqs, rows[list(TASK_ROW_COLUMNS)])
    per = per.sort_values(["site", "time"], kind="stable").reset_index(drop=True)
    per["certificate_mwh"] = 0.0
    per["certificate_id"] = ""
    claims = _draw(per, registry, owner, partial, scn.slice_minutes) if registry else []
    by_slice = per.groupby(["site", "slice_time"]).agg(
        requests_it_mwh=("it_mwh", "sum"), requests_unmatched_it_mwh=("unmatched_it_mwh", "sum"),
        requests_certificate_mwh=("certificate_mwh", "sum"), requests=("it_mwh", "size"))
    table = slices.merge(by_slice, left_on=["site", "time"], right_index=True, how="left")
    table = table.fillna({c: 0.0 for c in by_slice.columns})
    table["requests"] = table["requests"].astype(int)
    return Offsets(per, table, claims, _summary(run_dir, per, table, registry, claims))


def _draw(per: pd.DataFrame, registry: Registry, owner: str | None, partial: bool,
          slice_minutes: int) -> list[Claim]:
    """Fill ``certificate_mwh`` and ``certificate_id`` of ``per`` (sorted by site and time)
    from the registry, per site and year; the claims that retire what was drawn."""
    claims: list[Claim] = []
    drawn: dict[str, float] = {}  # drawn by earlier groups of this call
    step = pd.Timedelta(minutes=slice_minutes)
    years = pd.DatetimeIndex(per["slice_time"]).year
    for (site, year), idx in per.groupby([per["site"], years], sort=True).groups.items():
        pool = registry.available(int(year), owner)
        left = pool["remaining_mwh"].to_numpy(float) - np.array(
            [drawn.get(c, 0.0) for c in pool["certificate_id"]])
        pool, left = pool[left > 0].reset_index(drop=True), left[left > 0]
        need = per.loc[idx, "unmatched_it_mwh"].to_numpy(float)
        if need.sum() > left.sum() + 1e-9 and not partial:
            whose = f" owned by {owner!r}" if owner else ""
            raise RegistryError(
                f"registry {registry.path}: certificates of vintage {year}{whose} hold "
                f"{left.sum():.6g} MWh unretired; the requests at site {site!r} in {year} left "
                f"{need.sum():.6g} MWh unmatched (--partial retires what there is)")
        got = allocate_certificates(need, left)
        first = certificate_spans(got, left)
        ids = pool["certificate_id"].to_numpy(object)
        per.loc[idx, "certificate_mwh"] = got
        per.loc[idx, "certificate_id"] = np.where(first >= 0, ids[np.maximum(first, 0)], "")
        total, before = float(got.sum()), np.concatenate(([0.0], np.cumsum(left)[:-1]))
        times = per.loc[idx, "slice_time"]
        for cid, vol in zip(ids, np.clip(total - before, 0.0, left), strict=True):
            if vol > 0:
                drawn[cid] = drawn.get(cid, 0.0) + float(vol)
                claims.append(Claim(cid, site, times.min(), times.max() + step, float(vol),
                                    purpose="offset"))
    return claims


def _summary(run_dir: Path, per: pd.DataFrame, table: pd.DataFrame,
             registry: Registry | None, claims: list[Claim]) -> dict:
    carried = table[table["requests"] > 0]
    whole = carried[np.isclose(carried["requests_it_mwh"], carried["it_mwh"], rtol=1e-12,
                               atol=0.0)]
    tokens = float(per["tokens_in"].sum() + per["tokens_out"].sum())
    kg = float(per["emissions_location_kg"].sum())
    return {
        "run": str(run_dir), "requests": len(per), "tokens": tokens,
        "it_mwh": float(per["it_mwh"].sum()), "facility_mwh": float(per["facility_mwh"].sum()),
        "green_it_mwh": float(per["green_it_mwh"].sum()),
        "unmatched_it_mwh": float(per["unmatched_it_mwh"].sum()),
        "certificate_mwh": float(per["certificate_mwh"].sum()),
        "not_offset_mwh": float((per["unmatched_it_mwh"] - per["certificate_mwh"]).sum()),
        "emissions_location_kg": kg,
        "gco2e_per_1000_tokens": 1e6 * kg / tokens if tokens > 0 else 0.0,
        "slices_with_requests": len(carried),
        "slices_carried_whole": len(whole),
        "max_slice_unmatched_difference_mwh": float(
            (whole["requests_unmatched_it_mwh"] - whole["unmatched_it_mwh"]).abs().max()
            if len(whole) else 0.0),
        "registry": None if registry is None else claims_block(registry.path, claims)}
