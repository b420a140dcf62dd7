"""Battery ageing in a scenario (``sites[k].battery.ageing``) and multi-year runs (``lifetime``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from twin.schema import Fraction, NonNegative, Positive, _Schema

#: The BLAST-Lite cell model used when a scenario names none: a large-format prismatic LFP-Gr
#: cell (> 250 Ah) of a large manufacturer, the chemistry of most grid batteries.
DEFAULT_CELL = "Lfp_Gr_250AhPrismatic"


class LinearFadeConfig(_Schema):
    """A warranty-style fade: capacity falls linearly with equivalent full cycles (and time)."""

    cycles_to_end_of_life: Positive = Field(
        6000.0, description="equivalent full cycles at which capacity reaches "
        "end_of_life_fraction [cycles]")
    calendar_fade_per_year_fraction: Annotated[float, Field(ge=0.0, lt=0.2)] = Field(
        0.0, description="capacity lost per year of age, cycles aside [fraction/a]")


class BatteryAgeingConfig(_Schema):
    """How the battery ages, when it is replaced or augmented, and whether dispatch prices its
    wear (``models.ageing``)."""

    model: Literal["blast", "linear"] = Field(
        "blast", description="blast: a BLAST-Lite cell model; linear: LinearFadeConfig")
    cell: str = Field(DEFAULT_CELL, description="blast: the cell model's class in blast.models")
    degradation_scalar: Positive = Field(
        1.0, description="blast: scales every fade rate (packs often age 1.2-1.3 times as "
        "fast as their cells) [-]")
    linear: LinearFadeConfig = LinearFadeConfig()
    cell_temperature_c: Annotated[float, Field(ge=-20.0, le=60.0)] | None = Field(
        25.0, description="cell temperature, a conditioned enclosure [degC]; none: the site's "
        "air temperature (an unconditioned one)")
    resistive_loss_fraction: Fraction = Field(
        0.5, description="share of the battery's conversion losses that grows with its cells' "
        "resistance, for models that give resistance (most BLAST-Lite LFP and NMC111 models; "
        "not the default cell) [fraction]")
    end_of_life_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.7, description="capacity at which the battery's life ends, for its wear cost "
        "[fraction of nameplate]")
    replace_at_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = Field(
        None, description="replace every module when capacity falls below this at a year's "
        "end [fraction of nameplate]; none: never")
    augment_to_fraction: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        None, description="at each year's start, add new modules to bring capacity back to "
        "this [fraction of nameplate]; none: never")
    replacement_usd_per_mwh: NonNegative | None = Field(
        None, description="price of new modules [$/MWh]; none: sizing.bess_energy's capex")
    wear_cost_usd_per_mwh: NonNegative | None = Field(
        None, description="wear cost of a MWh discharged [$/MWh]; none: derived from the "
        "model (cycling fade per cycle x replacement price / (1 - end of life))")
    wear_in_dispatch: bool = Field(
        False, description="MPC, oracle and sizing price the wear of every MWh discharged")

    @field_validator("cell")
    @classmethod
    def _cell(cls, cell: str, info: ValidationInfo) -> str:
        """The BLAST-Lite cell exists (checked at load, before any work)."""
        if info.data.get("model") == "blast":
            from models.ageing import blast_cell

            try:
                blast_cell(cell)
            except ValueError as err:  # "cell = 'x': not a BLAST-Lite model; one of [...]"
                raise ValueError(f"{cell!r} is " + str(err).split(": ", 1)[-1]) from None
        return cell

    @model_validator(mode="after")
    def _policy(self) -> BatteryAgeingConfig:
        if (self.replace_at_fraction is not None and self.augment_to_fraction is not None
                and self.augment_to_fraction <= self.replace_at_fraction):
            raise ValueError(f"augment_to_fraction = {self.augment_to_fraction}: must exceed "
                             f"replace_at_fraction = {self.replace_at_fraction}")
        return self


class LifetimeConfig(_Schema):
    """A run of several years: the weather year repeated (on its own calendar each time) or a
    list of weather years; PV and batteries age as it goes."""

    years: Annotated[int, Field(ge=1, le=30)] = Field(1, description="years simulated [a]")
    weather_years: list[Annotated[int, Field(ge=1900, le=2100)]] | None = Field(
        None, description="the calendar year of each run year's weather (one per year; the "
        "weather file must hold it); none: the scenario's weather year every year")
    discount_rate: Fraction = Field(0.07, description="for the present value of costs [1/a]")

    @model_validator(mode="after")
    def _years(self) -> LifetimeConfig:
        if self.weather_years is not None and len(self.weather_years) != self.years:
            raise ValueError(f"weather_years: {len(self.weather_years)} given for years = "
                             f"{self.years}; give one per year")
        return self

