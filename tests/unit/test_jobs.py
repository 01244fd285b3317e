"""The training job manager: detached subprocesses, a FIFO queue per device, state on disk.

The trainer here is a small stand-in script that writes the run directory files the way
`builder.cli.sft` does (run.json, metrics.jsonl, train.log); the real trainer takes minutes,
and the browser test runs it for real. Everything else (processes, signals, sessions,
files, the queue) is real.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from builder.jobs.manager import JobManager
from builder.jobs.process import job_id
from builder.run.rundir import RunDir, error_from_log
from builder.ui.recipe_check import format_duration

FAKE_TRAINER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from datetime import datetime

    args = sys.argv[1:]
    recipe = json.load(open(args[0]))
    out = args[args.index("--output-dir") + 1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "argv.json"), "a") as f:
        f.write(json.dumps(args) + "\\n")
    steps = recipe.get("steps", 3)

    def write_run(status, error=None):
        info = {"status": status, "max_steps": steps, "pid": os.getpid(), "device": "cpu",
                "started_at": datetime.now().isoformat()}
        if error:
            info["error"] = error
        tmp = os.path.join(out, ".run.json.tmp")
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, os.path.join(out, "run.json"))

    mode = recipe.get("mode", "ok")
    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        def on_term(signum, frame):
            write_run("stopped")
            sys.exit(143)
        signal.signal(signal.SIGTERM, on_term)

    write_run("running")
    print("loading the model", flush=True)
    if mode == "crash":
        raise ValueError("data.train: sample.csv line 7 has no 'response' column")
    for step in range(1, steps + 1):
        time.sleep(recipe.get("step_s", 0.05))
        with open(os.path.join(out, "metrics.jsonl"), "a") as f:
            f.write(json.dumps({"step": step, "loss": 3.0 / step, "learning_rate": 1e-4,
                                "tokens_seen": 100 * step, "elapsed_s": 0.5 * step, "epoch": 0.1 * step}) + "\\n")
            if step % 2 == 0:
                f.write(json.dumps({"step": step, "eval_loss": 2.5 / step}) + "\\n")
        print(f"step {step}/{steps}", flush=True)
    with open(os.path.join(out, "metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": steps, "final": True}) + "\\n")
    if mode == "exit_silently":
        os._exit(3)
    write_run("completed")
    """
)


# Stands in for `python -m builder.evaluate RUN`: a while on the device, then eval.json (or a crash).
FAKE_EVALUATOR = textwrap.dedent(
    """
    import json, os, sys, time

    run = sys.argv[1]
    options_file = os.path.join(run, "fake_eval.json")
    options = json.load(open(options_file)) if os.path.exists(options_file) else {}
    print("evaluate: base on 1 dev examples...", flush=True)
    time.sleep(options.get("seconds", 0.2))
    if options.get("mode") == "crash":
        raise ValueError("dev.jsonl: no dev examples to evaluate on")
    result = {"use_case": "support", "main_metric": "chrf", "n_examples": 1, "evaluated_at": "now",
              "systems": {"tuned": {"metrics": {"chrf": 42.0}}}, "examples": []}
    with open(os.path.join(run, "eval.json"), "w") as f:
        json.dump(result, f)
    """
)


@pytest.fixture
def manager(tmp_path: Path) -> JobManager:
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    evaluator = tmp_path / "fake_evaluator.py"
    evaluator.write_text(FAKE_EVALUATOR)
    return JobManager(
        tmp_path / "runs",
        trainer_cmd=[sys.executable, str(script)],
        evaluate_cmd=[sys.executable, str(evaluator)],
        devices=["cpu"],
        stop_grace_s=2,
    )


def recipe(tmp_path: Path, name: str, **options: object) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(options))
    return path


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_done(manager: JobManager, job_id: str) -> str:
    def done() -> bool:
        manager.tick()
        job = manager.get(job_id)
        return job is not None and job.state == "done"

    wait_for(done, what=f"{job_id} to end")
    return manager.progress(job_id).status


