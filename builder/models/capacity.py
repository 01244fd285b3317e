"""Will it fit, and how long? Peak memory and time of a LoRA/QLoRA training, before loading anything.

Everything here is computed from a model's ``config.json`` (the model is built on the meta device: shapes,
no weights), the recipe and the device. The peak is the sum of:

- weights at the chosen quantization: NF4 is 4 bits a weight plus its block constants (one 8-bit absmax
  per 64 weights with double quantization, and one float32 per 256 of those); LLM.int8 one byte plus a
  float32 scale per row. Layers that stay unquantized (embeddings, norms, the LM head) are float32 after
  ``prepare_model_for_kbit_training``, or the compute dtype without quantization;
- LoRA parameters in float32 with their gradients and two AdamW moments (16 bytes a parameter);
- activations kept for the backward, per token and layer (``_activation_bytes_per_token``), or only the
  layer inputs with gradient checkpointing plus one layer recomputed;
- the LM head's logits: one chunk of labelled tokens with ``builder.models.lm_head``, otherwise TRL's tiles over
  every position;
- the runtime: the Python process with torch, transformers, TRL and PEFT imported (CPU), or the CUDA
  context and the caching allocator's slack (GPU);
- on the CPU, what the C heap keeps from the previous step's freed activations (``CPU_HEAP_RETENTION``).

Time: FLOPs per step (forward 2 per weight per token, the backward's gradient for the activations 2 more,
the frozen weights get none; attention; the LM head at labelled tokens, three products; one more forward
with checkpointing) divided by the device's sustained throughput, plus the 4-bit dequantization passes.
``calibrate`` replaces the throughput by one measured from a real step. BENCHMARKS.md compares the
estimates with measured runs; docs/capacity.md with published GPU figures.

The model's shape is ``builder.models.shape``; the plan and the estimate it fills, ``builder.models.capacity_plan``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from builder.config.recipe import RecipeError
from builder.models.capacity_plan import Estimate, Plan
from builder.models.devices import Device, GiB, cpu_autocast_bf16, gpu
from builder.models.shape import ModelShape, model_shape, turn_token_rows

if TYPE_CHECKING:
    from builder.config.recipe import Recipe

GPU_SIZES_GB = (8, 12, 16, 24, 40, 80)
# Resident memory of a process that has imported torch, transformers, TRL, PEFT, datasets and bitsandbytes
# (measured: 514 MB on Linux, torch 2.13 CPU build), plus its tokenizer and data.
CPU_RUNTIME_BYTES = 560 * 1024**2
# What glibc's heap still holds from the previous step when a CPU step peaks, as a share of one step's
# activations. Measured, not derived (benchmarks/capacity_check.py on the bundled model, batch 8 x 128 and
# 320 tokens: 0.59 and 0.56 in full precision, 0.25 and 0.09 in 4-bit; BENCHMARKS.md). Without it the
# estimate counts exactly what autograd keeps and still fell 27-31% short of the measured full-precision
# peaks. 8-bit was not measured: it shares 4-bit's pattern of a dequantized weight per matmul.
CPU_HEAP_RETENTION = {"none": 0.57, "4bit": 0.17, "8bit": 0.17}
# The CUDA context and cuBLAS workspace (outside torch's allocator), and the allocator's reserved slack.
CUDA_CONTEXT_BYTES = 600 * 1024**2
CUDA_ALLOCATOR_SLACK = 0.10
# Sustained training throughput as a share of a plain matmul's (attention, norms, LoRA's small products,
# the optimizer and the dataloader do not run at matmul speed).
TRAINING_EFFICIENCY = 0.5
# NF4 with double quantization: 4 bits, an 8-bit absmax per 64 weights, a float32 per 256 absmax.
NF4_BYTES_PER_WEIGHT = 0.5 + 1 / 64 + 4 / (64 * 256)
NF4_BYTES_PER_WEIGHT_SINGLE = 0.5 + 4 / 64


class CapacityError(RecipeError):
    """A run that will not fit; the message lists the changes that would make it fit."""


# ---------------------------------------------------------------- the plan and the estimate


def _targets(shape: ModelShape, targets: str | tuple[str, ...]) -> list[tuple[str, int, int]]:
    """The Linear layers LoRA wraps: every one for all-linear (PEFT leaves the LM head out), else by name."""
    if targets == "all-linear":
        return list(shape.linears)
    names = (targets,) if isinstance(targets, str) else tuple(targets)
    return [lin for lin in shape.linears if lin[0].split(".")[-1] in names]


def _weight_bytes(shape: ModelShape, plan: Plan, device: Device) -> int:
    compute = 2 if (device.kind == "cuda" and plan.bf16) else 4
    other = 4 if plan.kbit_prepare else compute  # prepare_model_for_kbit_training: float32
    if plan.quantization == "4bit":
        return int(shape.linear_params * NF4_BYTES_PER_WEIGHT + shape.other_params * other)
    if plan.quantization == "8bit":
        rows = sum(o for _, _, o in shape.linears)
        return int(shape.linear_params + rows * 4 + shape.other_params * other)
    return shape.params * compute


def _lora_params(shape: ModelShape, plan: Plan) -> int:
    return sum(plan.lora_r * (i + o) for _, i, o in _targets(shape, plan.lora_targets))


ATTENTION_INPUT_NAMES = {"q_proj", "k_proj", "v_proj", "qkv_proj", "query_key_value", "c_attn", "Wqkv"}
MLP_INPUT_NAMES = {"gate_proj", "up_proj", "gate_up_proj", "fc1", "w1", "w3", "c_fc"}


def _shared_lora_inputs(shape: ModelShape, layer_targets: list[tuple[str, int, int]]) -> int:
    names = {name.split(".")[-1] for name, _, _ in layer_targets}
    widest_input = any(in_f == shape.intermediate for _, in_f, _ in layer_targets)
    return (
        (shape.hidden if names & ATTENTION_INPUT_NAMES else 0)
        + (shape.hidden if names & MLP_INPUT_NAMES else 0)
        + (shape.intermediate if widest_input else 0)
    )


def _activation_bytes_per_token(shape: ModelShape, plan: Plan, device: Device) -> float:
    """Bytes one token keeps for the backward in one layer (LoRA on the targets, frozen base, sdpa attention).

    Kept: the two norms' inputs (their frozen weights need nothing more); each LoRA target's dropped-out
    input, its dropout mask when dropout is on, and its rank-r product; attention's q, k, v and output
    (flash/efficient sdpa keeps no S x S matrix); the MLP's gate, up and activated products. Frozen base
    weights keep nothing for their own gradient. The dropout mask is one byte a value on a GPU, but the
    CPU's dropout keeps it in the activations' dtype: listed with ``torch.autograd.graph.saved_tensors_hooks``
    on the bundled model, this count matches what autograd keeps to 0.1%.
    """
    a = 2 if plan.bf16 else 4
    h, q, kv, i = shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim, shape.intermediate
    targets = _targets(shape, plan.lora_targets)
    layer_targets = [t for t in targets if ".layers.0." in t[0] or ".h.0." in t[0]] or targets[:7]
    lora_inputs = sum(in_f for _, in_f, _ in layer_targets)
    dropout = plan.lora_dropout > 0
    kept = 2 * h + 2 * q + 2 * kv + 3 * i  # norms, attention, MLP
    keeps_input = plan.quantized_matmul_keeps_input
    if keeps_input is None:
        keeps_input = plan.quantization == "8bit"
    if keeps_input and plan.quantization in ("4bit", "8bit"):
        # the inputs of the quantized matmuls: the two normalized inputs (shared by q/k/v and by gate/up),
        # attention's output, the MLP's product
        kept += 2 * h + q + i
    # LoRA's A matrix keeps its input: a dropped-out copy per target, or without dropout the input it shares
    # with its neighbours (the normalized input of attention, that of the MLP, the MLP's product; attention's
    # output is kept already)
    lora = (lora_inputs if dropout else _shared_lora_inputs(shape, layer_targets)) + plan.lora_r * len(layer_targets)
    mask_bytes = a if device.kind == "cpu" else 1
    return a * (kept + lora) + (lora_inputs * mask_bytes if dropout else 0)


def estimate(shape: ModelShape, plan: Plan, device: Device) -> Estimate:
    tokens = plan.batch_size * plan.seq_len
    a = 2 if plan.bf16 else 4
    per_token_layer = _activation_bytes_per_token(shape, plan, device)
    # The backward's own working set: gradients of one layer's activations (about twice its widest tensors).
    working = tokens * a * 2 * (shape.hidden + shape.intermediate + shape.heads * shape.head_dim)
    if plan.gradient_checkpointing:
        activations = tokens * a * shape.hidden * shape.layers + tokens * per_token_layer + working
    else:
        activations = tokens * per_token_layer * shape.layers + working
    labelled = max(1, int(tokens * plan.labelled_fraction))
    if plan.full_logits:
        # the logits in the compute dtype, their float32 copy, log_softmax's float32 output (kept for the
        # backward) and, during the backward, the float32 gradient beside them
        logits = tokens * shape.vocab * (a + 4 + 4 + 4)
    elif plan.labelled_lm_head:
        from builder.models.lm_head import chunk_tokens

        logits = min(labelled, chunk_tokens(shape.vocab)) * shape.vocab * 4 * 3
    else:  # TRL's fused head: tiles of up to 4,096 positions by 32,768 words, every position off CUDA
        rows = labelled if device.kind == "cuda" else tokens
        logits = min(rows, 4096) * min(shape.vocab, 32768) * 4 * 4
    # the hidden states of the labelled tokens and their gradient, in float32
    logits += labelled * shape.hidden * 4 * 2
    lora = _lora_params(shape, plan)
    weights = _weight_bytes(shape, plan, device)
    if plan.quantization in ("4bit", "8bit"):  # one layer's weights dequantized for its matmul (and its gradient)
        weights += 2 * max((i * o for _, i, o in shape.linears), default=0) * (2 if plan.bf16 else 4)
    runtime = CPU_RUNTIME_BYTES if device.kind == "cpu" else CUDA_CONTEXT_BYTES
    parts = {
        "weights": weights,
        "lora_and_optimizer": (lora + plan.trained_token_rows * shape.hidden) * 16,
        "activations": int(activations),
        "logits_and_loss": int(logits),
        "runtime": runtime,
    }
    if plan.trained_token_rows:
        parts["token_rows"] = shape.vocab * shape.hidden * 4
    if device.kind == "cuda":
        parts["allocator_slack"] = int(CUDA_ALLOCATOR_SLACK * sum(parts.values()))
    else:
        parts["heap_retained"] = int(CPU_HEAP_RETENTION[plan.quantization] * activations)
    notes = []
    load_peak = runtime + shape.checkpoint_bytes + (weights if plan.quantization != "none" else 0)
    if device.kind == "cpu" and load_peak > sum(parts.values()):
        # Loading maps the checkpoint file while the quantized copy is built: that can be the peak.
        parts["loading"] = load_peak - sum(parts.values())
        notes.append("the peak is while loading the checkpoint, not while training")
    flops = step_flops(shape, plan)
    seconds = None
    if device.flops:
        seconds = flops / (device.flops * TRAINING_EFFICIENCY) + _dequant_seconds(shape, plan, device)
    total = seconds * plan.steps if seconds is not None and plan.steps else None
    return Estimate(parts, flops, seconds, total, plan, device, notes)


def step_flops(shape: ModelShape, plan: Plan) -> float:
    """FLOPs of one optimizer step (all its micro-batches)."""
    seq = plan.mean_seq_len or plan.seq_len
    tokens = plan.batch_size * seq * plan.gradient_accumulation_steps
    lora = _lora_params(shape, plan)
    forward = 2 * (shape.linear_params + lora) * tokens
    # causal attention: QK^T and AV, 2 * seq * q-width per token each, half of them masked
    forward += 2 * shape.layers * seq * shape.heads * shape.head_dim * tokens
    backward = forward + 4 * lora * tokens  # activations' gradients; LoRA's weight gradients
    head: float
    if plan.full_logits:
        head = 2 * 2 * shape.vocab * shape.hidden * tokens  # forward and gradient, every position
    else:
        labelled = tokens * (plan.labelled_fraction if plan.labelled_lm_head else 1.0)
        head = 3 * 2 * shape.vocab * shape.hidden * labelled  # forward, recomputation, gradient
    recompute = forward if plan.gradient_checkpointing else 0
    return forward + backward + head + recompute


def _dequant_seconds(shape: ModelShape, plan: Plan, device: Device) -> float:
    """Quantized weights are dequantized for every matmul: forward, gradient, again if recomputed (4-bit rate)."""
    if plan.quantization not in ("4bit", "8bit") or not device.dequant_per_s:
        return 0.0
    passes = (3 if plan.gradient_checkpointing else 2) * plan.gradient_accumulation_steps
    return passes * shape.linear_params / device.dequant_per_s


def calibrate(shape: ModelShape, plan: Plan, device: Device, measured_seconds_per_step: float) -> Device:
    """The device with the throughput that makes ``plan``'s step take the measured time."""
    compute_seconds = max(1e-9, measured_seconds_per_step - _dequant_seconds(shape, plan, device))
    return replace(device, flops=step_flops(shape, plan) / (compute_seconds * TRAINING_EFFICIENCY))


