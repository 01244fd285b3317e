"""The Playground's first answer waits for the run's model to load (a minute or more on a CPU): while it loads,
the status line counts the seconds and, once this runs folder has seen the same base model load, says about how
long it takes; Gradio's progress bar follows the same estimate.

The load runs in a thread so the handler can say something every second; the time of each load is kept in the
runs folder (``.model_loads.json``, by base model) for the next estimate, also after the app restarts.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

LOADS_FILE = ".model_loads.json"
TICK_S = 1.0


def base_model(run_dir: Path) -> str | None:
    """The base model the run was trained from (its saved recipe), the key of its load times."""
    try:
        raw = yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    value = raw.get("base_model") if isinstance(raw, dict) else None
    return str(value) if value else None


def _loads(runs_dir: Path) -> dict[str, float]:
    try:
        raw = json.loads((runs_dir / LOADS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)} if isinstance(raw, dict) else {}


def load_estimate(runs_dir: Path, run_dir: Path) -> float | None:
    """Seconds the last load of this run's base model took here, or None when it has not loaded here yet."""
    model = base_model(run_dir)
    return _loads(runs_dir).get(model) if model else None


def record_load(runs_dir: Path, run_dir: Path, seconds: float) -> None:
    """Keep the time a load took, for the next estimate (the newest load: a first one also converts the model)."""
    model = base_model(run_dir)
    if not model:
        return
    loads = {**_loads(runs_dir), model: round(seconds, 1)}
    target = runs_dir / LOADS_FILE
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        partial.write_text(json.dumps(loads, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(target)  # whole or not at all: two loads at once never leave half a file
    except OSError:
        partial.unlink(missing_ok=True)  # an estimate is a help: a runs folder it cannot write loses only that


def loading_said(run: str, elapsed: float, estimate: float | None) -> tuple[str, dict[str, Any]]:
    """The status line's text key and values for a load ``elapsed`` seconds in."""
    if estimate is None:
        return "loading_model_first", {"run": run, "s": int(elapsed)}
    if elapsed > estimate:
        return "loading_model_late", {"run": run, "s": int(elapsed), "eta": round(estimate)}
    return "loading_model_eta", {"run": run, "s": int(elapsed), "eta": round(estimate)}


def load_in_steps(
    load: Callable[[Path], Any], runs_dir: Path, run_dir: Path, tick_s: float = TICK_S
) -> Iterator[tuple[float, float | None]]:
    """Load ``run_dir`` with ``load`` in a thread, yielding (seconds so far, estimate) every ``tick_s`` while it
    loads; the time is recorded when it is done, and the load's own error raised here when it fails."""
    estimate = load_estimate(runs_dir, run_dir)
    failed: list[BaseException] = []

    def work() -> None:
        try:
            try:
                load(run_dir)
            except ImportError:
                # transformers 5 fills its lazy namespace without a per-name lock: a first import of peft here
                # while another handler's thread imports transformers can fail once ("cannot import name
                # 'AutoModel'"); the second attempt finds the namespace complete.
                load(run_dir)
        except BaseException as err:  # handed to the caller, which shows it on the page
            failed.append(err)

    started = time.monotonic()
    thread = threading.Thread(target=work, name="playground-load", daemon=True)
    thread.start()
    yield 0.0, estimate
    while thread.is_alive():
        thread.join(tick_s)
        if thread.is_alive():
            yield time.monotonic() - started, estimate
    if failed:
        raise failed[0]
    record_load(runs_dir, run_dir, time.monotonic() - started)
