"""The Recipe tab in a newcomer's first hour: it never calls too little data valid, says which files it trains on
and how long it takes in all, picks full precision for the bundled models on a CPU, and speaks Spanish."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from builder.config.recipe import BUNDLED_MODEL, MULTILINGUAL_MODEL
from builder.models.bundled import BUNDLED_MODELS

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "sample_data" / "support"


def web_context(tmp_path: Path):
    from builder.jobs.manager import JobManager
    from builder.ui.common import AppContext

    runs = tmp_path / "runs"
    runs.mkdir(parents=True)
    return AppContext(runs_dir=runs, jobs=JobManager(runs, trainer_cmd=[sys.executable, "-c", "pass"], devices=["cpu"]))


def recipe_text(train: list[Path], **extra: object) -> str:
    raw = {"name": "t", "use_case": "support", "data": {"train": [str(p) for p in train]}, **extra}
    return yaml.safe_dump(raw, sort_keys=False)


def one_conversation(path: Path) -> Path:
    messages = [{"role": "user", "content": "Where is my order?"}, {"role": "assistant", "content": "On its way."}]
    path.write_text(json.dumps({"messages": messages}) + "\n", encoding="utf-8")
    return path


def test_too_little_data_is_not_valid_and_says_how_much_it_has_and_how_much_is_advised(tmp_path) -> None:
    from builder.ui.recipe_tab import problems_markdown, validate_yaml

    ctx = web_context(tmp_path)
    single = one_conversation(ctx.runs_dir / "one.jsonl")
    binary = ctx.runs_dir / "blob.jsonl"
    binary.write_bytes(bytes(range(256)) * 64)
    for path, has in ((single, "1 conversation(s)"), (binary, "0 conversation(s)")):
        _, problems = validate_yaml(ctx, recipe_text([path]), "en")
        shown = problems_markdown(problems, "en")
        assert "valid" not in shown, shown
        assert (has in shown and "at least 10" in shown and "about 100 are advised" in shown) or (
            "give no conversations" in shown
        ), shown
    _, spanish = validate_yaml(ctx, recipe_text([single]), "es")
    assert "se aconsejan unas 100" in spanish[0] and "1 conversación(es)" in spanish[0], spanish
    # The sample's 227 conversations are a recipe.
    _, problems = validate_yaml(
        ctx, recipe_text([SUPPORT / "conversations_en.jsonl", SUPPORT / "conversations_es.jsonl"])
    )
    assert problems == []


def test_the_recipe_says_which_files_it_trains_on_and_when_the_imported_ones_are_ignored(tmp_path) -> None:
    from builder.ui.recipe_reports import data_markdown

    ctx = web_context(tmp_path)
    files = [SUPPORT / "conversations_en.jsonl"]
    shown = data_markdown(ctx, recipe_text(files), {"paths": [str(files[0])]}, "en")
    assert "Trains on:" in shown and "sample_data/support/conversations_en.jsonl" in shown, shown
    assert "114 conversations" in shown and "not used" not in shown, shown
    # The translation recipe names its own data: the support files imported in the Data tab are not used.
    raw, _ = ctx.template_recipe("translation")
    from builder.usecases.paths import with_absolute_paths

    translation = yaml.safe_dump(with_absolute_paths(raw, ctx.recipes_dir))
    shown = data_markdown(ctx, translation, {"paths": [str(files[0])]}, "en")
    assert "support_phrases_en_es.tsv" in shown and "1 file(s) imported in the Data tab are not used" in shown, shown
    spanish = data_markdown(ctx, translation, {"paths": [str(files[0])]}, "es")
    assert "Entrena con:" in spanish and "no se usan" in spanish and "Trains on" not in spanish, spanish
    # Few conversations: valid, with a warning that says how many are advised.
    few = data_markdown(ctx, recipe_text([REPO / "sample_data" / "content" / "briefs.jsonl"]), {}, "en")
    assert "Only 24 conversations" in few and "about 100" in few, few


def test_the_fit_table_gives_the_total_time_and_the_pace_measured_here(tmp_path) -> None:
    from builder.ui.recipe_reports import capacity_markdown

    ctx = web_context(tmp_path)
    text = recipe_text([SUPPORT / "conversations_en.jsonl"], training={"max_steps": 30})
    shown = capacity_markdown(ctx, text, "en")
    head = next(line for line in shown.splitlines() if line.startswith("| Device"))
    assert "Total" in head and "To make it fit" not in head, shown  # every row fits: no empty column
    this = next(line for line in shown.splitlines() if "this machine" in line)
    per_step = float(this.split("|")[4].strip().removesuffix(" s"))
    assert "30 steps planned" in shown and this.split("|")[5].strip() not in ("", "-"), shown
    # A finished run on this machine measured twice the estimate: the table says so, per step and in total.
    run = ctx.runs_dir / "earlier"
    run.mkdir()
    (run / "run.json").write_text(
        json.dumps(
            {"status": "completed", "device": "cpu", "quantization": "4bit", "estimate": {"seconds_per_step": 2.0}}
        )
    )
    (run / "metrics.jsonl").write_text(json.dumps({"step": 5, "final": True, "seconds_per_step": 4.0}) + "\n")
    text4 = recipe_text([SUPPORT / "conversations_en.jsonl"], quantization="4bit", training={"max_steps": 30})
    plain = capacity_markdown(web_context(tmp_path / "other"), text4, "en")
    measured = capacity_markdown(ctx, text4, "en")
    assert "pace measured in `earlier`" in measured and "earlier" not in plain
    seconds = [
        float(next(x for x in m.splitlines() if "this machine" in x).split("|")[4].strip()[:-2])
        for m in (plain, measured)
    ]
    assert abs(seconds[1] - 2 * seconds[0]) < 0.11, seconds
    assert per_step > 0


def test_the_template_trains_the_bundled_models_in_full_precision_on_a_cpu(tmp_path) -> None:
    from builder.ui.model_cards import cpu_quantization

    assert cpu_quantization({"base_model": BUNDLED_MODEL, "quantization": "4bit"})["quantization"] == "none"
    assert cpu_quantization({"quantization": "4bit"})["quantization"] == "none"  # the default model is bundled
    # A model of the user's own keeps what the recipe says.
    assert cpu_quantization({"base_model": "/models/llama-8b", "quantization": "4bit"})["quantization"] == "4bit"


def test_model_cards_and_picker_labels_in_spanish() -> None:
    from builder.ui.model_cards import model_card, model_choices

    gemma = BUNDLED_MODELS[MULTILINGUAL_MODEL]
    english, spanish = model_card(gemma, "en"), model_card(gemma, "es")
    assert english == gemma.describe()  # the same words as the CLI's, in English
    assert "parámetros" in spanish and "base preentrenada" in spanish and "multilingüe" in spanish, spanish
    assert "parameters" not in spanish and "languages" not in spanish
    labels = dict((v, k) for k, v in model_choices("es"))
    assert "inglés" in labels[BUNDLED_MODEL] and "multilingüe" in labels[MULTILINGUAL_MODEL]
