"""The arithmetic and the files of the issue-30 benchmarks (evaluation time, bf16, the LLaMA-Factory peer),
without training anything: what they count, how they read the logs, what they hand to the peer."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks.eval_speed import seconds_per_step
from benchmarks.peer_llamafactory import llamafactory_args, summarize_peer, write_dataset
from benchmarks.train_throughput import Variant, variant_seed


def test_seconds_per_step_leaves_out_the_warm_up_step_and_the_final_and_dev_lines(tmp_path: Path) -> None:
    lines = [
        {"step": 1, "loss": 2.0, "elapsed_s": 9.0},  # warm-up: only its end counts, as the start of step 2
        {"step": 2, "loss": 1.9, "elapsed_s": 12.0},
        {"step": 2, "eval_loss": 1.8, "elapsed_s": 30.0},  # a dev scoring is not a training step
        {"step": 4, "loss": 1.7, "elapsed_s": 17.0},
        {"step": 4, "final": True, "train_loss": 1.8, "elapsed_s": 40.0},
    ]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    per_step, steps = seconds_per_step(path)
    assert per_step == pytest.approx((17.0 - 9.0) / 3)
    assert steps == 4


def test_seconds_per_step_needs_two_logged_steps(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 1, "loss": 2.0, "elapsed_s": 3.0}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fewer than two"):
        seconds_per_step(path)


def test_a_variant_seed_comes_from_its_override_and_the_data_seed_otherwise() -> None:
    assert variant_seed(Variant("a", "x", ["training.cpu_bf16=auto", "training.seed=43"]), 42) == 43
    assert variant_seed(Variant("b", "x", ["training.cpu_bf16=auto"]), 42) == 42


def test_the_peer_reads_the_same_conversations_system_turn_first(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": "You are the support agent."},
        {"role": "user", "content": "Where is my order <b>123</b>?"},
        {"role": "assistant", "content": "It left on Monday."},
    ]
    name = write_dataset([SimpleNamespace(messages=messages)], tmp_path)
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))[name]
    rows = json.loads((tmp_path / info["file_name"]).read_text(encoding="utf-8"))
    assert rows == [{"messages": messages}]
    assert info["formatting"] == "sharegpt"
    assert info["tags"]["system_tag"] == "system" and info["tags"]["assistant_tag"] == "assistant"


def test_the_peer_trains_with_the_recipes_lora_length_batch_steps_and_schedule(tmp_path: Path) -> None:
    schedule = {"learning_rate": 2e-4, "lr_scheduler": "cosine", "warmup_ratio": 0.03}
    training = SimpleNamespace(max_length=320, batch_size=8, max_steps=10, seed=42, **schedule)
    recipe = SimpleNamespace(training=training, lora=SimpleNamespace(r=16, alpha=32, dropout=0.05))
    args = llamafactory_args(recipe, "/models/smollm2", tmp_path, tmp_path / "out", bf16=False)
    assert (args["lora_rank"], args["lora_alpha"], args["lora_dropout"], args["lora_target"]) == (16, 32, 0.05, "all")
    assert (args["cutoff_len"], args["per_device_train_batch_size"], args["max_steps"]) == (320, 8, 10)
    assert (args["quantization_bit"], args["quantization_type"], args["double_quantization"]) == (4, "nf4", True)
    assert args["gradient_accumulation_steps"] == 1 and args["bf16"] is False
    assert args["model_name_or_path"] == "/models/smollm2" and args["template"] == "smollm2"


def test_the_peers_figures_leave_out_its_warm_up_step() -> None:
    out = {
        "step_seconds": [10.0, 2.0, 3.0],
        "batches": [{"useful": 999, "padded": 999}, {"useful": 90, "padded": 100}, {"useful": 60, "padded": 100}],
        "dev_losses": [1.0, 2.0],
        "bf16": True,
    }
    side = summarize_peer("peer", out, batch_size=4)
    assert side["useful_tokens_per_s"] == pytest.approx(150 / 5.0)
    assert side["samples_per_s"] == pytest.approx(8 / 5.0)
    assert side["padding_fraction"] == pytest.approx(0.25)
    assert side["timed_steps"] == 2 and side["dev_loss"] == pytest.approx(1.5) and side["dtype"] == "bf16"
