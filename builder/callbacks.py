"""Trainer callbacks: the metrics file the UI watches, a guard against diverging loss, and a clean stop."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

from transformers import ProgressCallback, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from builder.rundir import RunDir, append_jsonl


class LossInProgressBar(ProgressCallback):
    """The terminal's progress bar, with the latest losses beside it instead of a dict printed per log."""

    def on_log(self, args: Any, state: TrainerState, control: TrainerControl, logs: Any = None, **kw: Any) -> None:
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        shown = {k: f"{logs[k]:.4g}" for k in ("loss", "eval_loss") if isinstance(logs.get(k), (int, float))}
        if shown:
            self.training_bar.set_postfix(shown, refresh=False)


class MetricsWriter(TrainerCallback):
    """One line per logging step in ``metrics.jsonl``, written as training goes."""

    def __init__(self, run_dir: Path) -> None:
        self.path = RunDir(run_dir).metrics_file
        self.started = time.monotonic()
        self.start_step = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.started = time.monotonic()
        self.start_step = state.global_step  # non-zero when resuming from a checkpoint

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


def budget_callbacks(training: Any, has_dev: bool) -> list[TrainerCallback]:
    """The callbacks a recipe's budget asks for: minutes/tokens, and early stopping on the dev loss."""
    from transformers import EarlyStoppingCallback

    callbacks: list[TrainerCallback] = []
    if training.max_minutes is not None or training.max_tokens is not None:
        callbacks.append(TrainingBudget(training.max_minutes, training.max_tokens))
    if has_dev and training.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(training.early_stopping_patience, training.early_stopping_threshold))
    return callbacks


def best_model_arguments(training: Any, has_dev: bool) -> dict[str, Any]:
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
