"""One training run, top to bottom: resolve the recipe, build and tokenize the examples (loss on
assistant turns only), check that it fits, load the base model (4-bit, 8-bit or full precision) with
LoRA, train with TRL, save the adapter, and record it all in the run directory (``rundir.py``).

``builder.cli.sft`` is its command line; it also passes what the layers above own: a feedback round's
data and DPO trainer (``builder.feedback.rounds``, ``builder.feedback.dpo``) and the evaluation afterwards.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from builder.config.recipe import Recipe, RecipeError, recipe_from_dict
from builder.models import devices
from builder.run import rundir
from builder.run.rundir import RunDir
from builder.train.trackers import point_trackers
from builder.train.trainer import build_trainer
from builder.usecases.paths import with_absolute_paths

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback
    from transformers.trainer_utils import TrainOutput

    from builder.data.dataset import PreparedSplits, TokenStats
    from builder.models.capacity_plan import Estimate
    from builder.train.callbacks import GracefulStop, LossGuard


class BuildTrainer(Protocol):
    """Builds the trainer of a run: returns it, the quantization really used and the tokenizer."""

    def __call__(
        self,
        recipe: Recipe,
        run_dir: Path,
        train_rows: list[dict],
        dev_rows: list[dict],
        callbacks: list[Any],
        tokenizer: Any = None,
    ) -> tuple[Any, str, Any]: ...


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def planned_steps(recipe: Recipe, n_examples: int, world_size: int = 1) -> int:
    t = recipe.training
    if t.max_steps > 0:
        return t.max_steps
    per_step = t.batch_size * t.gradient_accumulation_steps * world_size
    return max(1, int(-(-n_examples * t.num_epochs // per_step)))


def resolved_recipe(recipe: Recipe) -> Recipe:
    """A copy whose paths are absolute, so the run's recipe.yaml works from any folder."""
    raw = with_absolute_paths(recipe.model_dump(mode="json"), recipe.base_dir)
    return recipe_from_dict(raw, base_dir=recipe.base_dir)


def summarize(recipe: Recipe, splits: PreparedSplits, stats: TokenStats, dev_stats: TokenStats | None) -> str:
    lines = [
        f"recipe        {recipe.name} (use case: {recipe.use_case}, base model: {recipe.base_model})",
        f"conversations {splits.conversations} kept after cleaning",
        f"examples      {len(splits.train)} train, {len(splits.dev)} dev",
        f"tokens        p50 {stats.p50}, p95 {stats.p95}, max {stats.max} (max_length {recipe.training.max_length})",
        f"cut           {stats.truncated} train examples longer than max_length were truncated"
        + (f", {stats.dropped_without_target} dropped (no reply left)" if stats.dropped_without_target else ""),
        f"trained on    {stats.trained_tokens} assistant tokens",
        f"steps planned {planned_steps(recipe, stats.examples)} "
        f"(batch {recipe.training.batch_size} x accumulation {recipe.training.gradient_accumulation_steps})",
    ]
    if dev_stats is not None and dev_stats.examples:
        lines.append(f"dev tokens    p50 {dev_stats.p50}, max {dev_stats.max}")
    return "\n".join(lines)


def data_warnings(recipe: Recipe, splits: PreparedSplits, stats: TokenStats) -> list[str]:
    from builder.data.advisor import advise

    fraction = stats.truncated / max(1, stats.examples + stats.dropped_without_target)
    return advise(
        splits.data_report,
        max_length_exceeded_fraction=fraction,
        use_case=recipe.use_case,
        base_model=recipe.base_model,
    )


def prepare_run_dir(output_dir: Path, resume: bool) -> Path | None:
    """Refuse to overwrite a finished or started run by accident; find the checkpoint to resume from."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = RunDir(output_dir).checkpoints
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if not resume and (RunDir(output_dir).adapter.exists() or last):
        raise RecipeError(
            f"{output_dir} already holds a run; pass --resume to continue it, or choose another --output-dir"
        )
    if resume and last is None:
        print(f"No checkpoint in {checkpoints}: starting from the first step.", flush=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(last) if last else None


def fit_check(
    recipe: Recipe, rows: list[dict], where: str, memory_limit_bytes: int | None = None, *, refuse: bool = True
) -> Estimate:
    """The capacity estimate of this run on this device; a CapacityError (with the fixes) when it will not fit."""
    from builder.models import capacity

    device = devices.present_device(memory_limit_bytes or capacity.memory_limit_from_env())
    shape, plan = capacity.recipe_plan(recipe, device, rows, steps=planned_steps(recipe, len(rows)))
    if refuse:
        return capacity.check_fits(shape, plan, device, where)
    return capacity.estimate(shape, plan, device)


def calibrate_time(estimate: Estimate, runs_dir: Path) -> None:
    """The estimate's time corrected by the measured pace of the newest comparable run (``builder.run.pace``)."""
    from builder.run.pace import calibrated_seconds

    seconds, pace = calibrated_seconds(
        estimate.seconds_per_step, runs_dir, estimate.device.kind, estimate.plan.quantization
    )
    if pace is None:
        return
    estimate.seconds_per_step = seconds
    estimate.seconds_total = seconds * estimate.plan.steps if seconds and estimate.plan.steps else None
    estimate.notes.append(f"time measured on this machine: {pace.ratio:.2f} x the FLOP estimate in {pace.run_id}")


