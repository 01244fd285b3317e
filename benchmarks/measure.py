"""What the training benchmarks measure with, shared by the CPU and the GPU scripts: padding arithmetic,
a collator that counts real and padded tokens, a per-step timer, the dev loss on assistant tokens, and
the noise of a paired comparison."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------- pure helpers (unit-tested)


def padding_fraction(batch_lengths: Sequence[Sequence[int]]) -> float:
    """Share of the tokens in right-padded batches that are padding: 1 - sum(lengths) / sum(n * max)."""
    padded = sum(len(lengths) * max(lengths) for lengths in batch_lengths if lengths)
    if padded == 0:
        return 0.0
    useful = sum(sum(lengths) for lengths in batch_lengths)
    return 1.0 - useful / padded


def batches_of(order: Sequence[int], batch_size: int) -> list[list[int]]:
    """Consecutive slices of a sampler's order, as the dataloader makes them (the last may be short)."""
    return [list(order[i : i + batch_size]) for i in range(0, len(order), batch_size)]


def draw_batches(batches: Sequence[Sequence[int]], count: int, seed: int) -> list[list[int]]:
    """``count`` full batches drawn uniformly without replacement (seeded): a fair sample of an epoch."""
    full = [list(b) for b in batches if len(b) == len(batches[0])]
    if count > len(full):
        raise ValueError(f"asked for {count} batches but one epoch has only {len(full)} full ones")
    return random.Random(seed).sample(full, count)


def epoch_padding_fraction(order: Sequence[int], lengths: Sequence[int], batch_size: int) -> float:
    return padding_fraction([[lengths[i] for i in batch] for batch in batches_of(order, batch_size)])


# ---------------------------------------------------------------- measurement plumbing


@dataclass
class BatchRecord:
    useful: int  # real tokens
    padded: int  # tensor positions (real + padding)
    lengths: list[int]  # per row of the batch
    segments: list[int]  # per example (a packed row holds several)
    labelled: int = 0  # positions the loss covers (labels != -100 after the shift)


class RecordingCollator:
    """Wraps a collator and notes, per batch, its real and padded token counts (the dataloader runs it in order)."""

    def __init__(self, inner: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> None:
        self.inner = inner
        self.records: list[BatchRecord] = []

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.inner(examples)
        lengths = [len(e["input_ids"]) for e in examples]
        segments = [n for e in examples for n in (e.get("seq_lengths") or [len(e["input_ids"])])]
        padded = batch["input_ids"].numel()
        labels = batch.get("labels")
        labelled = int((labels[:, 1:] != -100).sum()) if labels is not None else 0
        self.records.append(
            BatchRecord(useful=sum(lengths), padded=padded, lengths=lengths, segments=segments, labelled=labelled)
        )
        return batch


def step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Wall time of each optimizer step (forward, backward, optimizer), as the trainer runs it."""

        def __init__(self) -> None:
            self.seconds: list[float] = []
            self._started = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.seconds.append(time.perf_counter() - self._started)

    return StepTimer()


def assistant_token_losses(model: Any, rows: list[dict[str, list[int]]], batch_size: int = 8) -> list[float]:
    """Per dev row: mean NLL over its assistant tokens (the same definition for every variant)."""
    import torch

    was_training = model.training
    model.eval()
    losses: list[float] = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            width = max(len(r["input_ids"]) for r in chunk)
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            attention = torch.zeros_like(ids)
            targets = torch.full_like(ids, -100)
            for i, row in enumerate(chunk):
                n = len(row["input_ids"])
                ids[i, :n] = torch.tensor(row["input_ids"])
                attention[i, :n] = 1
                targets[i, :n] = torch.tensor(
                    [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True)]
                )
            logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits.float()
            shifted, labels = logits[:, :-1], targets[:, 1:]
            nll = torch.nn.functional.cross_entropy(
                shifted.reshape(-1, shifted.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="none"
            ).view(labels.shape)
            counts = (labels != -100).sum(1).clamp(min=1)
            losses.extend((nll.sum(1) / counts).tolist())
    model.train(was_training)
    return losses


def paired_noise(a: list[float], b: list[float]) -> float:
    """Two standard errors of the mean per-example difference: what the dev set alone cannot tell apart."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    if len(diffs) < 2:
        return math.inf
    return 2 * statistics.stdev(diffs) / math.sqrt(len(diffs))
