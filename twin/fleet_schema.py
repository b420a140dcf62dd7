"""The scenario's ``fleet`` block: user regions, the network between regions and sites, and how
work may move.

Without a ``fleet`` block (or with one that names no regions and no links) every site serves its
own ``workload`` and nothing moves: the sites run exactly as they would alone. With it:

- each **region** is a population of users with an interactive stream (synthetic or a replayed
  trace) and a latency bound; its requests are served at sites a link reaches within the bound;
- each **link** joins a region and a site, or two sites, with a latency [ms], a bandwidth
  [Gbit/s] and the energy moving a GB costs at each end [kWh/GB];
- a training job may **migrate** between two linked sites: it writes a checkpoint, the checkpoint
  crosses the link at its bandwidth (energy at both ends, IT energy of the job), and it resumes.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from twin.schema import _Schema, check_unique
from twin.workload_schema import InteractiveConfig

Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]


class LinkConfig(_Schema):
    """A network path between a region and a site, or between two sites (both directions)."""

    between: tuple[Name, Name] = Field(description="the two ends: region or site names")
    latency_ms: Annotated[float, Field(ge=0.0, le=1000.0)] = Field(
        description="one-way network latency [ms]")
    bandwidth_gbit_s: Annotated[float, Field(gt=0.0)] = Field(
        100.0, description="bandwidth available to moved work [Gbit/s]")
    energy_kwh_per_gb: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.005, description="network and storage energy per GB moved, at each end [kWh/GB]")

    @model_validator(mode="after")
    def _two_ends(self) -> LinkConfig:
        if self.between[0] == self.between[1]:
            raise ValueError(f"between = {list(self.between)}: a link joins two different ends")
        return self


class RegionConfig(_Schema):
    """Users whose interactive requests may be served at any site within their latency bound."""

    name: Name
    utc_offset_h: Annotated[float, Field(ge=-12.0, le=14.0)] = Field(
        description="local standard time minus UTC, for the stream's daily pattern [h]")
    interactive: InteractiveConfig = Field(
        description="the region's stream: the fields of workload.interactive")
    latency_bound_ms: Annotated[float, Field(gt=0.0, le=1000.0)] = Field(
        description="highest one-way latency a request of this region may see [ms]")


class MigrationConfig(_Schema):
    """When the ``greedy`` fleet rule moves a training job."""

    min_dwell_h: Annotated[float, Field(gt=0.0, le=720.0)] = Field(
        12.0, description="time a job stays at a site before it may move again [h]")
    min_gain_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.5, description="share of the job's facility power the destination's green surplus "
                         "must exceed the origin's by [fraction]")


class FleetConfig(_Schema):
    regions: list[RegionConfig] = Field(default_factory=list)
    links: list[LinkConfig] = Field(default_factory=list)
    migration: MigrationConfig = MigrationConfig()

    @model_validator(mode="after")
    def _names(self) -> FleetConfig:
        check_unique([r.name for r in self.regions], "regions")
        pairs = [frozenset(link.between) for link in self.links]
        for k, p in enumerate(pairs):
            if p in pairs[:k]:
                raise ValueError(f"links[{k}].between = {sorted(p)}: that pair is linked twice")
        return self

    def link(self, a: str, b: str) -> LinkConfig | None:
        """The link between ``a`` and ``b``, if any."""
        pair = {a, b}
        return next((lk for lk in self.links if set(lk.between) == pair), None)


def check_fleet(fleet: FleetConfig, sites: list) -> None:
    """Cross-checks against the sites: every link end is a region or a site, no region shares a
    site's name, regions are linked only to sites, every region reaches a site within its
    bound, and serves the model its sites serve. Raises ``ValueError`` naming the field."""
    site_names = {s.name for s in sites}
    regions = {r.name: r for r in fleet.regions}
    for k, r in enumerate(fleet.regions):
        if r.name in site_names:
            raise ValueError(f"fleet.regions[{k}].name = {r.name!r}: a site has that name")
    for k, link in enumerate(fleet.links):
        for end in link.between:
            if end not in site_names and end not in regions:
                raise ValueError(f"fleet.links[{k}].between: {end!r} is neither a site "
                                 f"({sorted(site_names)}) nor a region ({sorted(regions)})")
        if all(end in regions for end in link.between):
            raise ValueError(f"fleet.links[{k}].between = {list(link.between)}: a link joins "
                             "a region to a site, or two sites")
    models = {s.name: s.workload.interactive.model for s in sites}
    for k, r in enumerate(fleet.regions):
        reach = [s for s in site_names if (lk := fleet.link(r.name, s)) is not None
                 and lk.latency_ms <= r.latency_bound_ms]
        if not reach:
            raise ValueError(f"fleet.regions[{k}].latency_bound_ms = {r.latency_bound_ms:g}: "
                             f"no site is linked to region {r.name!r} within it")
        for s in sorted(reach):
            if models[s] != r.interactive.model:
                raise ValueError(
                    f"fleet.regions[{k}].interactive.model = {r.interactive.model!r}: site "
                    f"{s!r} serves {models[s]!r}; a region's sites must serve its model")


__all__ = ["FleetConfig", "LinkConfig", "MigrationConfig", "RegionConfig", "check_fleet"]
