"""Run the benchmarks: ``python -m benchmarks [--quick] [--json OUT] [--only SECTION ...]``.

Sections, each a module of this package with its own ``run()``:

- ``train_throughput``: the product's training path against plain TRL on the real Bitext data and on the
  real sentiment reviews;
- ``playground``: side-by-side engine memory against one model, first-token time, tokens per second;
- ``import``: conversations per second and peak memory of the import CLI (``benchmarks.import_bench``);
- ``eval_speed``: the evaluation of the three systems on the Spanish sentiment recipe, against the former
  computation and against the recipe's training time (``benchmarks.eval_speed``);
- ``serve``: the API server's aggregate tokens/s and time to first token at 1, 4 and 8 clients at once
  (``benchmarks.serve_batching``);
- ``peer`` (only with ``--only peer``: it installs LLaMA-Factory in a venv of its own the first time):
  the product against LLaMA-Factory and plain TRL on Bitext (``benchmarks.peer_llamafactory``).

``--quick`` keeps the whole run within about 5 minutes on 2 idle CPU cores: fewer training steps and
only the baseline and the product (no levers), shorter answers, 20,000 conversations to import
instead of 100,000 (the JSON says which). A section that fails is reported in the JSON with its error,
and the runner exits 1 after running the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The import runs first: import_bench reads its child's peak memory from RUSAGE_CHILDREN, which is the
# largest of all children so far, and Linux carries a parent's peak into a forked child; so it must run
# before this process has grown (training) or had bigger children (the playground's).
SECTIONS = ("import", "playground", "serve", "train_throughput", "eval_speed")
OPTIONAL_SECTIONS = ("peer",)
# eval_speed: training steps timed, dev examples answered by the engine and by the former computation.
EVAL_SIZES = {"tiny": (2, 4, 4), "quick": (4, 16, 16), "full": (30, None, 48)}
IMPORT_CONVERSATIONS = {"quick": 20_000, "full": 100_000}


def machine() -> dict[str, Any]:
    """Without importing torch: this process must stay small until the import section has run (see above)."""
    import importlib.metadata as md

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": md.version("torch"),
    }


def run_train_throughput(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import train_throughput

    if args.tiny:
        return train_throughput.run(
            quick=True, steps=3, batch_size=2, max_length=96, max_conversations=80, base_model=args.base_model
        )
    return train_throughput.run(
        quick=args.quick,
        base_model=args.base_model,
        variants=args.variants.split(",") if args.variants else None,
        sentiment_variants=args.sentiment_variants.split(",") if args.sentiment_variants else None,
    )


def run_playground(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import playground

    return playground.run(quick=args.quick, base_model=args.base_model, max_new_tokens=6 if args.tiny else None)


def run_import(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import import_bench

    quick = args.quick or args.tiny
    n = 500 if args.tiny else IMPORT_CONVERSATIONS["quick" if quick else "full"]
    result = import_bench.run(n)
    result["note"] = (
        f"--quick imports {n:,} conversations; the goal is stated for 100,000 "
        "(python -m benchmarks --only import, or python -m benchmarks.import_bench)"
        if quick
        else "100,000 conversations"
    )
    return result


def run_eval_speed(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import eval_speed

    steps, examples, reference = EVAL_SIZES["tiny" if args.tiny else "quick" if args.quick else "full"]
    return eval_speed.run(steps=steps, max_examples=examples, reference_examples=reference, base_model=args.base_model)


def run_serve(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import serve_batching

    if args.tiny:
        return serve_batching.run(quick=True, base_model=args.base_model, max_tokens=4, requests=1)
    return serve_batching.run(quick=args.quick, base_model=args.base_model)


def run_peer(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import peer_llamafactory

    if args.tiny:
        return peer_llamafactory.run(
            steps=3, batch_size=2, max_length=96, max_dev_rows=4, max_conversations=200, peer_precisions=("bf16",)
        )
    return peer_llamafactory.run()


RUNNERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "train_throughput": run_train_throughput,
    "playground": run_playground,
    "import": run_import,
    "eval_speed": run_eval_speed,
    "serve": run_serve,
    "peer": run_peer,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="within about 5 minutes on 2 idle CPU cores")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS + OPTIONAL_SECTIONS, help="run only this section (repeatable)"
    )
    parser.add_argument("--base-model", default=None, help="train and chat on this model instead of the bundled one")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (a few steps, tokens, conversations)")
    parser.add_argument("--variants", help="train_throughput on Bitext: only these variants (comma-separated)")
    parser.add_argument("--sentiment-variants", help="train_throughput on the sentiment data: only these variants")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report: dict[str, Any] = {
        "quick": args.quick,
        "tiny": args.tiny,
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    failed = False
    started = time.perf_counter()
    for section in args.only or SECTIONS:
        print(f"== {section}", flush=True)
        t0 = time.perf_counter()
        try:
            report[section] = RUNNERS[section](args)
        except Exception as err:
            failed = True
            report[section] = {"error": f"{type(err).__name__}: {err}"}
            traceback.print_exc()
        report[section]["section_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"   {section}: {report[section]['section_seconds']} s", flush=True)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    report["summary"] = summary(report)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    print(json.dumps(report["summary"], indent=2))
    return 1 if failed else 0


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, one line each."""
    pick = {
        "train_throughput.ratio_vs_trl_baseline": ("train_throughput", "ratio_vs_trl_baseline"),
        "train_throughput.padding_fraction": ("train_throughput", "padding_fraction"),
        "train_throughput.padding_fraction_trl_baseline": ("train_throughput", "padding_fraction_trl_baseline"),
        "train_throughput.dev_loss_delta": ("train_throughput", "dev_loss_delta"),
        "train_throughput.sentiment.ratio_vs_trl_baseline": ("train_throughput", "sentiment", "ratio_vs_trl_baseline"),
        "train_throughput.sentiment.dev_loss_delta": ("train_throughput", "sentiment", "dev_loss_delta"),
        "playground.memory_ratio_side_by_side": ("playground", "memory_ratio_side_by_side"),
        "playground.first_token_s": ("playground", "first_token_s"),
        "import.conversations_per_s": ("import", "conversations_per_s"),
        "import.peak_rss_mb": ("import", "peak_rss_mb"),
        "eval_speed.eval_to_train_ratio": ("eval_speed", "eval_to_train_ratio"),
        "eval_speed.speedup_vs_reference": ("eval_speed", "speedup_vs_reference"),
        "serve.throughput_ratio_8_vs_1": ("serve", "throughput_ratio_8_vs_1"),
        "serve.ttft_ratio_8_vs_1": ("serve", "ttft_ratio_8_vs_1"),
        "peer.ratio_vs_llamafactory": ("peer", "ratio_vs_llamafactory"),
        "peer.ratio_vs_trl_baseline": ("peer", "ratio_vs_trl_baseline"),
    }
    out: dict[str, Any] = {}
    for key, path in pick.items():
        node: Any = report
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        out[key] = node
    return out


if __name__ == "__main__":
    sys.exit(main())
