"""Batched greedy generation for chat prompts, with a PEFT adapter switched on or off.

Evaluation and the playground hold ONE base model with the run's adapter attached; the
base side is the same weights under ``model.disable_adapter()``, so comparing base and
tuned never needs two copies of the model in memory.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from builder.models.kv_prefix import PromptState

Messages = list[dict[str, str]]


@dataclass(slots=True)
class Generations:
    texts: list[str]
    prompt_tokens: list[int]  # tokenized chat prompt length, per request
    new_tokens: list[int]  # generated tokens, per request (up to the end-of-sequence token)
    seconds: float

    @property
    def mean_prompt_tokens(self) -> float:
        return sum(self.prompt_tokens) / len(self.prompt_tokens) if self.prompt_tokens else 0.0


def render_prompt(tokenizer: PreTrainedTokenizerBase, messages: Messages) -> str:
    """The chat template applied to a conversation that ends where the assistant should speak."""
    # tokenize=False gives the text; the stubs give every return type of the method.
    return cast(str, tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def count_prompt_tokens(tokenizer: PreTrainedTokenizerBase, messages: Messages) -> int:
    return len(tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)["input_ids"])


def stop_token_ids(model: Any, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The tokenizer's end of sequence and the model's own: a base model given a chat template ends a
    reply with the template's end of turn, and may still end a text with its pretraining end of sequence."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    configured = configured if isinstance(configured, list | tuple) else [configured]
    return sorted({tokenizer.eos_token_id, *configured} - {None})


@contextlib.contextmanager
def adapter_state(model: Any, enabled: bool) -> Iterator[None]:
    """Run the block with the adapter on (the tuned model) or off (the base model)."""
    if enabled or not hasattr(model, "disable_adapter"):
        if not enabled:
            raise ValueError("the base side needs a PEFT model (one with an adapter to switch off)")
        merge_token_rows(model)
        yield
        return
    with model.disable_adapter():
        yield


def merge_token_rows(model: Any) -> None:
    """Write an adapter's trained token rows (``trainable_token_indices``) into the embedding before the
    tuned side runs. Unmerged, PEFT swaps them into a fresh copy of the whole embedding matrix at every
    forward, twice with a tied head: for Gemma's 262,144 words, two 670 MB copies per generated token.
    The base side (``disable_adapter``) puts the original rows back on its first forward by itself."""
    for module in model.modules():
        if hasattr(module, "trainable_tokens_delta") and not module.merged:
            module.merge()


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Messages],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    adapter: bool = True,
    sampling: dict[str, Any] | None = None,
) -> Generations:
    """Greedy answers for ``prompts`` (or sampled with ``sampling``, e.g. ``Sampling.generate_kwargs()``
    without ``max_new_tokens``); batched with left padding, longest prompts first (less padding)."""
    import torch

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rendered = [render_prompt(tokenizer, list(p)) for p in prompts]
    lengths = [len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in rendered]
    order = sorted(range(len(rendered)), key=lambda i: -lengths[i])
    texts: list[str] = [""] * len(rendered)
    new_tokens: list[int] = [0] * len(rendered)
    device = next(model.parameters()).device
    stops = stop_token_ids(model, tokenizer)
    started = time.perf_counter()
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the right end of every row
    try:
        with adapter_state(model, adapter), torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                encoded = tokenizer(
                    [rendered[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
                ).to(device)
                # transformers 5 types PreTrainedModel without GenerationMixin (a causal LM has it at run time).
                output = model.generate(  # type: ignore[operator]
                    **encoded,
                    max_new_tokens=max_new_tokens,
                    **(sampling or {"do_sample": False}),
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=stops,
                )
                generated = output[:, encoded["input_ids"].shape[1] :]
                for row, index in enumerate(batch):
                    ids = reply_ids(generated[row].tolist(), stops, tokenizer.pad_token_id)
                    new_tokens[index] = len(ids)
                    text = cast(str, tokenizer.decode(ids, skip_special_tokens=True))  # a list of ids: one str
                    texts[index] = text.strip()
    finally:
        tokenizer.padding_side = previous_side
    return Generations(texts, lengths, new_tokens, time.perf_counter() - started)


def reply_ids(ids: list[int], stops: Sequence[int], pad_id: int | None) -> list[int]:
    """Generated ids up to the first stop token, without trailing padding."""
    ends = [ids.index(stop) for stop in stops if stop in ids]
    if ends:
        ids = ids[: min(ends)]
    while ids and ids[-1] == pad_id:
        ids.pop()
    return ids


def greedy_continue(
    model: Any, state: PromptState, *, stops: Sequence[Sequence[int]], max_new_tokens: Sequence[int], pad_id: int
) -> list[list[int]]:
    """Greedy tokens after each prompt of ``state`` (which this extends), each row with its own stop
    tokens and its own maximum; a row's stop token ends its list. Rows that ended are fed padding until
    the last row ends, as ``model.generate`` does; the forward runs only while a row still needs a token."""
    import torch

    rows = len(max_new_tokens)
    out: list[list[int]] = [[] for _ in range(rows)]
    done = [m <= 0 for m in max_new_tokens]
    logits = state.last_logits
    mask, position = state.attention_mask, state.next_position
    while True:
        chosen = logits.argmax(-1).tolist()
        for row in range(rows):
            if not done[row]:
                out[row].append(chosen[row])
                done[row] = chosen[row] in stops[row] or len(out[row]) >= max_new_tokens[row]
        if all(done):
            return out
        fed = [pad_id if done[row] else out[row][-1] for row in range(rows)]
        input_ids = torch.tensor(fed, device=mask.device).unsqueeze(1)
        mask = torch.cat([mask, mask.new_ones(rows, 1)], dim=1)
        logits = (
            model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=position.unsqueeze(1),
                past_key_values=state.cache,
                use_cache=True,
                logits_to_keep=1,
            )
            .logits[:, -1]
            .float()
        )
        position = position + 1
