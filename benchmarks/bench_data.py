"""The data the training benchmarks run on: real Bitext support conversations or real review sentences,
prepared exactly as ``python -m builder.sft`` prepares a recipe's data, and a check that padding-free
batches keep packed examples apart."""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The real data sits beside the repository (../shared/data/real); BUILDER_REAL_DATA points elsewhere (a worktree).
REAL_DATA = Path(os.environ.get("BUILDER_REAL_DATA") or REPO.parent / "shared" / "data" / "real")
BITEXT = REAL_DATA / "support" / "bitext_customer_support.csv"
SUPPORT_RECIPE = REPO / "recipes" / "support.yaml"
SENTIMENT_RECIPE = REPO / "recipes" / "real" / "sentiment.yaml"

# ---------------------------------------------------------------- data


@dataclass
class BenchData:
    recipe: Any
    train_examples: list[Any]
    train_rows: list[dict[str, list[int]]]
    dev_rows: list[dict[str, list[int]]]
    tokenizer: Any
    prepare_s: float


def bitext_recipe(max_conversations: int | None, overrides: list[str], base_model: str | None = None) -> Any:
    """The support recipe, reading Bitext through the import's field mapping (the ``data:`` keys)."""
    import yaml

    from builder.config.recipe import apply_overrides, recipe_from_dict

    raw = yaml.safe_load(SUPPORT_RECIPE.read_text(encoding="utf-8"))
    raw["data"].update(
        train=[str(BITEXT)],
        format="csv_pairs",
        prompt_field="instruction",
        response_field="response",
        max_conversations=max_conversations,
    )
    raw["eval"]["enabled"] = False
    if base_model:
        raw["base_model"] = base_model
    raw = apply_overrides(raw, overrides)
    return recipe_from_dict(raw, source=f"{SUPPORT_RECIPE} (with Bitext)", base_dir=SUPPORT_RECIPE.parent)


def sentiment_recipe(max_conversations: int | None, overrides: list[str], base_model: str | None = None) -> Any:
    """The real sentiment recipe (recipes/real/sentiment.yaml: three review files, labels as replies)."""
    import yaml

    from builder.config.recipe import apply_overrides, recipe_from_dict

    raw = yaml.safe_load(SENTIMENT_RECIPE.read_text(encoding="utf-8"))
    # The recipe's files, read from REAL_DATA (its relative paths assume the main checkout's folder).
    raw["data"]["train"] = [str(REAL_DATA / "sentiment" / Path(p).name) for p in raw["data"]["train"]]
    raw["data"]["max_conversations"] = max_conversations
    raw["eval"]["enabled"] = False
    if base_model:
        raw["base_model"] = base_model
    raw = apply_overrides(raw, overrides)
    return recipe_from_dict(raw, source=str(SENTIMENT_RECIPE), base_dir=SENTIMENT_RECIPE.parent)


RECIPES = {"bitext": bitext_recipe, "sentiment": sentiment_recipe}


def load_data(recipe: Any, workdir: Path) -> BenchData:
    from builder.data.dataset import prepare_splits, tokenize_examples
    from builder.models.loading import load_tokenizer
    from builder.models.masking import tokenize_with_assistant_mask

    missing = [p for p in recipe.data.train if not recipe.resolve_path(p).exists()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is absent: the training benchmark needs ../shared/data/real")
    started = time.perf_counter()
    splits = prepare_splits(recipe, workdir)
    tokenizer = load_tokenizer(recipe.base_model)
    max_length = recipe.training.max_length
    # One pass that keeps examples and rows aligned (an example whose replies were all cut off is dropped,
    # as tokenize_examples does), so that the baseline trains on exactly the same conversations.
    examples, train_rows = [], []
    for example in splits.train:
        tokens = tokenize_with_assistant_mask(tokenizer, example.messages, max_length)
        if tokens.trained_tokens:
            examples.append(example)
            train_rows.append({"input_ids": tokens.input_ids, "assistant_masks": tokens.assistant_masks})
    dev_rows, _ = tokenize_examples(splits.dev, tokenizer, max_length)
    return BenchData(recipe, examples, train_rows, dev_rows, tokenizer, time.perf_counter() - started)


def isolation_check(data: BenchData, n_examples: int = 3) -> dict[str, Any]:
    """Do padding-free batches keep examples apart? Logits of examples packed in one row vs one at a time.

    transformers builds a block-diagonal causal mask from ``position_ids`` restarting at 0 when there is no
    attention mask and no cache (TRL passes ``use_cache=False``); sdpa then isolates examples on the CPU.
    """
    import torch
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from builder.models.loading import load_model

    model, _ = load_model(data.recipe.base_model, "none", device="cpu")
    model.eval()
    rows = sorted(data.dev_rows, key=lambda r: len(r["input_ids"]))[:n_examples]
    collator = DataCollatorForLanguageModeling(pad_token_id=data.tokenizer.pad_token_id, padding_free=True)
    batch = collator([{"input_ids": r["input_ids"]} for r in rows])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        worst, offset = 0.0, 0
        for row in rows:
            single = model(input_ids=torch.tensor([row["input_ids"]]), use_cache=False).logits[0]
            n = len(row["input_ids"])
            worst = max(worst, (packed[offset : offset + n] - single).abs().max().item())
            offset += n
    del model
    gc.collect()
    return {"examples": len(rows), "max_abs_logit_difference": worst, "isolated": worst < 1e-3}
