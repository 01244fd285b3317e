"""The OpenAI-compatible server, driven by the official ``openai`` client against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
openai = pytest.importorskip("openai")

from builder.serve.chat import ChatEngine, Sampling  # noqa: E402
from builder.serve.server import ChatService, create_app, main  # noqa: E402
from tests.unit.test_chat import make_tiny_retrieval_run, make_tiny_run  # noqa: E402  (tiny random Llama, random adapter)

KEY = "s3cret-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn in a thread, on a free loopback port."""

    def __init__(self, service: ChatService, api_key: str | None = None) -> None:
        import uvicorn

        self.port = _free_port()
        config = uvicorn.Config(
            create_app(service, api_key=api_key), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "the server did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def client(self, key: str = "unused", **kwargs) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=key, max_retries=0, timeout=120, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def service(tiny_run: Path) -> ChatService:
    return ChatService(tiny_run, ChatEngine())


@pytest.fixture(scope="module")
def server(service: ChatService):
    running = Server(service)
    yield running
    running.stop()


def _ask(client: openai.OpenAI, model: str, text: str, *, stream: bool = False, max_tokens: int = 10) -> str:
    messages = [{"role": "user", "content": text}]
    if not stream:
        reply = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=max_tokens)
        return reply.choices[0].message.content
    chunks = client.chat.completions.create(
        model=model, messages=messages, temperature=0, max_tokens=max_tokens, stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_models_lists_the_tuned_run_and_its_base(server: Server) -> None:
    ids = [m.id for m in server.client().models.list().data]
    assert ids == ["tiny-run", "tiny-run-base"]
    assert server.client().models.retrieve("tiny-run").owned_by == "domain-assistant-builder"


def test_answers_are_the_engines_with_the_adapter_on_for_the_tuned_name_only(
    server: Server, service: ChatService, tiny_run: Path
) -> None:
    client = server.client()
    reply = client.chat.completions.create(
        model="tiny-run", messages=[{"role": "user", "content": "hola"}], temperature=0, max_tokens=10
    )
    # Without a system message the run's own system prompt ("Be brief.") is used, as in the playground; no
    # repetition penalty unless the request asks for one (OpenAI's and vLLM's default).
    greedy = Sampling(max_new_tokens=10, temperature=0, repetition_penalty=1.0)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hola"}]
    expected_tuned = list(service.engine.stream(tiny_run, "tuned", messages, greedy))[-1]
    expected_base = list(service.engine.stream(tiny_run, "base", messages, greedy))[-1]
    assert expected_tuned != expected_base, "the random adapter must change the answer"
    assert reply.choices[0].message.content == expected_tuned
    assert _ask(client, "tiny-run-base", "hola") == expected_base
    usage = reply.usage
    assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 10
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert reply.choices[0].finish_reason == ("length" if usage.completion_tokens == 10 else "stop")


def test_streaming_gives_the_same_answer_in_pieces_with_usage(server: Server) -> None:
    client = server.client()
    chunks = list(
        client.chat.completions.create(
            model="tiny-run",
            messages=[{"role": "user", "content": "buenas tardes"}],
            temperature=0,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces, "the answer arrives as content deltas"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert "".join(pieces) == _ask(client, "tiny-run", "buenas tardes", max_tokens=12)


def test_twenty_clients_at_once_all_get_their_own_answers(server: Server) -> None:
    client = server.client()
    jobs = [(("tiny-run", "tiny-run-base")[i % 2], f"pregunta {i}", i % 3 == 0) for i in range(20)]
    alone = {job: _ask(client, job[0], job[1], stream=job[2]) for job in jobs}
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = pool.map(lambda job: _ask(server.client(), *job[:2], stream=job[2]), jobs)
        together = dict(zip(jobs, answers, strict=True))
    # Every one answered, and interleaving base and tuned requests never mixed up the adapter state.
    assert together == alone
    assert all(together.values())


def test_malformed_requests_get_4xx_with_a_message(server: Server) -> None:
    import httpx

    client = server.client()
    user = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError, match="does not exist here"):
        client.chat.completions.create(model="gpt-4o", messages=user)
    with pytest.raises(openai.BadRequestError, match="messages must be a non-empty list"):
        client.chat.completions.create(model="tiny-run", messages=[])
    with pytest.raises(openai.BadRequestError, match="temperature must be between 0 and 2"):
        client.chat.completions.create(model="tiny-run", messages=user, temperature=7)
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\].role 'tool'"):
        client.chat.completions.create(model="tiny-run", messages=[{"role": "tool", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="max_tokens must be an integer"):
        client.chat.completions.create(model="tiny-run", messages=user, max_tokens=0)
    raw = httpx.post(f"{server.url}/chat/completions", content=b"{not json", timeout=30)
    assert raw.status_code == 400 and raw.json()["error"]["message"] == "the request body is not valid JSON"
    missing = httpx.post(f"{server.url}/chat/completions", json={"messages": user}, timeout=30)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"
    lost = httpx.get(f"{server.url}/completions", timeout=30)
    assert lost.status_code == 404 and "Not Found" in lost.json()["error"]["message"]


def test_with_a_key_set_a_request_without_it_gets_401(service: ChatService) -> None:
    import httpx

    locked = Server(service, api_key=KEY)
    try:
        with pytest.raises(openai.AuthenticationError, match="API key"):
            locked.client("wrong").models.list()
        bare = httpx.get(f"{locked.url}/models", timeout=30)
        assert bare.status_code == 401 and bare.json()["error"]["code"] == "invalid_api_key"
        assert [m.id for m in locked.client(KEY).models.list().data] == ["tiny-run", "tiny-run-base"]
        assert _ask(locked.client(KEY), "tiny-run", "hola")
    finally:
        locked.stop()


def test_listening_beyond_loopback_needs_a_key(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny_run), "--host", "0.0.0.0", "--api-key", ""]) == 2
    assert "--api-key" in capsys.readouterr().err


def test_a_retrieval_run_grounds_the_last_question(tmp_path: Path) -> None:
    """The real knowledge base and embedding model, as in the playground and in training."""
    run = make_tiny_retrieval_run(tmp_path)
    service = ChatService(run, ChatEngine())
    prompt = service.prompt([{"role": "user", "content": "How long does shipping to the Canary Islands take?"}])
    assert prompt[0]["role"] == "system" and prompt[0]["content"]
    assert "5 to 7 working days" in prompt[-1]["content"] and "30 days" not in prompt[-1]["content"]
    own = service.prompt([{"role": "system", "content": "Sé breve."}, {"role": "user", "content": "Returns?"}])
    assert own[0] == {"role": "system", "content": "Sé breve."}
    served = Server(service)
    try:
        body = {"model": run.name, "messages": [{"role": "user", "content": "Returns?"}], "max_tokens": 4}
        import httpx

        reply = httpx.post(f"{served.url}/chat/completions", json=body, timeout=120)
        assert reply.status_code == 200 and json.loads(reply.text)["object"] == "chat.completion"
    finally:
        served.stop()
