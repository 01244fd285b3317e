"""How fast training really goes on this machine: earlier runs' measured pace corrects the time estimate.

``builder.models.capacity`` estimates a step's time from FLOPs and a device's nominal throughput; on a CPU that
can be several times off (a shared machine, the 4-bit slow path). Every finished run records its estimate
(``run.json``: ``estimate.seconds_per_step``, before any correction) and its measured pace (the final line
of ``metrics.jsonl``). The newest finished run on the same kind of device and quantization gives the ratio
measured / estimated, and the trainer's log, the Recipe tab and the Train tab all multiply by the same
ratio, so they say the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.run.rundir import RunDir

# A run of one or two steps is mostly loading and warm-up: its pace says little about the next run's.
MIN_MEASURED_STEPS = 2


@dataclass(frozen=True)
class Pace:
    ratio: float  # measured seconds per step / estimated
    run_id: str  # the run it was measured on


def device_kind(device: str | None) -> str:
    """``cpu``, ``cuda``, ``mps``...: "cuda:0" and "cuda" are the same kind."""
    return (device or "").split(":")[0].strip().lower()


def run_pace(run: RunDir) -> float | None:
    """A finished run's measured / estimated seconds per step, or None when it lacks either."""
    info = run.info()
    estimated = info.estimate.seconds_per_step if info.estimate else None
    if info.status != "completed" or not isinstance(estimated, int | float) or estimated <= 0:
        return None
    final = next((row for row in reversed(run.metrics()) if row.get("final")), None)
    measured = (final or {}).get("seconds_per_step")
    steps = (final or {}).get("step")
    if not isinstance(measured, int | float) or measured <= 0 or not isinstance(steps, int):
        return None
    if steps < MIN_MEASURED_STEPS:
        return None
    return measured / estimated


def measured_pace(runs_dir: Path | str | None, device: str, quantization: str) -> Pace | None:
    """The newest finished run in ``runs_dir`` on this kind of device and quantization, and its ratio."""
    folder = Path(runs_dir) if runs_dir else None
    if folder is None or not folder.is_dir():
        return None
    kind = device_kind(device)
    runs = [RunDir(p) for p in folder.iterdir() if p.is_dir() and (p / "run.json").is_file()]
    runs.sort(key=lambda r: r.run_json.stat().st_mtime, reverse=True)
    for run in runs:
        info = run.info()
        if device_kind(info.device) != kind or info.quantization != quantization:
            continue
        ratio = run_pace(run)
        if ratio is not None:
            return Pace(ratio, run.name)
    return None


def calibrated_seconds(
    seconds: float | None, runs_dir: Path | str | None, device: str, quantization: str
) -> tuple[float | None, Pace | None]:
    """``seconds`` (an estimate) corrected by the measured pace of the newest comparable run, and that pace."""
    if seconds is None:
        return None, None
    pace = measured_pace(runs_dir, device, quantization)
    return (seconds * pace.ratio, pace) if pace else (seconds, None)
