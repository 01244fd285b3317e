"""Concurrent chat requests decoded as one batch: the engine behind the playground and the API server.

``builder.serve.chat.ChatEngine`` hands every request of a loaded run to ONE ``BatchScheduler``. Its thread
loops, one step at a time:

1. requests that arrived since the last step are encoded together (``builder.models.kv_prefix.prefill``, the
   evaluation's left-padded prefill) and join the running batch (``builder.models.batch_rows``);
2. every row takes its next token from its own logits with its own settings (``builder.models.batch_rows``:
   transformers' own logits processors row by row, and a row's own random generator for a seed), its own
   stop tokens and its own maximum; finished rows, and rows whose reader went away, leave the batch;
3. one forward of the rows left gives their next logits.

A request therefore waits for at most one step of the others, plus its own encoding, before its first
token, and each step serves every running request. Base and tuned rows share the batch, one forward for
all, when the adapter allows it (plain LoRA: no DoRA or other variant, no trained token rows, not merged):
each LoRA layer's scale becomes, for that forward, a column of the adapter's scale on tuned rows and 0 on
base rows (``RowGate``). A base row then gets the base model's output plus exactly zero. PEFT's own
mixed batches (``adapter_names``) give the same answers but split every layer's input by adapter in Python
and hook every module at each forward: an 8-row mixed step of the bundled model took 168-172 ms that way
against 138-157 ms gated (float32, one thread; BENCHMARKS.md, serving). Otherwise each side is a
batch of its own, both stepped in turn with the adapter switched around each
(``builder.models.generation.adapter_state``).

The tokens that requests of a side share with the previous one (the run's system prompt and the
template around it) are encoded once and kept (``builder.models.kv_prefix.SharedPrefix``, one per side: its
keys depend on the adapter); a new request encodes only its own tokens on top of a copy, which keeps
the encoding of many requests arriving at once short.

The engine's lock is held for a step, never between steps: a label request or a run switch goes between.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from builder.models.batch_rows import Rows, join, keep, row_processors
from builder.models.generation import adapter_state
from builder.models.kv_prefix import SharedPrefix, common_prefix_length, prefill

_NO_PREFIX = SharedPrefix([], [])
MIN_PREFIX = 8  # tokens: a shorter common start (a bare template) is not worth a cache of its own


@dataclass(eq=False)
class Job:
    """One request: its prompt ids, side and settings; the scheduler appends its tokens and ends it."""

    ids: list[int]
    tuned: bool
    max_new_tokens: int
    stops: frozenset[int]
    processors: Any  # transformers.LogitsProcessorList for this row
    sample: bool  # False: the most likely token (greedy)
    generator: torch.Generator | None = None  # a seeded request's own random draws
    tokens: list[int] = field(default_factory=list)  # generated ids, a stop token included
    finish_reason: str = ""  # "stop" or "length" once ended
    error: BaseException | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    _events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)  # token counts, None at the end
    _ended: bool = False

    def cancel(self) -> None:
        """The reader went away: the row leaves the batch at the next step."""
        self.cancelled.set()

    def updates(self) -> Iterator[list[int]]:
        """The generated ids so far, after each new token; raises the generation's error at the end."""
        while True:
            count = self._events.get()
            if count is None:
                break
            yield self.tokens[:count]
        if self.error is not None:
            raise self.error

    def _push(self, token: int) -> None:
        self.tokens.append(token)
        if token in self.stops:
            self.finish_reason = "stop"
        elif len(self.tokens) >= self.max_new_tokens:
            self.finish_reason = "length"
        self._events.put(len(self.tokens))

    def _end(self, error: BaseException | None = None) -> None:
        if self._ended:  # a request that ended well keeps its answer when a later step fails
            return
        self._ended = True
        self.error = error
        self._events.put(None)

    @property
    def finished(self) -> bool:
        return bool(self.finish_reason) or self.cancelled.is_set()


_GATED_KINDS = {"Linear", "Embedding", "Linear8bitLt", "Linear4bit"}  # LoRA layers whose delta is "* scaling"


