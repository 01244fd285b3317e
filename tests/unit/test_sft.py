"""The training path on a tiny random Llama: real 4-bit quantization, real PEFT, real TRL, in seconds."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from builder.cli.sft import main, parse_args, train
from builder.config.recipe import load_recipe
from builder.run import rundir

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli.sft", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_help_documents_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--set", "--output-dir", "--dry-run", "--resume", "dotted.key=value"):
        assert option in result.stdout


def test_train_writes_the_whole_run_directory(support_recipe, tmp_path):
    out = tmp_path / "run"
    train(load_recipe(support_recipe), out)
    for name in ("recipe.yaml", "run.json", "metrics.jsonl", "data_report.json", "train.jsonl", "dev.jsonl"):
        assert (out / name).is_file(), name
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "tokenizer" / "tokenizer_config.json").is_file()
    assert (out / "checkpoints" / "checkpoint-2").is_dir()

    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "completed"
    assert info["quantization"] == "4bit"
    assert info["device"].startswith("cpu")
    assert info["seed"] == 42 and info["versions"]["trl"] and len(info["data_hash"]) == 16

    lines = rundir.read_jsonl(out / "metrics.jsonl")
    steps = [line for line in lines if "loss" in line]
    assert [line["step"] for line in steps] == [1, 2, 3]
    for line in steps:
        assert {"learning_rate", "tokens_seen", "elapsed_s", "epoch"} <= line.keys()
    assert steps[-1]["tokens_seen"] > steps[0]["tokens_seen"] > 0
    assert lines[-1]["final"] is True and lines[-1]["step"] == 3

    resolved = load_recipe(out / "recipe.yaml")  # the run's own recipe reads from anywhere
    assert Path(resolved.data.train[0]).is_absolute()


def test_the_adapter_loads_with_peft(support_recipe, tmp_path, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = train(load_recipe(support_recipe, ["quantization=none"]), tmp_path / "run")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out / "adapter")
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_refuses_to_overwrite_a_run_without_resume(support_recipe, tmp_path):
    out = tmp_path / "run"
    train(load_recipe(support_recipe, ["training.max_steps=2"]), out)
    assert main([str(support_recipe), "--output-dir", str(out)]) == 2


def test_resume_continues_to_the_requested_step(support_recipe, tmp_path):
    out = tmp_path / "run"
    train(load_recipe(support_recipe, ["training.max_steps=2"]), out)
    assert main([str(support_recipe), "--output-dir", str(out), "--resume", "--set", "training.max_steps=4"]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "completed" and info["final_step"] == 4


def test_dry_run_prints_a_summary_without_training(support_recipe, tmp_path, capsys):
    assert main([str(support_recipe), "--dry-run"]) == 0
    out = capsys.readouterr().out
    for field in ("conversations", "examples", "p50", "p95", "max_length", "steps planned"):
        assert field in out
    assert not (tmp_path / "runs").exists()


def test_bad_recipe_exits_2_and_names_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  learning_rate: fast\n")
    assert main([str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "training.learning_rate" in err


def test_loss_guard_stops_a_run_whose_loss_turns_nan(support_recipe, tmp_path):
    out = tmp_path / "run"
    # An infinite learning rate turns the weights, and so the loss, into NaN after one update.
    recipe = load_recipe(support_recipe, ["training.max_steps=30", "training.learning_rate=.inf", "quantization=none"])
    train(recipe, out)
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "failed"
    assert "nan" in info["error"] and "learning_rate" in info["error"]
    assert info["final_step"] < 30


def test_loss_guard_notices_a_climbing_loss():
    from transformers import TrainerControl, TrainerState

    from builder.train.callbacks import LossGuard

    guard, state, control = LossGuard(), TrainerState(), TrainerControl()
    falling = [3.0, 2.6, 2.3, 2.1, 1.9, 1.8, 1.7, 1.6, 1.55, 1.5]
    for step, loss in enumerate(falling, 1):
        state.global_step = step
        guard.on_log(None, state, control, logs={"loss": loss})
    assert not control.should_training_stop and guard.problem is None
    for step, loss in enumerate([2.5, 3.5, 4.5, 5.0, 5.5, 5.6, 5.7, 5.8], len(falling) + 1):
        state.global_step = step
        guard.on_log(None, state, control, logs={"loss": loss})
        if control.should_training_stop:
            break
    assert control.should_training_stop
    assert "rising" in guard.problem and "learning_rate" in guard.problem


@pytest.mark.parametrize("flag", ["--set"])
def test_parse_args_collects_repeated_overrides(flag):
    args = parse_args(["r.yaml", flag, "a=1", flag, "b.c=2", "--output-dir", "x"])
    assert args.overrides == ["a=1", "b.c=2"] and args.output_dir == Path("x")


def test_sigterm_stops_at_the_next_step_with_a_checkpoint_and_an_adapter(support_recipe, tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "builder.cli.sft",
            str(support_recipe),
            "--output-dir",
            str(out),
            "--set",
            "training.max_steps=500",
            "--set",
            "training.save_steps=1000",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not [m for m in rundir.read_jsonl(out / "metrics.jsonl") if m.get("step", 0) >= 2]:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "stopped" and "--resume" in info["error"]
    assert 2 <= info["final_step"] < 500
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "checkpoints" / f"checkpoint-{info['final_step']}").is_dir()


def test_a_base_given_the_turn_format_trains_its_turn_tokens_and_merges_them(support_recipe, tmp_path):
    """Gemma's case on a tiny model: a base without a chat template whose vocabulary has the turn tokens."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from builder.export.merge import merge_adapter
    from tests.conftest import save_tiny_turn_token_base

    tokenizer = AutoTokenizer.from_pretrained(load_recipe(support_recipe).base_model)
    base_dir = save_tiny_turn_token_base(tmp_path / "base", tokenizer)
    turn_ids = AutoTokenizer.from_pretrained(base_dir).convert_tokens_to_ids(["<start_of_turn>", "<end_of_turn>"])
    settings = [
        f"base_model={base_dir}",
        "quantization=none",
        "training.learning_rate=0.05",
        "lora.train_turn_tokens=true",
    ]

    out = train(load_recipe(support_recipe, settings), tmp_path / "run")
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["trainable_token_indices"] == turn_ids
    rows = [v for k, v in load_file(out / "adapter" / "adapter_model.safetensors").items() if "trainable_tokens" in k]
    base = AutoModelForCausalLM.from_pretrained(base_dir).get_input_embeddings().weight.detach()
    assert rows and rows[0].shape == (2, 64)
    assert not torch_allclose(rows[0], base[turn_ids]), "the turn-token rows were trained"

    merged = AutoModelForCausalLM.from_pretrained(merge_adapter(out, tmp_path / "merged"))
    assert torch_allclose(merged.get_input_embeddings().weight[turn_ids].detach(), rows[0])
    assert merged.get_output_embeddings().weight is merged.get_input_embeddings().weight  # still tied

    # Generation writes the rows into the embedding once (not a copy of it per token); the base side restores them.
    from builder.models.generation import adapter_state
    from builder.models.loading import load_tuned

    model, _, _ = load_tuned(out, device="cpu")
    ids = torch.tensor([[5, *turn_ids, 7]])
    layers = [m for m in model.modules() if hasattr(m, "trainable_tokens_delta")]
    with torch.inference_mode():
        swapped = model(ids).logits  # PEFT's own path: the rows swapped into a copy at every forward
        base_logits = base_model_logits(base_dir, ids)
        for enabled, expected in ((True, swapped), (False, base_logits), (True, swapped)):
            with adapter_state(model, enabled):
                assert torch.allclose(model(ids).logits, expected, atol=1e-5), f"adapter {'on' if enabled else 'off'}"
                assert all(m.merged for m in layers) is enabled

    plain = train(load_recipe(support_recipe, settings[:-1]), tmp_path / "plain")  # off unless asked for
    assert not json.loads((plain / "adapter" / "adapter_config.json").read_text()).get("trainable_token_indices")


def base_model_logits(folder, ids):
    from transformers import AutoModelForCausalLM

    with torch.inference_mode():
        return AutoModelForCausalLM.from_pretrained(folder)(ids).logits


def torch_allclose(a, b) -> bool:
    import torch

    return torch.allclose(a.float(), b.float(), atol=1e-6)
