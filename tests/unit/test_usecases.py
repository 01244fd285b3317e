"""Translation, sentiment and content: conversations in, training examples out (no model needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.config.recipe import RecipeError, recipe_from_dict
from builder.core.conversation import Conversation, Message
from builder.usecases import PromptForm, get_usecase

REPO = Path(__file__).resolve().parents[2]


def conv(*turns: tuple[str, str], source: str = "data.tsv", line: int = 1, **metadata) -> Conversation:
    return Conversation([Message(r, c) for r, c in turns], source=source, line=line, metadata=metadata)


def recipe(use_case: str, **task):
    return recipe_from_dict({"use_case": use_case, "task": task})


def test_sentiment_from_pairs_scores_and_label_map(tmp_path: Path) -> None:
    uc = get_usecase("sentiment")
    r = recipe("sentiment", labels=["negative", "positive"], label_map={0: "negative", 1: "positive"})
    data = [
        conv(("user", "Great chairs"), ("assistant", "1")),
        conv(("user", "Broken on arrival"), ("assistant", "0"), line=2),
        conv(("user", "Meh"), ("assistant", "7"), line=3),
    ]
    examples = uc.build_examples(data, r, tmp_path)
    assert [e.reference for e in examples] == ["positive", "negative"]
    assert examples[0].messages[-1] == {"role": "assistant", "content": "positive"}
    assert (
        "negative, positive" in examples[0].messages[1]["content"]
        and "Great chairs" in examples[0].messages[1]["content"]
    )
    skipped = [json.loads(x) for x in (tmp_path / "skipped_sentiment.jsonl").read_text().splitlines()]
    assert skipped == [{"where": "data.tsv:3", "reason": skipped[0]["reason"]}] and "'7'" in skipped[0]["reason"]
    scores = uc.score(["Positive.", "I don't know"], examples, r)
    assert scores["accuracy"] == pytest.approx(0.5)
    assert scores["off_label"] == 1
    assert scores["confusion"]["negative"]["(other)"] == 1


def test_sentiment_from_satisfaction_score(tmp_path: Path) -> None:
    uc = get_usecase("sentiment")
    transcript = conv(
        ("user", "It arrived broken."),
        ("assistant", "Sorry!"),
        ("user", "Fed up."),
        ("assistant", "Refunded."),
        satisfaction="1.0",
    )
    (example,) = uc.build_examples([transcript], recipe("sentiment"), tmp_path)
    assert example.reference == "negative"
    assert "It arrived broken." in example.messages[1]["content"] and "Fed up." in example.messages[1]["content"]
    assert "Refunded" not in example.messages[1]["content"]  # the agent's words are not the customer's sentiment


def test_sentiment_bad_option_names_the_key() -> None:
    with pytest.raises(RecipeError, match=r"task\.label_map: 'x' maps to 'angry'"):
        get_usecase("sentiment").build_examples([], recipe("sentiment", label_map={"x": "angry"}), Path("."))
    with pytest.raises(RecipeError, match=r"task\.lables: unknown key"):
        get_usecase("sentiment").build_examples([], recipe("sentiment", lables=["a", "b"]), Path("."))


def test_translation_detects_source_and_filters_transcripts(tmp_path: Path) -> None:
    uc = get_usecase("translation")
    r = recipe("translation", target_lang="es")
    data = [
        conv(
            ("user", "Your order has left our warehouse and will arrive on Friday."),
            ("assistant", "Tu pedido ha salido de nuestro almacén y llegará el viernes."),
        ),
        conv(
            ("user", "The parcel is waiting for you at the pick-up point near your home."),
            ("assistant", "El paquete te espera en el punto de recogida cerca de tu casa."),
            ("user", "Thank you very much for your patience with this delivery."),
            ("assistant", "Thank you very much for your patience with this delivery."),  # not a translation
            line=2,
        ),
    ]
    examples = uc.build_examples(data, r, tmp_path)
    assert len(examples) == 2
    assert all(e.meta["source_lang"] == "en" for e in examples)
    # The instruction names the target only: a deployed model is asked it without detecting anything.
    assert examples[0].messages[1]["content"] == (
        "Translate to Spanish:\n\nYour order has left our warehouse and will arrive on Friday."
    )
    assert examples[0].messages[:2] == uc.prompt_messages(data[0].messages[0].content, r)
    assert "not in 'es'" in (tmp_path / "skipped_translation.jsonl").read_text()
    both = uc.build_examples(data[:1], recipe("translation", source_lang="en", both_directions=True), tmp_path)
    assert [e.meta["target_lang"] for e in both] == ["es", "en"]
    assert both[1].messages[1]["content"].startswith("Translate to English:")
    older = recipe("translation", instruction="Translate from {source} to {target}:\n\n{text}")
    (old,) = uc.build_examples(data[:1], older, tmp_path)  # an older recipe still trains as it did
    assert old.messages[1]["content"].startswith("Translate from English to Spanish:\n\nYour order")
    assert uc.prompt_form(older).before == "Translate from the source language to Spanish:\n\n"


def test_every_use_case_frames_a_users_text_as_its_training_examples() -> None:
    """One form per use case: the system prompt (the recipe's, else the use case's) and the user turn's frame."""
    translation, sentiment, content, support = (
        get_usecase(n) for n in ("translation", "sentiment", "content", "support")
    )
    form = translation.prompt_form(recipe("translation", target_lang="fr"))
    assert (form.before, form.after) == ("Translate to French:\n\n", "")
    assert form.system.startswith("You are a translator")
    own = recipe_from_dict({"use_case": "translation", "system_prompt": "Traduce."})
    assert translation.prompt_form(own).system == "Traduce."
    labels = sentiment.prompt_form(recipe("sentiment", labels=["bad", "good"]))
    assert (
        labels.user_turn("  Broken!  ")
        == "Classify the sentiment of this customer message. Answer with one word: bad, good.\n\nBroken!"
    )
    assert content.prompt_form(recipe("content")).before.startswith("Write a reusable macro reply")
    assert content.prompt_form(recipe("content"), {"kind": "faq"}).before.startswith("Write an FAQ entry")
    assert support.prompt_form(recipe("support")) == PromptForm("", "", "")
    assert support.prompt_messages("  hola ", recipe("support")) == [{"role": "user", "content": "  hola "}]


