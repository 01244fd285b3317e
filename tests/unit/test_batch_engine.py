"""The batching scheduler behind the chat engine: concurrent requests decoded together, each as if alone.

The truth is transformers' own ``generate`` on the same model, one request at a time (the adapter on for
the tuned side, inside ``disable_adapter()`` for the base side). A tiny random Llama with a random LoRA
adapter (``tests.unit.test_chat.make_tiny_run``) is loaded through the real ``builder.models.loading.load_tuned``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from builder.models.batch_engine import BatchScheduler, can_mix_adapters  # noqa: E402
from builder.models.batch_rows import keep  # noqa: E402
from builder.models.generation import stop_token_ids  # noqa: E402
from builder.models.labels import pad_token_id  # noqa: E402
from builder.serve.chat import ChatEngine, LoadedRun, Sampling  # noqa: E402
from tests.unit.test_chat import make_tiny_run  # noqa: E402

QUESTIONS = ["hola", "where is my order?", "buenas tardes, tengo una pregunta larga", "ok"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> LoadedRun:
    return ChatEngine().load(make_tiny_run(tmp_path_factory.mktemp("batch")))


def prompt_ids(loaded: LoadedRun, text: str) -> list[int]:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    return loaded.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]


def alone(loaded: LoadedRun, ids: list[int], tuned: bool, sampling: Sampling, stops: list[int]) -> list[int]:
    """``generate`` on this one request: its new tokens (the stop token included, as the scheduler keeps it)."""
    model = loaded.model
    kwargs = dict(
        input_ids=torch.tensor([ids]),
        attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        **sampling.generate_kwargs(),
        pad_token_id=pad_token_id(loaded.tokenizer),
        eos_token_id=stops,
    )
    with torch.inference_mode():
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        if tuned:
            output = model.generate(**kwargs)
        else:
            with model.disable_adapter():
                output = model.generate(**kwargs)
    return output[0, len(ids) :].tolist()


def submit_all(scheduler: BatchScheduler, requests: list[tuple[list[int], bool, Sampling]], stops: list[int]):
    """Submit every request while the engine's lock is held, so that they are all waiting when decoding starts."""
    with scheduler.lock:
        jobs = [
            scheduler.submit(
                ids,
                tuned=tuned,
                max_new_tokens=s.max_new_tokens,
                stops=stops,
                temperature=s.temperature,
                top_p=s.top_p,
                repetition_penalty=s.repetition_penalty,
                seed=s.seed,
            )
            for ids, tuned, s in requests
        ]
    for job in jobs:
        for _ in job.updates():
            pass
    return jobs


@pytest.mark.parametrize("mix", [True, False], ids=["one-mixed-batch", "a-batch-per-side"])
def test_concurrent_requests_are_decoded_together_each_as_generate_answers_it_alone(
    loaded: LoadedRun, mix: bool
) -> None:
    assert can_mix_adapters(loaded.model), "a plain LoRA adapter allows per-row adapter selection"
    scheduler = BatchScheduler(loaded.model, pad_token_id(loaded.tokenizer), threading.Lock(), mix=mix)
    stops = stop_token_ids(loaded.model, loaded.tokenizer)
    # Each request its own side, maximum and repetition penalty (greedy: comparable token for token).
    requests = [
        (prompt_ids(loaded, q), i % 2 == 0, Sampling(max_new_tokens=m, temperature=0, repetition_penalty=p))
        for i, (q, m, p) in enumerate(zip(QUESTIONS, (9, 4, 14, 7), (1.0, 3.0, 1.1, 1.0), strict=True))
    ]
    jobs = submit_all(scheduler, requests, stops)
    for job, (ids, tuned, sampling) in zip(jobs, requests, strict=True):
        assert job.tokens == alone(loaded, ids, tuned, sampling, stops)
        assert job.error is None
        assert job.finish_reason == ("stop" if job.tokens[-1] in stops else "length")
        assert len(job.tokens) <= sampling.max_new_tokens
    # Batched: the steps served several requests at once, fewer steps than one request at a time.
    assert max(scheduler.rows_per_step) >= (4 if mix else 2)
    assert scheduler.steps < sum(len(j.tokens) for j in jobs)
    # The system prompt and template the requests of a side share were encoded once, per side.
    from builder.models.kv_prefix import common_prefix_length

    system = common_prefix_length([ids for ids, _, _ in requests])  # these questions differ from their first letter
    assert system > 20 and {len(p.ids) for p in scheduler._prefixes.values()} == {system}
    assert set(scheduler._prefixes) == {True, False}
    # What each request asked for mattered: its side, and its repetition penalty.
    assert jobs[0].tokens != alone(loaded, requests[0][0], False, requests[0][2], stops)
    plain = Sampling(max_new_tokens=4, temperature=0, repetition_penalty=1.0)
    assert jobs[1].tokens != alone(loaded, requests[1][0], requests[1][1], plain, stops)