def lora_layers(model: Any) -> list[Any]:
    """The model's LoRA layers (PEFT's ``LoraLayer``), empty for a model without them."""
    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:
        return []
    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def can_mix_adapters(model: Any) -> bool:
    """Whether base and tuned rows can share a forward with a per-row LoRA scale (``RowGate``)."""
    if not hasattr(model, "disable_adapter"):
        return False
    layers = lora_layers(model)
    if not layers or any(hasattr(m, "trainable_tokens_delta") for m in model.modules()):
        return False  # trained token rows are merged into the embedding for the tuned side (generation.py)
    for m in layers:
        kind_ok = type(m).__name__ in _GATED_KINDS and type(m).__module__.startswith("peft.tuners.lora")
        if not kind_ok or m.merged or any(m.use_dora.values()) or getattr(m, "lora_variant", None):
            return False
    return True


class RowGate:
    """The model with its adapter on some rows only, one forward for all.

    A plain LoRA layer adds ``lora_B(lora_A(x)) * scaling`` to the base output; with ``scaling`` set to a
    ``[rows, 1, 1]`` tensor (the layer's scale on tuned rows, 0 on base rows) for the forward, a base row
    gets the base output plus exactly zero and a tuned row what the adapter alone gives it. The scales are
    put back after the forward (the engine's lock keeps every other forward out meanwhile)."""

    def __init__(self, model: Any, adapter: str, layers: Sequence[Any], tuned: Sequence[bool]) -> None:
        self.model, self.adapter, self.layers = model, adapter, [m for m in layers if adapter in m.scaling]
        self.tuned = list(tuned)

    def parameters(self) -> Iterator[Any]:
        return self.model.parameters()

    def __call__(self, **kwargs: Any) -> Any:
        if all(self.tuned):
            return self.model(**kwargs)
        originals = [m.scaling[self.adapter] for m in self.layers]
        weight = next(self.model.parameters())
        on = torch.tensor(self.tuned, dtype=torch.float32, device=weight.device).view(-1, 1, 1)
        columns: dict[float, torch.Tensor] = {}  # one column per distinct scale (usually one)
        try:
            for m, scale in zip(self.layers, originals, strict=True):
                dtype = m.lora_A[self.adapter].weight.dtype
                column = columns.get(scale)
                if column is None:
                    column = columns[scale] = (on * float(scale)).to(dtype)
                m.scaling[self.adapter] = column
            return self.model(**kwargs)
        finally:
            for m, scale in zip(self.layers, originals, strict=True):
                m.scaling[self.adapter] = scale


