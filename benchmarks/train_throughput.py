"""Training throughput: the product's training path against plain TRL, in one process, on real Bitext data.

What is compared (every variant: the same model, the same examples, LoRA r/alpha/dropout/targets,
steps, batch size, max_length, learning rate and schedule):

- ``trl_baseline``: plain TRL ``SFTTrainer`` with its default settings, as a user would write it: a
  ``messages`` dataset that TRL tokenizes itself, the model loaded with ``from_pretrained`` and the
  recipe's bitsandbytes config, ``peft_config=``; so TRL's defaults apply: random batches, gradient
  checkpointing on, bf16 autocast, loss on the whole sequence.
- ``product``: ``builder.train.trainer.build_trainer`` on the support recipe exactly as ``python -m builder.sft``
  builds it (pre-tokenized rows, loss on assistant turns, length-grouped batches, float32 on the CPU).
- levers, each the product with ONE thing changed, to say what each is worth: random batches, one
  thread, bf16 autocast, gradient checkpointing, no 4-bit quantization, padding-free batches.

Figures: useful (non-padding) tokens per second over the timed steps (the first step is warm-up and
not timed), the padding fraction of the timed batches and of a whole epoch of the sampler, and the
final dev loss measured the same way for every variant: mean negative log-likelihood per assistant
token on the same held-out dev rows (the baseline trains on the whole sequence, so only this shared
definition compares like with like).

A length-grouped epoch starts with its longest batches (transformers puts the batch with the longest
example first, and sorts each mega-batch longest first), so the first steps of a short run would
flatter the product: they are full-length, unpadded batches. The product variants therefore replay
``steps`` batches drawn uniformly at random (seeded) from one whole epoch of the product's own
sampler; the random-batch variants need no such care.

    python -m benchmarks.train_throughput [--quick] [--steps N] [--json OUT]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import report_json
from benchmarks.bench_data import (
    BITEXT,
    RECIPES,
    REPO,
    SENTIMENT_RECIPE,
    BenchData,
    isolation_check,
    load_data,
)
from benchmarks.measure import (
    RecordingCollator,
    assistant_token_losses,
    batches_of,
    draw_batches,
    epoch_padding_fraction,
    paired_noise,
    step_timer,
)

# Goals of issue 13: useful tokens per second against plain TRL, per data set.
GOAL_RATIOS = {"bitext": 2.0, "sentiment": 3.0}
# max_length per data set: Bitext p95 is 288 tokens with the system prompt; the sentiment recipe's own 256.
MAX_LENGTHS = {"bitext": 320, "sentiment": 256}

# ---------------------------------------------------------------- variants


@dataclass
class Variant:
    name: str
    lever: str  # what differs from the product (or "plain TRL defaults")
    overrides: list[str] = field(default_factory=list)  # recipe --set keys
    padding_free: bool = False
    baseline: bool = False


VARIANTS = {
    "trl_baseline": Variant("trl_baseline", "plain TRL SFTTrainer defaults", baseline=True),
    # TRL turns bf16 on by default; on a CPU without native bf16 that autocast is emulated and slow, so the
    # baseline is also measured in float32: the ratio against it says what the product wins without that.
    "trl_baseline_fp32": Variant(
        "trl_baseline_fp32", "plain TRL SFTTrainer defaults except bf16=False", ["bf16=false"], baseline=True
    ),
    "product": Variant("product", "builder.train.trainer.build_trainer on the recipe"),
    "product_trl_head": Variant(
        "product_trl_head",
        "TRL's fused LM head over every position instead of labelled positions (training.labelled_lm_head=false)",
        ["training.labelled_lm_head=false"],
    ),
    "product_random_batches": Variant(
        "product_random_batches", "random batches (training.group_by_length=false)", ["training.group_by_length=false"]
    ),
    "product_1_thread": Variant("product_1_thread", "1 thread instead of all cores", ["training.threads=1"]),
    "product_bf16": Variant("product_bf16", "bf16 autocast on the CPU (training.cpu_bf16)", ["training.cpu_bf16=true"]),
    "product_grad_checkpointing": Variant(
        "product_grad_checkpointing", "gradient checkpointing on", ["training.gradient_checkpointing=true"]
    ),
    "product_no_quantization": Variant(
        "product_no_quantization", "quantization: none (float32 LoRA)", ["quantization=none"]
    ),
    "product_padding_free": Variant(
        "product_padding_free", "padding-free batches (position_ids, isolation verified)", padding_free=True
    ),
}
QUICK_VARIANTS = ["trl_baseline", "product"]
FULL_VARIANTS = list(VARIANTS)
# On the sentiment data (short reviews, a one-word reply) the LM head lever is the one that matters.
SENTIMENT_VARIANTS = ["trl_baseline", "product", "product_trl_head", "product_bf16"]


def _common_overrides(steps: int, batch_size: int, max_length: int) -> list[str]:
    return [
        f"training.max_steps={steps}",
        f"training.batch_size={batch_size}",
        "training.gradient_accumulation_steps=1",
        f"training.max_length={max_length}",
        "training.save_steps=100000",
        "training.logging_steps=1",
        "training.loss_guard=false",
    ]


def _replay_product_batches(trainer: Any, steps: int, seed: int) -> None:
    """Replace the product's sampler by ``steps`` batches drawn uniformly from one epoch of it (see module doc)."""
    order = list(trainer._get_train_sampler(trainer.train_dataset))
    chosen = draw_batches(batches_of(order, trainer.args.per_device_train_batch_size), steps, seed)
    trainer.train_dataset = trainer.train_dataset.select([i for batch in chosen for i in batch])
    trainer.args.train_sampling_strategy = "sequential"


