"""Every text of the web app exists in English and Spanish, and the texts built from data follow the language."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from builder.data.advisor import ADVICE, advice
from builder.run.rundir import RunProgress
from builder.ui.i18n import STRINGS, t

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "builder" / "ui"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_english_text_has_a_spanish_one_with_the_same_placeholders() -> None:
    missing = [key for key in STRINGS["en"] if not STRINGS["es"].get(key, "").strip()]
    assert missing == []
    differ = [key for key in STRINGS["en"] if placeholders(STRINGS["en"][key]) != placeholders(STRINGS["es"][key])]
    assert differ == []
    # t(key, lang, **values): a placeholder named like t's own parameters could never be filled.
    assert [key for key, text in STRINGS["en"].items() if placeholders(text) & {"key", "lang"}] == []
    # The advisor's warnings are among them, under their own keys.
    assert {f"adv_{key}" for key in ADVICE} <= set(STRINGS["es"])


def test_every_key_has_one_owner() -> None:
    """The tables are merged into one; a key two tables define would silently take the later one's words."""
    from collections import Counter

    from builder.ui.i18n import TABLES

    counts = Counter(key for table in TABLES.values() for key in table)
    twice = {key: [name for name, table in TABLES.items() if key in table] for key, n in counts.items() if n > 1}
    assert twice == {}
    assert set(STRINGS["en"]) == set(counts)  # nothing reaches the merged table but through TABLES
    assert len(TABLES) >= 8 and all(TABLES.values())


def test_every_key_the_tabs_ask_for_exists() -> None:
    asked: set[str] = set()
    for source in UI.glob("*.py"):
        if source.name == "i18n.py":
            continue  # the table itself, and examples in its docstrings
        text = source.read_text(encoding="utf-8")
        asked |= set(re.findall(r"\bt\(\s*\"([a-z_]+)\"", text))
        asked |= set(re.findall(r"\b(?:label|value|placeholder)=\"([a-z_]+)\"\)", text))
        asked |= set(re.findall(r"\bsaid\(\"([a-z_]+)\"", text))
        asked |= set(re.findall(r"\bUIText\(\s*\"([a-z_]+)\"", text))
    assert asked, "the scan found no keys: the pattern no longer matches the tabs' code"
    assert sorted(asked - set(STRINGS["en"])) == []


def test_the_advisor_speaks_spanish_through_the_same_keys() -> None:
    from builder.ui.i18n import message_text

    report = {"seen": 50, "kept": 40, "quarantined": 10, "duplicates": 0, "quarantine_reasons": {"invalid_json": 10}}
    items = advice(report)
    assert [item.key for item in items] == ["too_few", "quarantined"]
    spanish = [message_text(item, "es") for item in items]
    assert spanish[0].startswith("Solo 40 conversaciones utilizables")
    assert "20%" in spanish[1] and "invalid_json 10" in spanish[1]
    assert [message_text(item, "en") for item in items] == [item.text() for item in items]


def test_the_import_report_and_its_tables_in_spanish() -> None:
    from builder.ui.data_tab import advice_markdown, quarantine_table, report_markdown

    report = {
        "seen": 12,
        "kept": 10,
        "quarantined": 1,
        "duplicates": 1,
        "files": ["a.jsonl"],
        "quarantine_reasons": {"invalid_json": 1},
        "languages": {"es": 10},
        "warnings": ["/srv/app/sample_data/a.jsonl: the file is empty"],
        "notes": [{"key": "file_empty", "values": {"path": "/srv/app/sample_data/a.jsonl"}}],
    }
    text = report_markdown(report, "es")
    for english in ("seen", "kept", "duplicates", "quarantine_reasons", "languages"):
        assert f"- {english}:" not in text
    assert "- leídas: 12" in text and "- conservadas: 10" in text and "- idiomas: es 10" in text
    advice_md = advice_markdown(report, "es", lambda w: w.replace("/srv/app/", ""))
    assert "Solo 10 conversaciones" in advice_md
    assert "- ⚠ sample_data/a.jsonl: el archivo está vacío" in advice_md  # relative, as the served folders show it
    assert "the file is empty" not in advice_md
    quarantine = [{"file": "/srv/app/runs/up/a.jsonl", "line": 3, "reason": "duplicate", "message": "x of /srv/app/b"}]
    table = quarantine_table(quarantine, "es", lambda m: m.replace("/srv/app/", ""))
    assert table["headers"] == ["archivo", "línea", "motivo", "mensaje"]
    assert table["data"] == [["a.jsonl", 3, "duplicado de una conversación conservada", "x of b"]]


