"""Playground: memory of the side-by-side engine against one model alone, first-token time and speed per side.

Each measurement runs in a fresh Python process so that one does not inherit the other's memory:

- ``single``: the base model alone (``builder.models.loading.load_model``, the run's quantization), one answer;
- ``engine``: ``builder.serve.chat.ChatEngine`` on a run directory (one base model with the run's LoRA adapter,
  the base side answering inside ``disable_adapter()``), one answer per side.

Memory is the process's resident set (psutil) after loading and its peak (VmHWM) after the
answers; the ratio compares the engine's peak with the single model's peak. Each answer is greedy, after
a 4-token warm-up per side; first-token time is from the request to the first streamed text, tokens per
second counts the tokens after the first one. The run directory holds an untrained LoRA adapter made with
PEFT (r and targets from the support recipe): its memory and compute are those of a trained one.

    python -m benchmarks.playground [--quick] [--quantization 4bit|none] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import report_json

REPO = Path(__file__).resolve().parents[1]
GOAL_MEMORY_RATIO = 1.15
PROMPT = [{"role": "user", "content": "Hola, mi pedido no ha llegado todavía. ¿Qué puedo hacer y cuánto suele tardar?"}]


def make_run_dir(root: Path, base_model: str, quantization: str) -> Path:
    """A run directory as ``builder.cli.sft`` leaves it, with an untrained adapter (the support recipe's LoRA)."""
    import torch
    from peft import get_peft_model

    from builder.config.recipe import load_recipe
    from builder.models.loading import load_model, load_tokenizer
    from builder.run.rundir import RunDir, write_text_atomic
    from builder.train.trainer import lora_config

    recipe = load_recipe(
        REPO / "recipes" / "support.yaml", [f"base_model={base_model}", f"quantization={quantization}"]
    )
    run = RunDir(root / "run")
    write_text_atomic(run.recipe_file, recipe.to_yaml())
    run.update_info(status="completed", quantization=quantization)
    load_tokenizer(base_model).save_pretrained(run.tokenizer)
    torch.manual_seed(0)
    model, _ = load_model(base_model, "none", device="cpu")
    get_peft_model(model, lora_config(recipe.lora)).save_pretrained(run.adapter, safe_serialization=True)
    return run.path


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the process image, so it starts afresh at exec; ``ru_maxrss``
    does not (Linux carries it over from the parent at fork), which would report a big parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def timed_stream(pieces: Any, tokenizer: Any, started: float) -> dict[str, float]:
    """First-token time and tokens per second of a stream of growing texts (each value is the text so far)."""
    first = None
    text = ""
    for text in pieces:
        if first is None and text:
            first = time.perf_counter()
    ended = time.perf_counter()
    tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    first = first or ended
    rate = (tokens - 1) / (ended - first) if tokens > 1 and ended > first else 0.0
    return {"first_token_s": round(first - started, 3), "tokens": tokens, "tokens_per_s": round(rate, 2)}


def _single_stream(model: Any, tokenizer: Any, messages: list[dict[str, str]], sampling: Any) -> Any:
    """The plain model's answer, streamed the way the engine streams it (a generate thread + a streamer)."""
    import torch
    from transformers import TextIteratorStreamer

    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)

    failure: list[BaseException] = []

    def work() -> None:
        try:
            with torch.inference_mode():
                model.generate(
                    input_ids=encoded["input_ids"],
                    attention_mask=encoded["attention_mask"],
                    streamer=streamer,
                    pad_token_id=tokenizer.pad_token_id,
                    **sampling.generate_kwargs(),
                )
        except BaseException as err:  # without this the reader below would wait forever
            failure.append(err)
        finally:
            streamer.end()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    text = ""
    for piece in streamer:
        text += piece
        yield text
    worker.join()
    if failure:
        raise failure[0]


