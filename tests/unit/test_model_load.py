"""The Playground's model load (builder/ui/model_load.py): seconds said while it loads, an estimate from the
last load of the same base model in the runs folder, the load's own error handed back, in both languages."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from builder.ui.i18n import t
from builder.ui.model_load import LOADS_FILE, load_estimate, load_in_steps, loading_said


def run_of(runs: Path, name: str, base: str) -> Path:
    run = runs / name
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text(f"name: {name}\nbase_model: {base}\n", encoding="utf-8")
    return run


def test_a_load_says_its_seconds_and_the_next_load_of_that_model_has_an_estimate(tmp_path: Path) -> None:
    first, again = run_of(tmp_path, "a", "bundled:tiny"), run_of(tmp_path, "b", "bundled:tiny")
    other = run_of(tmp_path, "c", "org/other-model")
    release = threading.Event()
    loaded: list[Path] = []

    def slow_load(run: Path) -> None:
        release.wait(5)
        loaded.append(run)

    steps = load_in_steps(slow_load, tmp_path, first, tick_s=0.05)
    assert next(steps) == (0.0, None)  # said at once: no load of this model here yet
    elapsed, estimate = next(steps)  # still loading: a tick later
    assert elapsed > 0 and estimate is None and not loaded
    release.set()
    assert all(e is None for _, e in steps) and loaded == [first]
    recorded = load_estimate(tmp_path, again)  # another run of the same base model
    assert recorded is not None and recorded >= elapsed
    assert load_estimate(tmp_path, other) is None
    assert next(load_in_steps(lambda run: None, tmp_path, again))[1] == recorded

    key, values = loading_said("b", 3.2, 40.4)
    assert (key, values) == ("loading_model_eta", {"run": "b", "s": 3, "eta": 40})
    assert t(key, "es", **values) == "Cargando `b`: 3 s de unos 40 s (la última carga de este modelo aquí)."
    assert loading_said("b", 50, 40)[0] == "loading_model_late"
    key, values = loading_said("a", 1.5, None)
    assert "1 s so far" in t(key, "en", **values) and "primera carga" in t(key, "es", **values)


def test_a_failed_load_raises_its_own_error_and_records_no_time(tmp_path: Path) -> None:
    run = run_of(tmp_path, "a", "bundled:tiny")

    def broken(_: Path) -> None:
        raise OSError("adapter_model.safetensors is cut short")

    with pytest.raises(OSError, match="cut short"):
        list(load_in_steps(broken, tmp_path, run, tick_s=0.01))
    assert not (tmp_path / LOADS_FILE).exists()
    (tmp_path / LOADS_FILE).write_text("{not json", encoding="utf-8")  # a damaged file: no estimate, no error
    assert load_estimate(tmp_path, run) is None


def test_a_load_that_loses_the_lazy_import_race_once_is_tried_again(tmp_path: Path) -> None:
    run = run_of(tmp_path, "a", "bundled:tiny")
    calls: list[Path] = []

    def racy(path: Path) -> None:
        calls.append(path)
        if len(calls) == 1:
            raise ImportError("cannot import name 'AutoModel' from 'transformers'")

    list(load_in_steps(racy, tmp_path, run, tick_s=0.01))
    assert calls == [run, run] and load_estimate(tmp_path, run) is not None