# ---------------------------------------------------------------- from a recipe


def plan_from_recipe(
    recipe: Recipe,
    quantization: str,
    device: Device,
    *,
    seq_len: int | None = None,
    mean_seq_len: int | None = None,
    labelled_fraction: float | None = None,
    steps: int | None = None,
    trained_token_rows: int = 0,
) -> Plan:
    t = recipe.training
    targets = recipe.lora.target_modules
    bf16 = device.native_bf16 if device.kind == "cuda" else cpu_autocast_bf16(t)
    return Plan(
        quantization=quantization,
        batch_size=t.batch_size,
        seq_len=min(seq_len or t.max_length, t.max_length),
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        gradient_checkpointing=t.gradient_checkpointing,
        lora_r=recipe.lora.r,
        lora_targets=targets if isinstance(targets, str) else tuple(targets),
        lora_dropout=recipe.lora.dropout,
        bf16=bf16,
        labelled_lm_head=t.labelled_lm_head,
        labelled_fraction=labelled_fraction if labelled_fraction is not None else 0.5,
        mean_seq_len=mean_seq_len,
        steps=steps if steps is not None else (t.max_steps if t.max_steps > 0 else None),
        trained_token_rows=trained_token_rows,
    )


def resolve_quantization(requested: str, shape: ModelShape, device: Device) -> str:
    """``auto`` as ``builder.models.loading.choose_quantization`` decides it: 4-bit where the weights take over half."""
    if requested != "auto":
        return requested
    needed = shape.params * (2 if device.kind == "cuda" else 4)
    return "4bit" if needed > device.memory_bytes * 0.5 else "none"