def _sampler_order(trainer: Any) -> list[int]:
    return list(trainer._get_train_sampler(trainer.train_dataset))


def build_product(variant: Variant, data: BenchData, run_dir: Path, steps: int) -> tuple[Any, dict[str, Any]]:
    import torch

    from builder.config.recipe import apply_overrides, recipe_from_dict
    from builder.train.trainer import build_trainer

    raw = data.recipe.model_dump(mode="json")
    recipe = recipe_from_dict(apply_overrides(raw, list(variant.overrides)), base_dir=data.recipe.base_dir)
    trainer, quantization, _ = build_trainer(recipe, run_dir, data.train_rows, [], [])
    lengths = [len(r["input_ids"]) for r in data.train_rows]
    info: dict[str, Any] = {
        "quantization": quantization,
        "threads": torch.get_num_threads(),
        "group_by_length": recipe.training.group_by_length,
        "gradient_checkpointing": recipe.training.gradient_checkpointing,
        "loss_on": "assistant tokens",
    }
    if recipe.training.group_by_length:
        order = _sampler_order(trainer)
        info["epoch_padding_fraction"] = round(epoch_padding_fraction(order, lengths, recipe.training.batch_size), 4)
        _replay_product_batches(trainer, steps, recipe.training.seed)
        info["batches"] = f"{steps} drawn uniformly from one length-grouped epoch"
    else:
        info["epoch_padding_fraction"] = round(_random_epoch_padding(lengths, recipe.training.batch_size), 4)
        info["batches"] = "random sampler"
    if variant.padding_free:
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        trainer.data_collator = DataCollatorForLanguageModeling(
            pad_token_id=data.tokenizer.pad_token_id, padding_free=True
        )
        trainer.padding_free = True
        info["epoch_padding_fraction"] = 0.0
    info["dtype"] = "bf16 autocast" if trainer.args.bf16 else "float32"
    return trainer, info


def _random_epoch_padding(lengths: list[int], batch_size: int, seed: int = 42) -> float:
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    return epoch_padding_fraction(order, lengths, batch_size)


