"""One pass over tokenized prompts: each prompt encoded once, then its labels scored and its reply generated.

``continue_prompts`` takes prompts as token ids. The tokens that all of them share (the system prompt,
few-shot examples) are encoded once (``builder.models.kv_prefix.SharedPrefix``); then, a batch at a time, each
prompt's own tokens are encoded on top of a copy of that cache, and the same encoded batch is continued
in two ways:

- label scoring: the log-likelihood of each candidate reply, summed over its tokens. The reply's first
  token is scored by the prompt's last logits; the rest by one forward of all replies of the batch on a
  copy of the prompt cache (one row per prompt and label), so the prompt is never encoded again;
- greedy decoding, each row with its own stop tokens and maximum length (``builder.models.generation``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from builder.models.generation import greedy_continue
from builder.models.kv_prefix import PromptState, SharedPrefix, common_prefix_length, prefill


@dataclass(slots=True)
class Continuations:
    log_likelihoods: list[list[float]]  # per prompt, per candidate reply (empty without replies)
    generated: list[list[int]]  # per prompt: greedy ids through the first stop token (empty without generation)
    prompt_seconds: float = 0.0  # the shared prefix and the prompts' encoding
    label_seconds: float = 0.0
    generation_seconds: float = 0.0
    prefix_tokens: int = 0
    batches: list[int] = field(default_factory=list)  # rows per batch, in order


def reply_log_likelihoods(
    model: Any, state: PromptState, replies: Sequence[Sequence[Sequence[int]]], pad_id: int
) -> list[list[float]]:
    """The summed log-probability of each candidate reply after each prompt of ``state`` (left as it is)."""
    first = torch.log_softmax(state.last_logits, dim=-1)
    count = len(replies[0])
    if any(len(r) != count for r in replies) or any(not reply for r in replies for reply in r):
        raise ValueError("every prompt needs the same number of candidate replies, none of them empty")
    flat = [list(reply) for r in replies for reply in r]  # row i * count + j: prompt i, reply j
    rest: torch.Tensor | None = None
    width = max(len(reply) for reply in flat) - 1
    if width > 0:
        grown = state.repeated(count)
        device = grown.attention_mask.device
        fed = [reply[:-1] for reply in flat]
        input_ids = torch.tensor([f + [pad_id] * (width - len(f)) for f in fed], device=device)
        own_mask = torch.tensor([[1] * len(f) + [0] * (width - len(f)) for f in fed], device=device)
        mask = torch.cat([grown.attention_mask, own_mask.to(grown.attention_mask.dtype)], dim=1)
        positions = grown.next_position.unsqueeze(1) + torch.arange(width, device=device)
        logits = model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, past_key_values=grown.cache
        ).logits
        rest = torch.log_softmax(logits.float(), dim=-1)
    sums: list[list[float]] = []
    for i, candidates in enumerate(replies):
        row_sums = []
        for j, reply in enumerate(candidates):
            scores = first[i, reply[0]].reshape(1)
            if len(reply) > 1 and rest is not None:
                targets = torch.tensor(reply[1:], device=rest.device).unsqueeze(-1)
                later = rest[i * count + j, : len(reply) - 1].gather(-1, targets).squeeze(-1)
                scores = torch.cat([scores, later])
            row_sums.append(float(scores.sum()))
        sums.append(row_sums)
    return sums


def continue_prompts(
    model: Any,
    rows: Sequence[Sequence[int]],
    *,
    pad_id: int,
    replies: Sequence[Sequence[Sequence[int]]] | None = None,
    max_new_tokens: Sequence[int] | None = None,
    stops: Sequence[Sequence[int]] | None = None,
    batch_size: int = 8,
    on_batch: Callable[[int], None] | None = None,
) -> Continuations:
    """Score ``replies[i]`` after ``rows[i]`` and/or generate up to ``max_new_tokens[i]`` tokens greedily
    (stopping at ``stops[i]``). Batches go longest prompt first (less padding); ``on_batch(rows_done)``
    after each. Call it under ``torch.inference_mode()`` and with the adapter state wanted."""
    n = len(rows)
    result = Continuations([[] for _ in range(n)], [[] for _ in range(n)])
    if n == 0:
        return result
    started = time.perf_counter()
    # Every row keeps at least one token of its own: its encoding gives the logits after the prompt.
    shared = min(common_prefix_length(rows), min(len(r) for r in rows) - 1)
    prefix = SharedPrefix.compute(model, rows[0][:shared])
    result.prefix_tokens = shared
    result.prompt_seconds += time.perf_counter() - started
    order = sorted(range(n), key=lambda i: -len(rows[i]))
    done = 0
    for begin in range(0, n, max(1, batch_size)):
        batch = order[begin : begin + max(1, batch_size)]
        t0 = time.perf_counter()
        state = prefill(model, prefix, [rows[i] for i in batch], pad_id)
        t1 = time.perf_counter()
        result.prompt_seconds += t1 - t0
        if replies is not None:
            sums = reply_log_likelihoods(model, state, [replies[i] for i in batch], pad_id)
            for i, row_sums in zip(batch, sums, strict=True):
                result.log_likelihoods[i] = row_sums
        t2 = time.perf_counter()
        result.label_seconds += t2 - t1
        if max_new_tokens is not None:
            generated = greedy_continue(
                model,
                state,
                stops=[(stops[i] if stops is not None else []) for i in batch],
                max_new_tokens=[max_new_tokens[i] for i in batch],
                pad_id=pad_id,
            )
            for i, ids in zip(batch, generated, strict=True):
                result.generated[i] = ids
        result.generation_seconds += time.perf_counter() - t2
        result.batches.append(len(batch))
        done += len(batch)
        if on_batch is not None:
            on_batch(done)
    return result
