"""A scenario's fleet in a run: region demand, links, the fleet strategy, and what the run
reports about routing and migrations.

- :func:`fleet_inputs` - each region's requests per slice and the sites it reaches, the links
  between sites, and each site's training pool left beside its own and its nearest regions'
  requests;
- :func:`fleet_strategy` - ``greedy`` routes and migrates by green headroom
  (:class:`twin.dispatch.fleet.GreenHeadroom`); every other strategy serves each region at its
  nearest site with room and moves nothing (:class:`twin.dispatch.fleet.Nearest`);
- :func:`served_inputs` - each site's inputs with the requests it served;
- :func:`routing_frame`, :func:`check_routing` and :func:`fleet_summary` - the routing table,
  its invariants (every region's requests served in every slice, each within its bound) and the
  ``fleet`` block of ``summary.json``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from models import site as physics
from models.tokens import gpu_energy_j
from twin.dispatch.base import StrategyOptions
from twin.dispatch.fleet import FleetStrategy, GreenHeadroom, Nearest, RegionDemand, SiteLink
from twin.engine.fleet import Fleet, route_slice
from twin.inputs import SiteInputs, interactive_tokens
from twin.invariants import InvariantError
from twin.scenario import Scenario, ScenarioError


def fleet_inputs(scn: Scenario, inputs: list[SiteInputs]) -> tuple[
        list[SiteInputs], list[RegionDemand], dict[frozenset, SiteLink]]:
    """Regions' demand on the sites' horizon, site-to-site links, and the sites' inputs with
    their training pool left beside the requests routed to them when every region goes to its
    nearest site (unless the site sets ``datacenter.training_pool_gpus``)."""
    fleet = scn.fleet
    index = inputs[0].index
    for k, inp in enumerate(inputs[1:], start=1):
        if not inp.index.equals(index):
            raise ScenarioError(f"sites[{k}].weather: its horizon ({inp.index[0]} to "
                                f"{inp.index[-1]}) differs from sites[0]'s ({index[0]} to "
                                f"{index[-1]}); a fleet's sites share one clock")
    by_name = {inp.name: inp for inp in inputs}
    regions = []
    for k, r in enumerate(fleet.regions):
        try:
            tin, tout = interactive_tokens(scn, r.interactive, index, r.utc_offset_h)
        except (FileNotFoundError, ValueError) as err:
            raise ScenarioError(f"fleet.regions[{k}].{err}") from None
        reach = sorted((lk.latency_ms, site) for site in by_name
                       if (lk := fleet.link(r.name, site)) is not None
                       and lk.latency_ms <= r.latency_bound_ms)
        regions.append(RegionDemand(r.name, tin, tout, r.latency_bound_ms,
                                    tuple((site, ms) for ms, site in reach)))
    links = {frozenset(lk.between): SiteLink(lk.latency_ms, lk.bandwidth_gbit_s,
                                              lk.energy_kwh_per_gb)
             for lk in fleet.links if all(end in by_name for end in lk.between)}
    out = []
    for k, (inp, site) in enumerate(zip(inputs, scn.sites, strict=True)):
        if site.datacenter.training_pool_gpus is None:
            busy = inp.interactive_busy_gpu_s.copy()
            for r in regions:
                if r.reachable[0][0] == inp.name:
                    busy += physics.busy_gpu_s(gpu_energy_j(r.tokens_in, r.tokens_out,
                                                            inp.interactive_energy), inp.gpu)
            inp = dataclasses.replace(inp, pool_gpus=physics.training_pool_gpus(
                busy, inp.slice_s, inp.gpus))
        for j, tj in enumerate(inp.training_jobs):
            if tj.gpus > inp.training_pool_gpus:
                raise ScenarioError(
                    f"sites[{k}].workload.training[{j}].gpus = {tj.gpus}: more than the "
                    f"{inp.training_pool_gpus} GPUs left beside the site's own requests and "
                    "those of the regions nearest to it")
        out.append(inp)
    return out, regions, links


def fleet_strategy(scn: Scenario, name: str, options: StrategyOptions) -> FleetStrategy:
    """The fleet strategy that goes with a run's strategy: ``greedy`` routes and migrates by
    green headroom; ``oracle`` and ``mpc`` plan the fleet as one LP (over the run, over a
    rolling window) where it has choices; the others serve each region at its nearest site
    and move nothing."""
    if name == "greedy":
        m = scn.fleet.migration
        return GreenHeadroom(m.min_dwell_h, m.min_gain_fraction)
    if name in ("oracle", "mpc") and has_choices(scn):
        from twin.dispatch.fleet_optimizers import FleetMPC, FleetOracle  # loads Pyomo

        return FleetOracle(options) if name == "oracle" else FleetMPC(options)
    return Nearest()


def has_choices(scn: Scenario) -> bool:
    """Whether the fleet leaves anything to decide: a region that reaches two sites, or two
    linked sites. Without, every site runs exactly as it would alone (with the requests of the
    regions that reach only it), and each site's own strategy dispatches it."""
    sites = {site.name for site in scn.sites}
    fleet = scn.fleet
    if any(all(end in sites for end in lk.between) for lk in fleet.links):
        return True
    return any(sum(1 for s in sites if (lk := fleet.link(r.name, s)) is not None
                   and lk.latency_ms <= r.latency_bound_ms) > 1 for r in fleet.regions)


