"""What every schema of the project shares: the base model (no unknown keys, frozen) and the
error that names a field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file or field and the value."""


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
