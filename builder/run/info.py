"""``run.json``: what a run says about itself (its status, how it was trained, how it ended), typed.

The trainer writes it in steps (``RunDir.update_info``): at the start, once the model is loaded, at the
end; a feedback round adds its lineage, a failed evaluation its error. Every value is optional: a run
that died early has only the first step's. Keys this model does not name are kept as they are
(``extra="allow"``), so a newer trainer's run.json is still read and rewritten whole.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class RunEstimate(BaseModel):
    """The capacity estimate the run started with, uncorrected: the next run's pace reads it (``builder.run.pace``)."""

    model_config = ConfigDict(extra="allow")

    peak_gb: float | None = None
    parts_gb: dict[str, float] = {}
    seconds_per_step: float | None = None
    calibrated_seconds_per_step: float | None = None


class RunInfo(BaseModel):
    """The fields of ``run.json`` the product reads; any others are kept as they are."""

    model_config = ConfigDict(extra="allow")

    status: str | None = None  # preparing | running | completed | failed | stopped
    error: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    pid: int | None = None
    recipe: str | None = None
    use_case: str | None = None
    base_model: str | None = None
    seed: int | None = None
    versions: dict[str, str | None] = {}
    quantization: str | None = None  # as used (``auto`` resolved)
    device: str | None = None
    world_size: int | None = None
    precision: str | None = None
    data_hash: str | None = None
    max_steps: int | None = None
    train_examples: int | None = None
    dev_examples: int | None = None
    token_stats: dict[str, Any] = {}
    estimate: RunEstimate | None = None
    final_step: int | None = None
    train_seconds: float | None = None
    peak_memory_gb: float | None = None
    method: str | None = None  # a feedback round's: sft | dpo
    lineage: dict[str, Any] | None = None
    eval_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What is written back: the keys that were read or set (an unset field is not written as null)."""
        return self.model_dump(mode="json", exclude_unset=True)