def test_the_loss_plot_is_labelled_in_the_chosen_language() -> None:
    from builder.ui.train_tab import loss_figure

    progress = RunProgress("r", "/tmp/r", "running", train_points=[(1, 2.0), (2, 1.5)], dev_points=[(2, 1.7)])
    figure = loss_figure(progress, "es")
    axes = figure.axes[0]
    assert (axes.get_xlabel(), axes.get_ylabel()) == (t("step", "es"), t("loss", "es")) == ("paso", "pérdida")
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["entrenamiento", "validación"]


def test_format_descriptions_say_in_english_exactly_what_the_importer_says() -> None:
    """The Data tab words the importer's description itself; in English both must agree, word for word."""
    from builder.config.recipe import FieldMapping
    from builder.importers import detect_format
    from builder.ui.data_tab import format_description

    repo = UI.parents[1]
    files = sorted(
        p for p in (repo / "sample_data").rglob("*") if p.suffix in (".jsonl", ".json", ".csv", ".tsv", ".txt")
    )
    assert len(files) >= 5
    for path in files:
        detected = detect_format(path, FieldMapping())
        assert format_description(detected, "en") == detected.description, path
        spanish = format_description(detected, "es")
        assert spanish != detected.description and ("codificación" in spanish or "archivo" in spanish), spanish


CHAT_LINE = '{"messages": [{"role": "user", "content": "Order %d?"}, {"role": "assistant", "content": "Here."}]}'
SHAREGPT_LINE = '{"conversations": [{"from": "human", "value": "Refund %d?"}, {"from": "gpt", "value": "Done."}]}'


def test_the_importers_notes_on_single_files_in_spanish(tmp_path: Path) -> None:
    """The Data tab says in Spanish what the importer says about each file: its format notes and its warnings."""
    from builder.config.recipe import FieldMapping
    from builder.data import import_files
    from builder.importers import detect_format
    from builder.ui.data_tab import advice_markdown, describe_formats, format_description

    # Two columns without known names: the importer guesses which is the prompt and which the reply.
    guessed = tmp_path / "pairs.csv"
    guessed.write_text("".join(f"question {i},answer {i}\n" for i in range(8)), encoding="utf-8")
    detected = detect_format(guessed, FieldMapping())
    assert [note.key for note in detected.notes] == ["guessed_columns"]
    assert format_description(detected, "en") == detected.description and "guessed columns" in detected.description
    spanish = format_description(detected, "es")
    assert "columnas supuestas: prompt=0, response=1" in spanish and "guessed" not in spanish, spanish
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    listed = describe_formats([str(tmp_path / "empty.jsonl")], {}, "es")
    assert "el archivo no contiene nada que importar" in listed and "holds nothing" not in listed, listed

    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([CHAT_LINE % 1, CHAT_LINE % 2, SHAREGPT_LINE % 3]) + "\n", encoding="utf-8")
    files = [tmp_path / "empty.jsonl", mixed, guessed]
    report = import_files(files, FieldMapping(), max_conversations=9, dedupe=False).report
    # The CLI's warnings stay English; the report keeps the same notes by key for the web app.
    english = "\n".join(report["warnings"])
    assert "the file is empty" in english and "several shapes" in english and "guessed columns" in english
    assert "max_conversations=9" in english
    assert {n["key"] for n in report["notes"]} == {"file_empty", "file_shapes", "file_guessed", "stopped_early"}
    json.dumps(report)  # REPORT.json: the notes are plain values
    text = advice_markdown(report, "es", lambda w: w.replace(f"{tmp_path}/", ""))
    for spanish in (
        "empty.jsonl: el archivo está vacío",
        "mixed.jsonl: registros de varias formas en un mismo archivo (2 openai, 1 sharegpt)",
        "pairs.csv: columnas supuestas: prompt=0, response=1",
        "detenido en max_conversations=9 en pairs.csv línea 6",
    ):
        assert spanish in text, text
    for english in ("the file is empty", "several shapes", "guessed columns", "the rest was not read"):
        assert english not in text, text
    # Said again in English, the page shows exactly the CLI's words.
    english_md = advice_markdown(report, "en")
    assert all(warning in english_md for warning in report["warnings"])


