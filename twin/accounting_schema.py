"""The scenario's accounting: how gti_core scores a run (spec sections 2-8), scenario-wide and,
where grid statistics differ between regions, per site."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from gti_core.score import AccountingParams
from gti_core.sources import GridDataGranularity, check_alpha, default_alpha
from gti_core.storage import StorageParams
from twin.schema import _Schema


class RatingConfig(_Schema):
    """Lower GTI bounds of levels 1..5 (spec section 8)."""

    thresholds: tuple[float, float, float, float, float] = (0.20, 0.40, 0.60, 0.80, 0.95)

    @model_validator(mode="after")
    def _increasing(self) -> RatingConfig:
        t = self.thresholds
        if any(not 0.0 < a < b <= 1.0 for a, b in zip(t, t[1:], strict=False)) or t[0] <= 0.0:
            raise ValueError(f"thresholds = {list(t)}: must increase strictly within (0, 1]")
        return self


class AccountingConfig(_Schema):
    """How gti_core scores the run (spec sections 2-8)."""

    grid_data_granularity: GridDataGranularity = "annual"
    alpha: float | None = Field(
        None, description="grid attribution coefficient; default: the middle of the band")
    allocation: Literal["it_first", "pro_rata"] = "it_first"
    storage_rule: Literal["pooled", "fifo"] = "pooled"
    export_attributes: Literal["retained", "sold"] = "retained"
    rating: RatingConfig = RatingConfig()

    @model_validator(mode="after")
    def _alpha_in_band(self) -> AccountingConfig:
        if self.alpha is not None:
            check_alpha(self.alpha, self.grid_data_granularity)
        return self

    @property
    def resolved_alpha(self) -> float:
        """The alpha in force: the declared one, or the middle of the granularity's band."""
        if self.alpha is None:
            return default_alpha(self.grid_data_granularity)
        return self.alpha

    def params(self, storage: StorageParams) -> AccountingParams:
        """gti_core's parameters of a site: this accounting with the site's storage."""
        return AccountingParams(alpha=self.resolved_alpha, allocation=self.allocation,
                                storage=storage,
                                export_retained=self.export_attributes == "retained",
                                thresholds=self.rating.thresholds)


class SiteAccountingConfig(_Schema):
    """A site's own grid accounting, where its grid statistics differ from the scenario's (grid
    data are regional): the granularity of its grid statistics and its alpha. Unset fields take
    the scenario's ``accounting`` block; a site that sets only its granularity gets the middle
    of that granularity's alpha band."""

    grid_data_granularity: GridDataGranularity | None = None
    alpha: float | None = Field(
        None, description="grid attribution coefficient of this site; must lie in the band of "
                          "its granularity")

    def merged(self, scenario: AccountingConfig) -> AccountingConfig:
        """The accounting in force at this site (validated: alpha within the band)."""
        granularity = self.grid_data_granularity or scenario.grid_data_granularity
        if self.alpha is not None:
            alpha = self.alpha
        elif self.grid_data_granularity is None:
            alpha = scenario.alpha
        else:
            alpha = None  # the middle of the site's band, not the scenario's alpha
        return AccountingConfig.model_validate(
            {**scenario.model_dump(), "grid_data_granularity": granularity, "alpha": alpha})


class ContractConfig(_Schema):
    """An off-site instrument (spec section 5): a PPA or hourly certificates with a delivery
    profile (a CSV of ``time, delivered_mwh``), or an annual REC/GEC volume for a year."""

    id: Annotated[str, Field(min_length=1)]
    kind: Literal["ppa", "hourly_certificate", "rec"]
    weight: Annotated[float, Field(ge=0.8, le=1.0)] = 1.0
    profile_file: str | None = Field(None, description="CSV with time, delivered_mwh")
    profile_minutes: Literal[15, 30, 60] | None = None
    volume_mwh: Annotated[float, Field(ge=0.0)] = 0.0
    year: int | None = None
