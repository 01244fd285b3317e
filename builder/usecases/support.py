"""Support replies: learn to answer like the team's best agents, turn after turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from builder.config.recipe import Recipe
from builder.core.conversation import Conversation
from builder.usecases import Example, UseCase, register


def conversation_to_example(conversation: Conversation, system_prompt: str) -> Example | None:
    """Every agent turn is a training target; the last one is the reference for evaluation."""
    messages = [m.to_dict() for m in conversation.messages]
    if system_prompt:
        messages = [{"role": "system", "content": system_prompt}] + [m for m in messages if m["role"] != "system"]
    while messages and messages[-1]["role"] != "assistant":
        messages.pop()
    if not any(m["role"] == "user" for m in messages) or not messages:
        return None
    meta: dict[str, Any] = {"id": conversation.id, "language": conversation.language}
    return Example(messages=messages, reference=messages[-1]["content"], meta=meta)


class SupportUseCase(UseCase):
    name = "support"
    options_model = None
    main_metric = "chrf"

    def build_examples(self, conversations: list[Conversation], recipe: Recipe, workdir: Path) -> list[Example]:
        examples = (conversation_to_example(c, self.system_prompt(recipe)) for c in conversations)
        return [e for e in examples if e is not None]

    def score(self, predictions: list[str], examples: list[Example], recipe: Recipe) -> dict[str, Any]:
        from builder.core.metrics import chrf, rouge_l

        references = [e.reference for e in examples]
        return {"chrf": chrf(predictions, references), "rouge_l": rouge_l(predictions, references)}


register(SupportUseCase())