def train(
    recipe: Recipe,
    output_dir: Path,
    *,
    resume: bool = False,
    memory_limit_bytes: int | None = None,
    check_fit: bool = True,
    prepare: Callable[[Recipe, Path], PreparedSplits] | None = None,
    build: BuildTrainer | None = None,
    evaluate: Callable[[Path], Any] | None = None,
) -> Path:
    """Train; ``memory_limit_bytes`` caps the memory the fit check allows (default: what the device has).

    A feedback round brings its own data (``prepare``) and, for DPO, its own trainer (``build``), and the
    evaluation afterwards is ``evaluate``: the layers above pass them (``builder.cli.sft.train``), so that
    training imports nothing of theirs."""
    from builder.data.dataset import example_to_record, prepare_splits, tokenize_examples
    from builder.models.devices import cpu_native_bf16
    from builder.train.callbacks import GracefulStop, LossGuard, MetricsWriter, budget_callbacks

    main = is_main_process()
    run = RunDir(output_dir)
    recipe = resolved_recipe(recipe)
    last_checkpoint = prepare_run_dir(output_dir, resume) if main else None
    if not main:
        output_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    if main:
        rundir.write_text_atomic(run.recipe_file, recipe.to_yaml())
        run.update_info(
            status="preparing",
            pid=os.getpid(),
            started_at=started,
            recipe=recipe.name,
            use_case=recipe.use_case,
            base_model=recipe.base_model,
            seed=recipe.training.seed,
            versions=library_versions(),
            error=None,
        )
    stop = GracefulStop()
    guard = LossGuard() if recipe.training.loss_guard else None
    try:
        splits = (prepare or prepare_splits)(recipe, output_dir)
        from builder.models.loading import load_tokenizer

        tokenizer = load_tokenizer(recipe.base_model, trust_remote_code=recipe.trust_remote_code)
        train_rows, stats = tokenize_examples(splits.train, tokenizer, recipe.training.max_length)
        dev_rows, _ = tokenize_examples(splits.dev, tokenizer, recipe.training.max_length)
        warnings = data_warnings(recipe, splits, stats)
        if main:
            previous_hash = run.info().data_hash
            if resume and previous_hash and previous_hash != splits.data_hash:
                print("Warning: the data changed since this run started; resuming on the new data.", flush=True)
            rundir.write_json_atomic(run.data_report, {**splits.data_report, "warnings": warnings})
            for split, examples in (("train", splits.train), ("dev", splits.dev)):
                rundir.write_jsonl(run.examples(split), (example_to_record(e) for e in examples))
            for warning in warnings:
                print(f"Data warning: {warning}", flush=True)
        # Before the model is loaded: a run that cannot fit is refused with the changes that would make it fit.
        estimate = fit_check(recipe, train_rows, recipe.name, memory_limit_bytes, refuse=check_fit)
        estimated_seconds = estimate.seconds_per_step  # kept uncorrected in run.json: the next run's pace reads it
        calibrate_time(estimate, output_dir.parent)
        if main:
            print("\n".join(estimate.lines()), flush=True)
        metrics = MetricsWriter(output_dir, dev_examples=len(dev_rows))
        # A DPO round is scored by the evaluation afterwards, not by a dev loss during training (its
        # trainer has no dev set), so early stopping and keep_best only apply to SFT.
        budget = budget_callbacks(recipe.training, bool(dev_rows) and recipe.method != "dpo")
        callbacks = [metrics, stop] + ([guard] if guard else []) + budget
        trainer, quantization, _ = (build or build_trainer)(
            recipe, output_dir, train_rows, dev_rows, callbacks, tokenizer
        )
        point_trackers(trainer, recipe, output_dir)
        trained_on = len(trainer.train_dataset)
        total_steps = trainer.args.max_steps if trainer.args.max_steps > 0 else planned_steps(recipe, trained_on)
        if main:
            run.update_info(
                status="running",
                quantization=quantization,
                device=str(trainer.args.device),
                world_size=trainer.args.world_size,
                data_hash=splits.data_hash,
                max_steps=total_steps,
                train_examples=trained_on,
                dev_examples=len(dev_rows),
                token_stats=stats.as_dict(),
                precision="bf16 autocast" if trainer.args.bf16 else "float32",
                cpu_native_bf16=cpu_native_bf16(),
                lm_head_chunk_tokens=getattr(trainer, "lm_head_chunk_tokens", None),
                estimate={
                    "peak_gb": round(estimate.peak_bytes / 2**30, 3),
                    "parts_gb": {k: round(v / 2**30, 3) for k, v in estimate.parts.items()},
                    "seconds_per_step": estimated_seconds and round(estimated_seconds, 2),
                    "calibrated_seconds_per_step": estimate.seconds_per_step and round(estimate.seconds_per_step, 2),
                },
            )
            print(summarize(recipe, splits, stats, None), flush=True)
            print(f"quantization  {quantization} on {trainer.args.device}", flush=True)
        t0 = time.monotonic()
        result = trainer.train(resume_from_checkpoint=str(last_checkpoint) if last_checkpoint else None)
        seconds = time.monotonic() - t0
        if main:
            _finish(output_dir, trainer, tokenizer, result, seconds, stop, guard, metrics.start_step, budget)
    except KeyboardInterrupt:
        if main:
            run.update_info(status="stopped", ended_at=_now(), error="interrupted")
        raise
    except Exception as err:
        if main:
            run.update_info(status="failed", ended_at=_now(), error=f"{type(err).__name__}: {err}")
            if not isinstance(err, RecipeError):  # a refusal explains itself; a crash needs its traceback
                traceback.print_exc()
        raise
    if main and evaluate is not None and recipe.eval.enabled and run.info().status == "completed":
        _evaluate(output_dir, evaluate)
    return output_dir


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _finish(
    output_dir: Path,
    trainer: Trainer,
    tokenizer: PreTrainedTokenizerBase,
    result: TrainOutput,
    seconds: float,
    stop: GracefulStop,
    guard: LossGuard | None,
    start_step: int,
    budget: list[TrainerCallback],
) -> None:
    from builder.train.callbacks import stop_reason

    run = RunDir(output_dir)
    cast("PreTrainedModel", trainer.model).save_pretrained(run.adapter, safe_serialization=True)
    tokenizer.save_pretrained(run.tokenizer)
    step = trainer.state.global_step
    final: dict[str, Any] = {
        "step": step,
        "final": True,
        "train_loss": result.training_loss,
        "tokens_seen": trainer.state.num_input_tokens_seen,
        "elapsed_s": round(seconds, 2),
        "seconds_per_step": round(seconds / max(1, step - start_step), 3),
    }
    eval_losses = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    if eval_losses:
        final["eval_loss"] = eval_losses[-1]
    budget_info: dict[str, Any] = {"stopped_by": stop_reason(budget)}
    if trainer.args.load_best_model_at_end and trainer.state.best_global_step:
        # The adapter saved above is the best checkpoint's, which the trainer loaded at the end.
        budget_info.update(best_step=trainer.state.best_global_step, best_eval_loss=trainer.state.best_metric)
        final.update(best_step=trainer.state.best_global_step, best_eval_loss=trainer.state.best_metric)
    rundir.append_jsonl(run.metrics_file, final)
    if guard is not None and guard.problem:
        status, error = "failed", guard.problem
        print(f"Stopped: {guard.problem}", flush=True)
    elif stop.requested:
        status, error = "stopped", "stopped on request; --resume continues it"
    else:
        status, error = "completed", None
    run.update_info(
        status=status,
        error=error,
        ended_at=_now(),
        final_step=step,
        train_seconds=round(seconds, 1),
        peak_memory_gb=round(devices.peak_memory_bytes() / 2**30, 3),
        **budget_info,
    )
    print(f"{status}: {step} steps in {seconds:.0f} s; adapter in {run.adapter}", flush=True)


def _evaluate(run_dir: Path, evaluate: Callable[[Path], Any]) -> None:
    try:
        evaluate(run_dir)
    except Exception as err:  # a failed evaluation must not hide a finished training
        RunDir(run_dir).update_info(eval_error=f"{type(err).__name__}: {err}")
        print(f"Evaluation failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
