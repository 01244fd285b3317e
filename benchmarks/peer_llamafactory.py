"""The peer side by side: LLaMA-Factory 0.9.5 against the product and plain TRL, one run, the same Bitext rows.

Every side trains the same base model (the bundled SmolLM2-135M-Instruct, the safetensors folder the
product converts it to once, ``builder.models.loading.resolve_base_model``) on the same Bitext training
examples (the support recipe's system prompt and the import's ``csv_pairs`` mapping, as
``benchmarks.train_throughput`` prepares them), with the same LoRA (r16, alpha 32, dropout 0.05, all
linear layers), 4-bit NF4 with double quantization, sequence length, batch size, steps, learning rate and
schedule. Each side keeps its own defaults for the rest, as its users get them:

- ``trl_baseline``: plain TRL ``SFTTrainer`` (random batches, gradient checkpointing, bf16 autocast,
  loss on the whole sequence);
- ``product``: ``builder.train.trainer.build_trainer`` on the recipe (its ``training.cpu_bf16`` default applies);
- ``llamafactory``: ``llamafactory.train.tuner.run_exp`` with ``stage: sft``, ``template: smollm2``,
  ``cutoff_len`` = max_length, in its own venv (``benchmarks.peer_venv``); its other defaults apply
  (random batches, gradient checkpointing, loss on the replies). ``--peer-precisions bf16,fp32``:
  with ``bf16: true`` (what its example configs set) and/or in float32.

Reported per side: useful (non-padding) tokens per second over the timed steps (the first is warm-up),
samples per second, padding, and the dev loss on the same dev rows (mean NLL per assistant token);
``ratio_vs_llamafactory`` and ``ratio_vs_trl_baseline`` are the product's useful tokens/s over theirs.
Goal (issue 30): >= 1.5x LLaMA-Factory and >= 3x plain TRL, dev loss not worse beyond noise.

    python -m benchmarks.peer_llamafactory [--steps 10] [--batch-size 8] [--max-length 320] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report_json
from benchmarks.bench_data import RECIPES, load_data
from benchmarks.measure import paired_noise
from benchmarks.peer_venv import VENV, PeerInstallError, ensure_venv, python_of

DRIVER = Path(__file__).with_name("peer_llamafactory_driver.py")
GOALS = {"ratio_vs_llamafactory": 1.5, "ratio_vs_trl_baseline": 3.0}


def write_dataset(examples: list[Any], folder: Path) -> str:
    """The training examples as a ShareGPT-style file LLaMA-Factory reads (the system turn first)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"messages": [{"role": m["role"], "content": m["content"]} for m in e.messages]} for e in examples]
    (folder / "bitext_train.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    info = {
        "bitext_train": {
            "file_name": "bitext_train.json",
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }
    }
    (folder / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return "bitext_train"


def llamafactory_args(recipe: Any, model_path: str, dataset_dir: Path, out_dir: Path, bf16: bool) -> dict[str, Any]:
    t, lora = recipe.training, recipe.lora
    return {
        "model_name_or_path": model_path,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": lora.r,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "lora_target": "all",
        "quantization_bit": 4,
        "quantization_method": "bnb",
        "quantization_type": "nf4",
        "double_quantization": True,
        "dataset": "bitext_train",
        "dataset_dir": str(dataset_dir),
        "template": "smollm2",
        "cutoff_len": t.max_length,
        "overwrite_cache": True,
        "output_dir": str(out_dir),
        "logging_steps": 1,
        "save_strategy": "no",
        "per_device_train_batch_size": t.batch_size,
        "gradient_accumulation_steps": 1,
        "learning_rate": t.learning_rate,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_ratio": t.warmup_ratio,
        "max_steps": t.max_steps,
        "seed": t.seed,
        "bf16": bf16,
        "use_cpu": True,  # transformers refuses bf16 without a GPU unless told the run is on the CPU
        "report_to": "none",
        "plot_loss": False,
    }


def run_llamafactory(spec: dict[str, Any], workdir: Path, venv_dir: Path, log: Any) -> dict[str, Any]:
    spec_file, out_file = workdir / "spec.json", workdir / "out.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    env = {"DISABLE_VERSION_CHECK": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    import os

    started = time.perf_counter()
    done = subprocess.run(
        [str(python_of(venv_dir)), str(DRIVER), str(spec_file), str(out_file)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
        cwd=workdir,
    )
    (workdir / "llamafactory.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0 or not out_file.exists():
        raise RuntimeError(f"LLaMA-Factory exited with {done.returncode}: {(done.stdout + done.stderr)[-2000:]}")
    out = json.loads(out_file.read_text(encoding="utf-8"))
    out["wall_s"] = round(time.perf_counter() - started, 1)
    return out


def summarize_peer(name: str, out: dict[str, Any], batch_size: int) -> dict[str, Any]:
    seconds = out["step_seconds"][1:]
    batches = out["batches"][1:]
    if not seconds or len(batches) != len(seconds):
        raise RuntimeError(f"{name}: {len(out['step_seconds'])} steps timed but {len(out['batches'])} batches recorded")
    useful = sum(b["useful"] for b in batches)
    padded = sum(b["padded"] for b in batches)
    return {
        "lever": name,
        "useful_tokens_per_s": round(useful / sum(seconds), 1),
        "samples_per_s": round(batch_size * len(seconds) / sum(seconds), 3),
        "seconds_per_step": round(statistics.fmean(seconds), 3),
        "padding_fraction": round(1 - useful / padded, 4) if padded else 0.0,
        "timed_steps": len(seconds),
        "dev_loss": round(statistics.fmean(out["dev_losses"]), 4),
        "step_seconds": [round(s, 2) for s in out["step_seconds"]],
        "gradient_checkpointing": out.get("gradient_checkpointing"),
        "dtype": "bf16" if out.get("bf16") else "float32",
        "parameter_dtypes": out.get("parameter_dtypes"),
        "threads": out.get("torch_threads"),
        "wall_s": out.get("wall_s"),
    }


def run(
    *,
    steps: int = 10,
    batch_size: int = 8,
    max_length: int = 320,
    max_dev_rows: int = 32,
    variants: tuple[str, ...] = ("trl_baseline", "product"),
    peer_precisions: tuple[str, ...] = ("bf16", "fp32"),
    max_conversations: int | None = None,
    venv_dir: Path = VENV,
    log: Any = print,
) -> dict[str, Any]:
    from benchmarks.train_throughput import VARIANTS, _common_overrides, run_variant
    from builder.models.loading import resolve_base_model

    try:
        peer_env = ensure_venv(venv_dir, log=log)
    except PeerInstallError as err:
        return {"blocked": str(err), "install_steps": err.steps}
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        tmpdir = Path(tmp)
        overrides = [*_common_overrides(steps, batch_size, max_length), f"data.max_dev_examples={max_dev_rows}"]
        recipe = RECIPES["bitext"](max_conversations, overrides, None)
        data = load_data(recipe, tmpdir)
        model_path = str(resolve_base_model(recipe.base_model))
        log(
            f"peer: {len(data.train_rows)} train / {len(data.dev_rows)} dev Bitext examples; "
            f"{steps} steps x batch {batch_size}, max_length {max_length}; model {model_path}"
        )
        sides: dict[str, dict[str, Any]] = {}
        dev_losses: dict[str, list[float]] = {}
        for name in variants:
            r = run_variant(VARIANTS[name], data, steps, tmpdir)
            sides[name] = {**r.as_dict(), "samples_per_s": round(batch_size / r.seconds_per_step, 3)}
            dev_losses[name] = r.dev_losses
            log(f"  {name:24s} {r.useful_tokens_per_s:7.1f} useful tok/s, dev loss {r.dev_loss:.4f}")
        dataset_dir = tmpdir / "lf_data"
        write_dataset(data.train_examples, dataset_dir)
        for precision in peer_precisions:
            name = f"llamafactory_{precision}"
            workdir = tmpdir / name
            workdir.mkdir()
            args = llamafactory_args(recipe, model_path, dataset_dir, workdir / "out", bf16=precision == "bf16")
            spec = {"args": args, "dev_rows": data.dev_rows}
            out = run_llamafactory(spec, workdir, venv_dir, log)
            sides[name] = summarize_peer(f"LLaMA-Factory 0.9.5, {precision}", out, batch_size)
            sides[name]["config"] = {k: v for k, v in args.items() if k not in ("dataset_dir", "output_dir")}
            dev_losses[name] = out["dev_losses"]
            side = sides[name]
            log(f"  {name:24s} {side['useful_tokens_per_s']:7.1f} useful tok/s, dev loss {side['dev_loss']}")
    product = sides["product"]
    result: dict[str, Any] = {
        "data": "Bitext, support recipe mapping, all of it" if not max_conversations else f"first {max_conversations}",
        "train_examples": len(data.train_rows),
        "dev_examples": len(data.dev_rows),
        "steps": steps,
        "batch_size": batch_size,
        "max_length": max_length,
        "base_model": model_path,
        "peer": peer_env["versions"],
        "sides": sides,
    }
    for name, side in sides.items():
        if name == "product":
            continue
        side["product_ratio"] = round(product["useful_tokens_per_s"] / side["useful_tokens_per_s"], 3)
        side["dev_loss_delta_product_minus_this"] = round(product["dev_loss"] - side["dev_loss"], 4)
        side["dev_loss_noise"] = round(paired_noise(dev_losses["product"], dev_losses[name]), 4)
    peers = [n for n in sides if n.startswith("llamafactory")]
    if peers:
        fastest = max(peers, key=lambda n: sides[n]["useful_tokens_per_s"])
        result["ratio_vs_llamafactory"] = sides[fastest]["product_ratio"]
        result["ratio_vs_llamafactory_against"] = fastest
    if "trl_baseline" in sides:
        result["ratio_vs_trl_baseline"] = sides["trl_baseline"]["product_ratio"]
    result["goals"] = GOALS
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer_llamafactory", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=320)
    parser.add_argument("--max-dev-rows", type=int, default=32)
    parser.add_argument("--variants", default="trl_baseline,product", help="the product's side(s) and TRL's")
    parser.add_argument("--peer-precisions", default="bf16,fp32", help="LLaMA-Factory with bf16: true and/or float32")
    parser.add_argument("--max-conversations", type=int, default=None, help="smoke tests only (Bitext is sorted)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(
        steps=args.steps,
        batch_size=args.batch_size,
        max_length=args.max_length,
        max_dev_rows=args.max_dev_rows,
        variants=tuple(v for v in args.variants.split(",") if v),
        peer_precisions=tuple(p for p in args.peer_precisions.split(",") if p),
        max_conversations=args.max_conversations,
    )
    report_json(result, args.json)
    return 1 if "blocked" in result else 0


if __name__ == "__main__":
    sys.exit(main())
