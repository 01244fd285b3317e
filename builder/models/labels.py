"""Answers that are always a label: score each label of a label task instead of generating freely.

For a prompt and a label set, each label is written as the assistant's reply, exactly as
training writes it (the reply and the template's end-of-turn marker, the tokens the loss
covers, found by ``builder.models.masking``), and the model's log-likelihood of those tokens is
summed. The answer is the most likely label; a softmax over the label set's sums gives the
label probabilities. Whatever the model, the answer is one of the labels.

Each prompt is encoded once (``builder.models.prompt_batches``): the tokens all prompts share once per call,
then each prompt's own tokens, and the labels' replies continue from that cache, one row per label.
The LM head runs only over the positions that are scored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.models.generation import Messages, adapter_state
from builder.models.masking import assistant_char_spans

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


def label_rows(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Messages], labels: Sequence[str]
) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Per prompt: its token ids and each label's reply ids. A template that tokenizes the prompt
    differently before different labels (never seen so far) gets one row per prompt and label."""
    rows: list[list[int]] = []
    replies: list[list[list[int]]] = []
    for prompt in prompts:
        pairs = [_prompt_and_reply_ids(tokenizer, list(prompt), label) for label in labels]
        if all(ids == pairs[0][0] for ids, _ in pairs):
            rows.append(pairs[0][0])
            replies.append([reply for _, reply in pairs])
        else:
            rows += [ids for ids, _ in pairs]
            replies += [[reply] for _, reply in pairs]
    return rows, replies


def probabilities_from_sums(sums: list[list[float]], n_prompts: int, labels: Sequence[str]) -> list[dict[str, float]]:
    """Regroup ``label_rows``' log-likelihoods per prompt and normalise them over the label set."""
    flat = [value for row in sums for value in row]
    if len(flat) != n_prompts * len(labels):
        raise ValueError(f"{len(flat)} label scores for {n_prompts} prompts and {len(labels)} labels")
    return [
        dict(zip(labels, _softmax(flat[i * len(labels) : (i + 1) * len(labels)]), strict=True))
        for i in range(n_prompts)
    ]


def pad_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


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

    from builder.models.prompt_batches import continue_prompts

    labels = list(labels)
    if not labels:
        raise ValueError("a label task needs at least one label")
    started = time.perf_counter()
    rows, replies = label_rows(tokenizer, prompts, labels)
    with adapter_state(model, adapter), torch.inference_mode():
        scored = continue_prompts(model, rows, pad_id=pad_token_id(tokenizer), replies=replies, batch_size=batch_size)
    probabilities = probabilities_from_sums(scored.log_likelihoods, len(prompts), labels)
    return LabelScores(labels, probabilities, time.perf_counter() - started)


def format_probabilities(probabilities: dict[str, float]) -> str:
    """``positive 82% · neutral 11% · negative 7%``, most likely first."""
    ranked = sorted(probabilities.items(), key=lambda kv: -kv[1])
    return " · ".join(f"{label} {p:.0%}" for label, p in ranked)
