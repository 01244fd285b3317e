"""QLoRA on a GPU: a Llama-3-8B-shaped model (random weights), seq 2048, batch 1 with gradient accumulation.

One call runs every variant, each in a fresh process (so peak memory is its own), prints a table last and
writes JSON. The baseline is plain TRL + PEFT with SFTTrainer's defaults (one example per micro-batch,
gradient checkpointing on, bf16, adamw_torch); the variants add, one after the other:

- ``packed_varlen``: examples packed into rows of ``--seq`` tokens (best-fit decreasing), padding-free,
  with variable-length attention (flash-attention 2 when ``flash_attn`` is installed, else sdpa with
  transformers' block-diagonal mask from ``position_ids``, which isolates examples but is slower);
- ``+liger``: Liger kernels (``use_liger_kernel``: fused RMSNorm, SwiGLU, RoPE, fused linear cross-entropy);
- ``+paged8bit``: the paged 8-bit AdamW from bitsandbytes;
- ``no_checkpointing``: the same without gradient checkpointing (faster, more memory).

Figures per variant: useful tokens per second (timed steps only, after ``--warmup`` steps), peak GPU
memory (``torch.cuda.max_memory_allocated``, and reserved), and MFU against the card's dense bf16 peak:
model FLOPs per token = 4 N + 8 L d c (forward 2N, backward through activations 2N: the 4-bit base gets no
weight gradients; attention over a mean context c; recomputation is not counted), N the parameters of the
linear layers and the LM head. ``mfu_6n`` uses the common 6 N + 12 L d c convention, for comparison.

Run on a CUDA machine (once: ``pip install liger-kernel flash-attn`` for those variants; they are
reported as skipped otherwise):

    python -m benchmarks.gpu_qlora --json gpu_qlora.json
    python -m benchmarks.gpu_qlora --tiny --cpu          # the same code on a tiny shape, 2 steps, no GPU

The random 8B model is written once (about 16 GB of bf16 safetensors) under ``--model-cache``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GOALS = {"speedup_vs_baseline": 2.0, "peak_memory_gb": 10.0, "mfu": 0.35}

# Dense bf16 peak TFLOPS (no sparsity), by a substring of torch.cuda.get_device_name().
BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 80GB HBM3": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,  # an H100 we cannot tell apart: the lower (PCIe) figure, so MFU is not flattered
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 4090": 165.0,
}


@dataclass(frozen=True)
class Shape:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    max_position_embeddings: int
    rope_theta: float


LLAMA3_8B = Shape(4096, 14336, 32, 32, 8, 128256, 8192, 500000.0)
TINY = Shape(64, 128, 2, 4, 2, 512, 512, 500000.0)


@dataclass(frozen=True)
class Variant:
    name: str
    packing: bool
    liger: bool
    optim: str
    gradient_checkpointing: bool
    baseline: bool = False


VARIANTS = {
    "trl_peft_baseline": Variant("trl_peft_baseline", False, False, "adamw_torch", True, baseline=True),
    "packed_varlen": Variant("packed_varlen", True, False, "adamw_torch", True),
    "packed_varlen_liger": Variant("packed_varlen_liger", True, True, "adamw_torch", True),
    "packed_varlen_liger_paged8bit": Variant("packed_varlen_liger_paged8bit", True, True, "paged_adamw_8bit", True),
    "packed_varlen_liger_paged8bit_no_checkpointing": Variant(
        "packed_varlen_liger_paged8bit_no_checkpointing", True, True, "paged_adamw_8bit", False
    ),
}


def llama_config(shape: Shape) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        vocab_size=shape.vocab_size,
        max_position_embeddings=shape.max_position_embeddings,
        rope_theta=shape.rope_theta,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )


def matmul_parameters(shape: Shape) -> int:
    """Parameters that take part in matrix products per token: every linear layer and the LM head."""
    d, f, layers = shape.hidden_size, shape.intermediate_size, shape.num_hidden_layers
    kv = d * shape.num_key_value_heads // shape.num_attention_heads
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * f  # q, o; k, v; gate, up, down
    return layers * per_layer + d * shape.vocab_size


def flops_per_token(shape: Shape, mean_context: float, convention: str = "qlora") -> float:
    """Training FLOPs per token; ``qlora``: 4N + 8Ldc (no weight gradients for the frozen base), ``6n``: 6N + 12Ldc."""
    n = matmul_parameters(shape)
    attention = shape.num_hidden_layers * shape.hidden_size * mean_context
    if convention == "6n":
        return 6 * n + 12 * attention
    return 4 * n + 8 * attention


def peak_tflops(device_name: str, override: float | None = None) -> float | None:
    if override:
        return override
    for key, value in BF16_PEAK_TFLOPS.items():
        if key.lower() in device_name.lower():
            return value
    return None


def synthetic_lengths(count: int, max_length: int, seed: int = 0) -> list[int]:
    """Chat-like example lengths: log-normal around a quarter of ``max_length``, clipped to [16, max_length]."""
    rng = random.Random(seed)
    median = max(16, max_length // 4)
    return [min(max_length, max(16, int(rng.lognormvariate(math.log(median), 0.6)))) for _ in range(count)]


def synthetic_dataset(lengths: list[int], vocab_size: int, seed: int = 0) -> Any:
    """Pre-tokenized rows of random token ids (the weights are random too: only shapes and lengths matter)."""
    from datasets import Dataset

    rng = random.Random(seed)
    return Dataset.from_list([{"input_ids": [rng.randrange(3, vocab_size) for _ in range(n)]} for n in lengths])


def placeholder_tokenizer() -> Any:
    """A four-token tokenizer: the data is pre-tokenized, the trainer only needs the pad and end tokens."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")),
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
    )


