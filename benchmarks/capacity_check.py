"""The capacity estimate against real CPU runs: peak resident memory and step time per quantization and length.

Each run is ``python -m builder.sft`` in a fresh process on the support recipe (bundled model, LoRA r16 on
all linear layers, batch 8) with conversations whose replies are longer than ``max_length``, so that every
batch is exactly batch x max_length tokens: the peak and the step's work are then well defined. The run
records its own estimate and its measured peak (VmHWM) in run.json; step times come from metrics.jsonl
(the first step, warm-up, is left out). The time estimate is shown twice: from the device's measured matmul
throughput alone, and calibrated on the first run (its measured step time sets the throughput; the other
runs are then predictions).

    python -m benchmarks.capacity_check [--json OUT] [--steps 4] [--lengths 128,320] [--quantizations none,4bit]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks.bench_data import BITEXT, SUPPORT_RECIPE
from builder.run.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]
MEMORY_TOLERANCE = 0.15
TIME_TOLERANCE = 0.25


def long_conversations(path: Path, count: int = 200, min_chars: int = 2500) -> Path:
    """Bitext requests with several replies joined into one long answer: longer than any max_length here."""
    with open(BITEXT, encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle)][: count * 4]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            reply, j = "", i
            while len(reply) < min_chars:
                reply += rows[j % len(rows)]["response"] + "\n\n"
                j += count
            messages = [{"role": "user", "content": rows[i]["instruction"]}, {"role": "assistant", "content": reply}]
            out.write(json.dumps({"messages": messages}) + "\n")
    return path


def write_recipe(folder: Path, data: Path, quantization: str, max_length: int, steps: int, batch: int) -> Path:
    raw = yaml.safe_load(SUPPORT_RECIPE.read_text(encoding="utf-8"))
    raw.update(quantization=quantization, name=f"capacity-{quantization}-{max_length}")
    raw["data"] = {"train": [str(data)], "dedupe": False, "dev_fraction": 0.0, "redact_pii": False}
    raw["training"].update(
        max_steps=steps,
        batch_size=batch,
        gradient_accumulation_steps=1,
        max_length=max_length,
        logging_steps=1,
        save_steps=10_000,
        eval_steps=10_000,
    )
    raw["eval"]["enabled"] = False
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def measure(recipe: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli.sft", str(recipe), "--output-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    run = RunDir(out)
    info = run.info().to_json()
    if proc.returncode != 0 or info.get("status") != "completed":
        return {"error": (info.get("error") or proc.stderr[-600:]).strip()}
    logged = run.metrics()
    elapsed = [r["elapsed_s"] for r in logged if "loss" in r and not r.get("final")]
    steps = [b - a for a, b in itertools.pairwise(elapsed)]  # step 1 (warm-up) left out
    return {
        "measured_peak_gb": info["peak_memory_gb"],
        "estimated_peak_gb": info["estimate"]["peak_gb"],
        "estimated_parts_gb": info["estimate"]["parts_gb"],
        "measured_s_per_step": round(statistics.median(steps), 2) if steps else None,
        "step_seconds": [round(s, 2) for s in steps],
        "estimated_s_per_step_uncalibrated": info["estimate"]["seconds_per_step"],
    }


def predicted_times(rows: list[dict[str, Any]], reference: dict[str, Any]) -> None:
    """Calibrate the device on ``reference``'s measured step, then predict every run's step time."""
    from builder.config.recipe import BUNDLED_MODEL
    from builder.models import capacity, devices
    from builder.models.capacity_plan import Plan
    from builder.models.loading import resolve_base_model
    from builder.models.shape import model_shape

    shape = model_shape(resolve_base_model(BUNDLED_MODEL))
    device = devices.present_device()

    def plan(row: dict[str, Any]) -> Plan:
        return Plan(
            row["quantization"], row["batch_size"], row["max_length"], labelled_fraction=row["labelled_fraction"]
        )

    calibrated = capacity.calibrate(shape, plan(reference), device, reference["measured_s_per_step"])
    for row in rows:
        if row.get("measured_s_per_step"):
            row["estimated_s_per_step_calibrated"] = round(
                capacity.estimate(shape, plan(row), calibrated).seconds_per_step, 2
            )
            row["time_error"] = round(row["estimated_s_per_step_calibrated"] / row["measured_s_per_step"] - 1, 3)
    reference["calibration_reference"] = True


def run(
    quantizations: tuple[str, ...] = ("none", "4bit", "8bit"),
    lengths: tuple[int, ...] = (128, 320),
    steps: int = 4,
    batch: int = 8,
    log: Any = print,
) -> dict[str, Any]:
    from builder.config.recipe import BUNDLED_MODEL
    from builder.data.dataset import tokenize_examples
    from builder.models.loading import load_tokenizer
    from builder.usecases import Example

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="capacity-check-") as tmp:
        folder = Path(tmp)
        data = long_conversations(folder / "long.jsonl")
        tokenizer = load_tokenizer(BUNDLED_MODEL)
        raw = yaml.safe_load(SUPPORT_RECIPE.read_text(encoding="utf-8"))
        for quantization in quantizations:
            for length in lengths:
                recipe = write_recipe(folder, data, quantization, length, steps, batch)
                row: dict[str, Any] = {"quantization": quantization, "max_length": length, "batch_size": batch}
                # the share of each (full-length) row the loss covers, for the time estimate
                first = json.loads(data.read_text().splitlines()[0])["messages"]
                system = [{"role": "system", "content": raw["system_prompt"]}]
                tokens, _ = tokenize_examples([Example(messages=system + first, reference="")], tokenizer, length)
                row["labelled_fraction"] = round(sum(tokens[0]["assistant_masks"]) / len(tokens[0]["input_ids"]), 3)
                row.update(measure(recipe, folder / f"run-{quantization}-{length}"))
                if "measured_peak_gb" in row:
                    row["memory_error"] = round(row["estimated_peak_gb"] / row["measured_peak_gb"] - 1, 3)
                log(json.dumps(row))
                rows.append(row)
    timed = [r for r in rows if r.get("measured_s_per_step")]
    if timed:
        predicted_times(timed, timed[0])
    memory_ok = [abs(r["memory_error"]) <= MEMORY_TOLERANCE for r in rows if "memory_error" in r]
    time_ok = [abs(r["time_error"]) <= TIME_TOLERANCE for r in rows if "time_error" in r and r is not timed[0]]
    return {
        "runs": rows,
        "memory_tolerance": MEMORY_TOLERANCE,
        "time_tolerance": TIME_TOLERANCE,
        "memory_within_tolerance": f"{sum(memory_ok)} of {len(memory_ok)}",
        "time_within_tolerance_after_calibration": f"{sum(time_ok)} of {len(time_ok)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quantizations", default="none,4bit,8bit")
    parser.add_argument("--lengths", default="128,320")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(
        tuple(args.quantizations.split(",")),
        tuple(int(n) for n in args.lengths.split(",")),
        args.steps,
        args.batch_size,
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
