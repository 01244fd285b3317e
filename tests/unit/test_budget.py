"""Training to a budget: minutes or tokens, early stopping on the dev loss, and the best checkpoint kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.cli.sft import train
from builder.config.recipe import RecipeError, load_recipe
from builder.run import rundir
from tests.conftest import write_support_jsonl


def budget_recipe(tmp_path: Path, tiny_model_dir: Path, training: str) -> Path:
    """The tiny model on 24 conversations, 6 of them held out for the dev loss, 4 steps, evaluated after each."""
    write_support_jsonl(tmp_path / "chats.jsonl", copies=3)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"""
name: budget
use_case: support
base_model: {tiny_model_dir}
quantization: none
data: {{train: [chats.jsonl], dedupe: false, dev_fraction: 0.25}}
training: {{max_steps: 4, batch_size: 2, max_length: 96, logging_steps: 1, eval_steps: 1, save_steps: 1,
  lr_scheduler: constant, warmup_ratio: 0, {training}}}
eval: {{enabled: false}}
""",
        encoding="utf-8",
    )
    return recipe


def dev_losses(run: Path) -> dict[int, float]:
    return {line["step"]: line["eval_loss"] for line in rundir.read_jsonl(run / "metrics.jsonl") if "eval_loss" in line}


def test_keep_best_ends_with_the_checkpoint_of_the_lowest_dev_loss(tmp_path, tiny_model_dir) -> None:
    from safetensors.torch import load_file

    recipe = budget_recipe(tmp_path, tiny_model_dir, "learning_rate: 5.0e-2, keep_best: true")
    run = train(load_recipe(recipe), tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    losses = dev_losses(run)
    assert info["status"] == "completed" and info["final_step"] == 4 and len(losses) == 4
    best = min(losses, key=losses.__getitem__)
    assert info["best_step"] == best and info["best_eval_loss"] == pytest.approx(losses[best])
    saved = load_file(run / "adapter" / "adapter_model.safetensors")
    kept = load_file(run / "checkpoints" / f"checkpoint-{best}" / "adapter_model.safetensors")
    assert saved.keys() == kept.keys()
    assert all((saved[k] == kept[k]).all() for k in saved)


def test_early_stopping_ends_when_the_dev_loss_stops_improving(tmp_path, tiny_model_dir) -> None:
    # A threshold no real improvement reaches: the second evaluation already counts as "not better".
    recipe = budget_recipe(tmp_path, tiny_model_dir, "early_stopping_patience: 1, early_stopping_threshold: 100.0")
    run = train(load_recipe(recipe), tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed"
    assert info["final_step"] == 2, info
    assert info["stopped_by"].startswith("early stopping")
    losses = dev_losses(run)
    assert info["best_step"] == min(losses, key=losses.__getitem__)


def test_a_token_budget_stops_training_early_and_says_so(tmp_path, tiny_model_dir) -> None:
    recipe = budget_recipe(tmp_path, tiny_model_dir, "max_tokens: 1")
    run = train(load_recipe(recipe), tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["final_step"] == 1
    assert info["stopped_by"] == "token budget (1 tokens)"
    assert (run / "adapter" / "adapter_model.safetensors").is_file()


def test_keep_best_needs_saves_on_evaluated_steps(tmp_path, tiny_model_dir) -> None:
    recipe = budget_recipe(tmp_path, tiny_model_dir, "keep_best: true")
    with pytest.raises(RecipeError, match=r"save_steps .* multiple of eval_steps"):
        load_recipe(recipe, ["training.eval_steps=2", "training.save_steps=3"])