def attention_implementation(device: str) -> str:
    if device == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def unavailable_reason(variant: Variant, device: str) -> str | None:
    if variant.liger and importlib.util.find_spec("liger_kernel") is None:
        return "liger-kernel is not installed (pip install liger-kernel)"
    if variant.liger and device != "cuda":
        return "Liger kernels are Triton kernels: CUDA only"
    if variant.optim.startswith("paged_") and device != "cuda":
        return "paged optimizers page GPU memory: CUDA only"
    return None


def sft_config_kwargs(variant: Variant, *, device: str, seq: int, grad_accum: int, steps: int, output_dir: str) -> dict:
    """SFTConfig arguments: TRL defaults for the baseline, plus only what the variant changes."""
    kwargs: dict[str, Any] = {
        "output_dir": output_dir,
        "max_steps": steps,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": grad_accum,
        "max_length": seq,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "dataset_num_proc": None,
        "gradient_checkpointing": variant.gradient_checkpointing,
        "optim": variant.optim,
    }
    if device == "cpu":
        kwargs.update(use_cpu=True, bf16=False)
    if variant.gradient_checkpointing and not variant.baseline:
        # Reentrant checkpointing with a frozen 4-bit base needs input grads; non-reentrant does not.
        kwargs["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    if variant.packing:
        kwargs.update(packing=True, packing_strategy="bfd", padding_free=True)
    if variant.liger:
        kwargs["use_liger_kernel"] = True
    return kwargs


def build_random_model(shape: Shape, folder: Path) -> Path:
    """Write a randomly initialised bf16 model once (safetensors), so that from_pretrained can quantize it."""
    import torch
    from transformers import LlamaForCausalLM

    if (folder / "config.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = LlamaForCausalLM(llama_config(shape))
    finally:
        torch.set_default_dtype(previous)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".writing-"))
    model.save_pretrained(tmp, safe_serialization=True, max_shard_size="2GB")
    for item in tmp.iterdir():
        item.rename(folder / item.name)
    tmp.rmdir()
    return folder


def load_quantized(folder: Path, device: str, attn: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    compute = torch.bfloat16 if device == "cuda" else torch.float32
    qconfig = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_quant_storage=compute,
    )
    return AutoModelForCausalLM.from_pretrained(
        folder,
        quantization_config=qconfig,
        dtype=compute,
        attn_implementation=attn,
        device_map={"": 0} if device == "cuda" else {"": "cpu"},
    )


