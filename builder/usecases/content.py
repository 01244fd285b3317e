"""Content: support content (an FAQ entry, a macro reply...) written from a brief or a resolved conversation.

Three shapes of data, told apart per conversation:
- a brief: one user turn (the brief) and one assistant turn (the content), e.g. ``brief<TAB>content`` rows;
- a resolved conversation with the content the team wrote from it in ``metadata[task.target_field]``:
  the prompt holds the transcript, the answer is that content;
- a resolved conversation without attached content: the customer's first message is the request and the
  agent's longest turn, the one that solved it, is the macro reply to learn.
The kind of content (``faq``, ``macro``...) is ``metadata[task.kind_field]`` or ``task.default_kind``;
each kind has its own instruction in ``task.instructions``.
"""

from __future__ import annotations

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

DEFAULT_SYSTEM = "You write clear, friendly customer-support content for an online store."
DEFAULT_INSTRUCTIONS = {
    "faq": "Write an FAQ entry (a question, then its answer) for this:",
    "macro": "Write a reusable macro reply an agent can send for this:",
}


class ContentOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind_field: str = Field("kind", description="metadata key naming the kind of content (faq, macro...)")
    default_kind: str = "macro"
    target_field: str = Field("content", description="metadata key with the content written from a conversation")
    instructions: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_INSTRUCTIONS))
    max_transcript_chars: int = Field(3000, ge=200, description="longer transcripts keep their beginning and end")


def _transcript(conversation: Conversation, limit: int) -> str:
    names = {"user": "Customer", "assistant": "Agent"}
    text = "\n".join(f"{names[m.role]}: {m.content.strip()}" for m in conversation.messages if m.role in names)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[...]\n{text[-half:]}"


class ContentUseCase(UseCase):
    name = "content"
    options_model = ContentOptions
    main_metric = "chrf"

    default_system = DEFAULT_SYSTEM

    def prompt_form(self, recipe: Recipe, meta: Mapping[str, Any] | None = None) -> PromptForm:
        """The kind's instruction above the brief (or transcript); a user's brief gets ``task.default_kind``."""
        options = task_options(recipe, ContentOptions)
        kind = str((meta or {}).get("kind") or options.default_kind)
        instruction = options.instructions.get(kind) or f"Write a {kind} for this:"
        return PromptForm(self.system_prompt(recipe), *frame_around(instruction, "\x00text\x00"))

    def _request_and_content(self, conversation: Conversation, options: ContentOptions) -> tuple[str, str] | None:
        user_turns = [m.content for m in conversation.messages if m.role == "user"]
        agent_turns = [m.content for m in conversation.messages if m.role == "assistant"]
        target = conversation.metadata.get(options.target_field)
        if target:
            return _transcript(conversation, options.max_transcript_chars), str(target)
        if len(user_turns) == 1 and len(agent_turns) == 1:
            return user_turns[0], agent_turns[0]
        if user_turns and agent_turns:
            return user_turns[0], max(agent_turns, key=len)
        return None

    def build_examples(self, conversations: list[Conversation], recipe: Recipe, workdir: Path) -> list[Example]:
        options = task_options(recipe, ContentOptions)
        examples: list[Example] = []
        skipped: list[dict[str, Any]] = []
        for conversation in conversations:
            pair = self._request_and_content(conversation, options)
            if pair is None or not pair[0].strip() or not pair[1].strip():
                skipped.append({"where": where(conversation), "reason": "needs a customer turn and an agent turn"})
                continue
            request, content = pair
            kind = str(conversation.metadata.get(options.kind_field) or options.default_kind)
            meta = {"id": conversation.id, "source": where(conversation), "kind": kind}
            messages = [*self.prompt_messages(request, recipe, meta), {"role": "assistant", "content": content.strip()}]
            examples.append(Example(messages=messages, reference=content.strip(), meta=meta))
        record_skipped(workdir, self.name, skipped, kept=len(examples))
        return examples

    def score(self, predictions: list[str], examples: list[Example], recipe: Recipe) -> dict[str, Any]:
        references = [e.reference for e in examples]
        return {"chrf": metrics.chrf(predictions, references), "rouge_l": metrics.rouge_l(predictions, references)}


register(ContentUseCase())