def test_a_conversation_keeps_its_own_system_message_and_frames_every_user_turn() -> None:
    form = PromptForm("Run system.", "Do X:\n\n", "")
    history = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "uno"},
        {"role": "tool", "content": "t"},
    ]
    assert form.messages(" two ", history) == [
        {"role": "system", "content": "Run system."},
        {"role": "user", "content": "Do X:\n\none"},
        {"role": "assistant", "content": "uno"},
        {"role": "user", "content": "Do X:\n\ntwo"},
    ]
    assert form.messages("two", [], system="Typed.")[0] == {"role": "system", "content": "Typed."}
    assert form.messages("two", [], system="  ")[0] == {"role": "system", "content": "Run system."}
    own = [{"role": "system", "content": "Client."}, {"role": "user", "content": "two"}]
    assert form.conversation(own)[0] == {"role": "system", "content": "Client."}
    assert form.conversation([{"role": "system", "content": ""}, {"role": "user", "content": "x"}])[0]["content"] == ""


def test_translation_score_cuts_extra_lines() -> None:
    uc = get_usecase("translation")
    r = recipe("translation")
    (example,) = uc.build_examples([conv(("user", "Thank you"), ("assistant", "Gracias"))], r, Path("/tmp"))
    assert uc.score(["Gracias\nHere is your translation."], [example], r)["chrf"] == pytest.approx(100.0)
    assert uc.score(["Obrigado"], [example], r)["chrf"] < 30


def test_content_three_shapes(tmp_path: Path) -> None:
    uc = get_usecase("content")
    r = recipe("content")
    data = [
        conv(("user", "Return window"), ("assistant", "Q: How long?\nA: 30 days."), kind="faq"),
        conv(
            ("user", "Table broke"),
            ("assistant", "Sorry, which order?"),
            ("user", "NV-123456"),
            ("assistant", "A replacement leaves tomorrow."),
            content="Spare parts are free during the guarantee.",
        ),
        conv(
            ("user", "Where is my parcel?"),
            ("assistant", "Hi"),
            ("user", "NV-1"),
            ("assistant", "It is at the pick-up point since Tuesday; bring your ID."),
        ),
    ]
    faq, from_transcript, macro = uc.build_examples(data, r, tmp_path)
    assert faq.meta["kind"] == "faq" and faq.messages[1]["content"].startswith("Write an FAQ entry")
    assert from_transcript.reference == "Spare parts are free during the guarantee."
    assert "Customer: NV-123456" in from_transcript.messages[1]["content"]
    assert macro.meta["kind"] == "macro" and macro.reference.startswith("It is at the pick-up point")
    scores = uc.score([faq.reference, "x", "It is at the pick-up point"], [faq, from_transcript, macro], r)
    assert 0 < scores["rouge_l"] < 100 and 0 < scores["chrf"] < 100


@pytest.mark.parametrize("name", ["sentiment", "translation", "content", "retrieval"])
def test_recipes_validate_and_name_their_use_case(name: str) -> None:
    from builder.config.recipe import load_recipe

    repo = Path(__file__).resolve().parents[2]
    r = load_recipe(repo / "recipes" / f"{name}.yaml")
    assert r.use_case == name
    for path in r.data.train:
        assert r.resolve_path(path).is_file(), path


def test_the_recipe_tab_runs_the_use_cases_own_check_of_its_task_options(tmp_path: Path) -> None:
    from builder.jobs.manager import JobManager
    from builder.ui.common import AppContext
    from builder.ui.recipe_tab import validate_yaml

    runs = tmp_path / "runs"
    ctx = AppContext(runs_dir=runs, jobs=JobManager(runs, devices=["cpu"]))
    _, problems = validate_yaml(ctx, "use_case: sentiment\ntask: {labelz: [good, bad]}\n")
    assert any("task.labelz" in p and "unknown key" in p for p in problems), problems
    # Questions made from the knowledge base: no training data needed, so none is asked for.
    kb = tmp_path / "kb.md"
    kb.write_text("# Returns\nWithin 30 days.\n")
    text = f"use_case: retrieval\ntask: {{knowledge_base: [{kb}], questions: knowledge_base}}\n"
    assert not [p for p in validate_yaml(ctx, text)[1] if p.startswith("data.train")]
    assert [p for p in validate_yaml(ctx, "use_case: support\n")[1] if p.startswith("data.train")]


def test_every_use_case_is_found_even_after_one_was_imported_directly():
    # In a fresh interpreter: importing one use case module first must not hide the others.
    code = (
        "import builder.usecases.retrieval\n"
        "from builder.usecases import get_usecase\n"
        "print(sorted(get_usecase(n).name for n in ('support','translation','sentiment','content','retrieval')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['content', 'retrieval', 'sentiment', 'support', 'translation']"
