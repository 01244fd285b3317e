"""Training metrics for the trackers teams already use, through the trainer's own ``report_to``.

TensorBoard event files go to the run's ``tensorboard/`` folder unless the recipe turns them off
(``training.tensorboard``); MLflow is added when the recipe names a tracking URI
(``training.mlflow_tracking_uri``). The UI's loss plot reads ``metrics.jsonl`` and does not depend on either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.run.rundir import RunDir

if TYPE_CHECKING:
    from builder.config.recipe import Recipe, TrainingConfig


def report_to(training: TrainingConfig) -> list[str]:
    """The ``report_to`` integrations a recipe asks for ("none" for an empty list, as transformers reads it)."""
    wanted = (["tensorboard"] if training.tensorboard else []) + (["mlflow"] if training.mlflow_tracking_uri else [])
    return wanted or ["none"]


def point_trackers(trainer: Any, recipe: Recipe, run_dir: Path) -> None:
    """Send the trainer's tracker callbacks where the recipe says, before training starts.

    transformers writes TensorBoard under the checkpoints folder unless told otherwise (an environment
    variable, process-wide); the callback's own ``logging_dir`` is set instead. MLflow's tracking URI
    and experiment are MLflow's process state, set here so the callback starts its run there."""
    from transformers.integrations import MLflowCallback, TensorBoardCallback

    training = recipe.training
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback):
            callback.logging_dir = str(RunDir(run_dir).tensorboard)
        elif isinstance(callback, MLflowCallback) and training.mlflow_tracking_uri:
            import mlflow

            mlflow.set_tracking_uri(training.mlflow_tracking_uri)
            mlflow.set_experiment(training.mlflow_experiment or recipe.name)
