"""Prompts encoded once: a shared token prefix's KV cache, and a batch of prompts prefilled on top of it.

Evaluation asks the same model many questions that begin alike (the system prompt, and for few-shot
the training examples before the question). ``SharedPrefix`` encodes those common tokens once; every
batch then gets its own copy of that cache and encodes only its rows' own tokens (``prefill``). The
result, a ``PromptState``, is what label scoring (``builder.models.labels``) and greedy decoding
(``builder.models.generation``) continue from, so that one pass over a prompt serves both.

Caches are transformers' ``DynamicCache`` with full-attention layers only (no config): a sliding-window
layer built from a config drops keys beyond its window, which a cache copied and extended here must
keep; the model's sliding-window mask still limits what each query sees. ``DynamicLayer.update``
concatenates into new tensors, so the prefix's tensors are never written after they are computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import CacheLayerMixin


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every row shares."""
    if not rows:
        return 0
    first = rows[0]
    length = min(len(r) for r in rows)
    for row in rows[1:]:
        n = 0
        while n < length and row[n] == first[n]:
            n += 1
        length = n
    return length


def cache_from_layers(layers: Sequence[tuple[torch.Tensor, torch.Tensor]], repeats: int = 1) -> DynamicCache:
    """A new cache holding copies of ``layers`` ([batch, heads, seq, dim] keys and values), each batch row
    repeated ``repeats`` times (row i becomes rows i*repeats .. i*repeats+repeats-1)."""
    if repeats == 1:
        return DynamicCache([(k, v) for k, v in layers])  # update() concatenates: a copy
    return DynamicCache([(k.repeat_interleave(repeats, 0), v.repeat_interleave(repeats, 0)) for k, v in layers])


def cache_layers(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The keys and values of each layer of a filled attention cache (linear-attention and dummy layers hold none)."""
    layers = []
    for index, layer in enumerate(cache.layers):
        if not isinstance(layer, CacheLayerMixin) or layer.keys is None or layer.values is None:
            raise TypeError(f"cache layer {index} ({type(layer).__name__}) holds no keys and values")
        layers.append((layer.keys, layer.values))
    return layers


@dataclass(slots=True)
class SharedPrefix:
    """The KV cache of ``ids``, computed once, handed out as fresh caches (never extended in place)."""

    ids: list[int]
    layers: list[tuple[torch.Tensor, torch.Tensor]]  # [1, heads, len(ids), dim] per layer; empty without a prefix

    @classmethod
    def compute(cls, model: Any, ids: Sequence[int]) -> SharedPrefix:
        ids = list(ids)
        if not ids:
            return cls(ids, [])
        device = next(model.parameters()).device
        cache = DynamicCache()
        model(input_ids=torch.tensor([ids], device=device), past_key_values=cache, use_cache=True, logits_to_keep=1)
        return cls(ids, cache_layers(cache))

    def cache_for(self, batch: int) -> DynamicCache:
        if not self.layers:
            return DynamicCache()
        return DynamicCache([(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in self.layers])


@dataclass(slots=True)
class PromptState:
    """A batch of prompts after their encoding: what continues them (labels, or generated tokens)."""

    cache: DynamicCache
    attention_mask: torch.Tensor  # [batch, cached tokens]: 0 on padding
    next_position: torch.Tensor  # [batch]: the position id of each row's next token
    last_logits: torch.Tensor  # [batch, vocab] float32: the next-token logits after each prompt

    def repeated(self, repeats: int) -> PromptState:
        """A copy with each row repeated ``repeats`` times; this state stays as it is."""
        return PromptState(
            cache_from_layers(cache_layers(self.cache), repeats),
            self.attention_mask.repeat_interleave(repeats, 0),
            self.next_position.repeat_interleave(repeats, 0),
            self.last_logits.repeat_interleave(repeats, 0),
        )


def prefill(model: Any, prefix: SharedPrefix, rows: Sequence[Sequence[int]], pad_id: int) -> PromptState:
    """Encode each row (which starts with ``prefix.ids``) after the prefix: its own tokens, left-padded so
    that every row ends at the last position. The padding sits between the prefix and the row's tokens;
    the attention mask hides it and the position ids skip it."""
    p = len(prefix.ids)
    if any(len(r) <= p or list(r[:p]) != prefix.ids for r in rows):
        raise ValueError("every row must start with the shared prefix and have at least one token after it")
    device = next(model.parameters()).device
    own = [list(r[p:]) for r in rows]
    width = max(len(o) for o in own)
    input_ids = torch.tensor([[pad_id] * (width - len(o)) + o for o in own], device=device)
    own_mask = torch.tensor([[0] * (width - len(o)) + [1] * len(o) for o in own], device=device)
    positions = (p + own_mask.cumsum(-1) - 1).clamp(min=p)
    mask = torch.cat([torch.ones(len(rows), p, dtype=own_mask.dtype, device=device), own_mask], dim=1)
    cache = prefix.cache_for(len(rows))
    logits = model(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=1,
    ).logits
    return PromptState(cache, mask, positions[:, -1] + 1, logits[:, -1].float())
