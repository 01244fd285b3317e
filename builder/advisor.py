"""Readiness advice: when the data says "do not fine-tune (yet)", say so in plain words.

Reads only the import report (``builder.data``), so that the CLI, ``--dry-run``, the trainer and
the UI all give the same advice for the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIN_CONVERSATIONS = 100
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


def advise(report: dict[str, Any], *, max_length_exceeded_fraction: float | None = None) -> list[str]:
    """Human-readable warnings about whether this data is ready for fine-tuning."""
    return [item.text() for item in advice(report, max_length_exceeded_fraction=max_length_exceeded_fraction)]


def advice(report: dict[str, Any], *, max_length_exceeded_fraction: float | None = None) -> list[Advice]:
    """The warnings of ``advise`` as keys and values, for readers that show them in another language."""
    found: list[Advice] = []
    seen = int(report.get("seen", 0))
    kept = int(report.get("kept", 0))
    if kept == 0:
        return [Advice("nothing_kept")]
    if kept < MIN_CONVERSATIONS:
        found.append(Advice("too_few", {"kept": kept, "minimum": MIN_CONVERSATIONS}))
    languages = {k: v for k, v in (report.get("languages") or {}).items() if k != "unknown"}
    total = sum(languages.values())
    if total and len(languages) > 1:
        ranked = sorted(languages.items(), key=lambda kv: -kv[1])
        if ranked[1][1] / total >= MIXED_LANGUAGE_SHARE:
            shares = ", ".join(f"{lang} {_percent(n / total)}" for lang, n in ranked[:4])
            found.append(Advice("mixed_languages", {"shares": shares}))
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
