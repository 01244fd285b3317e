"""Validation of a use case's own options (the recipe's free-form ``task:`` mapping)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from builder.config.recipe import RecipeError, RecipeProblem, validation_problems
from builder.run.rundir import RunDir, write_jsonl

if TYPE_CHECKING:
    from builder.config.recipe import Recipe
    from builder.core.conversation import Conversation

log = logging.getLogger(__name__)

OptionsT = TypeVar("OptionsT", bound=BaseModel)


def task_options(recipe: Recipe, model: type[OptionsT]) -> OptionsT:
    """Parse ``recipe.task`` with ``model``; errors name the key as ``task.<key>`` and the use case."""
    try:
        return model.model_validate(recipe.task or {})
    except ValidationError as err:
        headline = RecipeProblem("task_not_valid", {"name": recipe.name, "use_case": recipe.use_case})
        allowed = ", ".join(model.model_fields)
        problems = validation_problems(err, ("task",), "task_unknown_key", allowed=allowed)
        raise RecipeError(headline, problems) from None


def record_skipped(workdir: Path | None, usecase: str, skipped: list[dict[str, Any]], kept: int) -> None:
    """Say which conversations a use case could not turn into examples, and why; never drop them silently.

    The list goes to ``<workdir>/skipped_<usecase>.jsonl`` and a warning names the first few by file and line.
    """
    if not skipped:
        return
    if workdir is not None:
        write_jsonl(RunDir(workdir).skipped(usecase), skipped)
    first = "; ".join(f"{s.get('where', '?')}: {s['reason']}" for s in skipped[:3])
    log.warning("%s: %d conversation(s) skipped, %d example(s) kept. First: %s", usecase, len(skipped), kept, first)
    if kept == 0:
        raise ValueError(f"{usecase}: no usable example in the data; {len(skipped)} skipped. First: {first}")


def where(conversation: Conversation) -> str:
    """``file:line`` (or the id) of a conversation, for messages."""
    if conversation.source:
        return f"{conversation.source}:{conversation.line}" if conversation.line else str(conversation.source)
    return conversation.id or "<conversation>"
