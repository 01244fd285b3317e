"""Does ``training.cpu_bf16: auto`` keep the dev loss, and what does it win? Two seeds give the noise.

For each data set (Bitext with the support recipe, the real sentiment reviews) and each quantization
(4-bit NF4, full-precision LoRA), the product trains with ``training.cpu_bf16: false`` (float32) and
``auto`` (bf16 autocast where the CPU has native bf16: AVX512-BF16, AMX or Arm BF16), each with two
training seeds (LoRA initialisation, dropout and the batches drawn; the dev split is the same rows for
all). Reported per pair: useful tokens per second (``benchmarks.train_throughput``'s measure), the
dev loss of each run, the bf16 - float32 difference per seed and its mean, and the noise as what
changing only the seed does: the largest of the float32 and the bf16 seed-to-seed differences.
``holds``: the mean difference is not above that noise.

    python -m benchmarks.bf16_check [--datasets bitext,sentiment] [--quantizations 4bit,none]
        [--seeds 42,43] [--steps N] [--batch-size N] [--json OUT]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report_json
from benchmarks.bench_data import RECIPES, load_data
from benchmarks.measure import paired_noise

# Tens of steps: enough for the dev loss to move well away from the base model's on both data sets.
DEFAULTS = {"bitext": {"steps": 12, "batch_size": 4}, "sentiment": {"steps": 20, "batch_size": 8}}
PRECISIONS = {"fp32": "false", "bf16": "auto"}


def run_pair(
    dataset: str,
    quantization: str,
    seeds: list[int],
    data: Any,
    steps: int,
    workdir: Path,
    log: Any,
) -> dict[str, Any]:
    from benchmarks.train_throughput import Variant, run_variant

    runs: dict[str, dict[int, Any]] = {p: {} for p in PRECISIONS}
    for seed in seeds:
        for precision, value in PRECISIONS.items():
            name = f"{quantization}_{precision}_seed{seed}"
            overrides = [f"quantization={quantization}", f"training.cpu_bf16={value}", f"training.seed={seed}"]
            r = run_variant(Variant(name, f"cpu_bf16={value}, seed {seed}", overrides), data, steps, workdir)
            runs[precision][seed] = r
            log(
                f"  {dataset} {name:22s} {r.info['dtype']:14s} {r.useful_tokens_per_s:7.1f} useful tok/s, "
                f"dev loss {r.dev_loss:.4f} (steps {r.info['step_seconds']})"
            )
    fp32, bf16 = runs["fp32"], runs["bf16"]
    deltas = [bf16[s].dev_loss - fp32[s].dev_loss for s in seeds]
    seed_spread = {
        p: abs(runs[p][seeds[0]].dev_loss - runs[p][seeds[-1]].dev_loss) if len(seeds) > 1 else None for p in PRECISIONS
    }
    noise = max(v for v in seed_spread.values() if v is not None) if len(seeds) > 1 else None
    mean_delta = statistics.fmean(deltas)
    speed = {p: statistics.fmean(runs[p][s].useful_tokens_per_s for s in seeds) for p in PRECISIONS}
    return {
        "quantization": quantization,
        "bf16_switched_on": all(bf16[s].info["dtype"] == "bf16 autocast" for s in seeds),
        "useful_tokens_per_s": {p: round(v, 1) for p, v in speed.items()},
        "speed_ratio_bf16": round(speed["bf16"] / speed["fp32"], 3),
        "dev_loss": {p: {str(s): round(runs[p][s].dev_loss, 4) for s in seeds} for p in PRECISIONS},
        "dev_loss_delta_bf16_minus_fp32": {str(s): round(d, 4) for s, d in zip(seeds, deltas, strict=True)},
        "dev_loss_delta_mean": round(mean_delta, 4),
        "seed_to_seed": {p: v if v is None else round(v, 4) for p, v in seed_spread.items()},
        "noise": None if noise is None else round(noise, 4),
        "paired_row_noise": {str(s): round(paired_noise(bf16[s].dev_losses, fp32[s].dev_losses), 4) for s in seeds},
        "holds": None if noise is None else mean_delta <= noise,
        "runs": {f"{p}_seed{s}": runs[p][s].as_dict() for p in PRECISIONS for s in seeds},
    }


def run(
    *,
    datasets: list[str],
    quantizations: list[str],
    seeds: list[int],
    steps: int | None = None,
    batch_size: int | None = None,
    max_dev_rows: int = 32,
    log: Any = print,
) -> dict[str, Any]:
    from benchmarks.train_throughput import MAX_LENGTHS, _common_overrides
    from builder.models.devices import cpu_native_bf16

    out: dict[str, Any] = {"cpu_native_bf16": cpu_native_bf16(), "seeds": seeds, "results": {}}
    for dataset in datasets:
        n_steps = steps or DEFAULTS[dataset]["steps"]
        n_batch = batch_size or DEFAULTS[dataset]["batch_size"]
        with tempfile.TemporaryDirectory(prefix="bench-bf16-") as tmp:
            overrides = [
                *_common_overrides(n_steps, n_batch, MAX_LENGTHS[dataset]),
                f"data.max_dev_examples={max_dev_rows}",
            ]
            data = load_data(RECIPES[dataset](None, overrides, None), Path(tmp))
            log(
                f"bf16_check: {dataset}, {len(data.train_rows)} train / {len(data.dev_rows)} dev; "
                f"{n_steps} steps x batch {n_batch}, max_length {MAX_LENGTHS[dataset]}"
            )
            for quantization in quantizations:
                started = time.perf_counter()
                pair = run_pair(dataset, quantization, seeds, data, n_steps, Path(tmp), log)
                pair.update(steps=n_steps, batch_size=n_batch, max_length=MAX_LENGTHS[dataset])
                pair["dev_examples"] = len(data.dev_rows)
                pair["seconds"] = round(time.perf_counter() - started, 1)
                out["results"][f"{dataset}_{quantization}"] = pair
    verdicts = [r["holds"] for r in out["results"].values()]
    out["all_hold"] = all(v is True for v in verdicts) if verdicts else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bf16_check", description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="bitext,sentiment")
    parser.add_argument("--quantizations", default="4bit,none")
    parser.add_argument("--seeds", default="42,43")
    parser.add_argument("--steps", type=int, default=None, help="default: 12 on Bitext, 20 on sentiment")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 4 on Bitext, 8 on sentiment")
    parser.add_argument("--max-dev-rows", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(
        datasets=args.datasets.split(","),
        quantizations=args.quantizations.split(","),
        seeds=[int(s) for s in args.seeds.split(",")],
        steps=args.steps,
        batch_size=args.batch_size,
        max_dev_rows=args.max_dev_rows,
    )
    report_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
