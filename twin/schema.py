"""What every schema of the project shares: the base model (no unknown keys, frozen) and the
error that names a field."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: Field types every schema uses: a share in [0, 1], and numbers at least or above 0.
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file or field and the value."""


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_unique(names: list[str], field: str) -> None:
    """Refuse a list of names with a repeat: ``<field>: names must be unique, 'x' appears
    twice`` (raised as ValueError, which pydantic reports under the model's path)."""
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{field}: names must be unique, {dup[0]!r} appears twice")
