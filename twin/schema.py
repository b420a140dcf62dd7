"""What every schema of the project shares: the base model (no unknown keys, frozen) and the
error that names a field."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: Field types every schema uses: a share in [0, 1], and numbers at least or above 0.
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
#: Plausibility bounds of a site's nameplates, so that no sum overflows and no tolerance is lost
#: to rounding: 100 GW (four times the largest power station, Three Gorges at 22.5 GW) and
#: 10 TWh of storage (about the world's pumped hydro and batteries together).
SITE_MAX_MW = 100_000.0
SITE_MAX_MWH = 10_000_000.0
SitePowerMW = Annotated[float, Field(ge=0.0, le=SITE_MAX_MW)]
SiteEnergyMWh = Annotated[float, Field(ge=0.0, le=SITE_MAX_MWH)]
#: A name that is also a plain file name: letters, digits, ``_ . -``, and not only dots.
PLAIN_NAME = r"^[A-Za-z0-9_.-]+$"


def _not_only_dots(name: str) -> str:
    if set(name) == {"."}:
        raise ValueError(f"{name!r} is not a plain name (only dots: a folder above)")
    return name


PlainName = Annotated[str, Field(min_length=1, max_length=100, pattern=PLAIN_NAME),
                      AfterValidator(_not_only_dots)]


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file or field and the value."""


class _Schema(BaseModel):
    # no unknown keys, immutable, and no infinite or NaN number anywhere: a value YAML spells
    # .inf or .nan is refused at the boundary, naming its field
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_unique(names: list[str], field: str) -> None:
    """Refuse a list of names with a repeat: ``<field>: names must be unique, 'x' appears
    twice`` (raised as ValueError, which pydantic reports under the model's path)."""
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{field}: names must be unique, {dup[0]!r} appears twice")


def check_plain_name(value, where: str) -> str:
    """``value`` if it is a plain file name (:data:`PLAIN_NAME`), else a ScenarioError naming
    ``where`` (names become folder names: ``../x`` would write outside ``results/``)."""
    import re

    if not isinstance(value, str) or not re.fullmatch(PLAIN_NAME, value) or set(value) == {"."}:
        raise ScenarioError(f"{where} = {value!r}: must be a plain name (letters, digits, "
                            "_ . -; not . or ..)")
    return value
