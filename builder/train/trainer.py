"""The trainer of one run: the base model at its quantization with LoRA attached, and TRL's SFTTrainer set up
from the recipe's ``training:`` section. ``builder.cli.sft`` drives it; the benchmarks build the same trainer to
compare it with plain TRL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from builder.config.recipe import LoraConfigSection, Recipe
from builder.run.rundir import RunDir


def lora_config(lora: LoraConfigSection, tokenizer: Any = None, **extra: Any) -> Any:
    """PEFT's LoraConfig for a recipe's ``lora:`` section; ``extra`` for PEFT keys a recipe does not set.

    Given the run's tokenizer and ``train_turn_tokens``, the turn tokens a pretrained base never learned
    are trained too (PEFT keeps the tied output rows in step with the input rows)."""
    from peft import LoraConfig

    from builder.models.templates import given_turn_token_ids

    turn_tokens = given_turn_token_ids(tokenizer) if tokenizer is not None and lora.train_turn_tokens else []
    if turn_tokens:
        extra.setdefault("trainable_token_indices", turn_tokens)
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
        **extra,
    )


def attach_adapter(model: Any, recipe: Recipe, lora: Any) -> Any:
    """A fresh LoRA adapter, or for a feedback round the parent's adapter, trainable, to continue.

    The round's data was prepared first (``builder.feedback.rounds``), which checked that the parent has an adapter."""
    from peft import PeftModel, get_peft_model

    if not recipe.feedback.parent_run:
        return get_peft_model(model, lora)
    parent = RunDir(recipe.resolve_path(recipe.feedback.parent_run))
    return PeftModel.from_pretrained(model, parent.adapter, is_trainable=True)


def load_for_training(recipe: Recipe, new_adapter: Any, tokenizer: Any = None) -> tuple[Any, str, Any, str]:
    """Model with its adapter (a feedback round continues its parent's, else ``new_adapter``), the
    quantization really used, the tokenizer (loaded unless given) and the device."""
    import torch

    from builder.models.loading import load_model, load_tokenizer, pick_device

    if recipe.training.threads:
        torch.set_num_threads(recipe.training.threads)
    device = pick_device()
    if tokenizer is None:
        tokenizer = load_tokenizer(recipe.base_model, trust_remote_code=recipe.trust_remote_code)
    model, quantization = load_model(
        recipe.base_model,
        recipe.quantization,
        for_training=True,
        device=device,
        trust_remote_code=recipe.trust_remote_code,
    )
    return attach_adapter(model, recipe, new_adapter), quantization, tokenizer, device


def shared_arguments(recipe: Recipe, run_dir: Path, device: str) -> dict[str, Any]:
    """The trainer arguments every method (SFT, DPO) takes from the recipe's ``training:`` section."""
    import torch

    from builder.models.devices import cpu_autocast_bf16
    from builder.train.trackers import report_to

    t = recipe.training
    use_bf16 = (device == "cuda" and torch.cuda.is_bf16_supported()) or (device == "cpu" and cpu_autocast_bf16(t))
    return dict(
        output_dir=str(RunDir(run_dir).checkpoints),
        max_steps=t.max_steps,
        num_train_epochs=t.num_epochs,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        seed=t.seed,
        data_seed=t.seed,
        logging_nan_inf_filter=False,  # the loss guard must see a NaN, not a filtered 0
        use_cpu=device == "cpu",
        bf16=use_bf16,
        report_to=report_to(t),
        run_name=Path(run_dir).name,
        dataset_num_proc=None,
        disable_tqdm=False,
    )


def show_loss_in_progress_bar(trainer: Any) -> None:
    """One progress bar with the loss in it, instead of transformers' bar and its printed log dicts."""
    from transformers import ProgressCallback

    from builder.train.callbacks import LossInProgressBar

    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(LossInProgressBar)


def build_trainer(
    recipe: Recipe,
    run_dir: Path,
    train_rows: list[dict],
    dev_rows: list[dict],
    callbacks: list[Any],
    tokenizer: Any = None,
) -> tuple[Any, str, Any]:
    """The trainer, the quantization really used and the tokenizer (loaded here unless the caller has it)."""
    from trl import SFTConfig, SFTTrainer

    from builder.data.dataset import to_dataset
    from builder.models.lm_head import install_labelled_lm_head
    from builder.models.loading import load_tokenizer
    from builder.train.callbacks import best_model_arguments

    t = recipe.training
    if tokenizer is None:
        tokenizer = load_tokenizer(recipe.base_model, trust_remote_code=recipe.trust_remote_code)
    model, quantization, tokenizer, device = load_for_training(recipe, lora_config(recipe.lora, tokenizer), tokenizer)
    config = SFTConfig(
        **shared_arguments(recipe, run_dir, device),
        per_device_eval_batch_size=t.batch_size,
        gradient_checkpointing=t.gradient_checkpointing,
        max_length=t.max_length,
        packing=False,
        eval_strategy="steps" if dev_rows else "no",
        eval_steps=t.eval_steps,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        include_num_input_tokens_seen="non_padding",
        save_only_model=False,
        **best_model_arguments(t, bool(dev_rows)),
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=to_dataset(train_rows),
        eval_dataset=to_dataset(dev_rows) if dev_rows else None,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    show_loss_in_progress_bar(trainer)
    # After SFTTrainer: its constructor installs TRL's fused head, which ours sits in front of. The chunk size
    # rides on TRL's trainer for builder.train.run and the benchmarks: an attribute its class does not declare.
    chunk = install_labelled_lm_head(trainer.model) if t.labelled_lm_head else None
    trainer.lm_head_chunk_tokens = chunk  # type: ignore[attr-defined]
    return trainer, quantization, tokenizer
