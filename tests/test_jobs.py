"""The training job manager: detached subprocesses, a FIFO queue per device, state on disk.

The trainer here is a small stand-in script that writes the run directory files the way
`builder.sft` does (run.json, metrics.jsonl, train.log); the real trainer takes minutes,
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

from builder.jobs import JobManager
from builder.rundir import RunDir, error_from_log
from builder.ui.train_tab import format_duration

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


@pytest.fixture
def manager(tmp_path: Path) -> JobManager:
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    return JobManager(tmp_path / "runs", trainer_cmd=[sys.executable, str(script)], devices=["cpu"], stop_grace_s=2)


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