def suggestions(shape: ModelShape, plan: Plan, device: Device) -> list[tuple[str, Estimate]]:
    """Changes that make the run fit, each alone, then together; each with its new estimate."""
    candidates: list[tuple[str, dict[str, Any]]] = []
    if plan.quantization != "4bit":
        candidates.append(("quantization=4bit", {"quantization": "4bit"}))
    if plan.batch_size > 1:
        steps = plan.gradient_accumulation_steps * plan.batch_size
        candidates.append(
            (
                f"training.batch_size=1 --set training.gradient_accumulation_steps={steps}",
                {"batch_size": 1, "gradient_accumulation_steps": steps},
            )
        )
    if not plan.gradient_checkpointing:
        candidates.append(("training.gradient_checkpointing=true", {"gradient_checkpointing": True}))
    for length in (2048, 1024, 512, 256, 128):
        if length < plan.seq_len:
            candidates.append((f"training.max_length={length}", {"seq_len": length}))
            break
    found = [(f"--set {text}", estimate(shape, plan.changed(**change), device)) for text, change in candidates]
    fitting = [(text, e) for text, e in found if e.fits]
    if fitting:
        return fitting
    combined: dict[str, Any] = {}
    for _, change in candidates:
        combined.update(change)
    together = estimate(shape, plan.changed(**combined), device)
    text = " ".join(f"--set {t}" for t, _ in candidates)
    return [(text, together)] if together.fits else []


