"""The first hour's pieces of the web app that need no browser: samples offered, the set-aside table in the
page's language naming its fields, one conversation said in the singular, transcript text escaped for a
Chatbot, the start-here guide's steps, the evaluation estimate."""

from __future__ import annotations

import json
from pathlib import Path

from builder.jobs.manager import JobManager
from builder.ui.common import AppContext, chat_messages, chat_text
from builder.ui.data_tab import quarantine_table, report_markdown
from builder.ui.evaluate_tab import eval_estimate
from builder.ui.start_here import guide_markdown, steps_done


def context(runs: Path) -> AppContext:
    return AppContext(runs_dir=runs, jobs=JobManager(runs))


def test_every_sample_folder_is_offered_with_the_chat_app_exports(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    assert "support/exports" in ctx.sample_sets() and "support" in ctx.sample_sets()
    names = {p.name for p in ctx.sample_files("support/exports")}
    assert "whatsapp_export.txt" in names and "helpdesk_export.csv" in names
    assert ctx.sample_use_case("support/exports") == "support"
    assert ctx.sample_files("../etc") == []  # a name from a request, never a path


def test_set_aside_reasons_in_spanish_name_the_pages_fields_not_flags() -> None:
    records = [
        {
            "file": "/x/chats.jsonl",
            "line": 3,
            "reason": "unknown_role",
            "message": "role 'BOT' is not known; map it, e.g. --role-map BOT=user",
        },
        {"file": "/x/chats.jsonl", "line": 9, "reason": "agent_unknown", "message": "name it: --agent NAME"},
    ]
    table = quarantine_table(records, "es")
    assert table["headers"][2] == "motivo"
    (_, _, reason, message), (_, _, reason2, message2) = table["data"]
    assert (
        "Mapa de roles" in reason and "--role-map" not in message and "«BOT=user» en el campo Mapa de roles" in message
    )
    assert "campo Agente" in reason2 and "--agent" not in message2


def test_one_conversation_is_said_in_the_singular() -> None:
    report = {"kept": 1, "quarantined": 0, "duplicates": 0, "files": ["chats.jsonl"]}
    assert "1 conversación lista," in report_markdown(report, "es")
    assert "1 conversation ready," in report_markdown(report, "en")
    assert "2 conversaciones listas" in report_markdown({**report, "kept": 2}, "es")


def test_transcript_text_is_escaped_for_a_chatbot() -> None:
    text = '<img src=x onerror="alert(1)"> [link](http://e.x) &amp; <script>x</script>\nline'
    shown = chat_text(text)
    assert "<img" not in shown and "<script" not in shown and "&amp;amp;" in shown and shown.endswith("<br>line")
    assert chat_messages([{"role": "user", "content": "<b>hi</b>"}]) == [
        {"role": "user", "content": "&lt;b&gt;hi&lt;/b&gt;"}
    ]


def test_the_guide_marks_the_first_step_not_done(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    assert steps_done(ctx, {"paths": []}) == [False, False, False, False]
    assert steps_done(ctx, {"paths": ["a"], "languages": {"en": 3}})[0]
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "mine.yaml").write_text("name: mine\n")
    done = steps_done(ctx, {"languages": {}})
    assert done == [True, True, False, False]
    guide = guide_markdown(done, "es")
    assert "✔ Datos" in guide and "3\\. **Entrenar" in guide and "estás aquí" in guide


def test_an_evaluation_says_how_much_it_answers_and_how_long_by_an_earlier_pace(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    run = tmp_path / "r1"
    run.mkdir()
    (run / "recipe.yaml").write_text("name: r1\nuse_case: support\neval: {max_examples: 4}\n")
    (run / "dev.jsonl").write_text("".join(json.dumps({"i": i}) + "\n" for i in range(6)))
    assert "4 dev examples" in eval_estimate(ctx, "r1", "en") and "time left" in eval_estimate(ctx, "r1", "en")
    old = tmp_path / "r0"
    old.mkdir()
    systems = {name: {"seconds": 10.0} for name in ("base", "base_few_shot", "tuned")}
    (old / "eval.json").write_text(json.dumps({"n_examples": 5, "systems": systems}))
    # 30 s for 5 examples: 6 s an example, 24 s for 4.
    assert "0m24s" in eval_estimate(ctx, "r1", "es") and "`r0`" in eval_estimate(ctx, "r1", "es")


def test_the_runs_folder_is_shown_as_given_to_admins_and_trainers_and_as_runs_to_reviewers(tmp_path: Path) -> None:
    from builder.ui.common import REPO_ROOT, runs_label
    from builder.ui.team import Caller, reset_caller, set_caller

    elsewhere = tmp_path / "my runs"
    assert runs_label(elsewhere) == elsewhere.as_posix()
    assert runs_label(REPO_ROOT / "runs") == "runs"  # the project's own runs folder, as the README names it
    ctx = AppContext(runs_dir=elsewhere, jobs=JobManager(elsewhere), runs_label=runs_label(elsewhere))
    saved = elsewhere / "recipes" / "mine.yaml"
    saved.parent.mkdir(parents=True)
    saved.write_text("name: mine\n", encoding="utf-8")
    # No logins: whoever reaches the page started the app, and sees the folder they gave it.
    assert ctx.confinement.shown(saved) == f"{elsewhere}/recipes/mine.yaml"
    assert (f"{elsewhere}/recipes/mine.yaml", str(saved)) in ctx.recipe_choices()
    assert ctx.confinement.shown(REPO_ROOT / "recipes" / "support.yaml") == "recipes/support.yaml"
    ctx.team = object()  # type: ignore[assignment]  # logins on: the caller's role decides
    for role, shown in [("admin", str(elsewhere)), ("trainer", str(elsewhere)), ("reviewer", "runs")]:
        token = set_caller(Caller("someone", role))
        try:
            assert ctx.confinement.shown(saved) == f"{shown}/recipes/mine.yaml", role
            assert ctx.confinement.shown_text(f"see {saved}") == f"see {shown}/recipes/mine.yaml", role
        finally:
            reset_caller(token)
    assert ctx.confinement.shown(saved) == "runs/recipes/mine.yaml"  # outside a handler: nobody's to see
