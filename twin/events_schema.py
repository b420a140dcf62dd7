"""The scenario's events, backup and shedding blocks (per site).

Scheduled events have a ``start`` and an ``end`` (UTC timestamps within the horizon; a time
without a zone is UTC). Stochastic failures draw each unit's times to failure and to repair
from distributions with the site's seed. See :mod:`models.events` for what each event does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import pandas as pd
from pydantic import Field, model_validator

from twin.schema import Fraction, NonNegative, Positive, _Schema


class _Window(_Schema):
    """A time window ``[start, end)`` [UTC]."""

    start: datetime = Field(description="first instant of the event [UTC]")
    end: datetime = Field(description="instant the event ends [UTC]")

    @model_validator(mode="after")
    def _ordered(self):
        if utc(self.end) <= utc(self.start):
            raise ValueError(f"end = {self.end}: not after its start {self.start}")
        return self


def utc(t: datetime) -> pd.Timestamp:
    """A timestamp in UTC (one without a zone is read as UTC)."""
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class OutageConfig(_Window):
    """A scheduled grid outage: nothing crosses the point of interconnection."""


class PoiLimitConfig(_Window):
    """Import and export limits that differ from the grid block's for a while."""

    max_import_mw: NonNegative | None = Field(None, description="import limit [MW]")
    max_export_mw: NonNegative | None = Field(None, description="export limit [MW]")


class DerateConfig(_Window):
    """Part of a plant out of service: PV blocks, turbines or battery strings."""

    component: Literal["pv", "wind", "battery"]
    available_fraction: Fraction = Field(description="share of the plant in service [fraction]")


class FailureConfig(_Schema):
    """Random failures of a component's units, each independent: time to failure from an
    exponential or Weibull distribution with mean ``mtbf_h``, time to repair exponential with
    mean ``mttr_h``. A failed unit takes ``1 / units`` of the component out of service; the
    grid's units are redundant feeds, and it is down (an outage) while every feed is."""

    component: Literal["grid", "pv", "wind", "battery", "backup"]
    units: Annotated[int, Field(ge=1, le=100000)] = 1
    mtbf_h: Positive = Field(description="mean time between failures of a unit [h]")
    mttr_h: Positive = Field(description="mean time to repair a unit [h]")
    distribution: Literal["exponential", "weibull"] = "exponential"
    weibull_shape: Positive = Field(1.0, description="Weibull shape of the time to failure")


class DemandResponseConfig(_Window):
    """A grid operator's call to cut import by ``reduce_import_mw`` below the site's baseline
    (its mean import in the same hours of the ``baseline_days`` days before), paid per MWh
    delivered and penalised per MWh short."""

    reduce_import_mw: Positive = Field(description="import reduction asked [MW]")
    payment_usd_per_mwh: NonNegative = Field(0.0, description="paid per MWh delivered [$/MWh]")
    penalty_usd_per_mwh: NonNegative = Field(0.0, description="charged per MWh short [$/MWh]")
    baseline_days: Annotated[int, Field(ge=1, le=30)] = 5


class EventsConfig(_Schema):
    """A site's events: scheduled outages, limits, derates and demand-response calls, and
    random failures drawn with ``seed``."""

    outages: list[OutageConfig] = []
    poi_limits: list[PoiLimitConfig] = []
    derates: list[DerateConfig] = []
    demand_response: list[DemandResponseConfig] = []
    failures: list[FailureConfig] = []
    seed: int = Field(0, description="seed of the failures' random draws")


class GensetConfig(_Schema):
    """Diesel gensets (defaults: a 2.5 MW diesel set, 0.27 l per kWh at load and 2.68 kg CO2
    per litre of diesel)."""

    units: Annotated[int, Field(ge=1, le=10000)]
    unit_mw: Positive = Field(description="rating of one set [MW]")
    min_load_fraction: Fraction = Field(
        0.3, description="lowest steady load of a running set, per rating [fraction]")
    start_delay_s: NonNegative = Field(10.0, description="from start signal to load [s]")
    fuel_l_per_mwh: Positive = Field(270.0, description="fuel burnt per MWh delivered [l/MWh]")
    emission_kg_per_mwh: NonNegative = Field(
        724.0, description="CO2e per MWh delivered (2.68 kg/l x 270 l/MWh) [kg/MWh]")
    tank_hours: Positive = Field(24.0, description="fuel on site, in hours of every set at "
                                 "its rating [h]")
    fuel_usd_per_l: NonNegative = Field(1.1, description="diesel price [$/l]")


class BackupConfig(_Schema):
    """On-site backup: gensets, and the UPS that carries the load until they take it."""

    gensets: GensetConfig | None = None
    ups_ride_through_s: NonNegative = Field(
        300.0, description="time the UPS carries the whole load [s]")


#: The default order in which load is given up when supply cannot cover it.
DEFAULT_SHEDDING = ("training", "batch", "interactive")

Shedding = Annotated[list[Literal["training", "batch", "interactive"]],
                     Field(min_length=1, max_length=3)]


def check_shedding(order: list[str]) -> None:
    """A shedding order names each kind of work at most once, and interactive last when
    given (raised as ValueError, which pydantic reports under the model's path)."""
    dup = sorted({w for w in order if order.count(w) > 1})
    if dup:
        raise ValueError(f"shedding: {dup[0]!r} appears twice")
    if "interactive" in order and order[-1] != "interactive":
        raise ValueError(f"shedding = {order}: interactive goes last (only requests are lost)")