def nearest_routing(inputs: list[SiteInputs], regions: list[RegionDemand]) -> pd.DataFrame:
    """The routing of :class:`twin.dispatch.fleet.Nearest` for every slice, known before the
    run (it depends on nothing the run changes): what planning strategies are shown."""
    by_name = {inp.name: inp for inp in inputs}
    orders = [[(site, 1.0) for site, _ in r.reachable] for r in regions]
    rows = [(k, *part) for k in range(inputs[0].n)
            for part in route_slice(k, regions, orders, by_name,
                                    {inp.name: float(inp.interactive_busy_gpu_s[k])
                                     for inp in inputs})]
    return routing_frame(rows, inputs[0].index)


def routing_frame(rows: list, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Routing rows ``(slice, region, site, tokens_in, tokens_out, latency_ms)`` as a table:
    one row per region, site and slice that served any request."""
    rows = pd.DataFrame(rows, columns=["k", "region", "site", "tokens_in",
                                       "tokens_out", "latency_ms"])
    rows.insert(0, "time", index[rows["k"].to_numpy(dtype=np.int64)])
    return rows.drop(columns="k")


def served_inputs(inputs: list[SiteInputs], routing: pd.DataFrame) -> list[SiteInputs]:
    """Each site's inputs with the interactive requests it served: its own and those routed
    to it (what its meters and tasks hold)."""
    out = []
    for inp in inputs:
        mine = routing[routing["site"] == inp.name].groupby("time")[["tokens_in",
                                                                     "tokens_out"]].sum()
        mine = mine.reindex(inp.index, fill_value=0.0)
        out.append(dataclasses.replace(
            inp, interactive_tokens_in=inp.interactive_tokens_in + mine["tokens_in"].to_numpy(),
            interactive_tokens_out=inp.interactive_tokens_out + mine["tokens_out"].to_numpy()))
    return out


def check_routing(routing: pd.DataFrame, regions: list[RegionDemand],
                  index: pd.DatetimeIndex) -> None:
    """Every region's requests are served in every slice (tokens in and out conserved to the
    token) and each at a site within the region's latency bound."""
    for r in regions:
        mine = routing[routing["region"] == r.name]
        served = mine.groupby("time")[["tokens_in", "tokens_out"]].sum().reindex(
            index, fill_value=0.0)
        for col, demanded in (("tokens_in", r.tokens_in), ("tokens_out", r.tokens_out)):
            gap = np.abs(served[col].to_numpy() - demanded)
            if (gap > 1e-6 * np.maximum(demanded, 1.0)).any():
                i = int(np.argmax(gap))
                raise InvariantError(f"region {r.name}: {col} served {served[col].iloc[i]:.6g} "
                                     f"!= demanded {demanded[i]:.6g} at {index[i]}")
        over = mine["latency_ms"] > r.latency_bound_ms
        if over.any():
            row = mine[over].iloc[0]
            raise InvariantError(f"region {r.name}: served at {row['site']} with "
                                 f"{row['latency_ms']:g} ms, above its bound "
                                 f"{r.latency_bound_ms:g} ms at {row['time']}")


def fleet_summary(fleet: Fleet, routing: pd.DataFrame, regions: list[RegionDemand],
                  strategy: FleetStrategy, start: pd.Timestamp) -> dict:
    """The ``fleet`` block of summary.json: per region where its tokens were served and how
    far, and the training jobs that moved (``start``: the run's first slice)."""
    per_region = {}
    for r in regions:
        mine = routing[routing["region"] == r.name]
        tokens = mine["tokens_out"].to_numpy()
        total = float(tokens.sum())
        nearest = r.reachable[0][0]
        per_region[r.name] = {
            "nearest_site": nearest,
            "tokens_in": float(mine["tokens_in"].sum()),
            "tokens_out": total,
            "tokens_out_by_site": {s: float(v) for s, v in
                                   mine.groupby("site")["tokens_out"].sum().items()},
            "share_served_away_from_nearest": (float(tokens[mine["site"] != nearest].sum())
                                               / total if total else 0.0),
            "latency_bound_ms": r.latency_bound_ms,
            "mean_latency_ms": (float(tokens @ mine["latency_ms"].to_numpy() / total)
                                if total else 0.0),
            "max_latency_ms": float(mine["latency_ms"].max()) if len(mine) else 0.0,
            "tokens_out_beyond_bound": float(tokens[mine["latency_ms"].to_numpy()
                                                    > r.latency_bound_ms].sum()),
        }
    moves = [{**dataclasses.asdict(m), "start": str(start + pd.Timedelta(seconds=m.start_s))}
             for m in fleet.migrations]
    sent = [{**dataclasses.asdict(m), "start": str(start + pd.Timedelta(seconds=m.start_s))}
            for m in fleet.batch_moves]
    return {"strategy": strategy.name, "regions": per_region,
            "migrations": len(moves),
            "migrated_jobs": sorted({m["job_id"] for m in moves}),
            "transfer_mwh": float(sum(2.0 * m["energy_mwh_each_end"] for m in moves + sent)),
            "moves": moves,
            "batch_moves": len(sent),
            "batch_jobs_moved": sorted({m["job_id"] for m in sent}),
            "batch_gb_moved": float(sum(m["gb"] for m in sent)),
            "batch_sent": sent}