def build_trl_baseline(
    data: BenchData, run_dir: Path, steps: int, bf16: bool | None = None
) -> tuple[Any, dict[str, Any]]:
    """Plain TRL: the user's few lines, SFTConfig defaults except what must match (steps, batch, length, lr)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from builder.models.loading import pick_device, quantization_config, resolve_base_model
    from builder.train.trainer import lora_config

    recipe = data.recipe
    t = recipe.training
    path = resolve_base_model(recipe.base_model)
    qconfig = quantization_config(recipe.quantization, pick_device())
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if qconfig is not None:
        kwargs.update(quantization_config=qconfig, device_map={"": "cpu"})
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    lora = lora_config(recipe.lora)
    config = SFTConfig(
        output_dir=str(run_dir),
        max_steps=steps,
        per_device_train_batch_size=t.batch_size,
        max_length=t.max_length,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,
        seed=t.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        **({} if bf16 is None else {"bf16": bf16}),
    )
    dataset = Dataset.from_list([{"messages": e.messages} for e in data.train_examples])
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=data.tokenizer, peft_config=lora
    )
    lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
    info = {
        "quantization": recipe.quantization,
        "threads": torch.get_num_threads(),
        "group_by_length": False,
        "gradient_checkpointing": config.gradient_checkpointing,
        "dtype": "bf16 autocast" if config.bf16 else "float32",
        "loss_on": "whole sequence",
        "batches": "random sampler",
        "epoch_padding_fraction": round(_random_epoch_padding(lengths, t.batch_size), 4),
    }
    return trainer, info


@dataclass
class VariantResult:
    name: str
    lever: str
    useful_tokens_per_s: float
    padded_tokens_per_s: float
    seconds_per_step: float
    padding_fraction: float
    timed_steps: int
    dev_loss: float
    info: dict[str, Any]
    dev_losses: list[float] = field(repr=False, default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lever": self.lever,
            "useful_tokens_per_s": round(self.useful_tokens_per_s, 1),
            "padded_tokens_per_s": round(self.padded_tokens_per_s, 1),
            "seconds_per_step": round(self.seconds_per_step, 3),
            "padding_fraction": round(self.padding_fraction, 4),
            "timed_steps": self.timed_steps,
            "dev_loss": round(self.dev_loss, 4),
            **self.info,
        }


def variant_seed(variant: Variant, default: int) -> int:
    """A variant's ``training.seed`` override (LoRA init, dropout, drawn batches; the dev split stays the data's)."""
    for item in variant.overrides:
        key, _, value = item.partition("=")
        if key.strip() == "training.seed":
            return int(value)
    return default


def run_variant(variant: Variant, data: BenchData, steps: int, workdir: Path) -> VariantResult:
    import torch

    threads = torch.get_num_threads()
    torch.manual_seed(variant_seed(variant, data.recipe.training.seed))
    run_dir = Path(tempfile.mkdtemp(prefix=f"{variant.name}-", dir=workdir))
    try:
        t0 = time.perf_counter()
        if variant.baseline:
            trainer, info = build_trl_baseline(
                data, run_dir, steps, False if "bf16=false" in variant.overrides else None
            )
        else:
            trainer, info = build_product(variant, data, run_dir, steps)
        info["build_s"] = round(time.perf_counter() - t0, 1)
        recorder = RecordingCollator(trainer.data_collator)
        trainer.data_collator = recorder
        timer = step_timer()
        trainer.add_callback(timer)
        t0 = time.perf_counter()
        trainer.train()
        info["train_s"] = round(time.perf_counter() - t0, 1)
        info["step_seconds"] = [round(x, 2) for x in timer.seconds]
        records = recorder.records[: len(timer.seconds)]
        timed = slice(1, None) if len(timer.seconds) > 1 else slice(None)  # step 1 is warm-up
        seconds = sum(timer.seconds[timed])
        useful = sum(r.useful for r in records[timed])
        padded = sum(r.padded for r in records[timed])
        info["useful_tokens"] = useful
        info["labelled_tokens"] = sum(r.labelled for r in records[timed])
        t0 = time.perf_counter()
        losses = assistant_token_losses(trainer.model, data.dev_rows)
        info["dev_eval_s"] = round(time.perf_counter() - t0, 1)
        return VariantResult(
            name=variant.name,
            lever=variant.lever,
            useful_tokens_per_s=useful / seconds,
            padded_tokens_per_s=padded / seconds,
            seconds_per_step=seconds / max(1, len(timer.seconds[timed])),
            padding_fraction=1 - useful / padded if padded else 0.0,
            timed_steps=len(timer.seconds[timed]),
            dev_loss=statistics.fmean(losses),
            info=info,
            dev_losses=losses,
        )
    finally:
        torch.set_num_threads(threads)
        trainer = None
        gc.collect()


def base_dev_loss(data: BenchData) -> float:
    from builder.models.loading import load_model

    model, _ = load_model(data.recipe.base_model, data.recipe.quantization, device="cpu")
    loss = statistics.fmean(assistant_token_losses(model, data.dev_rows))
    del model
    gc.collect()
    return loss


def run(
    *,
    quick: bool = False,
    steps: int | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    max_dev_rows: int | None = None,
    variants: list[str] | None = None,
    sentiment_variants: list[str] | None = None,
    datasets: tuple[str, ...] = ("bitext", "sentiment"),
    max_conversations: int | None = None,
    base_model: str | None = None,
    workdir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Bitext's figures at the top level (as before), the sentiment data's under ``sentiment``."""
    out: dict[str, Any] = {}
    for dataset in datasets:
        names = variants if dataset == "bitext" else sentiment_variants
        if names is None and dataset == "sentiment" and not quick:
            names = SENTIMENT_VARIANTS
        result = run_dataset(
            dataset,
            quick=quick,
            steps=steps,
            batch_size=batch_size,
            max_length=max_length,
            max_dev_rows=max_dev_rows,
            variants=names,
            max_conversations=max_conversations,
            base_model=base_model,
            workdir=workdir,
            log=log,
        )
        if dataset == "bitext":
            out.update(result)
        else:
            out[dataset] = result
    return out


