"""The evaluation's own progress: written by the evaluation, shown with the time left in the Evaluate tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.evaluate.progress import EvalProgress, read_progress, time_left


def test_time_left_is_the_pace_so_far_applied_to_what_remains() -> None:
    assert time_left(0.25, 30.0) == pytest.approx(90.0)
    assert time_left(1.0, 30.0) == 0.0
    assert time_left(0.0, 30.0) is None


def test_the_evaluation_writes_where_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr("builder.evaluate.progress.time.perf_counter", lambda: now[0])
    progress = EvalProgress(tmp_path, ["base", "base_few_shot", "tuned"], 40)
    progress.loading()
    assert read_progress(tmp_path)["phase"] == "loading"
    now[0] = 5.0
    progress.system(0)  # answering starts once the model is loaded
    now[0] = 20.0
    progress.update(20, 40)  # half of the first of three systems
    record = read_progress(tmp_path)
    assert record["system"] == "base" and record["answered"] == 20 and record["fraction"] == 0.1667
    assert record["elapsed_s"] == 15.0 and record["eta_s"] == 75.0
    now[0] = 20.5
    progress.update(21, 40)  # within a second of the last write: not written
    assert read_progress(tmp_path)["answered"] == 20
    now[0] = 40.0
    progress.system(1)
    record = read_progress(tmp_path)
    assert (record["system"], record["system_number"], record["answered"]) == ("base_few_shot", 2, 0)
    assert record["eta_s"] == pytest.approx(70.0)  # a third done in 35 s
    progress.done()
    assert read_progress(tmp_path)["phase"] == "done"


def test_the_evaluate_tab_shows_the_system_the_count_and_the_time_left() -> None:
    from builder.ui.evaluate_tab import progress_text

    record = {
        "phase": "answering",
        "system": "base_few_shot",
        "system_number": 2,
        "systems": 3,
        "answered": 120,
        "n_examples": 324,
        "fraction": 0.456,
        "eta_s": 185.0,
    }
    english = progress_text(record, "en")
    assert "base + few-shot (system 2 of 3): 120/324 dev examples" in english
    assert "46%" in english and "about 3m05s left" in english
    spanish = progress_text(record, "es")
    assert "base con ejemplos (sistema 2 de 3): 120/324" in spanish and "quedan unos 3m05s" in spanish
    assert progress_text({**record, "eta_s": None}, "en").endswith("of the evaluation")
    assert progress_text({"phase": "loading"}, "es") == "cargando el modelo"
    assert progress_text({"phase": "done"}, "en") == "" and progress_text(None, "en") == ""
