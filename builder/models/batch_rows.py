"""The running batch of ``builder.models.batch_engine``: rows that join, take a token each, leave, and step together.

A batch is what ``builder.models.kv_prefix.prefill`` leaves (a KV cache, the attention mask, each row's next
position and next-token logits) plus the request of each row. Rows are right-aligned: a row's tokens end
at the last column and padding sits on its left, hidden by the mask and skipped by the position ids. Rows
that join are left-padded to the batch's width (or the batch to theirs); when rows leave, the columns
that are padding in every row left are cut, so the cache is never wider than its longest row.

A row's next token comes from one argmax over all plain greedy rows at once, or, for a row with a
repetition penalty or sampling, from transformers' own logits processors (repetition penalty, temperature,
top-k, top-p: what ``model.generate`` applies), given that row's own ids, so a request is answered as
``generate`` answers it alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from builder.models.kv_prefix import PromptState, cache_layers

DEFAULT_TOP_K = 50  # transformers' default when the model's generation config sets none


def row_processors(model: Any, temperature: float, top_p: float, repetition_penalty: float) -> tuple[Any, bool]:
    """The logits processors ``generate`` would use for these settings, and whether they sample."""
    from transformers import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList()
    if repetition_penalty and repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(float(repetition_penalty)))
    sample = bool(temperature and temperature > 0)
    if sample:
        if temperature != 1.0:
            processors.append(TemperatureLogitsWarper(float(temperature)))
        top_k = getattr(getattr(model, "generation_config", None), "top_k", None)
        top_k = DEFAULT_TOP_K if top_k is None else top_k
        if top_k:
            processors.append(TopKLogitsWarper(top_k=int(top_k)))
        if top_p is not None and top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=float(top_p)))
    return processors, sample


@dataclass(eq=False)
class Rows:
    jobs: list[Any]  # builder.models.batch_engine.Job, one per row
    cache: DynamicCache
    mask: torch.Tensor  # [rows, cached tokens]: 0 on padding
    position: torch.Tensor  # [rows]: each row's next position id
    logits: torch.Tensor  # [rows, vocab] float32: each row's next-token logits, not yet used

    @classmethod
    def from_prompt(cls, state: PromptState, jobs: Sequence[Any]) -> Rows:
        return cls(list(jobs), state.cache, state.attention_mask, state.next_position, state.last_logits)

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    def padded(self, width: int) -> Rows:
        """These rows with padding added on the left up to ``width`` columns."""
        extra = width - self.width
        if extra <= 0:
            return self
        layers = []
        for keys, values in cache_layers(self.cache):
            pad = keys.new_zeros(keys.shape[0], keys.shape[1], extra, keys.shape[3])
            layers.append((torch.cat([pad, keys], dim=2), torch.cat([values.new_zeros(pad.shape), values], dim=2)))
        mask = torch.cat([self.mask.new_zeros(self.mask.shape[0], extra), self.mask], dim=1)
        return Rows(self.jobs, DynamicCache(layers), mask, self.position, self.logits)

    def next_tokens(self, rows: Sequence[int]) -> list[int]:
        """The next token of each row in ``rows``, each chosen as ``generate`` would choose it for that request
        alone. The plain greedy rows (no processor) take one argmax over all of them and one copy to Python;
        a row with processors or sampling is scored on its own (its own ids, its own random generator)."""
        plain = [i for i in rows if not self.jobs[i].sample and not self.jobs[i].processors]
        chosen: dict[int, int] = {}
        if plain:
            index = torch.tensor(plain, device=self.logits.device)
            picks = self.logits.index_select(0, index).argmax(-1).tolist()
            chosen.update(zip(plain, picks, strict=True))
        for i in rows:
            if i not in chosen:
                chosen[i] = self._own_token(i)
        return [chosen[i] for i in rows]

    def _own_token(self, row: int) -> int:
        job = self.jobs[row]
        scores = self.logits[row : row + 1]
        if job.processors:
            ids = torch.tensor([job.ids + job.tokens], device=scores.device)
            scores = job.processors(ids, scores.clone())
        if not job.sample:
            return int(scores.argmax(-1)[0])
        probabilities = torch.softmax(scores, dim=-1)
        return int(torch.multinomial(probabilities, 1, generator=job.generator)[0, 0])

    def advance(self, model: Any, pad_id: int) -> None:
        """One forward: each row's last token in, its next logits out."""
        fed = [job.tokens[-1] if job.tokens else pad_id for job in self.jobs]
        input_ids = torch.tensor(fed, device=self.mask.device).unsqueeze(1)
        self.mask = torch.cat([self.mask, self.mask.new_ones(len(fed), 1)], dim=1)
        output = model(
            input_ids=input_ids,
            attention_mask=self.mask,
            position_ids=self.position.unsqueeze(1),
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.logits = output.logits[:, -1].float()
        self.position = self.position + 1


def join(batch: Rows | None, new: Rows) -> Rows:
    """One batch of both (``batch`` first), padded to the wider."""
    if batch is None:
        return new
    width = max(batch.width, new.width)
    a, b = batch.padded(width), new.padded(width)
    layers = [
        (torch.cat([ka, kb]), torch.cat([va, vb]))
        for (ka, va), (kb, vb) in zip(cache_layers(a.cache), cache_layers(b.cache), strict=True)
    ]
    return Rows(
        a.jobs + b.jobs,
        DynamicCache(layers),
        torch.cat([a.mask, b.mask]),
        torch.cat([a.position, b.position]),
        torch.cat([a.logits, b.logits]),
    )


def keep(batch: Rows, rows: Sequence[int]) -> Rows | None:
    """Only ``rows`` of the batch (None without any), without the columns that are padding in all of them."""
    if not rows:
        return None
    if list(rows) == list(range(len(batch.jobs))):
        return batch  # nobody left: the cache stays as it is
    index = torch.tensor(list(rows), device=batch.mask.device)
    mask = batch.mask.index_select(0, index)
    start = int(mask.any(dim=0).int().argmax())  # the first column some row still uses
    layers = [
        (k.index_select(0, index)[:, :, start:], v.index_select(0, index)[:, :, start:])
        for k, v in cache_layers(batch.cache)
    ]
    return Rows(
        [batch.jobs[i] for i in rows],
        DynamicCache(layers),
        mask[:, start:],
        batch.position.index_select(0, index),
        batch.logits.index_select(0, index),
    )
