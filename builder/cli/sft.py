"""Fine-tune a base model on a recipe: ``python -m builder.sft recipe.yaml``.

The command line of a training run (``builder.train.run`` does the run): ``train`` here adds
what the layers above training own, a feedback round's data and trainer and the evaluation at the
end, so that every caller (the CLI, the job queue, a feedback round, the tests) trains the same way.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from builder.config.recipe import Recipe, RecipeError, load_recipe
from builder.run import rundir
from builder.train import run as training_run
from builder.train.run import data_warnings, fit_check, resolved_recipe, summarize

HELP_EPILOG = f"""\
examples:
  python -m builder.sft recipes/support.yaml
  python -m builder.sft recipes/support.yaml --set training.max_steps=3 --output-dir runs/try
  python -m builder.sft recipes/sentiment.yaml --set quantization=none --set training.learning_rate=1e-4
  python -m builder.sft recipes/support.yaml --dry-run
  python -m builder.sft recipes/support.yaml --output-dir runs/try --resume
  accelerate launch --cpu --num_processes 2 -m builder.sft recipes/support.yaml --set quantization=none

The run directory holds {rundir.listing()}.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m builder.sft",
        description="Fine-tune a chat model with (Q)LoRA on the data and settings of a recipe.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recipe", type=Path, help="the recipe YAML file (see recipes/)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="dotted.key=value",
        help="override any recipe key, e.g. --set training.max_steps=3 --set quantization=none (repeatable)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="the run directory (default: runs/<recipe name>-<date>-<time>)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the recipe, build the dataset and print a summary (examples, token lengths, "
        "examples cut by max_length, steps planned, data warnings) without loading the model or training",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in --output-dir (after a crash, a kill or a stop)",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=None,
        metavar="GB",
        help="the memory this run may use, when less than the device has (default: available RAM, or the GPU's); "
        "a run estimated above it is refused before the model loads, with the changes that would make it fit",
    )
    parser.add_argument(
        "--skip-fit-check", action="store_true", help="train even when the memory estimate says it will not fit"
    )
    return parser.parse_args(argv)


def train(recipe: Recipe, output_dir: Path, **options: Any) -> Path:
    """``training_run.train`` (same options), with a feedback round's data and trainer when the recipe
    continues a run, and the evaluation at the end."""
    from builder.evaluate.runner import evaluate_run

    if recipe.feedback.parent_run:  # a round from a run's playground feedback
        from builder.feedback.rounds import prepare_round

        options.setdefault("prepare", prepare_round)
        if recipe.method == "dpo":  # preference pairs from the votes instead of the examples
            from builder.feedback.dpo import build_dpo_trainer

            options.setdefault("build", build_dpo_trainer)
    options.setdefault("evaluate", evaluate_run)
    return training_run.train(recipe, output_dir, **options)


def dry_run(recipe: Recipe, memory_limit_bytes: int | None = None) -> int:
    import tempfile

    from builder.data.dataset import prepare_splits, tokenize_examples
    from builder.models.loading import load_tokenizer

    recipe = resolved_recipe(recipe)
    with tempfile.TemporaryDirectory(prefix="dry-run-") as workdir:
        splits = prepare_splits(recipe, Path(workdir))
        tokenizer = load_tokenizer(recipe.base_model, trust_remote_code=recipe.trust_remote_code)
        rows, stats = tokenize_examples(splits.train, tokenizer, recipe.training.max_length)
        _, dev_stats = tokenize_examples(splits.dev, tokenizer, recipe.training.max_length)
        print(summarize(recipe, splits, stats, dev_stats))
        report = splits.data_report
        print(
            f"data report   seen {report.get('seen')}, kept {report.get('kept')}, "
            f"quarantined {report.get('quarantined')}, duplicates {report.get('duplicates')}"
        )
        warnings = data_warnings(recipe, splits, stats)
        for warning in warnings:
            print(f"warning: {warning}")
        if not warnings:
            print("no data warnings")
        print_capacity(recipe, rows, memory_limit_bytes)
    return 0


def print_capacity(recipe: Recipe, rows: list[dict], memory_limit_bytes: int | None) -> None:
    """The memory and time estimate on this device, and which GPU sizes the run would fit."""
    from builder.models import capacity

    try:
        estimate = fit_check(recipe, rows, recipe.name, memory_limit_bytes)
        print("\n".join(estimate.lines()))
    except capacity.CapacityError as err:
        print(f"warning: {err}")
        estimate = fit_check(recipe, rows, recipe.name, memory_limit_bytes, refuse=False)
    shape, plan = capacity.recipe_plan(recipe, estimate.device, rows)
    print(
        "on GPUs       "
        + ", ".join(
            f"{row['device'].removeprefix('GPU ')}: {row['peak_gb']:.1f} GB {'fits' if row['fits'] else 'no'}"
            for row in capacity.memory_table(shape, plan, estimate.device)[1:]
        )
    )


def default_output_dir(recipe: Recipe) -> Path:
    return Path("runs") / f"{recipe.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        recipe = load_recipe(args.recipe, args.overrides)
        memory_limit = int(args.memory_limit * 2**30) if args.memory_limit else None
        if args.dry_run:
            return dry_run(recipe, memory_limit)
        if args.resume and args.output_dir is None:
            raise RecipeError("--resume needs --output-dir: the run directory to continue")
        train(
            recipe,
            args.output_dir or default_output_dir(recipe),
            resume=args.resume,
            memory_limit_bytes=memory_limit,
            check_fit=not args.skip_fit_check,
        )
    except RecipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        from builder.models.loading import ModelNotAvailableError

        if isinstance(err, (ModelNotAvailableError, FileNotFoundError, ValueError)):
            print(f"error: {err}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