def lora_config() -> Any:
    from builder.config.recipe import LoraConfigSection
    from builder.train.trainer import lora_config as recipe_lora_config

    return recipe_lora_config(LoraConfigSection(dropout=0.0))


def run_variant(
    variant: Variant, *, shape: Shape, model_dir: Path, device: str, seq: int, grad_accum: int, steps: int, warmup: int
) -> dict[str, Any]:
    """Train one variant in this process and measure it."""
    import torch
    from trl import SFTConfig, SFTTrainer

    from benchmarks.measure import RecordingCollator, step_timer

    reason = unavailable_reason(variant, device)
    if reason:
        return {"variant": variant.name, "skipped": reason}
    attn = attention_implementation(device) if variant.packing else "sdpa"
    model = load_quantized(model_dir, device, attn)
    lengths = synthetic_lengths(max(64, steps * grad_accum * (seq // 64 + 1)), seq)
    dataset = synthetic_dataset(lengths, shape.vocab_size)
    with tempfile.TemporaryDirectory(prefix="gpu-qlora-") as out:
        kwargs = sft_config_kwargs(variant, device=device, seq=seq, grad_accum=grad_accum, steps=steps, output_dir=out)
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**kwargs),
            train_dataset=dataset,
            peft_config=lora_config(),
            processing_class=placeholder_tokenizer(),
        )
        recorder = RecordingCollator(trainer.data_collator)
        trainer.data_collator = recorder
        timer = step_timer()
        trainer.add_callback(timer)
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
        if device == "cuda":
            torch.cuda.synchronize()
    timed_steps = timer.seconds[warmup:] if len(timer.seconds) > warmup else timer.seconds
    skipped_batches = (len(timer.seconds) - len(timed_steps)) * grad_accum
    records = recorder.records[skipped_batches : skipped_batches + len(timed_steps) * grad_accum]
    seconds = sum(timed_steps)
    useful = sum(r.useful for r in records)
    example_lengths = [n for r in records for n in r.segments]
    mean_context = sum(n * n for n in example_lengths) / max(1, sum(example_lengths))  # token-weighted
    tokens_per_s = useful / seconds if seconds else 0.0
    result: dict[str, Any] = {
        "variant": variant.name,
        "attention": attn,
        "config": {k: v for k, v in kwargs.items() if k != "output_dir"},
        "timed_steps": len(timed_steps),
        "tokens_per_s": round(tokens_per_s, 1),
        "seconds_per_step": round(seconds / max(1, len(timed_steps)), 3),
        "useful_tokens": useful,
        "mean_attention_context": round(mean_context, 1),
    }
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
        result["device"] = name
        result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        result["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / 1e9, 2)
        peak = peak_tflops(name, float(os.environ.get("BENCH_PEAK_TFLOPS", "0")) or None)
        if peak:
            result["peak_bf16_tflops"] = peak
            result["mfu"] = round(tokens_per_s * flops_per_token(shape, mean_context) / (peak * 1e12), 4)
            result["mfu_6n"] = round(tokens_per_s * flops_per_token(shape, mean_context, "6n") / (peak * 1e12), 4)
    else:
        result["device"] = "cpu"
    return result


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    baseline = next((r for r in results if r["variant"] == "trl_peft_baseline" and "tokens_per_s" in r), None)
    measured = [r for r in results if "tokens_per_s" in r]
    for r in measured:
        if baseline and baseline["tokens_per_s"]:
            r["speedup_vs_baseline"] = round(r["tokens_per_s"] / baseline["tokens_per_s"], 3)
    fitting = [r for r in measured if r.get("peak_memory_gb", 0) < GOALS["peak_memory_gb"] and r is not baseline]
    best = max(fitting, key=lambda r: r["tokens_per_s"], default=None)
    summary: dict[str, Any] = {"goals": GOALS, "best_variant_under_memory_goal": best["variant"] if best else None}
    if best:
        summary["meets_goals"] = (
            best.get("speedup_vs_baseline", 0) >= GOALS["speedup_vs_baseline"]
            and best.get("peak_memory_gb", math.inf) < GOALS["peak_memory_gb"]
            and best.get("mfu", 0) >= GOALS["mfu"]
        )
    return summary


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'variant':48s} {'tok/s':>9s} {'x base':>7s} {'peak GB':>8s} {'MFU':>6s}  attention",
        "-" * 96,
    ]
    for r in results:
        if "skipped" in r:
            lines.append(f"{r['variant']:48s} skipped: {r['skipped']}")
            continue
        mfu = f"{r['mfu']:.1%}" if "mfu" in r else "-"
        peak = f"{r['peak_memory_gb']:.2f}" if "peak_memory_gb" in r else "-"
        lines.append(
            f"{r['variant']:48s} {r['tokens_per_s']:9.1f} {r.get('speedup_vs_baseline', 0):7.2f} "
            f"{peak:>8s} {mfu:>6s}  {r['attention']}"
        )
    return "\n".join(lines)


