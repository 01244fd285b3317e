"""run.json through the typed RunInfo: unknown keys kept, unset fields not written, bad values named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.run.rundir import RunDir


def test_update_info_keeps_unknown_keys_and_writes_only_what_was_set(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.info().status is None and not run.is_run()
    run.update_info(status="preparing", error=None, future_key={"a": 1})
    info = run.update_info(status="running", max_steps=10, estimate={"peak_gb": 1.5, "seconds_per_step": 0.4})
    assert info.status == "running" and info.max_steps == 10 and info.estimate and info.estimate.peak_gb == 1.5
    written = json.loads(run.run_json.read_text())
    assert written == {
        "status": "running",
        "error": None,
        "future_key": {"a": 1},
        "max_steps": 10,
        "estimate": {"peak_gb": 1.5, "seconds_per_step": 0.4},
    }
    run.mark_ended("failed", "boom")
    run.mark_ended("stopped")  # an ending already written stays
    assert run.info().status == "failed" and run.info().error == "boom"


def test_a_bad_value_names_the_file_and_the_key(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.run_json.write_text(json.dumps({"status": "running", "max_steps": "many"}))
    with pytest.raises(ValueError, match=r"run\.json: max_steps: .*integer"):
        run.info()
