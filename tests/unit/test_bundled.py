"""The bundled models as a user picks them: size, languages, license, and a recommendation for the data."""

from __future__ import annotations

from builder.config.recipe import BUNDLED_MODEL, MULTILINGUAL_MODEL
from builder.models.bundled import BUNDLED_MODELS, recommended_model
from builder.ui.model_cards import MODEL_CHOICES, model_note


def test_both_models_say_size_languages_and_license() -> None:
    gemma = BUNDLED_MODELS[MULTILINGUAL_MODEL]
    assert "Gemma Terms of Use" in gemma.describe() and "268M" in gemma.describe()
    assert gemma.trained_for("es") and gemma.trained_for("en")
    smol = BUNDLED_MODELS[BUNDLED_MODEL]
    assert smol.trained_for("en") and not smol.trained_for("es")
    assert [value for _, value in MODEL_CHOICES] == [BUNDLED_MODEL, MULTILINGUAL_MODEL]
    assert all("·" in label for label, _ in MODEL_CHOICES)


def test_the_multilingual_model_is_recommended_for_mostly_non_english_data() -> None:
    assert recommended_model({"es": 60, "en": 40}) == MULTILINGUAL_MODEL
    assert recommended_model({"en": 60, "es": 40, "unknown": 500}) == BUNDLED_MODEL
    assert recommended_model({}) == BUNDLED_MODEL
    note = model_note(BUNDLED_MODEL, {"es": 80, "en": 20}, "en")
    assert "Apache-2.0" in note and "Recommended: Gemma 3 270M" in note and "80%" in note
    assert "Recomendado: Gemma 3 270M" in model_note(BUNDLED_MODEL, {"es": 80, "en": 20}, "es")
    assert "Recommended" not in model_note(MULTILINGUAL_MODEL, {"es": 80}, "en")
    assert "Recommended" not in model_note(BUNDLED_MODEL, {"en": 80, "es": 20}, "en")
