"""Preference tuning from playground votes (``method: dpo``): TRL's DPOTrainer continuing a run's adapter.

Why DPO and not another of TRL's preference trainers: a playground vote is a *pair* (two answers
to one prompt, one preferred), which is exactly DPO's data, and a round starts from an already
tuned adapter that must stay close to what it was. DPO anchors to a reference policy with one
knob (``feedback.beta``); in TRL 1.16 the reference is a frozen copy of the loaded adapter
("ref"), so it costs no second model in memory. KTO learns from unpaired thumbs up/down and
would throw the pairing away; ORPO and SimPO drop the reference model and add their own SFT
term, which suits one-stage training from a base model, not a small correction of a tuned run;
online methods (GRPO, RLOO) need a reward function, which a team's votes are not.

Everything else is the SFT path's: the same run directory, callbacks, metrics, evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from builder.config.recipe import Recipe

REFERENCE_ADAPTER = "ref"  # the name DPOTrainer gives its frozen copy of the loaded adapter


class DropReferenceAdapter(TrainerCallback):
    """At the end of training, remove the frozen reference copy so that only the tuned adapter is saved
    (``adapter/`` then loads like any run's; checkpoints keep both, for ``--resume``)."""

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if model is not None and REFERENCE_ADAPTER in getattr(model, "peft_config", {}):
            model.delete_adapter(REFERENCE_ADAPTER)


def preference_dataset(pairs: list[dict[str, Any]]) -> Any:
    from datasets import Dataset

    return Dataset.from_list(pairs)


def preference_losses(sft_weight: float) -> dict[str, Any]:
    """DPOConfig's loss: the DPO paper's sigmoid loss, plus, with ``sft_weight`` > 0, the negative
    log-likelihood of each pair's preferred answer (TRL's ``"sft"`` loss, as in RPO). Plain DPO only
    widens the gap between winner and loser and may push both down, so a round can drift to replies
    neither side ever gave (EVALUATION.md: "Thanks." where the votes asked for brief answers); the
    supervised term keeps the winners themselves likely."""
    if sft_weight <= 0:
        return {"loss_type": ["sigmoid"]}
    return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, sft_weight]}


def build_dpo_trainer(
    recipe: Recipe,
    run_dir: Path,
    train_rows: list[dict],
    dev_rows: list[dict],
    callbacks: list[Any],
    tokenizer: Any = None,
) -> tuple[Any, str, Any]:
    """The DPO trainer on the recipe's vote pairs, its model the parent's adapter loaded trainable.

    Called as any trainer of a run (``training_run.BuildTrainer``); the SFT rows and dev rows are not
    used: a round learns from its pairs and is scored by the evaluation afterwards."""
    from trl import DPOConfig, DPOTrainer

    from builder.feedback.rounds import load_pairs
    from builder.train.trainer import load_for_training, shared_arguments, show_loss_in_progress_bar

    t = recipe.training
    model, quantization, tokenizer, device = load_for_training(recipe, None, tokenizer)
    config = DPOConfig(
        **shared_arguments(recipe, run_dir, device),
        beta=recipe.feedback.beta,
        **preference_losses(recipe.feedback.sft_weight),
        max_length=t.max_length,
        truncation_mode="keep_start",
        # TRL turns checkpointing on by default; the new name also avoids transformers' deprecation warning
        activation_checkpointing=t.gradient_checkpointing,
        eval_strategy="no",  # the run's evaluation (builder.evaluate.runner) scores the dev split afterwards
    )
    trainer = DPOTrainer(
        model=model,
        args=config,
        train_dataset=preference_dataset(load_pairs(recipe)),
        processing_class=tokenizer,
        callbacks=[*callbacks, DropReferenceAdapter()],
    )
    show_loss_in_progress_bar(trainer)
    return trainer, quantization, tokenizer
