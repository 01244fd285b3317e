"""Long jobs as detached subprocesses, one per device, in one FIFO queue: training (`python -m
builder.cli.sft`), evaluation (`python -m builder.evaluate`), merging an adapter (`python -m
builder.export.files merge`) and writing a GGUF file (`python -m builder.export.files gguf`). Whatever
its kind, a job waits for its device, so an evaluation never shares a GPU with a training.

The UI never trains (or evaluates, or merges, or exports a model) in its own process. A job is launched
in a new session, so it goes on when the browser closes or the app stops; everything the UI shows is
read back from files: the job's own state under ``<runs>/.jobs/<run id>.json`` (queued, running, done,
its pid) and the run directory the trainer writes (read through ``builder.run.rundir.RunDir``).
A page reload or an app restart therefore re-attaches by reading files.

Several app processes may share one runs folder, so every change to the queue happens
under an exclusive file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import builder
from builder.jobs.process import (
    Job,
    JobKind,
    command_line,
    detect_devices,
    is_alive,
    job_id,
    proc_start_time,
    start_process,
    terminate,
)
from builder.run.rundir import FINAL_STATUSES, RunDir, RunProgress, error_from_log, read_json, write_json_atomic

# The project folder, found from the package (not this file) so that moving this module keeps it right.
REPO_ROOT = Path(builder.__file__).resolve().parents[1]
DEFAULT_TRAINER_CMD = (sys.executable, "-m", "builder.cli.sft")
DEFAULT_EVALUATE_CMD = (sys.executable, "-m", "builder.evaluate.runner")
DEFAULT_MERGE_CMD = (sys.executable, "-m", "builder.export.files", "merge")
DEFAULT_GGUF_CMD = (sys.executable, "-m", "builder.export.files", "gguf")

# ---------------------------------------------------------------- the manager


class JobManager:
    """A FIFO queue of jobs over the devices of this machine, persisted under ``runs_dir/.jobs``."""

    def __init__(
        self,
        runs_dir: Path,
        *,
        trainer_cmd: Sequence[str] = DEFAULT_TRAINER_CMD,
        evaluate_cmd: Sequence[str] = DEFAULT_EVALUATE_CMD,
        merge_cmd: Sequence[str] = DEFAULT_MERGE_CMD,
        gguf_cmd: Sequence[str] = DEFAULT_GGUF_CMD,
        devices: Sequence[str] | None = None,
        cwd: Path = REPO_ROOT,
        stop_grace_s: float = 15.0,
    ) -> None:
        self.runs_dir = Path(runs_dir).resolve()
        self.jobs_dir = self.runs_dir / ".jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.trainer_cmd = list(trainer_cmd)
        self.commands: dict[str, list[str]] = {
            "train": self.trainer_cmd,
            "evaluate": list(evaluate_cmd),
            "export": list(merge_cmd),
            "gguf": list(gguf_cmd),
        }
        self.devices = list(devices) if devices else detect_devices()
        self.cwd = Path(cwd)
        self.stop_grace_s = stop_grace_s
        self._children: dict[int, subprocess.Popen] = {}
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        # Told of each user action, (action, job): "started", "resumed", "stopped", "evaluated", "merged",
        # "exported" (the audit).
        self.observers: list[Callable[[str, Job], None]] = []

    def _tell(self, action: str, job: Job) -> Job:
        for observer in self.observers:
            try:
                observer(action, job)
            except Exception as err:  # the action is done; a failed record must not undo or hide it
                print(f"warning: could not record {action} of {job.id}: {err}", file=sys.stderr, flush=True)
        return job

    # -- persistence

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.jobs_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _job_path(self, job_id: str) -> Path:
        return self.jobs_dir / f"{job_id}.json"

    def _save(self, job: Job) -> None:
        write_json_atomic(self._job_path(job.id), asdict(job))

    def get(self, job_id: str) -> Job | None:
        data = read_json(self._job_path(job_id))
        if data is None:
            return None
        known = Job.__dataclass_fields__
        return Job(**{k: v for k, v in data.items() if k in known})

    def jobs(self) -> list[Job]:
        found = [self.get(p.stem) for p in self.jobs_dir.glob("*.json")]
        return sorted((j for j in found if j is not None), key=lambda j: j.queued_at)

    def queue(self) -> list[Job]:
        return [j for j in self.jobs() if j.state == "queued"]

    # -- user actions

    def new_run_id(self, name: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"
        base = f"{safe}-{datetime.now():%Y%m%d-%H%M%S}"
        run_id, n = base, 1
        while (self.runs_dir / run_id).exists() or self._job_path(run_id).exists():
            n += 1
            run_id = f"{base}-{n}"
        return run_id

    def submit(self, recipe_path: Path | str, overrides: Sequence[str] = (), *, name: str | None = None) -> Job:
        """Queue a new training run; it starts as soon as a device is free (now, if one is)."""
        recipe_path = Path(recipe_path).resolve()
        if not recipe_path.is_file():
            raise FileNotFoundError(f"{recipe_path}: no such recipe file")
        with self._locked():
            run_id = self.new_run_id(name or recipe_path.stem)
            run_dir = self.runs_dir / run_id
            run_dir.mkdir(parents=True)
            job = Job(id=run_id, run_dir=str(run_dir), recipe_path=str(recipe_path), overrides=list(overrides))
            self._save(job)
        self.tick()
        return self._tell("started", self.get(run_id) or job)

    def evaluate(self, run_id: str) -> Job:
        """Queue an evaluation of a trained run (base, few-shot base and tuned on its dev split)."""
        return self._submit_on_run(run_id, "evaluate")

    def merge(self, run_id: str, target: Path | str) -> Job:
        """Queue merging a run's adapter into its base model, written to ``target``."""
        return self._submit_on_run(run_id, "export", target=str(target))

    def export_gguf(self, run_id: str, quant: str, target: Path | str) -> Job:
        """Queue writing a run as one GGUF file (and its Ollama Modelfile) of ``quant`` into the folder ``target``."""
        return self._submit_on_run(run_id, "gguf", target=str(target), quant=quant)

    def _submit_on_run(self, run_id: str, kind: JobKind, target: str | None = None, quant: str | None = None) -> Job:
        """A job on a finished run; while one of that kind is queued or running, that one is returned."""
        run = RunDir(self.runs_dir / run_id)
        if not run.has_adapter():
            raise ValueError(f"{run_id}: no trained adapter yet; a {kind} job needs a finished training")
        ident = job_id(run_id, kind)
        with self._locked():
            job = self.get(ident)
            if job is None or job.state == "done":
                job = Job(id=ident, run_dir=str(run.path), kind=kind, target=target, quant=quant)
                self._save(job)
        self.tick()
        action = {"evaluate": "evaluated", "export": "merged"}.get(kind, "exported")
        return self._tell(action, self.get(ident) or job)

    def resume(self, job_id: str) -> Job:
        """Queue a stopped or failed run again; the trainer continues from its last checkpoint."""
        with self._locked():
            job = self.get(job_id)
            if job is None:
                raise KeyError(f"no job {job_id!r} under {self.jobs_dir}")
            if job.state != "done":
                raise ValueError(f"{job_id} is {job.state}; only a finished run can be resumed")
            job.state, job.resume, job.pid, job.device, job.stop_requested = "queued", True, None, None, False
            job.queued_at, job.started_at, job.ended_at, job.outcome, job.error = time.time(), None, None, None, None
            self._save(job)
        self.tick()
        return self._tell("resumed", self.get(job_id) or job)

    def stop(self, job_id: str, *, wait: bool = False) -> Job:
        """A queued job leaves the queue; a running one gets SIGTERM, then SIGKILL after a grace period.

        Without ``wait`` this returns at once: the trainer ends after its current step (which can
        take many seconds), and ``tick`` kills it if the grace period runs out first.
        """
        with self._locked():
            job = self.get(job_id)
            if job is None:
                raise KeyError(f"no job {job_id!r} under {self.jobs_dir}")
            if job.state == "queued":
                self._finish(job, "stopped", None)
                return self._tell("stopped", job)
            pid = job.pid if job.state == "running" else None
            job.stop_requested = True
            job.stop_requested_at = job.stop_requested_at or time.time()
            self._save(job)
        if pid is not None and not wait:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            self.tick()
            return self._tell("stopped", self.get(job_id) or job)
        if pid is not None:
            terminate(pid, self._children.get(pid), self.stop_grace_s)
        with self._locked():
            job = self.get(job_id) or job
            if job.state == "running":
                self._finish(job, "stopped", None)
        self.tick()
        return self._tell("stopped", self.get(job_id) or job)

    # -- scheduling

    def tick(self) -> None:
        """Notice jobs that ended, then start queued jobs on free devices. Cheap; call it often."""
        with self._locked():
            jobs = self.jobs()
            busy: set[str] = set()
            for job in jobs:
                if job.state != "running":
                    continue
                if is_alive(job, self._children.get(job.pid) if job.pid else None):
                    busy.add(job.device or "")
                    self._kill_if_overdue(job)
                else:
                    self._settle(job)
            for job in jobs:
                if job.state != "queued":
                    continue
                free = [d for d in self.devices if d not in busy]
                if not free:
                    break
                self._launch(job, free[0])
                busy.add(free[0])

    def start_background(self, interval_s: float = 2.0) -> None:
        """Keep the queue moving while no browser is open."""
        if self._thread and self._thread.is_alive():
            return

        def loop() -> None:
            while not self._stop_event.wait(interval_s):
                with contextlib.suppress(Exception):  # a bad file must not kill the scheduler; tick reports
                    self.tick()

        self._thread = threading.Thread(target=loop, name="job-scheduler", daemon=True)
        self._thread.start()

    def stop_background(self) -> None:
        self._stop_event.set()

    # -- reading state for the UI

    def progress(self, job_id: str) -> RunProgress:
        job = self.get(job_id)
        run = RunDir(job.run_dir if job else self.runs_dir / job_id)
        progress = run.progress(job_id)
        if job is None:
            return progress
        progress.log_tail = run.log_tail(log=self.log_path(job))
        progress.device = progress.device or job.device
        if job.state == "queued":
            progress.status = "queued"
            ids = [j.id for j in self.queue()]
            progress.queue_position = ids.index(job.id) + 1 if job.id in ids else None
            progress.eta_s = None
        elif job.state == "running":
            progress.status = "stopping" if job.stop_requested else "running"
        else:
            progress.status = job.outcome or progress.status
            progress.error = job.error or progress.error
            progress.eta_s = None
        return progress

    def list_runs(self) -> list[str]:
        """Run ids, newest first: every folder with a run.json or a job entry."""
        ids = {j.run_id for j in self.jobs()}
        if self.runs_dir.is_dir():
            ids.update(p.name for p in self.runs_dir.iterdir() if p.is_dir() and RunDir(p).is_run())
        return sorted(ids, key=lambda i: self._sort_key(i), reverse=True)

    def _sort_key(self, run_id: str) -> float:
        job = self.get(run_id)
        if job:
            return job.queued_at
        with contextlib.suppress(OSError):
            return RunDir(self.runs_dir / run_id).run_json.stat().st_mtime
        return 0.0

    def active_job(self) -> Job | None:
        """The newest running or queued job (what a reloaded page shows first)."""
        live = [j for j in self.jobs() if j.state in ("running", "queued")]
        return live[-1] if live else None

    # -- internals

    def log_path(self, job: Job) -> Path:
        return RunDir(job.run_dir).job_log(job.kind)

    def _exit_path(self, job: Job) -> Path:
        return self.jobs_dir / f"{job.id}.exit"

    def _launch(self, job: Job, device: str) -> None:
        cmd = command_line(job, self.commands[job.kind])
        try:
            proc = start_process(job, cmd, device, self.log_path(job), self._exit_path(job), self.cwd)
        except OSError as err:
            command = " ".join(self.commands[job.kind])
            self._finish(job, "failed", f"could not start the {job.kind} job ({command}): {err}")
            return
        self._children[proc.pid] = proc
        job.state, job.device, job.pid = "running", device, proc.pid
        job.pid_start = proc_start_time(proc.pid)
        job.started_at = time.time()
        self._save(job)

    def _settle(self, job: Job) -> None:
        """A running job's process is gone: record how it ended."""
        if job.kind != "train":
            self._settle_by_exit_status(job)
            return
        run = RunDir(job.run_dir)
        info = run.info()
        status = info.status
        child = self._children.pop(job.pid, None) if job.pid else None
        code = child.returncode if child is not None else None
        if job.stop_requested and status != "completed":
            self._finish(job, "stopped", None)
            return
        if status in FINAL_STATUSES:
            self._finish(job, status, info.error if status == "failed" else None)
            return
        error = error_from_log(run.log)
        if not error:
            error = f"the trainer exited with code {code}" if code is not None else "the trainer process ended"
            error += f" without writing how the run ended; see {run.log.name}"
        self._finish(job, "failed", error)
        run.mark_ended("failed", error)

    def _settle_by_exit_status(self, job: Job) -> None:
        """An evaluation, a merge or a GGUF export: its exit status (written by its shell) says how it ended."""
        if job.pid is not None:
            self._children.pop(job.pid, None)
        exit_file = self._exit_path(job)
        try:
            code: int | None = int(exit_file.read_text().strip())
        except (OSError, ValueError):
            code = None
        exit_file.unlink(missing_ok=True)
        if job.stop_requested and code != 0:
            self._finish(job, "stopped", None)
        elif code == 0:
            self._finish(job, "completed", None)
        else:
            log = self.log_path(job)
            ended = f"exited with code {code}" if code is not None else "ended without an exit status"
            self._finish(job, "failed", error_from_log(log) or f"the {job.kind} job {ended}; see {log.name}")

    def _finish(self, job: Job, outcome: str, error: str | None) -> None:
        job.state, job.outcome, job.error, job.ended_at = "done", outcome, error, time.time()
        self._save(job)
        if outcome == "stopped" and job.kind == "train":
            RunDir(job.run_dir).mark_ended("stopped")

    def _kill_if_overdue(self, job: Job) -> None:
        """A stop was asked for and the grace period is over: SIGKILL the job's process group."""
        if not job.stop_requested or job.pid is None:
            return
        if time.time() - (job.stop_requested_at or 0.0) < self.stop_grace_s:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)
