"""The web app through its API (the Gradio client against a running app): what a user's click gets back.

The app is the real one (``build_app``, served by Gradio on a loopback port). Its job manager runs a
small stand-in trainer instead of ``builder.cli.sft``: real training takes minutes and the browser test
does it; here the trainer only has to crash, or to take its time over a first step as the real one
does. Everything else (the job queue, processes and signals, files, uploads, recipes) is real.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

REPO = Path(__file__).resolve().parents[2]

# Reads the recipe's name: "crash" dies with a traceback before writing how the run ended;
# "slow" spends 6 s in a first step that SIGTERM does not interrupt (the real trainer stops at
# the end of a step), then honours the stop.
STAND_IN_TRAINER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    import yaml

    args = sys.argv[1:]
    name = yaml.safe_load(open(args[0]))["name"]
    out = args[args.index("--output-dir") + 1]
    os.makedirs(out, exist_ok=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def write_run(status):
        info = {"status": status, "max_steps": 2, "device": "cpu"}
        with open(os.path.join(out, ".run.json.tmp"), "w") as f:
            json.dump(info, f)
        os.replace(os.path.join(out, ".run.json.tmp"), os.path.join(out, "run.json"))

    write_run("running")
    print("loading the model", flush=True)

    def load_rows(path):
        raise ValueError(f"data.train: {path} line 7 has no 'response' column")

    if name == "crash":
        load_rows(os.path.join(out, "sample.csv"))
    time.sleep(6)  # the first step
    write_run("stopped" if stop else "completed")
    """
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    from gradio_client import Client

    from builder.jobs.manager import JobManager
    from builder.ui import build_app

    runs = tmp_path_factory.mktemp("api-runs").resolve()
    trainer = runs.parent / "stand_in_trainer.py"
    trainer.write_text(STAND_IN_TRAINER)
    jobs = JobManager(runs, trainer_cmd=[sys.executable, str(trainer)], devices=["cpu"])
    demo, _ = build_app(runs, jobs=jobs)
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True, allowed_paths=[str(runs)])
    jobs.start_background(interval_s=0.5)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False), runs
    finally:
        jobs.stop_background()
        demo.close()
        for job in jobs.jobs():
            if job.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(job.pid, signal.SIGKILL)


def recipe(runs: Path, name: str) -> Path:
    """A valid recipe in the runs folder (the app checks it as the trainer would) on the support sample."""
    folder = runs / "recipes"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    sample = REPO / "sample_data" / "support" / "conversations_en.jsonl"
    path.write_text(f"name: {name}\nuse_case: support\ndata:\n  train: [{sample}]\n", encoding="utf-8")
    return path


def start(client, path: Path) -> str:
    message, _ = client.predict(str(path), "", "en", api_name="/start_training")
    found = re.search(r"`([^`]+)`", message)
    assert found and "Started" in message, message
    return found.group(1)


def status(client, run_id: str) -> tuple[str, str]:
    """The Train tab's status line and error box for a run."""
    values = client.predict(run_id, "en", api_name="/train_status")
    error = values[3]
    return values[0], (error.get("value") if isinstance(error, dict) else error) or ""


def wait_status(client, run_id: str, word: str, timeout: float = 60) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line, error = status(client, run_id)
        if word in line:
            return line, error
        time.sleep(0.5)
    raise AssertionError(f"{run_id} never showed {word!r}; last: {line}")


def test_stop_answers_at_once_and_the_run_ends_stopped(app) -> None:
    client, runs = app
    run_id = start(client, recipe(runs, "slow"))
    wait_status(client, run_id, "running")
    started = time.monotonic()
    message = client.predict(run_id, "en", api_name="/stop_training")
    # It waited for the trainer's first step to end (16 s on the real one) before answering.
    assert time.monotonic() - started < 3.0, message
    assert "Stopping" in message
    line, _ = wait_status(client, run_id, "stopped", timeout=30)
    assert run_id in line


def test_a_crash_shows_its_cause_and_where_the_log_is_not_a_traceback(app) -> None:
    client, runs = app
    run_id = start(client, recipe(runs, "crash"))
    _, error = wait_status(client, run_id, "failed")
    # Paths in the runs folder as the app was given it (an admin's view; no logins), the project's never.
    assert f"ValueError: data.train: {runs}/{run_id}/sample.csv line 7 has no 'response' column" in error, error
    assert f"`{runs}/{run_id}/train.log`" in error
    assert "Traceback" not in error and 'File "' not in error
    assert str(REPO) not in error
    log_tail = client.predict(run_id, "en", api_name="/train_status")[4]
    assert "ValueError" in log_tail and f"{runs}/{run_id}" in log_tail and str(REPO) not in log_tail
    # The traceback is in the log, for whoever needs it.
    assert "Traceback" in (runs / run_id / "train.log").read_text(encoding="utf-8")


def test_saving_over_a_saved_recipe_asks_first(app) -> None:
    client, runs = app
    text = (REPO / "recipes" / "support.yaml").read_text(encoding="utf-8").replace("name: support", "name: twice")
    text = text.replace("../sample_data/", f"{REPO}/sample_data/")
    _, saved, _ = client.predict(text, False, "en", api_name="/save_recipe")
    assert f"Saved to `{runs}/recipes/twice.yaml`" in saved, saved
    target = runs / "recipes" / "twice.yaml"
    assert target.read_text(encoding="utf-8") == text

    changed = text.replace("max_steps:", "max_steps: 7 #")
    _, refused, _ = client.predict(changed, False, "en", api_name="/save_recipe")
    assert "already exists" in refused and f"{runs}/recipes/twice.yaml" in refused
    assert target.read_text(encoding="utf-8") == text  # untouched

    _, saved, box = client.predict(changed, True, "en", api_name="/save_recipe")
    assert "Saved to" in saved and target.read_text(encoding="utf-8") == changed
    assert box is False  # the box unticks itself: the next save asks again


def test_import_report_and_quarantine_show_the_runs_folder_as_given(app, tmp_path: Path) -> None:
    from gradio_client import handle_file

    client, runs = app
    chat = {"messages": [{"role": "user", "content": "Where is my order?"}, {"role": "assistant", "content": "Here."}]}
    upload = tmp_path / "chats.jsonl"
    upload.write_text("\n".join([json.dumps(chat), json.dumps(chat), "{not json"]) + "\n", encoding="utf-8")
    from builder.importers import MAPPING_KEYS
    from builder.ui.data_files import reason_text

    # After the files' list come the mapping fields (then the cleared report, preview and table of an upload).
    form = client.predict([handle_file(str(upload))], "en", api_name="/take_uploads")[1 : 1 + len(MAPPING_KEYS)]
    values = client.predict(*form, "en", api_name="/do_import")
    files, report, advice, quarantine = values[0], values[1], values[2], values[5]
    rows = quarantine["data"]
    # The reason column says each reason in the page's language (reason_text), the message column the details.
    assert {row[2] for row in rows} == {reason_text("duplicate", "en"), reason_text("invalid_json", "en")}, rows
    duplicate = next(row for row in rows if row[2] == reason_text("duplicate", "en"))
    assert re.fullmatch(rf"exact duplicate of {re.escape(str(runs))}/uploads/[\d-]+/chats\.jsonl:1", duplicate[3])
    everything = json.dumps([files, report, advice, quarantine])
    assert str(REPO) not in everything  # the project's folder is never named (the runs folder: as given)