def check_fits(shape: ModelShape, plan: Plan, device: Device, where: str) -> Estimate:
    """The estimate, or a CapacityError naming the changes that would make ``where`` fit."""
    found = estimate(shape, plan, device)
    if found.fits:
        return found
    lines = [
        f"{where}: this run needs about {found.peak_bytes / GiB:.1f} GB at its peak and {device.label} "
        f"has {device.memory_bytes / GiB:.1f} GB: refused before loading the model.",
        *found.lines(),
    ]
    fixes = suggestions(shape, plan, device)
    if fixes:
        lines.append("It would fit with:")
        lines += [f"  {text}   (peak {e.peak_bytes / GiB:.1f} GB)" for text, e in fixes]
    else:
        lines.append(
            "Even 4-bit, batch 1 with accumulation, gradient checkpointing and a shorter max_length do not "
            "make it fit: choose a smaller base model or a machine with more memory."
        )
    lines.append("(--skip-fit-check trains anyway; the estimate is explained in builder/models/capacity.py.)")
    raise CapacityError("\n".join(lines))


def memory_table(shape: ModelShape, plan: Plan, present: Device) -> list[dict[str, Any]]:
    """One row per device: the present one, then GPUs of 8 to 80 GB (peak, fits, time where known)."""
    rows = []
    for device in (present, *(gpu(gb) for gb in GPU_SIZES_GB)):
        p = plan if device is present else plan.changed(bf16=True)
        e = estimate(shape, p, device)
        fix = "" if e.fits else next((text for text, _ in suggestions(shape, p, device)), "-")
        rows.append(
            {
                "device": device.label if device is present else device.name,
                "peak_gb": round(e.peak_bytes / GiB, 2),
                "fits": e.fits,
                "seconds_per_step": None if e.seconds_per_step is None else round(e.seconds_per_step, 2),
                "fix": fix.replace("--set ", ""),
            }
        )
    return rows


