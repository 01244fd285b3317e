"""Playground memory: the side-by-side chat engine against one plain model and against two models.

Each figure comes from a fresh process (so nothing is shared or cached between them), as the
resident set size (RSS) after loading and answering one message:

- ``baseline``: Python with torch and transformers imported, no model;
- ``plain``: one base model loaded with ``builder.models.loading.load_model``, one answer generated;
- ``engine``: ``builder.serve.chat.ChatEngine`` with a run loaded (ONE base model, the adapter attached),
  the same message answered by the base side and the tuned side;
- ``two_models``: what a naive playground would hold: the base model, plus a second copy with the
  adapter attached.

The engine should cost about one plain model plus the (small) adapter; ``two_models`` shows what
it saves. Without ``--run-dir`` a run directory is made with a random (untrained) LoRA adapter on
the bundled model: memory does not depend on what the adapter learned.

    python -m benchmarks.chat_memory [--run-dir RUN] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MESSAGE = "Hello, where is my order? It was due on Monday."
MODES = ("baseline", "plain", "engine", "two_models")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(mode: str, run_dir: Path) -> dict[str, Any]:
    """Runs in the child process."""
    import torch
    import transformers  # noqa: F401  (the baseline counts the libraries every mode needs)

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    result: dict[str, Any] = {"mode": mode}
    if mode == "baseline":
        result["rss_mib"] = rss_mib()
        return result
    from builder.models.loading import load_model
    from builder.run.rundir import RunDir
    from builder.serve.chat import ChatEngine, Sampling

    recipe = RunDir(run_dir).recipe()
    sampling = Sampling(max_new_tokens=32, temperature=0)
    if mode == "engine":
        engine = ChatEngine()
        turns = list(engine.stream_pair(run_dir, MESSAGE, [], [], recipe.system_prompt, sampling))
        result["answers"] = {"base": turns[-1].base, "tuned": turns[-1].tuned}
    else:
        from peft import PeftModel

        model, _ = load_model(recipe.base_model, "none", device="cpu")
        from builder.models.loading import load_tokenizer

        tokenizer = load_tokenizer(recipe.base_model)
        inputs = tokenizer.apply_chat_template(
            [{"role": "user", "content": MESSAGE}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=32, do_sample=False)
        if mode == "two_models":
            second, _ = load_model(recipe.base_model, "none", device="cpu")
            tuned = PeftModel.from_pretrained(second, RunDir(run_dir).adapter)
            with torch.inference_mode():
                tuned.generate(**inputs, max_new_tokens=32, do_sample=False)
    result["rss_mib"] = rss_mib()
    return result


def make_random_run(root: Path) -> Path:
    """A run directory around the bundled model with an untrained (random) LoRA adapter."""
    from peft import get_peft_model

    from builder.config.recipe import BUNDLED_MODEL, LoraConfigSection
    from builder.models.loading import load_model, load_tokenizer
    from builder.run.rundir import RunDir, write_text_atomic
    from builder.train.trainer import lora_config

    run = RunDir(root / "memory-run")
    model, _ = load_model(BUNDLED_MODEL, "none", device="cpu")
    lora = lora_config(LoraConfigSection(), init_lora_weights=False)  # random, not zero: the sides differ
    get_peft_model(model, lora).save_pretrained(run.adapter)
    load_tokenizer(BUNDLED_MODEL).save_pretrained(run.tokenizer)
    write_text_atomic(run.recipe_file, f"name: memory\nbase_model: {BUNDLED_MODEL}\nquantization: none\n")
    run.update_info(status="completed", quantization="none")
    return run.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chat_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", type=Path, default=None, help="a finished run (default: a random adapter)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(measure(args.child, args.run_dir)))
        return 0

    with tempfile.TemporaryDirectory(prefix="chat-memory-") as tmp:
        run_dir = args.run_dir.resolve() if args.run_dir else make_random_run(Path(tmp))
        figures: dict[str, Any] = {}
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.chat_memory", "--child", mode, "--run-dir", str(run_dir)],
                capture_output=True,
                text=True,
                check=True,
            )
            figures[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{mode:>10}: RSS {figures[mode]['rss_mib']:.0f} MiB", flush=True)
    base = figures["baseline"]["rss_mib"]
    model_cost = {m: figures[m]["rss_mib"] - base for m in ("plain", "engine", "two_models")}
    summary = {
        "rss_mib": {m: round(figures[m]["rss_mib"], 1) for m in MODES},
        "above_baseline_mib": {m: round(v, 1) for m, v in model_cost.items()},
        "engine_vs_plain": round(model_cost["engine"] / model_cost["plain"], 2),
        "engine_vs_two_models": round(model_cost["engine"] / model_cost["two_models"], 2),
        "answers": figures["engine"].get("answers"),
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
