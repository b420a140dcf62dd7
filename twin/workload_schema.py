"""The scenario's workload: interactive streams, batch jobs and training runs, per site (and,
for interactive streams, per user region of a fleet)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from twin.schema import Fraction, NonNegative, PlainName, Positive, _Schema, check_unique


class InteractiveConfig(_Schema):
    """Interactive inference: a synthetic token stream with daily and weekly pattern and seeded
    noise, or a replayed request trace (``trace_file``, the Azure LLM inference trace format)."""

    model: str = Field("llama-3.1-70b", description="model from models.tokens.MODEL_CATALOGUE")
    # bounds of plausibility (what no site will serve), so that a year of tokens stays exact
    peak_output_tokens_per_s: Annotated[float, Field(ge=0.0, le=1e13)] | None = Field(
        None, description="synthetic: output tokens at peak (0: no local users, as at a fleet "
                          "site that serves only regions)")
    input_tokens_per_output_token: NonNegative = Field(
        5.47, description="synthetic: prompt tokens per generated token"
    )
    night_to_peak_ratio: Fraction = Field(0.45, description="rate at the daily low / at peak")
    peak_local_hour: Annotated[float, Field(ge=0.0, lt=24.0)] = 14.0
    weekend_factor: Annotated[float, Field(gt=0.0, le=1.5)] = 0.8
    noise_sigma: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.05, description="standard deviation of the log-normal noise per slice"
    )
    seed: int = 20231116
    trace_file: str | None = Field(
        None, description="trace: CSV with TIMESTAMP, ContextTokens, GeneratedTokens")
    trace_scale: Annotated[int, Field(ge=1)] = Field(
        1, description="trace: each request is replayed this many times at once")
    trace_loop: bool = Field(False, description="trace: repeat it back to back over the horizon")
    trace_start: str | None = Field(
        None, description="trace: UTC time its first request is moved to (default: as recorded)")

    @model_validator(mode="after")
    def _one_source(self) -> InteractiveConfig:
        if (self.peak_output_tokens_per_s is None) == (self.trace_file is None):
            raise ValueError("give either peak_output_tokens_per_s (synthetic stream) or "
                             "trace_file (replayed trace), not both or neither")
        return self


class BatchConfig(_Schema):
    """Deferrable batch inference: one job released per day with a deadline."""

    model: str = Field("llama-3.1-70b", description="model from models.tokens.MODEL_CATALOGUE")
    share_of_interactive: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        0.25, description="batch output tokens per day / interactive output tokens that day"
    )
    output_tokens_per_day: Annotated[float, Field(ge=0.0, le=1e18)] | None = Field(
        None, description="batch output tokens per day, instead of a share of the site's own "
        "interactive tokens (a fleet site whose requests come from regions) [tokens]")
    input_tokens_per_output_token: NonNegative = 4.0
    data_bytes_per_token: NonNegative = Field(
        4.0, description="bytes of prompt or generated text per token, moved with a job that "
        "runs at another site (English text is about 4 characters per token) [B]")
    release_local_hour: Annotated[int, Field(ge=0, lt=24)] = 0
    deadline_h: Positive = Field(24.0, description="hours from release to deadline [h]")


class TrainingJobConfig(_Schema):
    """A training run: ``6 N`` FLOP per token at ``mfu`` on ``gpus`` GPUs held while it runs.

    It may be paused by the dispatch strategy (``pausable``): it then writes a checkpoint, frees
    its GPUs and, on resume, queues for GPUs and reloads the checkpoint.
    """

    name: PlainName
    model: str = Field(description="model from models.tokens.MODELS (its active parameters)")
    gpus: Annotated[int, Field(gt=0, le=16_000_000)] = Field(
        description="GPUs the job holds while running")
    tokens: Annotated[float, Field(gt=0.0, le=1e18)] = Field(
        description="training tokens to process")
    mfu: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.40, description="model-FLOP utilisation of the run")
    release_h: NonNegative = Field(0.0, description="hours after the horizon start it may run [h]")
    deadline_h: Positive | None = Field(
        None, description="hours from release to its deadline (clipped to the horizon) [h]")
    checkpoint_interval_h: Positive = Field(
        1.0, description="compute time between periodic checkpoints [h]")
    checkpoint_minutes: NonNegative = Field(
        5.0, description="time to write a checkpoint, GPUs held at idle power [min]")
    restart_minutes: NonNegative = Field(
        10.0, description="time to reload a checkpoint after a pause [min]")
    pausable: bool = True
    checkpoint_gb: Positive | None = Field(
        None, description="size of the checkpoint a migration moves (default: 16 bytes per "
                          "parameter, weights with optimizer state) [GB]")


class WorkloadConfig(_Schema):
    interactive: InteractiveConfig
    batch: BatchConfig | None = None
    training: list[TrainingJobConfig] = Field(default_factory=list)
    token_energy_method: Literal["roofline", "ecologits"] = Field(
        "roofline", description="estimator of inference energy per token (models.tokens)")

    @model_validator(mode="after")
    def _unique_jobs(self) -> WorkloadConfig:
        check_unique([t.name for t in self.training], "training")
        return self
