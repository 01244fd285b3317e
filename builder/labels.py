"""Answers that are always a label: score each label of a label task instead of generating freely.

For a prompt and a label set, each label is written as the assistant's reply, exactly as
training writes it (the reply and the template's end-of-turn marker, the tokens the loss
covers, found by ``builder.masking``), and the model's log-likelihood of those tokens is
summed. The answer is the most likely label; a softmax over the label set's sums gives the
label probabilities. Whatever the model, the answer is one of the labels.

One forward pass scores every label of a batch of prompts: rows are left-padded so that
all replies end at the last position, and only the last positions go through the LM head
(``logits_to_keep``): with Gemma's 262k-token vocabulary the head is most of the cost.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.generation import Messages, adapter_state
from builder.masking import assistant_char_spans

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(slots=True)
class LabelScores:
    labels: list[str]
    probabilities: list[dict[str, float]]  # per prompt: label -> probability over the label set
    seconds: float

    @property
    def answers(self) -> list[str]:
        return [max(p, key=p.__getitem__) for p in self.probabilities]


def _prompt_and_reply_ids(
    tokenizer: PreTrainedTokenizerBase, prompt: Messages, label: str
) -> tuple[list[int], list[int]]:
    """Token ids of the prompt (through the generation prompt) and of the label's reply (through end of turn)."""
    text, spans = assistant_char_spans(tokenizer, [*prompt, {"role": "assistant", "content": label}])
    start, end = spans[-1]
    encoded = tokenizer(text[:end], add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    # The first token that starts inside the reply; templates put the reply on a token boundary.
    first = next((i for i, (s, _) in enumerate(offsets) if s >= start), len(ids))
    return ids[:first], ids[first:]


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def score_labels(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Messages],
    labels: Sequence[str],
    *,
    adapter: bool = True,
    batch_size: int = 8,
) -> LabelScores:
    """The probability of each label as the reply to each prompt (base side with ``adapter=False``)."""
    import torch

    labels = list(labels)
    if not labels:
        raise ValueError("a label task needs at least one label")
    rows: list[tuple[list[int], int]] = []  # (prompt + reply ids, reply length) per (prompt, label)
    for prompt in prompts:
        for label in labels:
            prompt_ids, reply_ids = _prompt_and_reply_ids(tokenizer, list(prompt), label)
            rows.append((prompt_ids + reply_ids, len(reply_ids)))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    sums: list[float] = []
    started = time.perf_counter()
    per_batch = max(1, batch_size) * len(labels)
    with adapter_state(model, adapter), torch.inference_mode():
        for begin in range(0, len(rows), per_batch):
            batch = rows[begin : begin + per_batch]
            width = max(len(ids) for ids, _ in batch)
            keep = max(n for _, n in batch) + 1
            input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids, _ in batch], device=device)
            mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids, _ in batch], device=device)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep
            ).logits.float()
            # logits[:, j] predicts the token at position width - keep + j + 1.
            log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
            targets = input_ids[:, width - keep + 1 :]
            token_scores = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            for row, (_, n) in enumerate(batch):
                sums.append(float(token_scores[row, keep - 1 - n :].sum()))
    probabilities = []
    for i in range(len(prompts)):
        chunk = sums[i * len(labels) : (i + 1) * len(labels)]
        probabilities.append(dict(zip(labels, _softmax(chunk), strict=True)))
    return LabelScores(labels, probabilities, time.perf_counter() - started)


def format_probabilities(probabilities: dict[str, float]) -> str:
    """``positive 82% · neutral 11% · negative 7%``, most likely first."""
    ranked = sorted(probabilities.items(), key=lambda kv: -kv[1])
    return " · ".join(f"{label} {p:.0%}" for label, p in ranked)
