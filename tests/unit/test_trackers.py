"""Training metrics reach TensorBoard (by default) and MLflow (when the recipe names a tracking URI)."""

from __future__ import annotations

from builder.cli.sft import train
from builder.config.recipe import load_recipe


def tensorboard_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the event files under ``folder``, read with TensorBoard's own event format (protobuf)."""
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in folder.rglob("events.out.tfevents.*"):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):  # TFRecord: length (8), its CRC (4), the record, its CRC (4)
            length = int.from_bytes(data[offset : offset + 8], "little")
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_a_training_writes_tensorboard_event_files_in_its_run_directory(support_recipe, tmp_path):
    out = train(load_recipe(support_recipe, ["training.max_steps=2", "quantization=none"]), tmp_path / "run")
    scalars = tensorboard_scalars(out / "tensorboard")
    assert [step for step, _ in scalars["train/loss"]] == [1, 2]
    assert all(loss > 0 for _, loss in scalars["train/loss"])
    assert not list((out / "checkpoints").rglob("events.out.tfevents.*"))  # not transformers' default place


def test_tensorboard_can_be_turned_off(support_recipe, tmp_path):
    recipe = load_recipe(support_recipe, ["training.max_steps=1", "quantization=none", "training.tensorboard=false"])
    out = train(recipe, tmp_path / "run")
    assert not list(out.rglob("events.out.tfevents.*"))


def test_a_recipe_with_a_tracking_uri_logs_the_run_to_mlflow(support_recipe, tmp_path, monkeypatch):
    import mlflow  # the optional 'mlflow' extra, in the dev dependencies

    # MLflow 3 keeps its file store in maintenance mode and asks for this to use it (a team's server is a URL).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    overrides = [
        "training.max_steps=2",
        "quantization=none",
        f"training.mlflow_tracking_uri=file:{store}",
        "training.mlflow_experiment=team-support",
    ]
    try:
        train(load_recipe(support_recipe, overrides), tmp_path / "run")
        client = mlflow.tracking.MlflowClient(tracking_uri=f"file:{store}")
        experiment = client.get_experiment_by_name("team-support")
        assert experiment is not None
        (run,) = client.search_runs([experiment.experiment_id])
        assert run.info.run_name == "run" and run.info.status == "FINISHED"
        losses = client.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in losses) == [1, 2]
        assert run.data.params["learning_rate"] == "0.001"
    finally:
        mlflow.set_tracking_uri(None)  # MLflow's URI is process state: later tests start without it
