"""From a recipe to tokenized train and dev sets, with the numbers a user needs before training."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.models.masking import tokenize_with_assistant_mask
from builder.usecases import Example, get_usecase

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from builder.config.recipe import Recipe


@dataclass
class PreparedSplits:
    train: list[Example]
    dev: list[Example]
    data_report: dict[str, Any]
    data_hash: str
    conversations: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class TokenStats:
    examples: int
    p50: int
    p95: int
    max: int
    truncated: int
    dropped_without_target: int
    trained_tokens: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def examples_hash(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(example.messages, ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def split_dev(examples: list[Example], fraction: float, cap: int, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded shuffle; the dev set is ``fraction`` of the examples, at most ``cap``, none for tiny sets."""
    if fraction <= 0 or cap == 0 or len(examples) < 10:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_dev = min(cap, max(1, round(len(examples) * fraction)))
    dev_ids = set(order[:n_dev])
    train = [e for i, e in enumerate(examples) if i not in dev_ids]
    dev = [examples[i] for i in order[:n_dev]]
    return train, dev


def prepare_splits(recipe: Recipe, workdir: Path) -> PreparedSplits:
    from builder.data import prepare_conversations

    usecase = get_usecase(recipe.use_case)
    prepared = prepare_conversations(recipe)
    examples = usecase.build_examples(prepared.conversations, recipe, workdir)
    if recipe.data.dev:
        dev_data = prepare_conversations(recipe, paths=[recipe.resolve_path(p) for p in recipe.data.dev])
        train = examples
        dev = usecase.build_examples(dev_data.conversations, recipe, workdir)[: recipe.data.max_dev_examples]
    else:
        train, dev = split_dev(examples, recipe.data.dev_fraction, recipe.data.max_dev_examples, recipe.training.seed)
    if not train:
        raise ValueError(
            f"no training examples: {len(prepared.conversations)} conversations were kept from "
            f"{', '.join(recipe.data.train) or '(no data.train files)'}; see the data report for what was set aside"
        )
    return PreparedSplits(
        train=train,
        dev=dev,
        data_report=prepared.report,
        data_hash=examples_hash(train + dev),
        conversations=len(prepared.conversations),
        warnings=list(prepared.report.get("warnings", [])),
    )


def _percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def tokenize_examples(
    examples: list[Example], tokenizer: PreTrainedTokenizerBase, max_length: int
) -> tuple[list[dict[str, list[int]]], TokenStats]:
    """Rows of ``input_ids`` + ``assistant_masks``; an example whose targets were all cut off is dropped."""
    rows: list[dict[str, list[int]]] = []
    full_lengths: list[int] = []
    truncated = dropped = trained = 0
    for example in examples:
        full = tokenize_with_assistant_mask(tokenizer, example.messages)
        full_lengths.append(len(full.input_ids))
        tokens = tokenize_with_assistant_mask(tokenizer, example.messages, max_length) if full.truncated else full
        if len(full.input_ids) > max_length:
            truncated += 1
        if tokens.trained_tokens == 0:
            dropped += 1
            continue
        trained += tokens.trained_tokens
        rows.append({"input_ids": tokens.input_ids, "assistant_masks": tokens.assistant_masks})
    lengths = sorted(full_lengths)
    stats = TokenStats(
        examples=len(rows),
        p50=_percentile(lengths, 0.5),
        p95=_percentile(lengths, 0.95),
        max=lengths[-1] if lengths else 0,
        truncated=truncated,
        dropped_without_target=dropped,
        trained_tokens=trained,
    )
    return rows, stats


def to_dataset(rows: list[dict[str, list[int]]]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_list(rows)


def example_to_record(example: Example) -> dict[str, Any]:
    return {"messages": example.messages, "reference": example.reference, "meta": example.meta}


def example_from_record(record: dict[str, Any]) -> Example:
    return Example(messages=record["messages"], reference=record["reference"], meta=record.get("meta") or {})