def run_dataset(
    dataset: str,
    *,
    quick: bool = False,
    steps: int | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    max_dev_rows: int | None = None,
    variants: list[str] | None = None,
    max_conversations: int | None = None,
    base_model: str | None = None,
    workdir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure the variants on one data set; ``quick``: baseline and product only, 4 steps of batch 4, 16 dev rows.

    All conversations are imported by default: Bitext is sorted by intent, so a prefix of it
    (``max_conversations``) is not representative and is meant for smoke tests only. max_length 320
    keeps 97% of the Bitext examples whole (p95 288 tokens with the recipe's system prompt).
    """
    steps = steps or (4 if quick else 12)
    batch_size = batch_size or (4 if quick else 8)
    max_length = max_length or MAX_LENGTHS[dataset]
    max_dev_rows = max_dev_rows or (16 if quick else 32)
    names = variants or (QUICK_VARIANTS if quick else FULL_VARIANTS)
    if "product" not in names:
        raise ValueError("the variants must include product (every lever is compared with it)")
    with tempfile.TemporaryDirectory(prefix="bench-train-", dir=workdir) as tmp:
        tmpdir = Path(tmp)
        overrides = [*_common_overrides(steps, batch_size, max_length), f"data.max_dev_examples={max_dev_rows}"]
        recipe = RECIPES[dataset](max_conversations, overrides, base_model)
        data = load_data(recipe, tmpdir)
        log(
            f"train_throughput: {len(data.train_rows)} train / {len(data.dev_rows)} dev {dataset} examples "
            f"(prepared in {data.prepare_s:.0f} s); {steps} steps x batch {batch_size}, max_length {max_length}"
        )
        results: dict[str, VariantResult] = {}
        for name in names:
            started = time.perf_counter()
            results[name] = run_variant(VARIANTS[name], data, steps, tmpdir)
            r = results[name]
            log(
                f"  {name:28s} {r.useful_tokens_per_s:7.1f} useful tok/s, padding {r.padding_fraction:5.1%}, "
                f"dev loss {r.dev_loss:.4f} ({time.perf_counter() - started:.0f} s: build {r.info['build_s']}, "
                f"train {r.info['train_s']}, dev {r.info['dev_eval_s']}; steps {r.info['step_seconds']})"
            )
        isolation = isolation_check(data) if "product_padding_free" in names else None
        reference = base_dev_loss(data) if not quick else None
    product = results["product"]
    source = (
        f"Bitext ({BITEXT.name}), support recipe mapping"
        if dataset == "bitext"
        else f"real sentiment reviews ({SENTIMENT_RECIPE.relative_to(REPO)})"
    )
    goal = GOAL_RATIOS[dataset]
    out: dict[str, Any] = {
        "data": f"{source}, " + (f"first {max_conversations} conversations" if max_conversations else "all of it"),
        "train_examples": len(data.train_rows),
        "dev_examples": len(data.dev_rows),
        "steps": steps,
        "timed_steps": product.timed_steps,
        "batch_size": batch_size,
        "max_length": max_length,
        "quantization": recipe.quantization,
        "labelled_token_fraction": round(product.info["labelled_tokens"] / max(1, product.info["useful_tokens"]), 4),
        "padding_fraction": round(product.padding_fraction, 4),
        "padding_fraction_epoch": product.info["epoch_padding_fraction"],
        "dev_loss": round(product.dev_loss, 4),
        "dev_loss_definition": "mean NLL per assistant token per dev row, averaged over the dev rows",
        "variants": {name: r.as_dict() for name, r in results.items()},
    }
    baseline = results.get("trl_baseline")
    if baseline is not None:
        noise = paired_noise(product.dev_losses, baseline.dev_losses)
        delta = product.dev_loss - baseline.dev_loss
        out.update(
            ratio_vs_trl_baseline=round(product.useful_tokens_per_s / baseline.useful_tokens_per_s, 3),
            goal_ratio=goal,
            padding_fraction_trl_baseline=round(baseline.padding_fraction, 4),
            padding_fraction_epoch_trl_baseline=baseline.info["epoch_padding_fraction"],
            dev_loss_trl_baseline=round(baseline.dev_loss, 4),
            dev_loss_delta=round(delta, 4),
            dev_loss_noise=round(noise, 4),
            dev_loss_not_worse=delta <= noise,
        )
        out["meets_goal"] = out["ratio_vs_trl_baseline"] >= goal and out["dev_loss_not_worse"]
    fp32_baseline = results.get("trl_baseline_fp32")
    if fp32_baseline is not None:
        out["ratio_vs_trl_baseline_fp32"] = round(product.useful_tokens_per_s / fp32_baseline.useful_tokens_per_s, 3)
    for name, r in results.items():
        out["variants"][name]["ratio_vs_product"] = round(r.useful_tokens_per_s / product.useful_tokens_per_s, 3)
        out["variants"][name]["dev_loss_delta_vs_product"] = round(r.dev_loss - product.dev_loss, 4)
        out["variants"][name]["dev_loss_noise_vs_product"] = round(paired_noise(r.dev_losses, product.dev_losses), 4)
    if isolation is not None:
        out["padding_free_isolation"] = isolation
    if reference is not None:
        out["dev_loss_untrained_base"] = round(reference, 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="baseline and product only, 4 steps of batch 4")
    parser.add_argument("--steps", type=int, default=None, help="per variant (default 12; 4 with --quick)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 8 (4 with --quick)")
    parser.add_argument("--max-length", type=int, default=None, help="default: 320 on Bitext, 256 on sentiment")
    parser.add_argument("--max-dev-rows", type=int, default=None, help="default 32 (16 with --quick)")
    parser.add_argument("--variants", default=None, help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--sentiment-variants", default=None, help="the same, for the sentiment data")
    parser.add_argument("--datasets", default="bitext,sentiment", help="comma-separated: bitext, sentiment")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(
        quick=args.quick,
        steps=args.steps,
        batch_size=args.batch_size,
        max_length=args.max_length,
        max_dev_rows=args.max_dev_rows,
        variants=args.variants.split(",") if args.variants else None,
        sentiment_variants=args.sentiment_variants.split(",") if args.sentiment_variants else None,
        datasets=tuple(args.datasets.split(",")),
    )
    report_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
