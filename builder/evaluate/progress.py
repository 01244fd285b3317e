"""Where a running evaluation is: ``eval_progress.json`` in the run directory, written by the evaluation
after each batch and read by the Evaluate tab, which shows the system, the answers done and the time left.

The time left is the pace so far applied to the answers still to come: the three systems answer the same
dev prompts, and each prompt is encoded once (the few-shot examples once per system), so an answer costs
about the same whatever the system.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from builder.run import rundir

EVAL_PROGRESS = "eval_progress.json"
WRITE_EVERY_S = 1.0  # at most one write a second: a batch of a small model takes less


def progress_path(run_dir: Path | str) -> Path:
    return Path(run_dir) / EVAL_PROGRESS


def time_left(fraction: float, elapsed_s: float) -> float | None:
    """Seconds still to go at the pace so far; None before anything is done."""
    if fraction <= 0 or elapsed_s <= 0:
        return None
    return max(0.0, elapsed_s * (1.0 - fraction) / fraction)


class EvalProgress:
    """Written by the evaluation: ``loading``, then ``answering`` system by system, then ``done``."""

    def __init__(self, run_dir: Path | str, systems: Sequence[str], n_examples: int) -> None:
        self.path = progress_path(run_dir)
        self.systems = list(systems)
        self.n_examples = n_examples
        self.started = time.perf_counter()
        self.answering_since: float | None = None
        self.system_index = 0
        self._last_write = 0.0

    def loading(self) -> None:
        self._write({"phase": "loading"}, force=True)

    def system(self, index: int) -> None:
        if self.answering_since is None:
            self.answering_since = time.perf_counter()
        self.system_index = index
        self.update(0, 1, force=True)

    def update(self, done: int, total: int, *, force: bool = False) -> None:
        """``done`` of ``total`` rows of the current system's passes."""
        within = done / total if total else 1.0
        fraction = (self.system_index + within) / len(self.systems)
        elapsed = time.perf_counter() - (self.answering_since or self.started)
        record = {
            "phase": "answering",
            "system": self.systems[self.system_index],
            "system_number": self.system_index + 1,
            "systems": len(self.systems),
            "answered": round(within * self.n_examples),
            "n_examples": self.n_examples,
            "fraction": round(fraction, 4),
            "elapsed_s": round(elapsed, 1),
            "eta_s": _rounded(time_left(fraction, elapsed)),
        }
        self._write(record, force=force or done >= total)

    def done(self) -> None:
        self._write({"phase": "done", "fraction": 1.0, "eta_s": 0.0}, force=True)

    def _write(self, record: dict[str, Any], *, force: bool) -> None:
        now = time.perf_counter()
        if not force and now - self._last_write < WRITE_EVERY_S:
            return
        self._last_write = now
        record["total_elapsed_s"] = round(now - self.started, 1)
        record["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        rundir.write_json_atomic(self.path, record)


def read_progress(run_dir: Path | str) -> dict[str, Any] | None:
    data = rundir.read_json(progress_path(run_dir))
    return data if isinstance(data, dict) else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