def test_pydantic_messages_translated_here_name_the_same_values_as_pydantics() -> None:
    from pydantic_core._pydantic_core import list_all_errors

    from builder.ui.i18n_messages import _PYDANTIC_ES

    english = {e["type"]: e["message_template_python"] for e in list_all_errors()}
    assert set(_PYDANTIC_ES) <= set(english), "an error type pydantic no longer has"
    assert all(STRINGS["en"][f"pyd_{key}"] == english[key] for key in _PYDANTIC_ES)


def web_context(tmp_path: Path):
    """The web app's shared context on a runs folder of its own; its trainer is a no-op (nothing trains here)."""
    import sys

    from builder.jobs.manager import JobManager
    from builder.ui.common import AppContext

    runs = tmp_path / "runs"
    return AppContext(runs_dir=runs, jobs=JobManager(runs, trainer_cmd=[sys.executable, "-c", "pass"], devices=["cpu"]))


RECIPE_CASES = {  # the recipe's text: (a line of its problems in Spanish, the same in English)
    "base_model: /etc\n": (
        "base_model: '/etc' está fuera de las carpetas que sirve esta aplicación "
        "(la carpeta del proyecto, la carpeta runs)",
        "base_model: '/etc' is outside the folders this app serves (the project folder, the runs folder)",
    ),
    "training:\n  max_steps: many\n": (
        "training.max_steps: Debe ser un número entero; no se pudo leer el texto como entero (se recibió 'many')",
        "training.max_steps: Input should be a valid integer, unable to parse string as an integer (got 'many')",
    ),
    "training:\n  max_stepz: 3\n": (
        "training.max_stepz: clave desconocida (revisa cómo se escribe y en qué sección está)",
        "training.max_stepz: unknown key (check its spelling and section)",
    ),
    "quantization: 3bit\n": ("quantization: Debe ser 'auto', '4bit'", "quantization: Input should be 'auto', '4bit'"),
    "training:\n  keep_best: true\n  save_steps: 3\n  eval_steps: 2\n": (
        "Valor no válido: keep_best y early_stopping_patience necesitan que save_steps (3) sea múltiplo de "
        "eval_steps (2)",
        "Value error, keep_best and early_stopping_patience need save_steps (3) to be a multiple of eval_steps (2)",
    ),
    "use_case: retrieval\ntask:\n  knowledge_base: [../../sample_data/support]\n  kb_typo: 1\n": (
        "task.kb_typo: clave desconocida (este caso de uso lee: ",
        "task.kb_typo: unknown key (this use case reads: ",
    ),
    "name: a: b\n": ("línea 3: no es YAML válido", "line 3: not valid YAML"),
    "- a list\n": ("una receta es un mapeo de claves, no list", "a recipe is a mapping of keys, not list"),
}


