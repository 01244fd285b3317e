"""The evaluation's answers computed the straightforward way, as before prompts were encoded once.

Kept as the reference that ``builder.evaluate.answers.answer_prompts`` must match (tests) and be timed
against (``benchmarks.eval_speed``): free generation with ``model.generate`` (``builder.models.generation.generate``,
which encodes each prompt in full), then label scoring that encodes each prompt again with each label's
reply after it, every row of a batch left-padded and scored in one forward. Nothing is shared between
prompts: the few-shot examples are encoded again for every question and every label.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from builder.models.generation import Generations, Messages, adapter_state, generate
from builder.models.labels import LabelScores, _prompt_and_reply_ids, _softmax


def score_labels_reference(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Messages],
    labels: Sequence[str],
    *,
    adapter: bool,
    batch_size: int = 8,
) -> LabelScores:
    """Each (prompt, label) row encoded in full: the prompt, then the label's reply through its end of turn."""
    import torch

    labels = list(labels)
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
    probabilities = [
        dict(zip(labels, _softmax(sums[i * len(labels) : (i + 1) * len(labels)]), strict=True))
        for i in range(len(prompts))
    ]
    return LabelScores(labels, probabilities, time.perf_counter() - started)


def answer_prompts_reference(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Messages],
    labels: Sequence[str] | None,
    *,
    max_new_tokens: int,
    batch_size: int = 8,
    adapter: bool = True,
    on_progress: Any = None,
) -> tuple[Generations, LabelScores | None]:
    """``builder.evaluate.answers.answer_prompts``' signature, computed as the evaluation did before."""
    gen = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, adapter=adapter)
    if on_progress is not None:
        on_progress(len(prompts), len(prompts))
    if not labels:
        return gen, None
    return gen, score_labels_reference(model, tokenizer, prompts, labels, adapter=adapter, batch_size=batch_size)


def _numbers(node: Any, path: str = "") -> dict[str, float]:
    """Every number in a nested dict of metrics, by its dotted path."""
    if isinstance(node, dict):
        out: dict[str, float] = {}
        for key, value in node.items():
            out.update(_numbers(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(node, int | float) and not isinstance(node, bool):
        return {path: float(node)}
    return {}


def compare_results(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """How two ``eval.json`` results of one run differ: every metric (and the prompt and reply token
    counts), every answer and generated text, every label probability (stored rounded to 4 decimals)."""
    keys = ("metrics", "generated_metrics", "prompt_tokens_mean", "prompt_tokens_max", "new_tokens_mean")
    metric_gap = 0.0
    missing: list[str] = []
    for system, figures in old["systems"].items():
        theirs = _numbers({k: figures.get(k) for k in keys})
        mine = _numbers({k: new["systems"].get(system, {}).get(k) for k in keys})
        missing += [f"{system}.{k}" for k in theirs.keys() ^ mine.keys()]
        metric_gap = max([metric_gap] + [abs(mine[k] - theirs[k]) for k in theirs.keys() & mine.keys()])
    texts_differ = 0
    probability_gap = 0.0
    for mine, theirs in zip(new["examples"], old["examples"], strict=True):
        for key, value in theirs.items():
            if key.endswith("_probabilities"):
                gaps = [abs(mine[key][label] - p) for label, p in value.items()]
                probability_gap = max([probability_gap, *gaps])
            elif mine.get(key) != value:
                texts_differ += 1
    return {
        "max_metric_difference": metric_gap,
        "metrics_missing_on_one_side": missing,
        "answers_or_texts_differing": texts_differ,
        "max_probability_difference": round(probability_gap, 6),
    }
