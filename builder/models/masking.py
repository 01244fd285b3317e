"""Tokenize chat examples with a loss mask that covers the assistant's turns only.

TRL's ``assistant_only_loss`` needs ``{% generation %}`` markers in the chat template,
which SmolLM2's ChatML template (and most others) lacks. Instead we render the
template once per assistant turn to find, in characters, where each reply starts
(after the generation prompt) and ends (after its end-of-turn token), then map those
spans onto tokens through the fast tokenizer's offsets. This works for any template
whose renderings of a conversation's prefixes are prefixes of the whole rendering,
and fails loudly for one that is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


class TemplateError(ValueError):
    """The chat template renders a conversation's prefixes inconsistently."""


@dataclass(slots=True)
class TokenizedExample:
    input_ids: list[int]
    assistant_masks: list[int]
    truncated: bool

    @property
    def trained_tokens(self) -> int:
        return sum(self.assistant_masks)


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    # tokenize=False gives the text; the stubs give every return type of the method.
    return cast(str, tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt))


def assistant_char_spans(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the [start, end) character span of each assistant reply.

    A span holds the reply and the template's end-of-turn marker, not the newline after it.
    """
    text = _render(tokenizer, messages, generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], generation_prompt=True) if i else ""
        through = _render(tokenizer, messages[: i + 1], generation_prompt=False).rstrip()
        if not (text.startswith(before) and text.startswith(through) and len(through) > len(before)):
            raise TemplateError(
                "the chat template does not render conversation prefixes consistently, so assistant turns "
                "cannot be located; use a model whose template does, or supply a template in the tokenizer folder"
            )
        spans.append((len(before), len(through)))
    return text, spans


def tokenize_with_assistant_mask(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], max_length: int | None = None
) -> TokenizedExample:
    text, spans = assistant_char_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids: list[int] = encoded["input_ids"]
    mask = [0] * len(input_ids)
    span_index = 0
    for t, (start, _end) in enumerate(encoded["offset_mapping"]):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        if span_index < len(spans) and spans[span_index][0] <= start < spans[span_index][1]:
            mask[t] = 1
    truncated = max_length is not None and len(input_ids) > max_length
    if truncated:
        input_ids, mask = input_ids[:max_length], mask[:max_length]
    return TokenizedExample(input_ids=input_ids, assistant_masks=mask, truncated=truncated)