def test_recipe_and_path_problems_in_spanish(tmp_path: Path) -> None:
    """The Recipe tab's problems box: paths outside, pydantic's checks, our validators, a use case's options."""
    from builder.ui.recipe_tab import validate_yaml

    ctx = web_context(tmp_path)
    sample = REPO / "sample_data" / "support"
    for text, (spanish, english) in RECIPE_CASES.items():
        full = text if text.startswith("-") else f"data:\n  train: [{sample}]\n{text}"
        found_es = "\n".join(validate_yaml(ctx, full, "es")[1])
        found_en = "\n".join(validate_yaml(ctx, full, "en")[1])
        assert spanish in found_es and english not in found_es, found_es
        assert english in found_en, found_en
    missing = "\n".join(validate_yaml(ctx, "name: x\n", "es")[1])
    assert "data.train: no hay archivos de entrenamiento" in missing, missing


def test_the_train_tabs_message_line_in_spanish(tmp_path: Path) -> None:
    """What Start, Stop and Resume say is kept and said again in the language the user switches to."""
    from builder.config.confine import ConfinementError
    from builder.ui.job_actions import resume_job, said_markdown, start_job, stop_job

    ctx = web_context(tmp_path)
    recipe = ctx.user_recipes_dir / "here.yaml"
    recipe.parent.mkdir(parents=True)
    recipe.write_text(f"name: here\ndata:\n  train: [{REPO / 'sample_data' / 'support'}]\n", encoding="utf-8")

    told, run_id = start_job(ctx, str(recipe), ["data.train=[/etc/passwd]"])
    assert run_id is None and told[0] == "refused"
    spanish, english = said_markdown(ctx, told, "es"), said_markdown(ctx, told, "en")
    assert spanish.startswith("**No se inició:**") and "data.train[0]: '/etc/passwd' está fuera de" in spanish
    assert english.startswith("**Not started:**") and "data.train[0]: '/etc/passwd' is outside" in english
    assert str(ctx.runs_dir) not in spanish + english

    told, _ = start_job(ctx, str(recipe), ["max_steps"])  # an override without its value
    assert "--set 'max_steps': se esperaba clave.con.puntos=valor" in said_markdown(ctx, told, "es")
    told, _ = start_job(ctx, "/etc/passwd", [])  # a recipe file outside the served folders
    assert "recipe: '/etc/passwd' está fuera de las carpetas" in said_markdown(ctx, told, "es")
    told, _ = start_job(ctx, str(ctx.user_recipes_dir / "gone.yaml"), [])
    assert "runs/recipes/gone.yaml: no existe ese archivo de receta" in said_markdown(ctx, told, "es")

    told, run_id = start_job(ctx, str(recipe), ["training.max_steps=1"])
    assert run_id and told[0] in ("started", "queued_msg") and told[1] == {"run": run_id}
    assert said_markdown(ctx, told, "es") in (f"Iniciada `{run_id}`.", t("queued_msg", "es", run=run_id))
    assert said_markdown(ctx, ("stopped_msg", {"run": run_id}), "es").startswith(f"Deteniendo `{run_id}`")
    assert said_markdown(ctx, stop_job(ctx, None), "es").startswith("Ninguna ejecución seleccionada")
    assert said_markdown(ctx, resume_job(ctx, "no-such-run"), "es").startswith("Ninguna ejecución seleccionada")
    # Resuming checks the recipe again: changed to name a file outside, it is refused, in Spanish.
    recipe.write_text("name: here\ndata:\n  train: [/etc/passwd]\n", encoding="utf-8")
    spanish = said_markdown(ctx, resume_job(ctx, run_id), "es")
    assert spanish.startswith("**No se inició:**") and "data.train[0]: '/etc/passwd' está fuera" in spanish
    # An error said by keys (a merge folder outside) follows the language too; the type name stays.
    problem = ctx.confinement.problem("merge_dir", "/etc/out", ctx.runs_dir)
    said = said_markdown(ctx, ("error", ConfinementError(problem)), "es")
    assert said.startswith("**ConfinementError**: merge_dir: '/etc/out' está fuera de las carpetas"), said
