"""Trainer callbacks: the metrics file the UI watches, a guard against diverging loss, and a clean stop."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

from transformers import ProgressCallback, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from builder.config.recipe import TrainingConfig
from builder.run.rundir import RunDir, append_jsonl, write_json_atomic


class LossInProgressBar(ProgressCallback):
    """The terminal's progress bar, with the latest losses beside it instead of a dict printed per log."""

    def on_log(self, args: Any, state: TrainerState, control: TrainerControl, logs: Any = None, **kw: Any) -> None:
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        shown = {k: f"{logs[k]:.4g}" for k in ("loss", "eval_loss") if isinstance(logs.get(k), (int, float))}
        if shown:
            self.training_bar.set_postfix(shown, refresh=False)


class MetricsWriter(TrainerCallback):
    """One line per logging step in ``metrics.jsonl``, written as training goes; and ``live.json``, where the
    run is now (every step, and every batch of a dev scoring), so the UI is not stuck between two logged steps.
    """

    # A dev batch rewrites live.json at most this often (a small dev set scores many batches a second).
    LIVE_INTERVAL_S = 0.5

    def __init__(self, run_dir: Path, dev_examples: int = 0) -> None:
        self.path = RunDir(run_dir).metrics_file
        self.dev_examples = dev_examples
        self.live_path = RunDir(run_dir).live
        self.started = time.monotonic()
        self.start_step = 0
        self.dev_done = 0
        self.live_written = 0.0

    def _live(self, state: TrainerState, phase: str, **extra: Any) -> None:
        if not state.is_world_process_zero:
            return
        elapsed = round(time.monotonic() - self.started, 2)
        fields = {"step": state.global_step, "start_step": self.start_step, "elapsed_s": elapsed, "phase": phase}
        write_json_atomic(self.live_path, {**fields, **extra})
        self.live_written = time.monotonic()

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.started = time.monotonic()
        self.start_step = state.global_step  # non-zero when resuming from a checkpoint
        self._live(state, "train")

    def _dev_batches(self, args: TrainingArguments) -> int:
        return math.ceil(self.dev_examples / max(1, args.per_device_eval_batch_size))

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        # The trainer's own flow callback runs first: it has decided whether this step ends in a dev scoring.
        self.dev_done = 0
        if control.should_evaluate and self.dev_examples:
            self._live(state, "dev", dev_done=0, dev_total=self._dev_batches(args))
        else:
            self._live(state, "train")

    def on_prediction_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.dev_done += 1
        if time.monotonic() - self.live_written >= self.LIVE_INTERVAL_S:
            self._live(state, "dev", dev_done=self.dev_done, dev_total=self._dev_batches(args))

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.dev_done = 0
        self._live(state, "train")

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self._live(state, "saving")

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        elapsed = round(time.monotonic() - self.started, 2)
        if "eval_loss" in logs:
            append_jsonl(self.path, {"step": state.global_step, "eval_loss": logs["eval_loss"], "elapsed_s": elapsed})
        elif "loss" in logs:
            append_jsonl(
                self.path,
                {
                    "step": state.global_step,
                    "loss": logs["loss"],
                    "learning_rate": logs.get("learning_rate"),
                    "tokens_seen": state.num_input_tokens_seen,
                    "elapsed_s": elapsed,
                    "epoch": round(state.epoch or 0.0, 4),
                },
            )


class LossGuard(TrainerCallback):
    """Stops a run whose loss is NaN or keeps climbing, and says so (see the bf16 run in docs/training-choices.md)."""

    def __init__(self, rise_factor: float = 1.5, patience: int = 5, min_logs: int = 8) -> None:
        self.rise_factor = rise_factor
        self.patience = patience
        self.min_logs = min_logs
        self.ema: float | None = None
        self.best_ema = math.inf
        self.logs_seen = 0
        self.rising_for = 0
        self.problem: str | None = None

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if not math.isfinite(loss):
            self.problem = (
                f"the training loss became {loss} at step {state.global_step}; "
                "lower training.learning_rate or use quantization: none"
            )
            control.should_training_stop = True
            return
        self.logs_seen += 1
        self.ema = loss if self.ema is None else 0.7 * self.ema + 0.3 * loss
        self.best_ema = min(self.best_ema, self.ema)
        if self.logs_seen >= self.min_logs and self.ema > self.best_ema * self.rise_factor:
            self.rising_for += 1
        else:
            self.rising_for = 0
        if self.rising_for >= self.patience:
            self.problem = (
                f"the training loss is rising (smoothed {self.ema:.3f}, lowest {self.best_ema:.3f}) at step "
                f"{state.global_step}: training diverges; lower training.learning_rate"
            )
            control.should_training_stop = True


class GracefulStop(TrainerCallback):
    """SIGTERM (the UI's Stop button) ends training at the next step, saving a checkpoint first."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, signum: int, frame: Any) -> None:
        self.requested = True

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.requested:
            control.should_save = True
            control.should_training_stop = True

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        # After training (saving, evaluation) a SIGTERM ends the process at once, as usual.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class TrainingBudget(TrainerCallback):
    """Ends training once a budget of minutes or of input tokens is spent, after a last dev evaluation.

    With ``training.keep_best`` the trainer then loads the checkpoint with the lowest dev loss, so the
    run keeps the best model its budget allowed; ``stopped_by`` says which budget ended it.
    """

    def __init__(self, max_minutes: float | None = None, max_tokens: int | None = None) -> None:
        self.max_minutes = max_minutes
        self.max_tokens = max_tokens
        self.started = time.monotonic()
        self.stopped_by: str | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.started = time.monotonic()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.max_minutes is not None and time.monotonic() - self.started >= 60 * self.max_minutes:
            self.stopped_by = f"time budget ({self.max_minutes:g} min)"
        elif self.max_tokens is not None and state.num_input_tokens_seen >= self.max_tokens:
            self.stopped_by = f"token budget ({self.max_tokens} tokens)"
        else:
            return
        control.should_training_stop = True
        control.should_save = True
        control.should_evaluate = args.eval_strategy != "no"


def budget_callbacks(training: TrainingConfig, has_dev: bool) -> list[TrainerCallback]:
    """The callbacks a recipe's budget asks for: minutes/tokens, and early stopping on the dev loss."""
    from transformers import EarlyStoppingCallback

    callbacks: list[TrainerCallback] = []
    if training.max_minutes is not None or training.max_tokens is not None:
        callbacks.append(TrainingBudget(training.max_minutes, training.max_tokens))
    if has_dev and training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(training.early_stopping_patience, training.early_stopping_threshold))
    return callbacks


def best_model_arguments(training: TrainingConfig, has_dev: bool) -> dict[str, Any]:
    """Trainer arguments that keep the checkpoint with the lowest dev loss (early stopping needs them too)."""
    if not has_dev or not (training.keep_best or training.early_stopping_patience):
        return {}
    return {"load_best_model_at_end": True, "metric_for_best_model": "eval_loss", "greater_is_better": False}


def stop_reason(callbacks: list[TrainerCallback]) -> str | None:
    """Why training ended before its planned steps, when a budget or early stopping ended it."""
    from transformers import EarlyStoppingCallback

    for callback in callbacks:
        if isinstance(callback, TrainingBudget) and callback.stopped_by:
            return callback.stopped_by
        if (
            isinstance(callback, EarlyStoppingCallback)
            and callback.early_stopping_patience_counter >= callback.early_stopping_patience
        ):
            return f"early stopping (dev loss not better for {callback.early_stopping_patience} evaluations)"
    return None
