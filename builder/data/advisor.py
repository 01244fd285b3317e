"""Readiness advice: when the data says "do not fine-tune (yet)", say so in plain words.

Reads only the import report (``builder.data``), so that the CLI, ``--dry-run``, the trainer and
the UI all give the same advice for the same data. Where the recipe is known, its use case and base
model refine the advice: translation data is bilingual by design (not "mixed"), and data mostly in
a language the base model was not trained for gets a warning naming a model that was.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from builder.core.messages import Message

MIN_CONVERSATIONS = 100
UNSUPPORTED_LANGUAGE_SHARE = 0.5  # "most of the data" is in languages the base model was not trained for
MIXED_LANGUAGE_SHARE = 0.10  # the second language holds at least this share of conversations
TEMPLATE_SHARE = 0.5  # the most common reply templates cover at least this share of agent replies
MAX_LENGTH_SHARE = 0.10
QUARANTINE_SHARE = 0.20
DUPLICATE_SHARE = 0.30


# One English template per kind of advice; the web app shows them in other languages by the same key
# (builder/ui/i18n_messages.py holds the translations, and a test checks that every key has them).
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
    # feedback rounds (builder.cli.feedback)
    "lopsided_votes": (
        "{count} of {total} votes were cast outside blind mode with the {side} model always shown first: "
        "they may reward a name or a position rather than the better answer. Vote in blind mode "
        "(sides shuffled and hidden) before training on them."
    ),
    "contradicting_corrections": (
        "{count} conversation(s) were corrected more than once with replies that disagree "
        "(e.g. {example!r}): the model would learn both. Keep one correction per conversation."
    ),
    "one_author": (
        "{author} cast {count} of the {total} votes ({share}): the round would mostly learn one person's taste. "
        "Ask others to vote, or leave {author} out of this round."
    ),
    "few_pairs": (
        "Only {pairs} vote pairs (ties and identical answers left out): a DPO round needs about "
        "{minimum} or more to change the model measurably. Keep voting in the playground."
    ),
    "few_corrections": (
        "Only {count} corrections: an SFT round on fewer than about {minimum} "
        "changes little next to the original data. Write more corrections in the playground."
    ),
}


@dataclass(frozen=True)
class Advice(Message):
    """One warning: the key of its template and the values it is filled with."""

    templates: ClassVar[dict[str, str]] = ADVICE
    prefix: ClassVar[str] = "adv_"


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
    from builder.models.bundled import BUNDLED_MODELS, bundled_model, recommended_model

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


# ---------------------------------------------------------------- feedback rounds (builder.cli.feedback)

# MIN_PAIRS is measured (EVALUATION.md, "Feedback round"): one DPO round on 109 decided pairs moved the
# bundled model clearly towards the voter's rule. MIN_CORRECTIONS is still an estimate.
MIN_PAIRS = 100
MIN_CORRECTIONS = 20
LOPSIDED_SHARE = 0.9  # this share of the votes saw the same model first, with the names shown
ONE_AUTHOR_SHARE = 0.5  # one author cast more than this share of the votes: "most of them"
CONTRADICTION_SIMILARITY = 0.5  # two corrections of one prompt that share less than this disagree


def _prompt_key(messages: list[dict[str, Any]]) -> str:
    return "\n".join(" ".join(str(m.get("content", "")).lower().split()) for m in messages if m.get("role") == "user")


def lopsided_votes(votes: list[dict[str, Any]]) -> Advice | None:
    """Votes cast with the names shown and the same model always first favour a side, not an answer."""
    open_votes = [v for v in votes if not v.get("blind", True)]
    firsts = Counter(v.get("shown_first") or "base" for v in open_votes)  # the non-blind playground puts base left
    if not firsts:
        return None
    side, count = firsts.most_common(1)[0]
    if count / len(votes) < LOPSIDED_SHARE:
        return None
    return Advice("lopsided_votes", {"count": count, "total": len(votes), "side": side})


def one_author(votes: list[dict[str, Any]]) -> Advice | None:
    """One account cast most of the votes (anonymous votes count in the total but never as an author)."""
    from builder.core.authors import votes_by_author

    counts = {author: n for author, n in votes_by_author(votes).items() if author}
    if not counts or len(votes) < 2:
        return None
    author, count = next(iter(counts.items()))
    if count / len(votes) <= ONE_AUTHOR_SHARE:
        return None
    return Advice(
        "one_author", {"author": author, "count": count, "total": len(votes), "share": _percent(count / len(votes))}
    )


def contradicting_corrections(corrections: list[dict[str, Any]]) -> Advice | None:
    """The same conversation corrected twice with replies that share little: which one should the model learn?"""
    from difflib import SequenceMatcher

    by_prompt: dict[str, list[str]] = {}
    for record in corrections:
        messages = record.get("messages") or []
        by_prompt.setdefault(_prompt_key(messages[:-1]), []).append(str(messages[-1].get("content", "")))
    clashing = []
    for prompt, replies in by_prompt.items():
        distinct = list(dict.fromkeys(" ".join(r.lower().split()) for r in replies))
        pairs = ((a, b) for i, a in enumerate(distinct) for b in distinct[i + 1 :])
        if any(SequenceMatcher(None, a, b).ratio() < CONTRADICTION_SIMILARITY for a, b in pairs):
            clashing.append(prompt)
    if not clashing:
        return None
    return Advice("contradicting_corrections", {"count": len(clashing), "example": clashing[0].splitlines()[-1][:80]})


def feedback_advice(votes: list[dict[str, Any]], corrections: list[dict[str, Any]], *, method: str) -> list[Advice]:
    """Warnings before training a round of ``method`` (dpo or sft) on a run's playground feedback."""
    from builder.data.feedback_store import vote_pairs

    found = [a for a in (lopsided_votes(votes), one_author(votes), contradicting_corrections(corrections)) if a]
    if method == "dpo":
        pairs = len(vote_pairs(votes))
        if pairs < MIN_PAIRS:
            found.append(Advice("few_pairs", {"pairs": pairs, "minimum": MIN_PAIRS}))
    elif len(corrections) < MIN_CORRECTIONS:
        found.append(Advice("few_corrections", {"count": len(corrections), "minimum": MIN_CORRECTIONS}))
    return found


def advise_feedback(votes: list[dict[str, Any]], corrections: list[dict[str, Any]], *, method: str) -> list[str]:
    """``feedback_advice`` as English text (the CLI and the trainer's log)."""
    return [item.text() for item in feedback_advice(votes, corrections, method=method)]
