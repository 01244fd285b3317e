"""Readiness advice from an import report."""

from __future__ import annotations

import json
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.data.advisor import advise


def report(**overrides) -> dict:
    base = {
        "seen": 1000,
        "kept": 1000,
        "quarantined": 0,
        "duplicates": 0,
        "quarantine_reasons": {},
        "languages": {"en": 1000},
        "templates": {"agent_replies": 1000, "distinct": 990, "top_n": 10, "top_share": 0.02, "median_words": 40},
    }
    return {**base, **overrides}


def test_healthy_data_gets_no_warning() -> None:
    assert advise(report()) == []


def test_few_conversations_suggest_retrieval() -> None:
    (warning,) = advise(report(seen=40, kept=40, languages={"en": 40}))
    assert "Only 40 usable conversations" in warning and "retrieval recipe" in warning


def test_nothing_kept() -> None:
    assert advise(report(kept=0, quarantined=1000))[0].startswith("No usable conversations")


def test_mixed_languages() -> None:
    (warning,) = advise(report(languages={"en": 700, "es": 280, "fr": 20}))
    assert "Languages are mixed (en 70%, es 28%, fr 2%)" in warning
    assert advise(report(languages={"en": 970, "es": 30})) == []  # a few stray messages are not a mix


def test_templated_replies_but_not_labels() -> None:
    templated = {"agent_replies": 1000, "distinct": 30, "top_n": 10, "top_share": 0.8, "median_words": 25}
    (warning,) = advise(report(templates=templated))
    assert "80% of agent replies are near-copies of 10 templates" in warning
    labels = {**templated, "top_share": 1.0, "median_words": 1}
    assert advise(report(templates=labels)) == []


def test_max_length_and_quarantine_shares() -> None:
    (warning,) = advise(report(), max_length_exceeded_fraction=0.25)
    assert "25% of examples exceed max_length" in warning
    assert advise(report(), max_length_exceeded_fraction=0.01) == []
    warnings = advise(report(kept=600, quarantined=400, quarantine_reasons={"too_long": 300, "unknown_role": 100}))
    assert any("longer than max_chars" in w for w in warnings)
    assert any("40% of records were set aside (too_long 300, unknown_role 100)" in w for w in warnings)


def test_import_report_carries_the_advice(tmp_path: Path) -> None:
    src = tmp_path / "chats.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Question number {i} about my order"},
                {"role": "assistant", "content": "Thank you for contacting us, an agent will reply soon."},
            ]
        }
        for i in range(30)
    ]
    rows += [
        {
            "messages": [
                {"role": "user", "content": f"Pregunta {i}: ¿dónde está mi pedido?"},
                {"role": "assistant", "content": f"Tu pedido sale el día {i}."},
            ]
        }
        for i in range(30)
    ]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    prepared = import_files([src], FieldMapping(), dedupe=False)
    warnings = prepared.report["warnings"]
    assert any("Only 60 usable conversations" in w for w in warnings)
    assert any("Languages are mixed" in w for w in warnings)
    assert any("near-copies" in w for w in warnings)


def test_translation_pairs_are_bilingual_not_mixed() -> None:
    languages = {"en": 520, "es": 480}
    assert any("mixed" in w for w in advise(report(languages=languages)))
    assert not any("mixed" in w for w in advise(report(languages=languages), use_case="translation"))


def test_data_mostly_in_a_language_the_model_was_not_trained_for() -> None:
    from builder.config.recipe import BUNDLED_MODEL, MULTILINGUAL_MODEL

    spanish = report(languages={"es": 900, "en": 100})
    (warning,) = [w for w in advise(spanish, base_model=BUNDLED_MODEL) if "not trained for" in w]
    assert "90% of the conversations" in warning and "SmolLM2-135M-Instruct" in warning
    assert f"base_model: {MULTILINGUAL_MODEL}" in warning
    assert not any("not trained for" in w for w in advise(spanish, base_model=MULTILINGUAL_MODEL))
    # A minority of Spanish is no reason to switch; an unknown (local) model is not judged.
    assert not any(
        "not trained for" in w for w in advise(report(languages={"en": 700, "es": 300}), base_model=BUNDLED_MODEL)
    )
    assert not any("not trained for" in w for w in advise(spanish, base_model="./models/mine"))