def _child_command(args: argparse.Namespace, variant: str, model_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "benchmarks.gpu_qlora", "--child", variant, "--model-cache", str(model_dir)]
    command += ["--seq", str(args.seq), "--grad-accum", str(args.grad_accum), "--steps", str(args.steps)]
    command += ["--warmup", str(args.warmup)]
    return command + (["--tiny"] if args.tiny else []) + (["--cpu"] if args.cpu else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny Llama shape instead of Llama-3-8B")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (with --tiny: a test of the code path)")
    parser.add_argument("--seq", type=int, default=None, help="max sequence length (default 2048; 256 with --tiny)")
    parser.add_argument("--grad-accum", type=int, default=None, help="default 8 (2 with --tiny)")
    parser.add_argument(
        "--steps", type=int, default=None, help="optimizer steps per variant (default 12; 2 with --tiny)"
    )
    parser.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 2; 0 with --tiny)")
    parser.add_argument("--variants", default=None, help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--model-cache", type=Path, default=None, help="folder of the random model (written once)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the card's dense bf16 peak, if not known")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--in-process", action="store_true", help="run the variants in this process (tests)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.seq = args.seq or (256 if args.tiny else 2048)
    args.grad_accum = args.grad_accum or (2 if args.tiny else 8)
    args.steps = args.steps or (2 if args.tiny else 12)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.tiny else 2)
    if args.peak_tflops:
        os.environ["BENCH_PEAK_TFLOPS"] = str(args.peak_tflops)
    import torch

    device = "cpu" if args.cpu or not torch.cuda.is_available() else "cuda"
    if device == "cpu" and not args.tiny:
        print("warning: the 8B shape on the CPU will take hours; use --tiny --cpu to test the code path", flush=True)
    shape = TINY if args.tiny else LLAMA3_8B
    cache = args.model_cache or Path(tempfile.gettempdir()) / f"bench-random-llama-{'tiny' if args.tiny else '8b'}"
    run_args = dict(shape=shape, device=device, seq=args.seq, grad_accum=args.grad_accum, steps=args.steps)
    if args.child:
        result = run_variant(VARIANTS[args.child], model_dir=cache, warmup=args.warmup, **run_args)
        print(json.dumps(result), flush=True)
        return 0
    started = time.perf_counter()
    print(f"random {'tiny' if args.tiny else 'Llama-3-8B-shaped'} model in {cache} ...", flush=True)
    build_random_model(shape, cache)
    results = []
    for name in args.variants.split(",") if args.variants else list(VARIANTS):
        print(f"variant {name} ...", flush=True)
        if args.in_process:
            results.append(run_variant(VARIANTS[name], model_dir=cache, warmup=args.warmup, **run_args))
            continue
        proc = subprocess.run(_child_command(args, name, cache), capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            results.append({"variant": name, "failed": proc.stderr[-2000:], "skipped": "failed (see JSON)"})
        else:
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    report = {
        "shape": asdict(shape),
        "seq": args.seq,
        "grad_accum": args.grad_accum,
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "device": device,
        "seconds": round(time.perf_counter() - started, 1),
        "variants": results,
        **summarize(results),
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
