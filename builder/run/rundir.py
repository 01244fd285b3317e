"""The run directory: the contract between the CLI, the job queue, the UI, evaluation and export.

This module is the only place that names the files of a run directory. Everything else asks a
``RunDir`` for a path, the run's state (``info()``), its recipe, its progress or its log.

Written so that a crash leaves it readable: JSON files are replaced atomically, metrics are
appended a line at a time, and ``run.json`` says how the run ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from builder.run.info import RunInfo

if TYPE_CHECKING:
    from builder.config.recipe import Recipe

RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
LIVE = "live.json"  # where training is now: its step, or its dev scoring (rewritten every step)
RECIPE = "recipe.yaml"
DATA_REPORT = "data_report.json"
TRAIN_EXAMPLES = "train.jsonl"
DEV_EXAMPLES = "dev.jsonl"
ADAPTER = "adapter"
ADAPTER_CONFIG = "adapter_config.json"  # PEFT's name; its presence means training saved the adapter
TOKENIZER = "tokenizer"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"  # TensorBoard event files (builder.train.trackers)
LOG = "train.log"
EVAL_JSON = "eval.json"
EVAL_MD = "eval.md"
EVAL_LOG = "eval.log"
EXPORT_LOG = "export.log"
GGUF_LOG = "gguf.log"
VOTES = "votes.jsonl"
CORRECTIONS = "corrections.jsonl"  # "Write the right reply" in the playground (builder.cli.feedback)
PAIRS = "pairs.jsonl"  # the vote pairs a DPO round trained on
EXPORTS = "exports"
MERGED = "merged"
KNOWLEDGE_BASE = "kb"
SPLITS = {"train": TRAIN_EXAMPLES, "dev": DEV_EXAMPLES}

FINAL_STATUSES = ("completed", "failed", "stopped")


def listing() -> str:
    """What a finished run directory holds, for help texts."""
    folders = ", ".join(f"{name}/" for name in (ADAPTER, TOKENIZER, CHECKPOINTS))
    return (
        f"{RECIPE} (resolved), {RUN_JSON}, {METRICS}, {DATA_REPORT}, {TRAIN_EXAMPLES}, {DEV_EXAMPLES}, "
        f"{folders}, {EVAL_JSON} and {EVAL_MD}"
    )


# ---------------------------------------------------------------- files written so a crash leaves no half


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, moved over it when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _replace_dir(new: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    new.rename(target)


@contextlib.contextmanager
def atomic_dir(target: Path, put: Callable[[Path, Path], None] = _replace_dir) -> Iterator[Path]:
    """A fresh temporary folder beside ``target``; when the block succeeds, ``put(tmp, target)`` moves it
    into place (by default replacing what was there). On failure the temporary folder is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        yield tmp
        put(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON object, or ``default`` while the file is missing, half written or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
    return data if isinstance(data, dict) else default


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()


def write_jsonl(path: Path, records: Any) -> int:
    """Write an iterable of records, one JSON line each, atomically; returns how many were written."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Objects, one a line; a line that fails to parse (cut by a crash, or being appended) is skipped."""
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    records.append(record)
    except FileNotFoundError:
        pass
    return records


# ---------------------------------------------------------------- logs

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


def tail(path: Path, max_lines: int = 40, max_bytes: int = 64_000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    text = _ANSI_ESCAPE.sub("", data.decode("utf-8", errors="replace"))
    # tqdm redraws progress bars with carriage returns; keep only the last state of each line.
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines[-max_lines:])


def error_from_log(log_path: Path, max_lines: int = 8) -> str | None:
    """Why a crashed process ended, as it printed it: the exception's message and its continuation lines.

    The traceback's frames (source paths and code) stay in the log, which the UI points to.
    """
    text = tail(log_path, max_lines=400)
    if not text:
        return None
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    block = lines[starts[-1] :] if starts else lines
    heads = [i for i, line in enumerate(block) if _EXCEPTION_LINE.match(line)]
    if not starts:
        heads += [i for i, line in enumerate(block) if line.lower().startswith("error")]
    if not heads:
        return block[-1].strip() if starts else None
    first = max(heads)
    message = [block[first]]
    for line in block[first + 1 :]:
        if not line.startswith((" ", "\t")) or not line.strip():
            break  # the message's own lines are indented; anything else is later output
        message.append(line)
    return "\n".join(message[:max_lines])


# ---------------------------------------------------------------- the run directory


@dataclass
class RunProgress:
    """Everything the Train tab shows about one run, read from its files."""

    run_id: str
    run_dir: str
    status: str  # queued | running | stopping | completed | failed | stopped | unknown
    queue_position: int | None = None
    device: str | None = None
    step: int = 0
    max_steps: int | None = None
    loss: float | None = None
    eval_loss: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    error: str | None = None
    phase: str | None = None  # while running: "train", "dev" (scoring the dev set) or "saving"
    dev_done: int | None = None  # dev batches scored so far, of dev_total
    dev_total: int | None = None
    start_step: int = 0  # the step a resumed run started from (its pace counts the steps since)
    train_points: list[tuple[int, float]] = field(default_factory=list)
    dev_points: list[tuple[int, float]] = field(default_factory=list)
    log_tail: str = ""

    @property
    def fraction(self) -> float:
        if not self.max_steps or self.max_steps <= 0:
            return 0.0
        return min(1.0, self.step / self.max_steps)


class RunDir:
    """One run's folder: where each file lives, and the readers and writers every caller shares."""

    def __init__(self, path: Path | str | RunDir) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    # -- where things are

    run_json = property(lambda self: self.path / RUN_JSON)
    metrics_file = property(lambda self: self.path / METRICS)
    live = property(lambda self: self.path / LIVE)
    recipe_file = property(lambda self: self.path / RECIPE)
    data_report = property(lambda self: self.path / DATA_REPORT)
    adapter = property(lambda self: self.path / ADAPTER)
    tokenizer = property(lambda self: self.path / TOKENIZER)
    checkpoints = property(lambda self: self.path / CHECKPOINTS)
    tensorboard = property(lambda self: self.path / TENSORBOARD)
    log = property(lambda self: self.path / LOG)
    eval_json = property(lambda self: self.path / EVAL_JSON)
    eval_md = property(lambda self: self.path / EVAL_MD)
    eval_log = property(lambda self: self.path / EVAL_LOG)
    votes = property(lambda self: self.path / VOTES)
    corrections = property(lambda self: self.path / CORRECTIONS)
    pairs = property(lambda self: self.path / PAIRS)
    exports = property(lambda self: self.path / EXPORTS)
    merged = property(lambda self: self.path / EXPORTS / MERGED)
    knowledge_base = property(lambda self: self.path / KNOWLEDGE_BASE)

    def job_log(self, kind: str) -> Path:
        """Where a job of this kind (train, evaluate, export: a merge, gguf) on this run writes its output."""
        return self.path / {"train": LOG, "evaluate": EVAL_LOG, "export": EXPORT_LOG, "gguf": GGUF_LOG}[kind]

    def examples(self, split: str) -> Path:
        """``train.jsonl`` or ``dev.jsonl``: the examples trained on or held out."""
        return self.path / SPLITS[split]

    def skipped(self, usecase: str) -> Path:
        """The conversations a use case could not turn into examples, and why."""
        return self.path / f"skipped_{usecase}.jsonl"

    def archive_members(self) -> list[Path]:
        """What a shared adapter needs beside itself: its tokenizer, the recipe, run.json and the eval report."""
        members: list[Path] = []
        for folder in (self.adapter, self.tokenizer):
            members += sorted(p for p in folder.rglob("*") if p.is_file())
        return members + [p for p in (self.recipe_file, self.run_json, self.eval_md) if p.is_file()]

    # -- state

    def is_run(self) -> bool:
        return self.run_json.is_file()

    def has_adapter(self) -> bool:
        return (self.adapter / ADAPTER_CONFIG).is_file()

    def info(self) -> RunInfo:
        """``run.json`` (status, device, quantization used, ...); every field unset before the trainer wrote it."""
        raw = read_json(self.run_json, {})
        try:
            return RunInfo.model_validate(raw if isinstance(raw, dict) else {})
        except ValidationError as err:  # only the trainer writes it; say which key of which file is wrong
            where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise ValueError(f"{self.run_json}: {where}") from None

    def update_info(self, **fields: Any) -> RunInfo:
        """Set ``fields`` in run.json (checked against ``RunInfo``), keeping the others."""
        info = RunInfo.model_validate({**self.info().to_json(), **fields})
        write_json_atomic(self.run_json, info.to_json())
        return info

    def mark_ended(self, status: str, error: str | None = None) -> None:
        """Record an ending the trainer could not write (it died, or was stopped), unless it wrote one."""
        if self.is_run() and self.info().status in FINAL_STATUSES:
            return
        fields: dict[str, Any] = {"status": status, "ended_at": datetime.now().isoformat(timespec="seconds")}
        if error:
            fields["error"] = error
        self.update_info(**fields)

    def recipe(self) -> Recipe:
        """The recipe as the run resolved it (overrides applied, data paths absolute)."""
        from builder.config.recipe import load_recipe

        return load_recipe(self.recipe_file)

    def eval_result(self) -> dict[str, Any] | None:
        return read_json(self.eval_json)

    def metrics(self) -> list[dict[str, Any]]:
        """The lines of ``metrics.jsonl``; a half-written last line (training is appending) is skipped."""
        return read_jsonl(self.metrics_file)

    def log_tail(self, max_lines: int = 40, log: Path | None = None) -> str:
        return tail(log or self.log, max_lines)

    def _read_live(self, progress: RunProgress) -> None:
        """Where a running training is now (``live.json``): its step between two logged ones, or its dev scoring."""
        live = read_json(self.live, {}) if progress.status in ("running", "stopping", "preparing") else {}
        step = live.get("step") if isinstance(live, dict) else None
        if not isinstance(step, int):
            return
        if step >= progress.step:
            progress.step = step
            progress.start_step = int(live.get("start_step") or 0)
            if isinstance(live.get("elapsed_s"), int | float):
                progress.elapsed_s = float(live["elapsed_s"])
        progress.phase = live.get("phase")
        if progress.phase == "dev":
            progress.dev_done, progress.dev_total = live.get("dev_done"), live.get("dev_total")

    def progress(self, run_id: str | None = None) -> RunProgress:
        """Status, steps, losses, pace and log tail, read from run.json, metrics.jsonl and train.log."""
        info = self.info()
        progress = RunProgress(run_id=run_id or self.name, run_dir=str(self.path), status=info.status or "unknown")
        progress.error = info.error
        progress.device = info.device
        max_steps = info.max_steps
        progress.max_steps = int(max_steps) if isinstance(max_steps, int | float) and max_steps > 0 else None
        for row in self.metrics():
            step = row.get("step")
            if not isinstance(step, int | float):
                continue
            if row.get("final"):
                # The summary line repeats the last dev loss (not a new point) but has the true last step:
                # the loss is logged every logging_steps, so the last logged step may be short of it.
                progress.step = max(progress.step, int(step))
                continue
            if row.get("loss") is not None:
                progress.train_points.append((int(step), float(row["loss"])))
                progress.loss = float(row["loss"])
                progress.step = max(progress.step, int(step))
                if row.get("elapsed_s") is not None:
                    progress.elapsed_s = float(row["elapsed_s"])
            if row.get("eval_loss") is not None:
                progress.dev_points.append((int(step), float(row["eval_loss"])))
                progress.eval_loss = float(row["eval_loss"])
        self._read_live(progress)
        if progress.status == "running" and progress.max_steps and progress.step and progress.elapsed_s:
            per_step = progress.elapsed_s / max(1, progress.step - progress.start_step)
            progress.eta_s = max(0.0, per_step * (progress.max_steps - progress.step))
        progress.log_tail = self.log_tail()
        return progress