def test_each_request_stops_at_its_own_stop_tokens(loaded: LoadedRun) -> None:
    scheduler = BatchScheduler(loaded.model, pad_token_id(loaded.tokenizer), threading.Lock())
    greedy = Sampling(max_new_tokens=10, temperature=0, repetition_penalty=1.0)
    ids = prompt_ids(loaded, "hola")
    full = alone(loaded, ids, True, greedy, [])
    stop = full[3]  # a token this answer produces: the second request ends there
    first = full.index(stop)
    with scheduler.lock:
        free = scheduler.submit(ids, tuned=True, max_new_tokens=10, stops=[])
        stopped = scheduler.submit(ids, tuned=True, max_new_tokens=10, stops=[stop])
    for job in (free, stopped):
        list(job.updates())
    assert free.tokens == full and free.finish_reason == "length"
    assert stopped.tokens == full[: first + 1] and stopped.finish_reason == "stop"


def test_a_seeded_sample_draws_the_same_tokens_alone_and_in_a_batch(loaded: LoadedRun) -> None:
    scheduler = BatchScheduler(loaded.model, pad_token_id(loaded.tokenizer), threading.Lock())
    stops = stop_token_ids(loaded.model, loaded.tokenizer)
    seeded = Sampling(max_new_tokens=12, temperature=1.5, top_p=0.95, repetition_penalty=1.1, seed=7)
    ids = prompt_ids(loaded, "hola")
    (by_itself,) = submit_all(scheduler, [(ids, True, seeded)], stops)
    others = Sampling(max_new_tokens=12, temperature=1.0, top_p=0.9, seed=None)
    crowd = [(prompt_ids(loaded, q), True, others) for q in QUESTIONS] + [(ids, True, seeded)]
    in_batch = submit_all(scheduler, crowd, stops)[-1]
    assert in_batch.tokens == by_itself.tokens
    # The same draws as generate after torch.manual_seed(seed): transformers' processors, the same generator.
    assert by_itself.tokens == alone(loaded, ids, True, seeded, stops)
    other_seed = Sampling(**{**seeded.__dict__, "seed": 8})
    assert submit_all(scheduler, [(ids, True, other_seed)], stops)[0].tokens != by_itself.tokens


def test_a_cancelled_request_leaves_the_batch_and_the_others_go_on(loaded: LoadedRun) -> None:
    lock = threading.Lock()
    scheduler = BatchScheduler(loaded.model, pad_token_id(loaded.tokenizer), lock)
    greedy = Sampling(max_new_tokens=30, temperature=0, repetition_penalty=1.0)
    long_ids, short_ids = prompt_ids(loaded, QUESTIONS[2]), prompt_ids(loaded, "ok")
    with lock:
        leaving = scheduler.submit(long_ids, tuned=True, max_new_tokens=400, stops=[])
        staying = scheduler.submit(short_ids, tuned=False, max_new_tokens=30, stops=[])
    updates = leaving.updates()
    next(updates)
    leaving.cancel()
    list(updates)  # ends soon after the cancel, long before 400 tokens
    list(staying.updates())
    assert len(leaving.tokens) < 400 and leaving.error is None
    assert staying.tokens == alone(loaded, short_ids, False, greedy, [])
    assert lock.acquire(timeout=10), "the engine's lock is free between steps"
    lock.release()