class BatchScheduler:
    """One thread that decodes every submitted request of one model, a step for all rows at a time."""

    def __init__(
        self, model: Any, pad_id: int, lock: threading.Lock, *, max_rows: int = 16, mix: bool | None = None
    ) -> None:
        self.model, self.pad_id, self.lock, self.max_rows = model, pad_id, lock, max(1, max_rows)
        self.mix = can_mix_adapters(model) if mix is None else mix
        self._lora = lora_layers(model) if self.mix else []
        adapter = getattr(model, "active_adapter", "default")
        self.adapter_name = adapter if isinstance(adapter, str) else adapter[0]
        self._cond = threading.Condition()
        self._waiting: list[Job] = []
        self._groups: dict[bool | None, Rows] = {}  # None: one mixed batch; else tuned True/False
        self._prefixes: dict[bool, SharedPrefix] = {}  # per side: the start its requests share
        self._last_ids: dict[bool, list[int]] = {}  # per side: the previous request's prompt
        self._closed = False
        self._thread: threading.Thread | None = None
        self.steps = 0
        self.rows_per_step: list[int] = []  # rows decoded at each step (kept for tests and benchmarks, last 1000)

    # -- the requests' side

    def submit(
        self,
        ids: Sequence[int],
        *,
        tuned: bool,
        max_new_tokens: int,
        stops: Sequence[int],
        temperature: float = 0.0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        seed: int | None = None,
    ) -> Job:
        """Queue one request; its tokens arrive through ``Job.updates()``."""
        if not ids:
            raise ValueError("a request needs at least one prompt token")
        processors, sample = row_processors(self.model, temperature, top_p, repetition_penalty)
        device = next(self.model.parameters()).device
        generator = torch.Generator(device=device).manual_seed(seed) if sample and seed is not None else None
        job = Job(list(ids), tuned, max(1, int(max_new_tokens)), frozenset(stops), processors, sample, generator)
        with self._cond:
            if self._closed:
                raise RuntimeError("this model was unloaded (another run was opened); ask again")
            self._waiting.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="batch-decoder", daemon=True)
                self._thread.start()
            self._cond.notify()
        return job

    def close(self) -> None:
        """Stop the thread; requests still waiting or running end with an error."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        self._fail(RuntimeError("this model was unloaded (another run was opened); ask again"))

    # -- the decoding thread

    def _running(self) -> int:
        return sum(len(g.jobs) for g in self._groups.values())

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._waiting and not self._groups:
                    self._cond.wait()
                if self._closed:
                    return
                room = self.max_rows - self._running()
                arrived, self._waiting = self._waiting[:room], self._waiting[room:]
            for job in arrived:
                if job.cancelled.is_set():  # gone before its turn came
                    job._end()
            try:
                with self.lock, torch.inference_mode():
                    self._admit([j for j in arrived if not j.cancelled.is_set()])
                    self._step()
            except Exception as err:  # every request of this step learns it; the thread goes on
                self._fail(err, also=arrived)

    def _jobs(self) -> list[Job]:
        return [j for g in self._groups.values() for j in g.jobs]

    def _fail(self, err: BaseException, also: Sequence[Job] = ()) -> None:
        with self._cond:
            jobs = [*self._waiting, *self._jobs(), *also]
            self._waiting, self._groups = [], {}
        for job in dict.fromkeys(jobs):
            job._end(err)

    def _key(self, job: Job) -> bool | None:
        return None if self.mix else job.tuned

    def _forward_model(self, key: bool | None, jobs: Sequence[Job]) -> tuple[Any, Any]:
        """What to call for these rows, and the adapter state to call it in. A mixed batch needs no
        ``adapter_state``: the adapter stays on, and a mixable adapter has no token rows to merge."""
        if key is None:
            gate = RowGate(self.model, self.adapter_name, self._lora, [j.tuned for j in jobs])
            return gate, contextlib.nullcontext()
        return self.model, adapter_state(self.model, key)

    def _admit(self, arrived: list[Job]) -> None:
        """Encode the new requests (per side, longest first) and add them to their group's batch."""
        sides: dict[bool, list[Job]] = {}
        for job in sorted(arrived, key=lambda j: -len(j.ids)):
            sides.setdefault(job.tuned, []).append(job)
        for tuned, jobs in sides.items():
            key = None if self.mix else tuned
            prefix = self._prefix(tuned, [j.ids for j in jobs])
            model, state = self._forward_model(key, jobs)
            with state:
                encoded = prefill(model, prefix, [j.ids for j in jobs], self.pad_id)
            self._groups[key] = join(self._groups.get(key), Rows.from_prompt(encoded, jobs))

    def _prefix(self, tuned: bool, rows: list[list[int]]) -> SharedPrefix:
        """The side's kept prefix when every row starts with it; else the start these rows share with the
        side's previous request, encoded now and kept; the empty prefix when that start is short."""
        kept = self._prefixes.get(tuned)
        if kept is not None and all(len(r) > len(kept.ids) and r[: len(kept.ids)] == kept.ids for r in rows):
            self._last_ids[tuned] = rows[-1]
            return kept
        previous = self._last_ids.get(tuned)
        if previous is None and len(rows) == 1:  # nothing to compare with yet: a whole prompt is no common start
            self._last_ids[tuned] = rows[-1]
            return _NO_PREFIX
        shared = common_prefix_length([*rows, previous] if previous else rows)
        shared = min(shared, min(len(r) for r in rows) - 1)
        self._last_ids[tuned] = rows[-1]
        if shared < MIN_PREFIX:
            return _NO_PREFIX
        with adapter_state(self.model, tuned):
            prefix = SharedPrefix.compute(self.model, rows[0][:shared])
        self._prefixes[tuned] = prefix
        return prefix

    def _step(self) -> None:
        """Every row's next token from its logits; the finished leave; one forward for the rest."""
        decoded = 0
        for key in list(self._groups):
            rows = self._groups[key]
            live = [i for i, job in enumerate(rows.jobs) if not job.cancelled.is_set()]
            for i, token in zip(live, rows.next_tokens(live), strict=True):
                rows.jobs[i]._push(token)
            decoded += len(live)
            going = [i for i in live if not rows.jobs[i].finished]
            for i, job in enumerate(rows.jobs):
                if i not in going:
                    job._end()
            left = keep(rows, going)
            if left is None:
                del self._groups[key]
                continue
            model, state = self._forward_model(key, left.jobs)
            with state:
                left.advance(model, self.pad_id)
            self._groups[key] = left
        self.steps += 1
        self.rows_per_step = [*self.rows_per_step[-999:], decoded]
