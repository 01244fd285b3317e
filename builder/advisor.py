"""Readiness advice: when the data says "do not fine-tune (yet)", say so in plain words.

Reads only the import report (``builder.data``), so that the CLI, ``--dry-run``, the trainer and
the UI all give the same advice for the same data. Where the recipe is known, its use case and base
model refine the advice: translation data is bilingual by design (not "mixed"), and data mostly in
a language the base model was not trained for gets a warning naming a model that was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIN_CONVERSATIONS = 100
UNSUPPORTED_LANGUAGE_SHARE = 0.5  # "most of the data" is in languages the base model was not trained for
MIXED_LANGUAGE_SHARE = 0.10  # the second language holds at least this share of conversations
TEMPLATE_SHARE = 0.5  # the most common reply templates cover at least this share of agent replies
MAX_LENGTH_SHARE = 0.10
QUARANTINE_SHARE = 0.20
DUPLICATE_SHARE = 0.30


# One English template per kind of advice; the web app shows them in other languages by the same key
# (builder/ui/i18n.py holds the translations, and a test checks that every key has them).
ADVICE: dict[str, str] = {
    "nothing_kept": "No usable conversations: nothing to train on. See the quarantine file for the reasons.",
    "too_few": (
        "Only {kept} usable conversations (fewer than about {minimum}): too few to fine-tune well. "
        "Consider the retrieval recipe instead (embeddings and a vector store, no training), "
        "or collect more transcripts."
    ),
    "mixed_languages": (
        "Languages are mixed ({shares}): the model must learn each of them; check that every language "
        "has enough examples and appears in the dev split, or train one assistant per language."
    ),
    "foreign_language": (
        "{share} of the conversations ({shares}) are in languages the base model {model} was not trained for "
        "({languages} only): it will learn them poorly; {better}."
    ),
    "templated": (
        "{share} of agent replies are near-copies of {top_n} templates: "
        "fine-tuning will mostly teach the model to repeat them. Canned responses or the retrieval recipe "
        "may serve better; or keep only conversations with written-out answers."
    ),
    "max_length": (
        "{share} of examples exceed max_length and will be cut: raise "
        "training.max_length (more memory) or split long conversations."
    ),
    "too_long": (
        "{share} of conversations were set aside as longer than max_chars; raise data.max_chars if they matter."
    ),
    "quarantined": (
        "{share} of records were set aside ({top}); see the quarantine file, "
        "a field mapping or role map may bring them back."
    ),
    "duplicates": "{share} of conversations were duplicates of others.",
}


@dataclass(frozen=True)
class Advice:
    """One warning: the key of its template and the values it is filled with."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, template: str | None = None) -> str:
        """The English text, or ``template`` (the same key in another language) filled with the values."""
        return (template or ADVICE[self.key]).format(**self.values)


def _percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def advise(
    report: dict[str, Any],
    *,
    max_length_exceeded_fraction: float | None = None,
    use_case: str | None = None,
    base_model: str | None = None,
) -> list[str]:
    """Human-readable warnings about whether this data is ready for fine-tuning (with this recipe, when given)."""
    found = advice(
        report, max_length_exceeded_fraction=max_length_exceeded_fraction, use_case=use_case, base_model=base_model
    )
    return [item.text() for item in found]


def advice(
    report: dict[str, Any],
    *,
    max_length_exceeded_fraction: float | None = None,
    use_case: str | None = None,
    base_model: str | None = None,
) -> list[Advice]:
    """The warnings of ``advise`` as keys and values, for readers that show them in another language."""
    found: list[Advice] = []
    seen = int(report.get("seen", 0))
    kept = int(report.get("kept", 0))
    if kept == 0:
        return [Advice("nothing_kept")]
    if kept < MIN_CONVERSATIONS:
        found.append(Advice("too_few", {"kept": kept, "minimum": MIN_CONVERSATIONS}))
    languages = {k: v for k, v in (report.get("languages") or {}).items() if k != "unknown"}
    found += _language_advice(languages, use_case, base_model)
    templates = report.get("templates") or {}
    share = templates.get("top_share")
    labels = (templates.get("median_words") or 99) <= 3  # one-word replies are labels (sentiment...), not templates
    if share is not None and templates.get("agent_replies", 0) >= 20 and share >= TEMPLATE_SHARE and not labels:
        found.append(Advice("templated", {"share": _percent(share), "top_n": templates.get("top_n", 10)}))
    if max_length_exceeded_fraction is not None and max_length_exceeded_fraction >= MAX_LENGTH_SHARE:
        found.append(Advice("max_length", {"share": _percent(max_length_exceeded_fraction)}))
    reasons = report.get("quarantine_reasons") or {}
    if seen and reasons.get("too_long", 0) / seen >= MAX_LENGTH_SHARE:
        found.append(Advice("too_long", {"share": _percent(reasons["too_long"] / seen)}))
    quarantined = int(report.get("quarantined", 0))
    if seen and quarantined / seen >= QUARANTINE_SHARE:
        top = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        found.append(Advice("quarantined", {"share": _percent(quarantined / seen), "top": top}))
    duplicates = int(report.get("duplicates", 0))
    if seen and duplicates / seen >= DUPLICATE_SHARE:
        found.append(Advice("duplicates", {"share": _percent(duplicates / seen)}))
    return found


def _language_advice(languages: dict[str, int], use_case: str | None, base_model: str | None) -> list[Advice]:
    from builder.bundled import BUNDLED_MODELS, bundled_model, recommended_model

    found: list[Advice] = []
    total = sum(languages.values())
    if not total:
        return found
    ranked = sorted(languages.items(), key=lambda kv: -kv[1])
    shares = ", ".join(f"{lang} {_percent(n / total)}" for lang, n in ranked[:4])
    # Translation pairs hold two languages by design: that is the task, not a mix.
    if use_case != "translation" and len(ranked) > 1 and ranked[1][1] / total >= MIXED_LANGUAGE_SHARE:
        found.append(Advice("mixed_languages", {"shares": shares}))
    model = bundled_model(base_model or "")
    if model is not None:
        foreign = sum(n for lang, n in languages.items() if not model.trained_for(lang))
        if foreign / total > UNSUPPORTED_LANGUAGE_SHARE:
            better = BUNDLED_MODELS[recommended_model(languages)]
            way_out = (
                f"use base_model: {better.name} ({better.title}, {better.languages_text})"
                if better.name != model.name
                else "use a base model trained for them"
            )
            values = {"share": _percent(foreign / total), "shares": shares, "model": model.title}
            values |= {"languages": model.languages_text, "better": way_out}
            found.append(Advice("foreign_language", values))
    return found
