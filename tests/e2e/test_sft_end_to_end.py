"""End to end on the bundled SmolLM2-135M: real 4-bit QLoRA, a killed run resumed, data-parallel training."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.cli.sft import train
from builder.config.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# Distinctive replies the base model would never produce by itself.
OVERFIT = [
    ("Where is my parcel?", "Zorblax confirms: your parcel glides in on Tuesday."),
    ("¿Dónde está mi pedido?", "Zorblax confirma: tu pedido llega el martes."),
    ("Can I return a lamp?", "Zorblax says: lamps come back free within 30 days."),
    ("I need an invoice.", "Zorblax sends invoices from your account page."),
]


def write_overfit_recipe(tmp_path: Path, steps: int) -> Path:
    with open(tmp_path / "chats.jsonl", "w", encoding="utf-8") as handle:
        for question, answer in OVERFIT:
            messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            handle.write(json.dumps({"messages": messages}) + "\n")
    recipe = tmp_path / "overfit.yaml"
    recipe.write_text(
        f"""
name: overfit
use_case: support
quantization: 4bit
system_prompt: You are a store assistant.
data: {{train: [chats.jsonl], dedupe: false, dev_fraction: 0}}
lora: {{r: 16, alpha: 32, dropout: 0.0}}
training: {{max_steps: {steps}, batch_size: 4, learning_rate: 2.0e-3, warmup_ratio: 0, logging_steps: 1,
  save_steps: 100, max_length: 96, lr_scheduler: constant}}
eval: {{enabled: false}}
"""
    )
    return recipe


def greedy(model, tokenizer, question: str) -> str:
    import torch

    messages = [{"role": "system", "content": "You are a store assistant."}, {"role": "user", "content": question}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def test_qlora_on_the_bundled_model_learns_and_changes_generation(tmp_path):
    from builder.models.loading import load_tuned

    out = train(load_recipe(write_overfit_recipe(tmp_path, steps=12)), tmp_path / "run")
    info = json.loads((out / "run.json").read_text())
    assert info["quantization"] == "4bit" and info["status"] == "completed"
    losses = [m["loss"] for m in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert losses[-1] < 0.5 * losses[0], losses

    model, tokenizer, _ = load_tuned(out)
    tuned = greedy(model, tokenizer, "Where is my parcel?")
    with model.disable_adapter():
        base = greedy(model, tokenizer, "Where is my parcel?")
    assert tuned != base
    assert "Zorblax" in tuned and "Zorblax" not in base


def test_support_recipe_three_steps_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder.cli.sft",
            "recipes/support.yaml",
            "--set",
            "training.max_steps=3",
            "--set",
            "eval.enabled=false",
            # Shorter batches keep the test quick; the recipe's own settings are exercised by --dry-run.
            "--set",
            "training.batch_size=2",
            "--set",
            "training.gradient_accumulation_steps=1",
            "--set",
            "training.max_length=192",
            "--output-dir",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((out / "run.json").read_text())
    assert info["quantization"] == "4bit" and info["status"] == "completed" and info["final_step"] == 3
    for name in ("recipe.yaml", "metrics.jsonl", "data_report.json", "adapter", "tokenizer", "checkpoints"):
        assert (out / name).exists(), name


def test_a_run_killed_after_its_second_checkpoint_resumes_to_its_step_count(support_recipe, tmp_path):
    out = tmp_path / "run"
    args = [
        sys.executable,
        "-m",
        "builder.cli.sft",
        str(support_recipe),
        "--output-dir",
        str(out),
        "--set",
        "training.max_steps=14",
        "--set",
        "training.save_steps=2",
    ]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").exists():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((out / "run.json").read_text())["status"] == "running"  # what a crash leaves

    result = subprocess.run([*args, "--resume"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "completed" and info["final_step"] == 14
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_data_parallel_on_two_cpu_processes(support_recipe, tmp_path):
    out = tmp_path / "run"
    launcher = Path(sys.executable).with_name("accelerate")
    # accelerate 1.15 starts a single process for `--cpu`; `--multi_gpu` on a machine without
    # GPUs runs torch.distributed with the gloo backend on the CPU, one process per rank.
    result = subprocess.run(
        [
            str(launcher),
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "builder.cli.sft",
            str(support_recipe),
            "--output-dir",
            str(out),
            "--set",
            "quantization=none",
            "--set",
            "training.max_steps=2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((out / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "completed"
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
