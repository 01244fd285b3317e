"""Translation: source text in, its translation out, nothing else.

Pairs come from parallel files (``english<TAB>spanish`` rows import as one user turn and
one assistant turn) or from bilingual transcripts, where each customer turn is followed by
its translation as the next agent turn. In a transcript, an agent turn that is not in the
target language is not a translation and is skipped (and listed in ``skipped_translation.jsonl``).
The source language is ``task.source_lang`` or, when not given, detected per text with
langdetect among ``task.candidate_langs`` (langdetect alone calls short English lines Somali or Afrikaans).

The instruction names the target language only ("Translate to Spanish:"), so that the prompt of a
user's text needs no detection: a chat template that cannot run code (Ollama's, a GGUF's) writes
it around whatever a client sends. A deployed run translates into ``task.target_lang``; the reverse
direction that ``both_directions`` also trains is asked for with ``target_lang`` in the meta only.
An instruction with ``{source}`` (older recipes) still works where ``task.source_lang`` is set;
without it a user's text gets "the source language", as no template can detect it.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from builder.core import metrics
from builder.usecases import Example, PromptForm, UseCase, frame_around, register
from builder.usecases.options import record_skipped, task_options, where

if TYPE_CHECKING:
    from builder.config.recipe import Recipe
    from builder.core.conversation import Conversation

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "ca": "Catalan",
    "nl": "Dutch",
}
DEFAULT_SYSTEM = "You are a translator for a customer-support team. You answer with the translation only."


class TranslationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_lang: str | None = Field(None, description="ISO 639-1 code; null: detect each text")
    target_lang: str = Field("es", description="ISO 639-1 code of the language to translate into")
    candidate_langs: list[str] = Field(default_factory=lambda: ["en", "es", "fr", "de", "pt", "it"])
    both_directions: bool = Field(False, description="also learn target->source from the same pairs")
    instruction: str = Field(
        "Translate to {target}:\n\n{text}",
        description="{target}: the target language's name; {text}: the text; {source} needs task.source_lang",
    )


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


@functools.cache
def _detector_ready() -> bool:
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0  # langdetect is random unless seeded: the same text must get the same answer
    return True


def detect_language(text: str, candidates: list[str]) -> str | None:
    """The most probable of ``candidates`` for ``text``, or None when langdetect finds none of them."""
    from langdetect import LangDetectException, detect_langs

    _detector_ready()
    try:
        guesses = detect_langs(text)
    except LangDetectException:
        return None
    for guess in guesses:  # sorted, most probable first
        if guess.lang in candidates:
            return guess.lang
    return None


class TranslationUseCase(UseCase):
    name = "translation"
    options_model = TranslationOptions
    main_metric = "chrf"

    default_system = DEFAULT_SYSTEM

    def prompt_form(self, recipe: Recipe, meta: Mapping[str, Any] | None = None) -> PromptForm:
        """The instruction around the text; a user's text is translated into ``task.target_lang``."""
        options = task_options(recipe, TranslationOptions)
        meta = meta or {}
        source = meta.get("source_lang") or options.source_lang
        marker = "\x00text\x00"
        instruction = options.instruction.format(
            source=language_name(source) if source else "the source language",
            target=language_name(meta.get("target_lang") or options.target_lang),
            text=marker,
        )
        return PromptForm(self.system_prompt(recipe), *frame_around(instruction, marker))

    def _pairs(self, conversation: Conversation, options: TranslationOptions) -> tuple[list[tuple[str, str]], str]:
        turns = [m for m in conversation.messages if m.role != "system"]
        pairs = [
            (a.content.strip(), b.content.strip())
            for a, b in itertools.pairwise(turns)
            if a.role == "user" and b.role == "assistant"
        ]
        if len(pairs) <= 1:
            return pairs, ""
        # A transcript: keep the agent turns that really are in the target language.
        kept = [p for p in pairs if detect_language(p[1], options.candidate_langs) == options.target_lang]
        dropped = len(pairs) - len(kept)
        return kept, f"{dropped} agent turn(s) not in {options.target_lang!r}" if dropped else ""

    def build_examples(self, conversations: list[Conversation], recipe: Recipe, workdir: Path) -> list[Example]:
        options = task_options(recipe, TranslationOptions)
        if "{source}" in options.instruction and not options.source_lang:
            log.warning(
                "task.instruction names the detected source language, which a deployed model cannot be told "
                "(it gets 'the source language'); set task.source_lang or use 'Translate to {target}:\n\n{text}'"
            )
        examples: list[Example] = []
        skipped: list[dict[str, Any]] = []
        for conversation in conversations:
            pairs, note = self._pairs(conversation, options)
            if note:
                skipped.append({"where": where(conversation), "reason": note})
            for source_text, target_text in pairs:
                if not source_text or not target_text:
                    skipped.append({"where": where(conversation), "reason": "empty source or translation"})
                    continue
                source = options.source_lang or detect_language(source_text, options.candidate_langs)
                meta = {"id": conversation.id, "source": where(conversation), "source_lang": source}
                directions: list[tuple[str, str, str | None, str | None]] = [
                    (source_text, target_text, source, options.target_lang)
                ]
                if options.both_directions:
                    directions.append((target_text, source_text, options.target_lang, source))
                for text, reference, src, tgt in directions:
                    answer = {"role": "assistant", "content": reference}
                    given = {"source_lang": src, "target_lang": tgt}
                    messages = [*self.prompt_messages(text, recipe, given), answer]
                    examples.append(Example(messages=messages, reference=reference, meta={**meta, "target_lang": tgt}))
        record_skipped(workdir, self.name, skipped, kept=len(examples))
        return examples

    def score(self, predictions: list[str], examples: list[Example], recipe: Recipe) -> dict[str, Any]:
        references = [e.reference for e in examples]
        cleaned = [cut_to_reference_lines(p, r) for p, r in zip(predictions, references, strict=True)]
        return {"chrf": metrics.chrf(cleaned, references), "bleu": metrics.bleu(cleaned, references)}


def cut_to_reference_lines(prediction: str, reference: str) -> str:
    """A one-line source gets a one-line translation: text a model adds on later lines is not scored."""
    lines = [line.strip() for line in prediction.strip().splitlines() if line.strip()]
    return " ".join(lines[: max(1, len(reference.strip().splitlines()))])


register(TranslationUseCase())