def memory_limit_from_env() -> int | None:
    """``BUILDER_MEMORY_LIMIT_GB``: what a run may use, when less than the machine has (shared machines)."""
    value = os.environ.get("BUILDER_MEMORY_LIMIT_GB")
    return int(float(value) * GiB) if value else None


def recipe_plan(
    recipe: Recipe, device: Device, rows: list[dict[str, Any]] | None = None, steps: int | None = None
) -> tuple[ModelShape, Plan]:
    """The model's shape and the plan of ``recipe``; with the tokenized ``rows``, their real lengths."""
    import statistics

    from builder.models.loading import resolve_base_model

    path = resolve_base_model(recipe.base_model)
    shape = model_shape(path, recipe.trust_remote_code)
    quantization = resolve_quantization(recipe.quantization, shape, device)
    token_rows = turn_token_rows(path, recipe.trust_remote_code) if recipe.lora.train_turn_tokens else 0
    lengths = [len(r["input_ids"]) for r in rows or []]
    if not lengths:
        return shape, plan_from_recipe(recipe, quantization, device, steps=steps, trained_token_rows=token_rows)
    labelled = sum(sum(r["assistant_masks"]) for r in rows or [])
    return shape, plan_from_recipe(
        recipe,
        quantization,
        device,
        seq_len=max(lengths),
        mean_seq_len=int(statistics.fmean(lengths)),
        labelled_fraction=labelled / sum(lengths),
        steps=steps,
        trained_token_rows=token_rows,
    )
