"""The bundled models as the Recipe tab shows them: a card (size, kind, languages, license) in the page's
language, the picker's labels, the model to recommend for the imported data, and the CPU's quantization."""

from __future__ import annotations

from typing import Any

from builder.config.recipe import BUNDLED_MODEL
from builder.models.bundled import BUNDLED_MODELS, BundledModel, bundled_model, recommended_model
from builder.ui.i18n import DEFAULT_LANG, t, t_known


def model_card(model: BundledModel, lang: str) -> str:
    """``BundledModel.describe`` in ``lang``: size, kind, languages and license."""
    return t(
        "model_card",
        lang,
        title=model.title,
        parameters=model.parameters,
        kind=t("model_chat" if model.instruction_tuned else "model_pretrained", lang),
        mb=model.download_mb,
        languages=t_known(f"langs_{model.languages_short}", lang, model.languages_text),
        license=model.license,
        url=model.license_url,
    )


def model_choices(lang: str) -> list[tuple[str, str]]:
    """The bundled models for the picker, labelled in ``lang``."""
    return [
        (
            f"{m.title} · {m.parameters} · {t_known(f'langs_short_{m.languages_short}', lang, m.languages_short)} · "
            f"{m.license}",
            m.name,
        )
        for m in BUNDLED_MODELS.values()
    ]


def cpu_quantization(raw: dict[str, Any]) -> dict[str, Any]:
    """A bundled model on a machine without a GPU trains in full precision: 4-bit on top of its 4-bit GGUF costs
    most of what it can learn there (the README's measurements), and the CPU's 4-bit path is slow."""
    from builder.models.devices import present_device

    if bundled_model(str(raw.get("base_model") or BUNDLED_MODEL)) is None or raw.get("quantization") == "none":
        return raw
    if present_device(measure=False).kind == "cpu":
        return {**raw, "quantization": "none"}
    return raw


def model_note(base_model: str, languages: dict[str, int] | None, lang: str) -> str:
    """What the picked model is (size, languages, license) and, for mostly non-English data, which one to pick."""
    lines = []
    model = bundled_model((base_model or "").strip())
    if model is not None:
        lines.append(model_card(model, lang))
    known = {k: v for k, v in (languages or {}).items() if k != "unknown"}
    better = recommended_model(known) if known else None
    if better and better != (base_model or "").strip() and better != BUNDLED_MODEL:
        english = known.get("en", 0) / sum(known.values())
        lines.append(t("recommend_multilingual", lang, model=BUNDLED_MODELS[better].title, share=f"{1 - english:.0%}"))
    return "\n\n".join(lines)


# The picker's labels in English (the language selector relabels them).
MODEL_CHOICES = model_choices(DEFAULT_LANG)
