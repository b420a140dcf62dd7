"""Green-power rules in a scenario (spec section 10): a measure, a threshold, a period and the
sites they cover, selected by the sites' ``tags``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from twin.schema import NonNegative, _Schema

#: A rule's measure and the name gti_core's policy gives it.
MEASURES = {"gti_slice": "slice", "gti_aggregate": "aggregate",
            "green_power_ratio": "green_power_ratio"}


class RuleConfig(_Schema):
    """A rule such as "newly built hub-node data centers have a green power ratio of no less
    than 80%": ``{measure: green_power_ratio, threshold: 0.8, covers: {hub_node: true}}``."""

    name: Annotated[str, Field(min_length=1)] = "rule"
    measure: Literal["gti_slice", "gti_aggregate", "green_power_ratio"] = "green_power_ratio"
    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.8, description="lowest value of the measure that passes [fraction]")
    period: Literal["year", "quarter", "month"] = Field(
        "year", description="the period each verdict is issued for (calendar)")
    covers: dict[str, str | int | float | bool] = Field(
        {}, description="tags a site must carry to be covered (none: every site)")
    count_grid_share: bool = Field(
        False, description="green_power_ratio: count the grid's average share at the alpha")
    count_export: bool = Field(False, description="green_power_ratio: count exported green")
    use_weights: bool = Field(
        False, description="green_power_ratio: contracts at their weights, not face value")
    certificate_usd_per_mwh: NonNegative = Field(
        3.0, description="price of the certificates a failing site could buy [$/MWh]")

    def covered(self, tags: dict) -> bool:
        """Whether a site with ``tags`` is covered."""
        return all(tags.get(key) == value for key, value in self.covers.items())