def test_a_job_runs_detached_and_its_progress_is_read_from_files(manager: JobManager, tmp_path: Path) -> None:
    job = manager.submit(recipe(tmp_path, "ok", steps=4), ["training.max_steps=4"], name="support demo")
    assert job.state == "running" and job.id.startswith("support-demo-")
    # Its own session: closing the app (or its terminal) does not signal it.
    assert os.getsid(job.pid) != os.getsid(0)
    assert wait_done(manager, job.id) == "completed"
    progress = manager.progress(job.id)
    assert progress.step == 4 and progress.max_steps == 4
    assert progress.train_points == [(1, 3.0), (2, 1.5), (3, 1.0), (4, 0.75)]
    assert progress.dev_points == [(2, 1.25), (4, 0.625)]
    assert "step 4/4" in progress.log_tail
    argv = json.loads((Path(job.run_dir) / "argv.json").read_text().splitlines()[0])
    assert argv[argv.index("--set") + 1] == "training.max_steps=4"
    assert "--resume" not in argv


def test_a_crash_shows_the_trainers_error_not_just_failed(manager: JobManager, tmp_path: Path) -> None:
    job = manager.submit(recipe(tmp_path, "bad", mode="crash"))
    assert wait_done(manager, job.id) == "failed"
    error = manager.progress(job.id).error
    # The cause in one line; the traceback's frames stay in train.log, which the Train tab points to.
    assert error == "ValueError: data.train: sample.csv line 7 has no 'response' column"
    # run.json agrees with the queue, for readers that only look at the run directory.
    assert json.loads((Path(job.run_dir) / "run.json").read_text())["status"] == "failed"


def test_a_trainer_that_dies_without_a_word_is_reported_with_its_exit_code(manager: JobManager, tmp_path: Path) -> None:
    job = manager.submit(recipe(tmp_path, "silent", mode="exit_silently", steps=1))
    assert wait_done(manager, job.id) == "failed"
    assert "exited with code 3" in manager.progress(job.id).error


def test_one_job_per_device_the_rest_wait_in_order(manager: JobManager, tmp_path: Path) -> None:
    first = manager.submit(recipe(tmp_path, "a", steps=400, step_s=0.05))
    second = manager.submit(recipe(tmp_path, "b", steps=2))
    third = manager.submit(recipe(tmp_path, "c", steps=2))
    assert manager.get(first.id).state == "running"
    assert [j.id for j in manager.queue()] == [second.id, third.id]
    assert manager.progress(third.id).queue_position == 2
    assert manager.progress(second.id).status == "queued"

    wait_for(lambda: RunDir(first.run_dir).metrics(), what="a first metrics line")
    manager.stop(first.id)
    assert wait_done(manager, first.id) == "stopped"
    # The trainer caught SIGTERM and wrote its own ending.
    assert json.loads((Path(first.run_dir) / "run.json").read_text())["status"] == "stopped"
    manager.tick()
    assert manager.get(second.id).state in ("running", "done")
    assert wait_done(manager, second.id) == "completed"
    assert wait_done(manager, third.id) == "completed"


def test_stop_kills_a_trainer_that_ignores_sigterm_and_resume_relaunches(manager: JobManager, tmp_path: Path) -> None:
    job = manager.submit(recipe(tmp_path, "stubborn", mode="ignore_term", steps=400, step_s=0.05))
    wait_for(lambda: RunDir(job.run_dir).metrics(), what="a first metrics line")
    started = time.monotonic()
    manager.stop(job.id)
    # The button returns at once (a real trainer finishes its step first, which took 16 s in the UI);
    # the scheduler's tick kills the trainer once the grace period is over.
    assert time.monotonic() - started < 1.0
    assert manager.progress(job.id).status == "stopping"
    assert wait_done(manager, job.id) == "stopped"
    assert time.monotonic() - started >= 1.5  # SIGTERM was ignored: killed after the 2 s grace
    assert json.loads((Path(job.run_dir) / "run.json").read_text())["status"] == "stopped"

    resumed = manager.resume(job.id)
    assert resumed.state == "running" and resumed.resume
    wait_for(lambda: len((Path(job.run_dir) / "argv.json").read_text().splitlines()) == 2, what="the relaunch")
    manager.stop(job.id, wait=True)
    assert manager.get(job.id).state == "done"
    argv = json.loads((Path(job.run_dir) / "argv.json").read_text().splitlines()[1])
    assert argv[-1] == "--resume" and argv[argv.index("--output-dir") + 1] == job.run_dir


def test_a_new_manager_reattaches_to_a_running_job(manager: JobManager, tmp_path: Path) -> None:
    job = manager.submit(recipe(tmp_path, "long", steps=30, step_s=0.05))
    # A fresh manager on the same folder is what an app restart (or another app process) sees.
    again = JobManager(manager.runs_dir, trainer_cmd=manager.trainer_cmd, devices=["cpu"])
    assert again.active_job().id == job.id
    assert again.progress(job.id).status == "running"
    queued = again.submit(recipe(tmp_path, "next", steps=1))
    assert again.get(queued.id).state == "queued", "the device is busy with the other manager's job"
    assert wait_done(again, job.id) == "completed"
    assert wait_done(again, queued.id) == "completed"
    assert again.list_runs()[:2] == [queued.id, job.id]