def child(mode: str, run_dir: Path, max_new_tokens: int) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    from builder.serve.chat import ChatEngine, Sampling

    result: dict[str, Any] = {"mode": mode, "rss_before_load_mb": round(_rss_mb(), 1)}
    warmup = Sampling(max_new_tokens=4, temperature=0)
    sampling = Sampling(max_new_tokens=max_new_tokens, temperature=0)
    started = time.perf_counter()
    if mode == "single":
        from builder.models.loading import load_model, load_saved_tokenizer
        from builder.run.rundir import RunDir

        run = RunDir(run_dir)
        recipe = run.recipe()
        model, _ = load_model(recipe.base_model, run.info().quantization or "none", device="cpu")
        model.eval()
        tokenizer = load_saved_tokenizer(run.tokenizer)
        result["load_s"] = round(time.perf_counter() - started, 2)
        result["rss_after_load_mb"] = round(_rss_mb(), 1)
        for _ in _single_stream(model, tokenizer, PROMPT, warmup):
            pass
        t0 = time.perf_counter()
        result["single"] = timed_stream(_single_stream(model, tokenizer, PROMPT, sampling), tokenizer, t0)
    else:
        engine = ChatEngine()
        loaded = engine.load(run_dir)
        result["load_s"] = round(time.perf_counter() - started, 2)
        result["rss_after_load_mb"] = round(_rss_mb(), 1)
        for side in ("base", "tuned"):
            for _ in engine.stream(run_dir, side, PROMPT, warmup):
                pass
        for side in ("base", "tuned"):
            t0 = time.perf_counter()
            result[side] = timed_stream(engine.stream(run_dir, side, PROMPT, sampling), loaded.tokenizer, t0)
    result["rss_after_answers_mb"] = round(_rss_mb(), 1)
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def _run_child(mode: str, run_dir: Path, max_new_tokens: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.playground", "--child", mode, "--run-dir", str(run_dir)]
    command += ["--max-new-tokens", str(max_new_tokens)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"playground {mode} child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(
    *,
    quick: bool = False,
    base_model: str | None = None,
    quantization: str = "4bit",
    max_new_tokens: int | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    from builder.config.recipe import BUNDLED_MODEL

    base_model = base_model or BUNDLED_MODEL
    max_new_tokens = max_new_tokens or (32 if quick else 96)
    with tempfile.TemporaryDirectory(prefix="bench-playground-", dir=workdir) as tmp:
        run_dir = make_run_dir(Path(tmp), base_model, quantization)
        single = _run_child("single", run_dir, max_new_tokens)
        engine = _run_child("engine", run_dir, max_new_tokens)
    ratio = engine["peak_rss_mb"] / single["peak_rss_mb"]
    return {
        "base_model": base_model,
        "quantization": quantization,
        "max_new_tokens": max_new_tokens,
        "memory_ratio_side_by_side": round(ratio, 3),
        "memory_ratio_after_load": round(engine["rss_after_load_mb"] / single["rss_after_load_mb"], 3),
        "goal_memory_ratio": GOAL_MEMORY_RATIO,
        "meets_goal": ratio <= GOAL_MEMORY_RATIO,
        "first_token_s": engine["tuned"]["first_token_s"],
        "first_token_s_base_side": engine["base"]["first_token_s"],
        "first_token_s_single_model": single["single"]["first_token_s"],
        "tokens_per_s_tuned_side": engine["tuned"]["tokens_per_s"],
        "tokens_per_s_base_side": engine["base"]["tokens_per_s"],
        "tokens_per_s_single_model": single["single"]["tokens_per_s"],
        "single": single,
        "engine": engine,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 new tokens per answer instead of 96")
    parser.add_argument("--quantization", default="4bit", choices=["4bit", "8bit", "none"])
    parser.add_argument("--base-model", default=None, help="default: the bundled SmolLM2-135M-Instruct")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=["single", "engine"], help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.run_dir, args.max_new_tokens or 32)), flush=True)
        return 0
    result = run(
        quick=args.quick, base_model=args.base_model, quantization=args.quantization, max_new_tokens=args.max_new_tokens
    )
    report_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
