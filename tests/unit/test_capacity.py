"""The capacity estimate: shapes from config.json alone, the memory parts, and a run refused before loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.models import capacity, devices
from builder.models.capacity import estimate
from builder.models.capacity_plan import Plan
from builder.models.devices import Device, GiB
from builder.models.shape import ModelShape, model_shape

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def llama8b_dir(tmp_path_factory, bundled_tokenizer) -> Path:
    """A Llama-3-8B-shaped config.json and a tokenizer: no weights at all."""
    from transformers import LlamaConfig

    folder = tmp_path_factory.mktemp("llama-8b-shape")
    LlamaConfig(
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=8192,
        tie_word_embeddings=False,
    ).save_pretrained(folder)
    bundled_tokenizer.save_pretrained(folder)
    assert not list(folder.glob("*.safetensors"))
    return folder


def test_shape_from_config_alone_counts_llama3_8b(llama8b_dir):
    shape = model_shape(str(llama8b_dir))
    assert shape.params == 8_030_261_248  # Meta-Llama-3-8B's published parameter count
    assert shape.linear_params == 32 * (4096 * (4096 + 1024 + 1024 + 4096) + 3 * 4096 * 14336)
    assert (shape.vocab, shape.layers, shape.kv_heads, shape.head_dim, shape.tied_head) == (128256, 32, 8, 128, False)


def test_weights_follow_the_quantization(llama8b_dir):
    shape = model_shape(str(llama8b_dir))
    gpu = devices.gpu(80)
    parts = {q: estimate(shape, Plan(q, 1, 512, bf16=True), gpu).parts["weights"] for q in ("none", "8bit", "4bit")}
    assert parts["none"] == shape.params * 2  # bf16
    # NF4 with double quantization: 0.516 bytes a weight; the rest float32 after prepare_model_for_kbit_training
    biggest = 4096 * 14336 * 2 * 2  # one MLP weight dequantized for its matmul and for its gradient
    assert parts["4bit"] == int(shape.linear_params * capacity.NF4_BYTES_PER_WEIGHT + shape.other_params * 4) + biggest
    assert parts["4bit"] < parts["8bit"] < parts["none"]


def test_checkpointing_chunked_head_and_batch_shrink_the_peak(llama8b_dir):
    shape = model_shape(str(llama8b_dir))
    gpu = devices.gpu(80)
    base = Plan("4bit", 4, 2048, bf16=True, labelled_fraction=0.5)
    peak = estimate(shape, base, gpu)
    assert estimate(shape, base.changed(gradient_checkpointing=True), gpu).parts["activations"] < (
        peak.parts["activations"] / 5
    )
    assert estimate(shape, base.changed(batch_size=1), gpu).peak_bytes < peak.peak_bytes
    trl_head = estimate(shape, base.changed(labelled_lm_head=False), gpu)
    assert trl_head.parts["logits_and_loss"] > 4 * peak.parts["logits_and_loss"]


def test_a_base_given_the_turn_format_counts_its_trained_turn_rows(tmp_path, tiny_model_dir, bundled_tokenizer):
    from builder.config.recipe import recipe_from_dict
    from tests.conftest import save_tiny_turn_token_base

    base_dir = save_tiny_turn_token_base(tmp_path / "base", bundled_tokenizer)
    cpu = devices.present_device()
    raw = {"name": "t", "use_case": "support", "data": {"train": ["x.jsonl"]}, "lora": {"train_turn_tokens": True}}
    for folder, rows in ((base_dir, 2), (tiny_model_dir, 0)):  # SmolLM2's tokenizer brings its own template
        recipe = recipe_from_dict({**raw, "base_model": str(folder)}, source="t", base_dir=tmp_path)
        shape, plan = capacity.recipe_plan(recipe, cpu)
        assert plan.trained_token_rows == rows
        parts = estimate(shape, plan, cpu).parts
        assert parts.get("token_rows", 0) == (shape.vocab * shape.hidden * 4 if rows else 0)
    off = recipe_from_dict({**raw, "base_model": str(base_dir), "lora": {}}, source="t", base_dir=tmp_path)  # default
    assert capacity.recipe_plan(off, cpu)[1].trained_token_rows == 0


def test_a_run_that_cannot_fit_lists_each_change_that_would_make_it_fit():
    from builder.config.recipe import BUNDLED_MODEL
    from builder.models.loading import resolve_base_model

    shape = model_shape(resolve_base_model(BUNDLED_MODEL))
    plan = Plan("none", 2, 1024, labelled_fraction=0.5)
    device = Device("cpu", "test machine", 5 * GiB, native_bf16=False)
    with pytest.raises(capacity.CapacityError) as caught:
        capacity.check_fits(shape, plan, device, "recipe.yaml")
    message = str(caught.value)
    assert "refused before loading the model" in message
    assert "--set training.batch_size=1 --set training.gradient_accumulation_steps=2" in message
    assert "--set training.gradient_checkpointing=true" in message
    assert "--set training.max_length=512" in message
    for line in message.splitlines():
        if line.startswith("  --set"):  # every suggestion fits the 5 GB it was refused for
            assert float(line.rsplit("peak ", 1)[1].split()[0]) <= 5.0


def test_nothing_fits_in_less_than_the_runtime_itself():
    from builder.config.recipe import BUNDLED_MODEL
    from builder.models.loading import resolve_base_model

    shape = model_shape(resolve_base_model(BUNDLED_MODEL))
    device = Device("cpu", "test machine", GiB // 4, native_bf16=False)
    with pytest.raises(capacity.CapacityError, match="choose a smaller base model"):
        capacity.check_fits(shape, Plan("4bit", 1, 64), device, "recipe.yaml")


def test_native_bf16_is_read_from_the_cpu_flags():
    assert devices.cpu_native_bf16({"avx512f", "avx512_bf16"})
    assert devices.cpu_native_bf16({"amx_bf16", "amx_tile"})
    assert devices.cpu_native_bf16({"fp", "asimd", "bf16"})  # Arm
    assert not devices.cpu_native_bf16({"avx512f", "avx512bw", "avx512_vnni"})


def test_cpu_bf16_auto_follows_the_hardware(monkeypatch):
    from builder.config.recipe import TrainingConfig

    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx512_bf16"})
    assert devices.cpu_autocast_bf16(TrainingConfig(cpu_bf16="auto"))
    assert not devices.cpu_autocast_bf16(TrainingConfig(cpu_bf16=False))
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2"})
    assert not devices.cpu_autocast_bf16(TrainingConfig(cpu_bf16="auto"))
    assert devices.cpu_autocast_bf16(TrainingConfig(cpu_bf16=True))


def test_calibration_reproduces_the_measured_step_and_scales_with_tokens():
    shape = ModelShape((("l.0", 1000, 1000),), 0, 100, 1000, 1, 1, 1, 1000, 1000, True, 0)
    plan = Plan("none", 4, 100, labelled_fraction=1.0)
    device = capacity.calibrate(shape, plan, Device("cpu", "x", GiB, False, flops=1.0), 2.0)
    assert estimate(shape, plan, device).seconds_per_step == pytest.approx(2.0)
    assert estimate(shape, plan.changed(batch_size=8), device).seconds_per_step == pytest.approx(4.0, rel=0.05)


def _write_recipe(folder: Path, base_model: Path, quantization: str) -> Path:
    from tests.conftest import write_support_jsonl

    write_support_jsonl(folder / "chats.jsonl")
    recipe = folder / "recipe.yaml"
    recipe.write_text(
        f"name: big\nbase_model: {base_model}\nquantization: {quantization}\n"
        "data: {train: [chats.jsonl], dedupe: false, dev_fraction: 0.0}\n"
        "training: {max_steps: 2, batch_size: 8, max_length: 256}\neval: {enabled: false}\n",
        encoding="utf-8",
    )
    return recipe


def test_an_8b_model_in_full_precision_is_refused_before_any_model_load(llama8b_dir, tmp_path):
    """The folder holds no weights: loading would fail with another error, so this message proves the order."""
    recipe = _write_recipe(tmp_path, llama8b_dir, "none")
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli.sft", str(recipe), "--output-dir", str(out), "--memory-limit", "16"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "refused before loading the model" in proc.stderr
    assert "--set quantization=4bit" in proc.stderr
    assert "safetensors" not in proc.stderr and "Traceback" not in proc.stderr
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "failed" and "CapacityError" in info["error"]


def test_dry_run_prints_the_estimate_and_the_gpu_sizes(llama8b_dir, tmp_path):
    recipe = _write_recipe(tmp_path, llama8b_dir, "4bit")
    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli.sft", str(recipe), "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "memory        peak" in proc.stdout and "activations" in proc.stdout
    assert "on GPUs       8 GB:" in proc.stdout and "80 GB:" in proc.stdout


def test_a_run_records_its_precision_estimate_and_measured_peak(support_recipe, tmp_path):
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe

    out = train(load_recipe(support_recipe, ["training.cpu_bf16=auto"]), tmp_path / "run")
    info = json.loads((out / "run.json").read_text())
    assert info["precision"] == ("bf16 autocast" if devices.cpu_native_bf16() else "float32")
    assert info["cpu_native_bf16"] == devices.cpu_native_bf16()
    assert info["lm_head_chunk_tokens"] == 170
    assert info["estimate"]["peak_gb"] > 0.5 and "activations" in info["estimate"]["parts_gb"]
    assert 0.3 < info["peak_memory_gb"] < 8


@pytest.mark.parametrize(
    "lang,words", [("en", ("Peak memory", "this machine", "yes")), ("es", ("Memoria máxima", "esta máquina", "sí"))]
)
def test_recipe_tab_shows_the_estimate_for_this_machine_and_each_gpu_size(tmp_path, lang, words):
    from builder.jobs.manager import JobManager
    from builder.ui.common import AppContext
    from builder.ui.recipe_reports import capacity_markdown

    ctx = AppContext(runs_dir=tmp_path, jobs=JobManager(tmp_path))
    text = (REPO / "recipes" / "support.yaml").read_text(encoding="utf-8")
    shown = capacity_markdown(ctx, text, lang)
    rows = [line for line in shown.splitlines() if line.startswith("| ") and "GB |" in line]
    assert len(rows) == 1 + len(capacity.GPU_SIZES_GB), shown
    for gb in capacity.GPU_SIZES_GB:
        assert any(row.startswith(f"| GPU {gb} GB |") for row in rows), gb
    assert all(word in shown for word in words), shown
    assert " s |" in rows[0]  # a time per step on this machine
    # a bad base model says why instead of failing the page
    broken = capacity_markdown(ctx, text.replace("bundled:smollm2-135m-instruct", "bundled:nothing"), lang)
    assert "bundled:nothing" in broken


def test_published_gpu_figures_for_7_8b_lora_and_qlora_are_within_20_percent():
    """docs/capacity.md: LitGPT's resource tables (A100, Llama 2 7B) and Unsloth's context table (Llama 3.1 8B)."""
    from benchmarks.capacity_published import TOLERANCE, run

    rows = run()["rows"]
    assert {r["quantization"] for r in rows} == {"none", "4bit"} and len(rows) == 8
    for row in rows:
        assert abs(row["error"]) <= TOLERANCE, row


def _saved_activation_bytes(model, input_ids) -> int:
    """Bytes autograd keeps for the backward of one forward, frozen and trainable weights left out."""
    import torch

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model.base_model.model.model(input_ids=input_ids, use_cache=False)
    return sum(kept.values())


@pytest.mark.parametrize("dropout", [0.05, 0.0])
def test_the_activation_count_is_what_autograd_keeps_on_the_cpu(dropout):
    import torch

    from builder.config.recipe import BUNDLED_MODEL, recipe_from_dict
    from builder.models.loading import resolve_base_model
    from builder.train.trainer import load_for_training, lora_config

    recipe = recipe_from_dict(
        {
            "name": "count",
            "base_model": BUNDLED_MODEL,
            "quantization": "none",
            "data": {"train": ["x.jsonl"]},
            "lora": {"dropout": dropout},
        }
    )
    model, *_ = load_for_training(recipe, lora_config(recipe.lora))
    model.train()
    batch, seq = 2, 24
    measured = _saved_activation_bytes(model, torch.randint(10, 1000, (batch, seq)))
    shape = model_shape(resolve_base_model(BUNDLED_MODEL))
    plan = Plan("none", batch, seq, lora_r=recipe.lora.r, lora_dropout=dropout)
    cpu = Device("cpu", "cpu", 8 * GiB, False)
    counted = capacity._activation_bytes_per_token(shape, plan, cpu) * shape.layers * batch * seq
    # left out of the count: attention's log-sum-exp (one value a head) and the norms' scales (one a token)
    assert counted == pytest.approx(measured, rel=0.01)
