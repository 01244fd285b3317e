"""Sentiment: the model reads a customer's text and answers with one label from the recipe's label set.

Where the label comes from, per conversation, first match wins:
1. ``metadata[task.label_field]`` when ``label_field`` is set (e.g. a ``label`` column of a CSV);
2. ``metadata[task.score_field]``, a satisfaction score attached to a transcript, through ``task.score_map``;
3. the assistant turn of a ``text<TAB>label`` pair file.
Raw values pass through ``task.label_map`` (e.g. ``"0": negative``); a value that is not a label after
that is reported (file and line) in ``skipped_sentiment.jsonl`` of the run, not silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from builder.core import metrics
from builder.usecases import Example, PromptForm, UseCase, frame_around, register
from builder.usecases.options import record_skipped, task_options, where

if TYPE_CHECKING:
    from builder.config.recipe import Recipe
    from builder.core.conversation import Conversation

DEFAULT_SYSTEM = "You label the sentiment of customer messages."


class SentimentOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[str] = Field(default_factory=lambda: ["negative", "neutral", "positive"], min_length=2)
    label_map: dict[str, str] = Field(default_factory=dict, description="raw value in the data -> label")
    label_field: str | None = Field(None, description="metadata key holding the label")
    score_field: str = Field("satisfaction", description="metadata key with a satisfaction score")
    score_map: dict[str, str] = Field(
        default_factory=lambda: {"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"}
    )
    instruction: str = "Classify the sentiment of this customer message. Answer with one word: {labels}."

    @field_validator("label_map", "score_map", mode="before")
    @classmethod
    def _string_keys(cls, value: Any) -> Any:
        # YAML reads `0: negative` with an int key; the data holds strings.
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def check_maps(self) -> None:
        for key, mapping in (("label_map", self.label_map), ("score_map", self.score_map)):
            if key not in self.model_fields_set:  # the default score map fits the default labels only
                continue
            for raw, label in mapping.items():
                if label not in self.labels:
                    raise ValueError(f"task.{key}: {raw!r} maps to {label!r}, not one of task.labels {self.labels}")


def _options(recipe: Recipe) -> SentimentOptions:
    options = task_options(recipe, SentimentOptions)
    try:
        options.check_maps()
    except ValueError as err:
        from builder.config.recipe import RecipeError, RecipeProblem

        raise RecipeError(RecipeProblem("task_invalid", {"name": recipe.name, "error": str(err)})) from None
    return options


def _raw_label(conversation: Conversation, options: SentimentOptions) -> tuple[str | None, str]:
    """The label value before mapping, and the text to classify."""
    user_turns = [m.content for m in conversation.messages if m.role == "user"]
    assistant_turns = [m.content for m in conversation.messages if m.role == "assistant"]
    text = "\n".join(user_turns)
    meta = conversation.metadata
    if options.label_field and meta.get(options.label_field) not in (None, ""):
        return str(meta[options.label_field]).strip(), text
    if meta.get(options.score_field) not in (None, ""):
        score = str(meta[options.score_field]).strip()
        # "4.0" from a spreadsheet is the score 4.
        if score.endswith(".0"):
            score = score[:-2]
        return options.score_map.get(score, f"score {score}"), text
    if len(user_turns) == 1 and len(assistant_turns) == 1:
        return assistant_turns[0].strip(), text
    return None, text


def _to_label(raw: str, options: SentimentOptions) -> str | None:
    mapped = options.label_map.get(raw, raw)
    by_lower = {label.lower(): label for label in options.labels}
    return by_lower.get(mapped.strip().lower())


class SentimentUseCase(UseCase):
    name = "sentiment"
    options_model = SentimentOptions
    main_metric = "accuracy"

    def labels(self, recipe: Recipe) -> list[str]:
        """A label task: answers are scored over this set (``builder.models.labels``), never generated off it."""
        return _options(recipe).labels

    default_system = DEFAULT_SYSTEM

    def prompt_form(self, recipe: Recipe, meta: Mapping[str, Any] | None = None) -> PromptForm:
        """The instruction, naming the labels, above the text."""
        options = _options(recipe)
        instruction = options.instruction.format(labels=", ".join(options.labels))
        return PromptForm(self.system_prompt(recipe), *frame_around(instruction, "\x00text\x00"))

    def build_examples(self, conversations: list[Conversation], recipe: Recipe, workdir: Path) -> list[Example]:
        options = _options(recipe)
        examples: list[Example] = []
        skipped: list[dict[str, Any]] = []
        for conversation in conversations:
            raw, text = _raw_label(conversation, options)
            if raw is None:
                reason = (
                    f"no label: set task.label_field, attach a {options.score_field!r} score, "
                    "or use text<TAB>label rows"
                )
                skipped.append({"where": where(conversation), "reason": reason})
                continue
            label = _to_label(raw, options)
            if label is None or not text.strip():
                reason = f"label {raw!r} is not one of {options.labels} (add it to task.label_map)"
                skipped.append({"where": where(conversation), "reason": reason if text.strip() else "empty text"})
                continue
            messages = [*self.prompt_messages(text, recipe), {"role": "assistant", "content": label}]
            meta = {"id": conversation.id, "source": where(conversation), "language": conversation.language}
            examples.append(Example(messages=messages, reference=label, meta=meta))
        record_skipped(workdir, self.name, skipped, kept=len(examples))
        return examples

    def score(self, predictions: list[str], examples: list[Example], recipe: Recipe) -> dict[str, Any]:
        labels = _options(recipe).labels
        predicted = [metrics.parse_label(p, labels) for p in predictions]
        gold = [e.reference for e in examples]
        return {
            "accuracy": metrics.accuracy(predicted, gold),
            "macro_f1": metrics.macro_f1(predicted, gold, labels),
            "off_label": sum(p == metrics.OTHER_LABEL for p in predicted),
            "confusion": metrics.confusion_matrix(predicted, gold, labels),
        }


register(SentimentUseCase())
