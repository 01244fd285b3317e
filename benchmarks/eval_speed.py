"""Evaluation time: the evaluation engine against the former computation, and against the training time.

On the Spanish sentiment recipe (``recipes/real/sentiment_es.yaml``: Gemma 3 270M, full-precision LoRA,
three labels, 3-shot base), one short training run is made with ``builder.cli.sft.train``; its seconds per
step (steps 2..N, from ``metrics.jsonl``) give the time of the recipe's full ``training.max_steps``.
Then the three systems (base, few-shot base, tuned) are evaluated with ``builder.evaluate.runner.evaluate_loaded``
on the first ``--max-examples`` dev tweets with the engine the product uses
(``builder.evaluate.answers.answer_prompts``) and on the first ``--reference-examples`` with the former
computation (``benchmarks.eval_reference``), the model loaded once for both. Reported:

- ``speedup_vs_reference``: seconds per dev example, former / engine (on the same examples);
- ``identical``: the two computations' eval.json figures compared (``compare_results``) on those examples;
- ``eval_to_train_ratio``: the engine's time for the recipe's whole dev set (seconds per example x dev
  examples) against the recipe's full training time (seconds per step x max_steps). Goal (issue 30): <= 1/3.

Both full-size figures are projections from the measured rates when fewer steps or examples are run
(the JSON says how many were measured).

    python -m benchmarks.eval_speed [--steps 30] [--max-examples 324] [--reference-examples 48] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report_json
from benchmarks.sentiment_es import OUT as SENTIMENT_ES_DATA
from benchmarks.sentiment_es import SOURCE as SENTIMENT_ES_SOURCE
from benchmarks.sentiment_es import convert

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "real" / "sentiment_es.yaml"
GOAL_EVAL_TO_TRAIN = 1 / 3


def ensure_data() -> None:
    """The recipe reads runs/data/sentiment_es/*.jsonl, written from ../shared/data/real by benchmarks.sentiment_es."""
    if not (SENTIMENT_ES_DATA / "train.jsonl").exists() or not (SENTIMENT_ES_DATA / "validation.jsonl").exists():
        if not SENTIMENT_ES_SOURCE.exists():
            raise FileNotFoundError(
                f"{SENTIMENT_ES_SOURCE} is absent: the evaluation benchmark needs ../shared/data/real"
            )
        convert(SENTIMENT_ES_SOURCE, SENTIMENT_ES_DATA)


def seconds_per_step(metrics_file: Path) -> tuple[float, int]:
    """Mean seconds per step after the first (warm-up) step, from the logged elapsed times; and how many steps."""
    elapsed: dict[int, float] = {}
    for line in metrics_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "loss" in record and "elapsed_s" in record and not record.get("final"):
            elapsed[int(record["step"])] = float(record["elapsed_s"])
    steps = sorted(elapsed)
    if len(steps) < 2:
        raise ValueError(f"{metrics_file}: fewer than two logged steps, no time per step")
    return (elapsed[steps[-1]] - elapsed[steps[0]]) / (steps[-1] - steps[0]), steps[-1]


def recipe_dev_examples(recipe: Any) -> int:
    """How many dev examples the recipe's evaluation answers: its dev files' records, within its caps."""
    records = sum(
        1
        for path in recipe.data.dev
        for line in recipe.resolve_path(path).read_text(encoding="utf-8").splitlines()
        if line.strip()
    )
    return min(records, recipe.data.max_dev_examples, recipe.eval.max_examples)


def train_short(
    recipe_path: Path, steps: int, out: Path, base_model: str | None, dev_cap: int | None = None
) -> dict[str, Any]:
    """``dev_cap``: keep only that many dev examples in the run (the end-of-training dev loss then costs less)."""
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe
    from builder.run.rundir import RunDir

    overrides = [f"training.max_steps={steps}", "training.logging_steps=1", "eval.enabled=false"]
    overrides += ["training.save_steps=100000", "training.eval_steps=100000", "training.max_minutes=null"]
    if base_model:
        overrides.append(f"base_model={base_model}")
    if dev_cap is not None:
        overrides.append(f"data.max_dev_examples={dev_cap}")
    full = load_recipe(recipe_path, [f"base_model={base_model}"] if base_model else [])
    started = time.perf_counter()
    train(load_recipe(recipe_path, overrides), out)
    wall = time.perf_counter() - started
    per_step, logged = seconds_per_step(RunDir(out).metrics_file)
    return {
        "steps_run": logged,
        "seconds_per_step": round(per_step, 3),
        "recipe_max_steps": full.training.max_steps,
        "train_seconds_projected": round(per_step * full.training.max_steps, 1),
        "wall_s_including_load": round(wall, 1),
        "precision": RunDir(out).info().precision,
    }


def time_evaluation(run_dir: Path, loaded: tuple[Any, Any, Any], n: int, answerer: Any) -> tuple[float, dict[str, Any]]:
    from builder.evaluate.runner import evaluate_loaded

    model, tokenizer, recipe = loaded
    started = time.perf_counter()
    result = evaluate_loaded(run_dir, model, tokenizer, recipe, max_examples=n, answerer=answerer)
    return time.perf_counter() - started, result


def run(
    *,
    steps: int = 30,
    max_examples: int | None = None,
    reference_examples: int = 48,
    base_model: str | None = None,
    recipe_path: Path = RECIPE,
    log: Any = print,
) -> dict[str, Any]:
    """``max_examples`` None: the recipe's whole dev set (eval.max_examples of the validation split)."""
    from benchmarks.eval_reference import answer_prompts_reference, compare_results
    from builder.config.recipe import load_recipe
    from builder.models.loading import load_tuned

    ensure_data()
    dev_total = recipe_dev_examples(load_recipe(recipe_path))
    n = min(max_examples or dev_total, dev_total)
    n_ref = min(reference_examples, n)
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        run_dir = Path(tmp) / "run"
        log(f"eval_speed: training {steps} steps of {recipe_path.name}")
        training = train_short(recipe_path, steps, run_dir, base_model, dev_cap=n if n < dev_total else None)
        t0 = time.perf_counter()
        loaded = load_tuned(run_dir)
        load_s = time.perf_counter() - t0
        recipe = loaded[2]
        log(f"eval_speed: evaluating the three systems on {n} dev examples (engine), {n_ref} (former computation)")
        engine_s, engine = time_evaluation(run_dir, loaded, n, None)
        if n_ref == n:
            engine_ref_s, engine_on_ref = engine_s, engine
        else:
            engine_ref_s, engine_on_ref = time_evaluation(run_dir, loaded, n_ref, None)
        reference_s, reference = time_evaluation(run_dir, loaded, n_ref, answer_prompts_reference)
    engine_per_example = engine_s / n
    eval_projected = engine_per_example * dev_total
    ratio = eval_projected / training["train_seconds_projected"]
    return {
        "recipe": str(recipe_path.relative_to(REPO)) if recipe_path.is_relative_to(REPO) else str(recipe_path),
        "base_model": recipe.base_model,
        "training": training,
        "model_load_s": round(load_s, 1),
        "dev_examples_in_recipe": dev_total,
        "engine": {
            "examples": n,
            "seconds": round(engine_s, 1),
            "seconds_per_example": round(engine_per_example, 3),
            "per_system_seconds": {s: v.get("seconds") for s, v in engine["systems"].items()},
            "main_metric": {s: v["metrics"].get(engine["main_metric"]) for s, v in engine["systems"].items()},
        },
        "reference": {
            "examples": n_ref,
            "seconds": round(reference_s, 1),
            "seconds_per_example": round(reference_s / n_ref, 3),
            "engine_seconds_same_examples": round(engine_ref_s, 1),
        },
        "speedup_vs_reference": round(reference_s / engine_ref_s, 3),
        "identical": compare_results(engine_on_ref, reference),
        "eval_seconds_projected": round(eval_projected, 1),
        "eval_to_train_ratio": round(ratio, 3),
        "goal_eval_to_train_ratio": round(GOAL_EVAL_TO_TRAIN, 3),
        "meets_goal": ratio <= GOAL_EVAL_TO_TRAIN,
        "projection": (
            f"training: {training['steps_run']} steps measured, time per step x {training['recipe_max_steps']}; "
            f"evaluation: {n} of {dev_total} dev examples measured"
            + ("" if n == dev_total else ", time per example x the whole dev set")
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps measured (default 30)")
    parser.add_argument("--max-examples", type=int, default=None, help="dev examples for the engine (default: all)")
    parser.add_argument("--reference-examples", type=int, default=48, help="dev examples for the former computation")
    parser.add_argument("--recipe", type=Path, default=RECIPE)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(
        steps=args.steps,
        max_examples=args.max_examples,
        reference_examples=args.reference_examples,
        base_model=args.base_model,
        recipe_path=args.recipe,
    )
    report_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
