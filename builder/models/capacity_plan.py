"""The plan (the recipe's knobs that decide memory and time) and its estimate (peak memory by part, time),
as ``builder.models.capacity`` computes them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from builder.models.devices import Device, GiB


@dataclass(frozen=True)
class Plan:
    """The recipe's knobs that decide memory and time."""

    quantization: str  # "4bit", "8bit" or "none" (auto already resolved)
    batch_size: int
    seq_len: int  # the longest batch's length: the peak
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    lora_r: int = 16
    lora_targets: str | tuple[str, ...] = "all-linear"
    lora_dropout: float = 0.05
    bf16: bool = False  # compute in bf16 (GPU, or CPU autocast)
    labelled_lm_head: bool = True
    # A plain forward's head (transformers without TRL): the whole [batch, seq, vocab] logits, upcast to
    # float32 for the loss. Not the product's path; for comparing with figures published for other setups.
    full_logits: bool = False
    # PEFT's prepare_model_for_kbit_training casts the unquantized weights to float32 (the product calls it);
    # other frameworks keep them in the compute dtype.
    kbit_prepare: bool = True
    # Whether bitsandbytes' quantized matmul keeps its input for the backward: its int8 matmul does; its 4-bit
    # one did up to 0.4x (``ctx.tensors = (A, B)``) and no longer does in 0.50. None: the installed behaviour.
    quantized_matmul_keeps_input: bool | None = None
    labelled_fraction: float = 1.0  # share of the tokens the loss covers
    # Embedding rows trained beside LoRA (the turn tokens of a base given the turn format): their gradient
    # passes through one of the whole embedding matrix, in float32.
    trained_token_rows: int = 0
    mean_seq_len: int | None = None  # a typical batch's length, for time (default seq_len)
    steps: int | None = None

    def changed(self, **updates: Any) -> Plan:
        return replace(self, **updates)


@dataclass
class Estimate:
    parts: dict[str, int]  # bytes
    flops_per_step: float
    seconds_per_step: float | None
    seconds_total: float | None
    plan: Plan
    device: Device
    notes: list[str] = field(default_factory=list)

    @property
    def peak_bytes(self) -> int:
        return sum(self.parts.values())

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.device.memory_bytes

    def lines(self) -> list[str]:
        p = self.plan
        parts = ", ".join(f"{k.replace('_', ' ')} {v / GiB:.2f}" for k, v in self.parts.items())
        verdict = "fits" if self.fits else "DOES NOT FIT"
        out = [
            f"memory        peak {self.peak_bytes / GiB:.2f} GB on {self.device.label}: {verdict} "
            f"({p.quantization}, batch {p.batch_size} x {p.seq_len} tokens"
            f"{', gradient checkpointing' if p.gradient_checkpointing else ''})",
            f"              GB: {parts}",
        ]
        if self.seconds_per_step is not None:
            total = f", {duration(self.seconds_total)} for {p.steps} steps" if self.seconds_total else ""
            out.append(f"time          about {self.seconds_per_step:.1f} s per step{total}")
        return out + [f"              {note}" for note in self.notes]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