def test_missing_recipe_is_refused_with_its_path(manager: JobManager, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        manager.submit(tmp_path / "nope.yaml")


def test_eta_from_the_pace_so_far(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"status": "running", "max_steps": 10}))
    rows = [{"step": s, "loss": 2.0, "elapsed_s": 3.0 * s} for s in (1, 2)]
    # A half-written last line (training is appending right now) is skipped, not an error.
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + '\n{"step": 3, "lo')
    progress = RunDir(run).progress()
    assert progress.step == 2 and progress.eta_s == pytest.approx(24.0)
    assert progress.fraction == pytest.approx(0.2)
    assert format_duration(progress.eta_s) == "0m24s"
    assert format_duration(3725) == "1h02m05s"


def test_a_completed_run_shows_its_last_step_even_when_the_loss_was_logged_earlier(tmp_path: Path) -> None:
    # logging_steps 5 on a 2-step run: the loss is logged at step 1 only, the summary line has step 2.
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"status": "completed", "max_steps": 2, "final_step": 2}))
    rows = [{"step": 1, "loss": 2.0}, {"step": 2, "eval_loss": 1.9}, {"step": 2, "final": True, "eval_loss": 1.9}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    progress = RunDir(run).progress()
    assert (progress.step, progress.max_steps, progress.fraction) == (2, 2, 1.0)
    assert progress.train_points == [(1, 2.0)] and progress.dev_points == [(2, 1.9)]


def test_error_from_log_without_traceback_keeps_the_error_line(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("loading\nRecipeError: recipes/x.yaml: training.max_steps: not an int\n")
    assert error_from_log(log) == "RecipeError: recipes/x.yaml: training.max_steps: not an int"
    assert error_from_log(tmp_path / "absent.log") is None
    # A message's own indented lines (a recipe's list of problems) come with it, later output does not.
    log.write_text(
        "error: recipes/x.yaml: the recipe is not valid\n  training.max_steps: not an int\n  lora.r: too small\nbye\n"
    )
    assert error_from_log(log) == (
        "error: recipes/x.yaml: the recipe is not valid\n  training.max_steps: not an int\n  lora.r: too small"
    )


def trained_run(manager: JobManager, tmp_path: Path) -> str:
    """A finished training with an adapter, as evaluation needs it."""
    job = manager.submit(recipe(tmp_path, "trained", steps=1))
    assert wait_done(manager, job.id) == "completed"
    adapter = RunDir(job.run_dir).adapter
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    return job.id


def test_an_evaluation_started_from_the_ui_waits_in_the_device_queue_behind_a_training(
    manager: JobManager, tmp_path: Path
) -> None:
    from builder.ui.common import AppContext
    from builder.ui.evaluate_tab import show, start_evaluation

    run_id = trained_run(manager, tmp_path)
    training = manager.submit(recipe(tmp_path, "long", steps=400, step_s=0.05))
    assert manager.get(training.id).state == "running"
    ctx = AppContext(runs_dir=manager.runs_dir, jobs=manager)

    message = start_evaluation(ctx, run_id, "en")  # what the Evaluate tab's button calls
    evaluation = manager.get(job_id(run_id, "evaluate"))
    assert evaluation is not None and evaluation.kind == "evaluate" and evaluation.state == "queued"
    assert "position 1" in message and manager.progress(evaluation.id).queue_position == 1
    start_evaluation(ctx, run_id, "en")  # a second click joins the queued job
    assert [j.id for j in manager.queue()] == [evaluation.id]
    time.sleep(0.5)
    manager.tick()
    assert manager.get(evaluation.id).state == "queued", "the device is still training"
    assert "position 1" in show(ctx, run_id, "en")[0]
    assert RunDir(evaluation.run_dir).eval_result() is None

    manager.stop(training.id)
    assert wait_done(manager, training.id) == "stopped"
    assert wait_done(manager, evaluation.id) == "completed"
    assert RunDir(evaluation.run_dir).eval_result()["main_metric"] == "chrf"
    assert "main metric **chrf**" in show(ctx, run_id, "en")[0]
    assert run_id in manager.list_runs() and job_id(run_id, "evaluate") not in manager.list_runs()
    assert RunDir(evaluation.run_dir).info().status == "completed", "evaluation leaves run.json alone"


def test_an_evaluation_can_be_stopped_and_a_failed_one_shows_its_error(manager: JobManager, tmp_path: Path) -> None:
    from builder.ui.common import AppContext
    from builder.ui.evaluate_tab import show, start_evaluation, stop_evaluation

    run_id = trained_run(manager, tmp_path)
    run = RunDir(manager.runs_dir / run_id)
    ctx = AppContext(runs_dir=manager.runs_dir, jobs=manager)
    (run.path / "fake_eval.json").write_text(json.dumps({"seconds": 60}))
    start_evaluation(ctx, run_id, "en")
    ident = job_id(run_id, "evaluate")
    assert manager.get(ident).state == "running"
    wait_for(lambda: "evaluate:" in run.eval_log.read_text(), what="the evaluator's first line")
    assert "evaluate: base" in (show(ctx, run_id, "en")[3]["value"] or "")  # the log follows the job
    assert stop_evaluation(ctx, run_id, "en") == f"Stopping the evaluation of `{run_id}`."
    assert wait_done(manager, ident) == "stopped"
    assert run.info().status == "completed" and run.eval_result() is None

    (run.path / "fake_eval.json").write_text(json.dumps({"mode": "crash"}))
    start_evaluation(ctx, run_id, "en")
    assert wait_done(manager, ident) == "failed"
    assert "no dev examples" in (manager.get(ident).error or "")
    assert "no dev examples" in show(ctx, run_id, "en")[0]


def test_a_merge_is_a_job_too_and_waits_for_the_device(manager: JobManager, tmp_path: Path) -> None:
    run_id = trained_run(manager, tmp_path)
    # Stands in for `python -m builder.export merge RUN --out DIR`, which loads the base model for minutes.
    manager.commands["export"] = [sys.executable, "-c", "import os, sys; os.makedirs(sys.argv[3])"]
    training = manager.submit(recipe(tmp_path, "long", steps=400, step_s=0.05))
    merge = manager.merge(run_id, tmp_path / "merged")
    assert merge.kind == "export" and merge.state == "queued"
    assert manager.progress(merge.id).queue_position == 1
    manager.stop(training.id)
    assert wait_done(manager, merge.id) == "completed"
    assert (tmp_path / "merged").is_dir()
    with pytest.raises(ValueError, match="no trained adapter"):
        manager.merge(training.id, tmp_path / "other")


# The real merge command with `merge_adapter` swapped for one whose save takes a minute, so that the
# Stop button can reach it midway, and whose clean-up takes a second; the signal handling and the
# hidden folder are the product's own.
SLOW_MERGE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import builder.export.files as export
    from builder.run.rundir import atomic_dir

    def slow_merge(run_dir, out_dir):
        with atomic_dir(Path(out_dir)) as tmp:
            (tmp / "model.safetensors").write_bytes(b"0" * 4096)
            try:
                time.sleep(60)
            finally:
                time.sleep(1)  # a large folder takes a while to remove: the job has not ended before that
        return out_dir

    export.merge_adapter = slow_merge
    sys.exit(export.main(["merge", *sys.argv[1:]]))
    """
)


def test_a_merge_stops_from_the_export_tab_and_leaves_no_half_written_folder(
    manager: JobManager, tmp_path: Path
) -> None:
    from builder.ui.common import AppContext
    from builder.ui.export_tab import stop_export

    run_id = trained_run(manager, tmp_path)
    ctx = AppContext(runs_dir=manager.runs_dir, jobs=manager)
    assert stop_export(ctx, run_id, "export", "es") == "No hay ninguna fusión de esta ejecución en cola ni en curso."
    manager.commands["export"] = [sys.executable, "-c", SLOW_MERGE]
    target = tmp_path / "merged"
    merge = manager.merge(run_id, target)
    assert merge.state == "running"
    wait_for(lambda: list(tmp_path.glob(".merged-*/model.safetensors")), what="the half-written merge")
    assert (
        stop_export(ctx, run_id, "export", "en") == f"Stopping the merge of `{run_id}`: its folder keeps what it had."
    )
    assert wait_done(manager, merge.id) == "stopped"
    assert not list(tmp_path.glob(".merged-*")), "the hidden folder of a stopped merge is removed"
    assert not target.exists()
    assert "merge stopped" in manager.log_path(manager.get(merge.id)).read_text()
