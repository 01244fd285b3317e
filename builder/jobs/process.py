"""One job: the record the queue stores (``Job``), its command line, and its process (started in its own
session, watched through /proc, stopped by process group). The queue itself is ``builder.jobs.manager``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from builder.run.rundir import RunDir

JobState = Literal["queued", "running", "done"]
JobKind = Literal["train", "evaluate", "export", "gguf"]  # export: a merge; gguf: one GGUF file
KIND_SEPARATOR = "~"  # never in a run id (new_run_id keeps [A-Za-z0-9._-]): "<run>~evaluate" is that run's job


@dataclass
class Job:
    """What the queue knows about one job; the run directory holds the rest."""

    id: str
    run_dir: str
    recipe_path: str = ""
    overrides: list[str] = field(default_factory=list)
    resume: bool = False
    kind: JobKind = "train"
    target: str | None = None  # export: the folder the merge writes; gguf: the folder of the GGUF file
    quant: str | None = None  # gguf: its quantization (None: the export's default)
    state: JobState = "queued"
    device: str | None = None
    pid: int | None = None
    pid_start: str | None = None  # /proc start time: a reused pid is not our job
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # completed | failed | stopped, once done
    stop_requested: bool = False
    stop_requested_at: float | None = None  # when SIGTERM was sent; SIGKILL follows after the grace period
    error: str | None = None

    @property
    def run_id(self) -> str:
        return Path(self.run_dir).name


def job_id(run_id: str, kind: JobKind) -> str:
    """A training job is known by its run id; another kind of job on that run by ``<run id>~<kind>``."""
    return run_id if kind == "train" else f"{run_id}{KIND_SEPARATOR}{kind}"


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    # fields[0] is the state (field 3 of stat); the start time is field 22.
    return fields[19] if len(fields) > 19 else None


def proc_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return None


def detect_devices() -> list[str]:
    """One queue slot per GPU, or one for the CPU. Read without importing torch (the UI must start fast)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
        return [f"cuda:{d}" for d in ids] or ["cpu"]
    gpus = Path("/proc/driver/nvidia/gpus")
    count = len(list(gpus.iterdir())) if gpus.is_dir() else 0
    return [f"cuda:{i}" for i in range(count)] or ["cpu"]


def command_line(job: Job, base: Sequence[str]) -> list[str]:
    """The job's command: ``base`` (the kind's program) with the run, its target or its recipe and overrides."""
    if job.kind == "evaluate":
        return [*base, job.run_dir]
    if job.kind == "export":
        return [*base, job.run_dir, "--out", job.target or str(RunDir(job.run_dir).merged)]
    if job.kind == "gguf":
        quant = ["--quant", job.quant] if job.quant else []
        return [*base, job.run_dir, *quant, *(["--out", job.target] if job.target else [])]
    cmd = [*base, job.recipe_path, "--output-dir", job.run_dir]
    for item in job.overrides:
        cmd += ["--set", item]
    if job.resume:
        cmd.append("--resume")
    return cmd


def process_args(job: Job, cmd: list[str], exit_file: Path) -> list[str]:
    """What is started: a training as it is (it writes its ending to run.json); any other job
    under a shell that records its exit status in ``exit_file``, so that its ending survives an app restart."""
    if job.kind == "train":
        return cmd
    exit_file.unlink(missing_ok=True)
    # The Stop button signals the whole group; the shell's trap keeps it alive until the job has
    # cleaned up and exited, so the job is not seen as ended (its device free) while it still works.
    return ["/bin/sh", "-c", 'trap : TERM; "$@"; echo $? > "$0"', str(exit_file), *cmd]


def start_process(
    job: Job, cmd: list[str], device: str, log_path: Path, exit_file: Path, cwd: Path
) -> subprocess.Popen:
    """Start the job's command on ``device`` in a session of its own (closing the app or the browser does not
    stop it), its output appended to ``log_path`` after a line naming the command."""
    env = dict(os.environ)
    if device.startswith("cuda:"):
        env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
    env["PYTHONUNBUFFERED"] = "1"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        return subprocess.Popen(
            process_args(job, cmd, exit_file),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, which the Stop button signals
        )


def is_alive(job: Job, child: subprocess.Popen | None) -> bool:
    """Whether the job's process still runs: our child's status, else /proc (its start time: a reused pid is not it)."""
    pid = job.pid
    if pid is None:
        return False
    if child is not None:
        return child.poll() is None
    if proc_state(pid) in (None, "Z", "X"):
        return False
    return job.pid_start is None or proc_start_time(pid) == job.pid_start


def terminate(pid: int, child: subprocess.Popen | None, grace_s: float) -> None:
    """SIGTERM to the job's process group (the trainer and any workers), SIGKILL if it lingers past ``grace_s``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if child is not None:
            if child.poll() is not None:
                return
        elif proc_state(pid) in (None, "Z", "X"):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
