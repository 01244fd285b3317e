"""The Train tab in a newcomer's first hour: a steps field, a status that moves during the dev scoring, the same
time as the Recipe tab, a log without harmless library warnings, and no next-round panel before any feedback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "sample_data" / "support"

LOG = """\
Loading the model
Failed to load CPU gemm_4bit_forward from kernels-community: offline. Please make sure you already `pip install kernels`
/x/site-packages/transformers/foo.py:12: FutureWarning: `tokenizer` is deprecated
  warnings.warn(
memory        peak 1.20 GB on cpu: fits
/x/site-packages/peft/bar.py:3: UserWarning: something a user may want to know
{'loss': 2.5, 'step': 1}
"""


def web_context(tmp_path: Path):
    from builder.jobs.manager import JobManager
    from builder.ui.common import AppContext

    runs = tmp_path / "runs"
    runs.mkdir(parents=True)
    return AppContext(runs_dir=runs, jobs=JobManager(runs, trainer_cmd=[sys.executable, "-c", "pass"], devices=["cpu"]))


def test_the_log_on_the_page_leaves_out_harmless_library_warnings() -> None:
    from builder.ui.train_status import shown_log

    shown = shown_log(LOG)
    assert "gemm_4bit_forward" not in shown and "pip install kernels" not in shown
    assert "FutureWarning" not in shown and "warnings.warn(" not in shown
    # Everything else stays, a UserWarning too.
    assert shown.splitlines() == [
        "Loading the model",
        "memory        peak 1.20 GB on cpu: fits",
        "/x/site-packages/peft/bar.py:3: UserWarning: something a user may want to know",
        "{'loss': 2.5, 'step': 1}",
    ]


def test_the_status_says_when_the_dev_set_is_scored_and_which_step_the_run_is_at(tmp_path) -> None:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from builder.run.rundir import RunDir
    from builder.train.callbacks import MetricsWriter
    from builder.ui.train_status import status_markdown

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.update_info(status="running", max_steps=3)
    writer = MetricsWriter(run.path, dev_examples=5)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), per_device_eval_batch_size=2, report_to=[])
    state, control = TrainerState(), TrainerControl()
    writer.on_train_begin(args, state, control)
    assert "loading" not in status_markdown(run.progress(), "en")  # training has begun: the first step runs
    state.global_step = 2
    control.should_evaluate = True  # the trainer's flow decided that step 2 ends with a dev scoring
    writer.on_step_end(args, state, control)
    progress = run.progress()
    assert progress.step == 2 and progress.phase == "dev"  # step 2 although no loss was logged since step 0
    shown = status_markdown(progress, "en")
    assert "step 2/3" in shown and "scoring the dev set: batch 0/3" in shown, shown
    writer.live_written = 0.0
    writer.on_prediction_step(args, state, control)
    assert "batch 1/3" in status_markdown(run.progress(), "en")
    assert "puntuando la validación: lote 1/3" in status_markdown(run.progress(), "es")
    writer.on_evaluate(args, state, control)
    assert "scoring" not in status_markdown(run.progress(), "en")
    # A finished run says nothing of phases.
    run.update_info(status="completed")
    assert "scoring" not in status_markdown(run.progress(), "en")
    # Before training begins (the model is loading), the status says so.
    fresh = RunDir(tmp_path / "fresh")
    fresh.path.mkdir()
    fresh.update_info(status="running", max_steps=3)
    assert "loading the model" in status_markdown(fresh.progress(), "en")


def test_the_steps_and_minutes_fields_write_the_overrides() -> None:
    from builder.ui.job_actions import parse_overrides
    from builder.ui.train_tab import with_budget

    text = with_budget("quantization=none\ntraining.max_steps=50", 3, None)
    assert parse_overrides(text) == ["quantization=none", "training.max_steps=3"]
    assert parse_overrides(with_budget(text, None, 1.5)) == ["quantization=none", "training.max_minutes=1.5"]
    assert parse_overrides(with_budget(text, 0, None)) == ["quantization=none"]


def test_the_train_tab_estimate_is_the_recipe_tabs(tmp_path) -> None:
    from builder.ui.recipe_reports import capacity_markdown
    from builder.ui.train_tab import estimate_markdown

    ctx = web_context(tmp_path)
    raw = {"name": "t", "use_case": "support", "quantization": "none", "data": {"train": [str(SUPPORT)]}}
    raw["training"] = {"max_steps": 40}
    recipe = ctx.user_recipes_dir / "t.yaml"
    recipe.parent.mkdir()
    recipe.write_text(yaml.safe_dump(raw), encoding="utf-8")
    table = capacity_markdown(ctx, recipe.read_text(), "en")
    per_step = next(line for line in table.splitlines() if "this machine" in line).split("|")[4].strip()
    shown = estimate_markdown(ctx, str(recipe), "", "en")
    assert f"40 steps × {per_step}" in shown, (shown, per_step)
    assert "10 steps ×" in estimate_markdown(ctx, str(recipe), "training.max_steps=10", "en")
    assert "pasos" in estimate_markdown(ctx, str(recipe), "", "es")
    assert estimate_markdown(ctx, "/etc/passwd", "", "en") == ""  # refused recipes: Start says why


def test_the_next_round_waits_for_feedback(tmp_path) -> None:
    from builder.ui.train_tab import has_feedback

    ctx = web_context(tmp_path)
    run = ctx.runs_dir / "first"
    (run / "adapter").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "completed"}))
    (run / "adapter" / "adapter_config.json").write_text("{}")
    assert not has_feedback(ctx, "first") and not has_feedback(ctx, None)
    vote = {"prompt": "hi", "winner": "tuned", "base": "a", "tuned": "b", "blind": True}
    (run / "votes.jsonl").write_text(json.dumps(vote) + "\n")
    assert has_feedback(ctx, "first")