def test_rows_that_leave_take_their_padding_with_them(loaded: LoadedRun) -> None:
    """The cache is never wider than its longest row once the long rows are gone."""
    from builder.models.batch_rows import Rows
    from builder.models.kv_prefix import SharedPrefix, prefill

    long_ids, short_ids = prompt_ids(loaded, QUESTIONS[2] * 2), prompt_ids(loaded, "ok")
    with torch.inference_mode():
        state = prefill(loaded.model, SharedPrefix([], []), [long_ids, short_ids], pad_token_id(loaded.tokenizer))
    rows = Rows.from_prompt(state, [None, None])  # type: ignore[list-item]
    assert rows.width == len(long_ids)
    short = keep(rows, [1])
    assert short is not None and short.width == len(short_ids)
    assert short.cache.get_seq_length() == len(short_ids) and bool(short.mask.all())
    assert keep(rows, [0, 1]) is rows and keep(rows, []) is None


def test_closing_ends_waiting_requests_with_an_error(loaded: LoadedRun) -> None:
    lock = threading.Lock()
    scheduler = BatchScheduler(loaded.model, pad_token_id(loaded.tokenizer), lock)
    with lock:
        job = scheduler.submit(prompt_ids(loaded, "hola"), tuned=True, max_new_tokens=5, stops=[])
        closer = threading.Thread(target=scheduler.close)
        closer.start()
    closer.join(timeout=30)
    with pytest.raises(RuntimeError, match="unloaded"):
        list(job.updates())
    with pytest.raises(RuntimeError, match="unloaded"):
        scheduler.submit([1, 2], tuned=True, max_new_tokens=5, stops=[])


def test_the_engine_streams_from_the_batch_and_reports_usage(tmp_path: Path) -> None:
    from builder.serve.chat import GenerationStats

    engine = ChatEngine()
    run = make_tiny_run(tmp_path)
    loaded = engine.load(run)
    messages = loaded.prompt("hola")
    greedy = Sampling(max_new_tokens=8, temperature=0, repetition_penalty=1.0)
    stats = GenerationStats()
    texts = list(engine.stream(run, "tuned", messages, greedy, stats))
    assert len(texts) > 1 and all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    ids = prompt_ids(loaded, "hola")
    stops = stop_token_ids(loaded.model, loaded.tokenizer)
    expected = alone(loaded, ids, True, greedy, stops)
    assert texts[-1] == loaded.tokenizer.decode(expected, skip_special_tokens=True)
    assert (stats.prompt_tokens, stats.completion_tokens) == (len(ids), len(expected))
    assert stats.finish_reason == ("stop" if expected[-1] in stops else "length")


def test_greedy_rows_of_different_lengths_and_sides_answer_as_alone_in_one_gated_forward(
    loaded: LoadedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain greedy rows take one argmax for all; base and tuned rows share each forward through the per-row
    LoRA scale, never PEFT's split by adapter name, and the adapter's scales are as before afterwards."""
    from peft.tuners.lora import LoraLayer

    from builder.models.batch_engine import lora_layers

    def split(*args: object, **kwargs: object) -> None:
        raise AssertionError("PEFT's mixed-batch path was used")

    monkeypatch.setattr(LoraLayer, "_mixed_batch_forward", split)
    scales = [dict(m.scaling) for m in lora_layers(loaded.model)]
    scheduler = BatchScheduler(loaded.model, pad_token_id(loaded.tokenizer), threading.Lock())
    assert scheduler.mix
    stops = stop_token_ids(loaded.model, loaded.tokenizer)
    greedy = Sampling(max_new_tokens=8, temperature=0, repetition_penalty=1.0)
    texts = ["hola", QUESTIONS[2] * 3, "ok", QUESTIONS[1] * 2, QUESTIONS[2]]
    requests = [(prompt_ids(loaded, t), i % 2 == 1, greedy) for i, t in enumerate(texts)]
    assert len({len(ids) for ids, _, _ in requests}) == len(requests)  # every row its own length
    jobs = submit_all(scheduler, requests, stops)
    assert max(scheduler.rows_per_step) == len(requests)
    for job, (ids, tuned, sampling) in zip(jobs, requests, strict=True):
        assert job.tokens == alone(loaded, ids, tuned, sampling, stops)
    assert [dict(m.scaling) for m in lora_layers(loaded.model)] == scales


def test_the_server_leaves_a_core_to_the_http_side() -> None:
    from builder.serve.server import parse_args, serving_threads

    assert [serving_threads(n) for n in (None, 1, 2, 16)] == [1, 1, 1, 15]
    assert parse_args(["run", "--threads", "2"]).threads == 2 and parse_args(["run"]).threads is None
