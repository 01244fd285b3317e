"""An OpenAI-compatible endpoint for a tuned run: ``python -m builder.serve RUN_DIR``.

A helpdesk, a website widget or any OpenAI client library talks to the run as to a hosted model:

- ``GET /v1/models``: the tuned model (named after the run) and its base (``<run>-base``);
- ``POST /v1/chat/completions``: with ``stream`` true (server-sent events) or false.

It is the playground's engine (``builder.serve.chat.ChatEngine``): ONE copy of the base model in
memory, the adapter on for the tuned name and off for the base name. Clients asking at once are
answered together: a request that arrives while others are answered joins the engine's running
batch at its next step, with its own sampling, stop and length (``builder.models.batch_engine``; base and
tuned requests share it). Messages are asked in the run's prompt form, as in training: the run's
system prompt where the request has none, every user turn in the use case's frame (a translation
run's instruction), a retrieval run's last question grounded in its knowledge base. A label task
(sentiment) answers with its most likely label, and ``label_probabilities`` in the choice.

Bad requests get OpenAI's error body (``{"error": {"message", "type", "param", "code"}}``)
with a 4xx status. A key (``--api-key`` or ``BUILDER_API_KEY``) is required whenever the
server listens beyond this machine; with a key set, a request without it gets 401.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# At module level: FastAPI reads the endpoints' annotations (``request: Request``) from this module.
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from builder.serve.api_request import ApiError, ChatRequest, parse_request

if TYPE_CHECKING:
    from builder.serve.chat import ChatEngine, GenerationStats, Side

DEFAULT_PORT = 8000


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- the service


class ChatService:
    """The run behind the endpoint: its model names, its prompt rules, and answers from the shared engine."""

    def __init__(self, run_dir: Path | str, engine: ChatEngine | None = None) -> None:
        from builder.export.base import SamplingDefaults
        from builder.serve.chat import ChatEngine

        self.run_dir = Path(run_dir).resolve()
        self.engine = engine or ChatEngine()
        loaded = self.engine.load(self.run_dir)
        self.recipe = loaded.recipe
        self.defaults = SamplingDefaults(max_new_tokens=loaded.recipe.eval.max_new_tokens)
        self.tuned = self.run_dir.name
        self.models = {self.tuned: "tuned", f"{self.tuned}-base": "base"}
        self.created = int(time.time())

    def prompt(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """The conversation in the run's prompt form; a retrieval run's last question grounded first."""
        loaded = self.engine.load(self.run_dir)
        text, _ = loaded.ground(messages[-1]["content"])
        return loaded.form.conversation([*messages[:-1], {"role": "user", "content": text}])

    def answer(self, request: ChatRequest) -> Iterator[tuple[str, Any]]:
        """("delta", text) pieces as they are generated, then ("end", GenerationStats)."""
        from builder.serve.chat import GenerationStats, Sampling

        sampling = Sampling(
            max_new_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            # No penalty unless asked, as OpenAI's API and vLLM: a greedy client then gets the evaluation's answers.
            repetition_penalty=request.repetition_penalty or 1.0,
            seed=request.seed,
        )
        prompt = self.prompt(request.messages)
        if self.engine.load(self.run_dir).labels:
            yield from self._label(request.side, prompt)
            return
        stats = GenerationStats()
        sent = 0
        side: Side = "base" if request.side == "base" else "tuned"
        stream = self.engine.stream(self.run_dir, side, prompt, sampling, stats)
        try:
            for text in stream:
                cut = _stop_at(text, request.stop)
                if cut is not None:
                    text = text[:cut]
                if len(text) > sent:
                    yield "delta", text[sent:]
                    sent = len(text)
                if cut is not None:
                    stats.finish_reason = "stop"
                    break
        finally:
            stream.close()  # a stop string or a client gone: the engine stops at the next token
        yield "end", stats

    def _label(self, side: str, prompt: list[dict[str, str]]) -> Iterator[tuple[str, Any]]:
        """A label task's answer, as in the playground and the evaluation: the most likely label."""
        from builder.models.generation import count_prompt_tokens
        from builder.serve.chat import GenerationStats

        scores = self.engine.classify(self.run_dir, "tuned" if side == "tuned" else "base", prompt)
        label, tokenizer = scores.answers[0], self.engine.load(self.run_dir).tokenizer
        yield "delta", label
        used = len(tokenizer(label, add_special_tokens=False)["input_ids"])
        probabilities = {k: round(v, 4) for k, v in scores.probabilities[0].items()}
        yield "end", GenerationStats(count_prompt_tokens(tokenizer, prompt), used, "stop", probabilities)


def _stop_at(text: str, stops: list[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


# ---------------------------------------------------------------- HTTP


def create_app(service: ChatService, *, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title=f"{service.tuned} (OpenAI-compatible)", docs_url=None, redoc_url=None)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {err.detail}"
        return JSONResponse(ApiError(err.status_code, message).body(), status_code=err.status_code)

    @app.middleware("http")
    async def require_key(request: Request, call_next: Any) -> Any:
        if api_key is not None:
            given = request.headers.get("authorization", "")
            token = given[7:] if given.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(token.encode(), api_key.encode()):
                error = ApiError(
                    401,
                    "missing or wrong API key: send it as 'Authorization: Bearer KEY'",
                    code="invalid_api_key",
                )
                return JSONResponse(error.body(), status_code=401)
        return await call_next(request)

    def model_card(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": service.created, "owned_by": "domain-assistant-builder"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card(m) for m in service.models]}

    @app.get("/v1/models/{model_id}")
    async def model(model_id: str) -> dict[str, Any]:
        if model_id not in service.models:
            raise ApiError(404, f"the model {model_id!r} does not exist here", code="model_not_found")
        return model_card(model_id)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON") from None
        parsed = parse_request(body, service.models, service.defaults)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if parsed.stream:
            events = _sse_events(service, parsed, completion_id)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return await run_in_threadpool(_completion, service, parsed, completion_id)

    return app


def _usage(stats: GenerationStats) -> dict[str, int]:
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_tokens": stats.prompt_tokens + stats.completion_tokens,
    }


def _labelled(stats: GenerationStats | None) -> dict[str, Any]:
    """A label task's choice carries every label's probability (an extension: OpenAI clients keep it as extra)."""
    probabilities = getattr(stats, "label_probabilities", None)
    return {"label_probabilities": probabilities} if probabilities else {}


def _completion(service: ChatService, request: ChatRequest, completion_id: str) -> dict[str, Any]:
    text, stats = "", None
    for kind, value in service.answer(request):
        if kind == "delta":
            text += value
        else:
            stats = value
    if stats is None:
        raise RuntimeError("the answer ended without its usage")
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": stats.finish_reason,
                **_labelled(stats),
            }
        ],
        "usage": _usage(stats),
    }


def _sse_events(service: ChatService, request: ChatRequest, completion_id: str) -> Iterator[str]:
    created = int(time.time())

    def chunk(
        delta: dict[str, Any] | None, finish: str | None = None, stats: GenerationStats | None = None, **extra: Any
    ) -> str:
        # delta None: the usage chunk, which OpenAI sends with an empty choices list
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, **_labelled(stats)}]
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for kind, value in service.answer(request):
            if kind == "delta":
                yield chunk({"content": value})
            else:
                yield chunk({}, value.finish_reason, value)
                if request.include_usage:
                    yield chunk(None, usage=_usage(value))
    except Exception as err:  # headers are gone already: the error travels as an event
        yield f"data: {json.dumps(ApiError(500, f'generation failed: {err}').body())}\n\n"
    yield "data: [DONE]\n\n"


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m builder.serve",
        description="Serve a tuned run as an OpenAI-compatible API (/v1/models, /v1/chat/completions).",
    )
    parser.add_argument("run_dir", type=Path, help="a finished run directory (with adapter/)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--api-key",
        default=os.environ.get("BUILDER_API_KEY"),
        help="the key clients must send (Authorization: Bearer KEY); default: $BUILDER_API_KEY. "
        "Required when --host is not a loopback address",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for the model's arithmetic (default: the cores less one, at least one; see serving_threads)",
    )
    return parser.parse_args(argv)


def serving_threads(cores: int | None) -> int:
    """Torch's CPU threads while serving: one core is left to the HTTP side (and to clients on the same
    machine). Torch's threads wait for one another at the end of each of the ~600 operations of a decoding
    step; when another process holds one of their cores, every operation waits for the OS to give it back.
    On the 2-core benchmark machine an 8-row step took 460-520 ms with 2 threads beside one busy process
    and 130-150 ms with 1 (BENCHMARKS.md, serving); alone, 2 threads were no faster than 1."""
    return max(1, (cores or 1) - 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not is_loopback(args.host) and not args.api_key:
        print(
            f"error: --host {args.host} lets other machines in; set --api-key KEY (or BUILDER_API_KEY) first",
            file=sys.stderr,
        )
        return 2
    from builder.run.rundir import RunDir

    if not RunDir(args.run_dir).has_adapter():
        print(f"error: {args.run_dir}: no trained adapter; is the run finished?", file=sys.stderr)
        return 2
    import uvicorn

    from builder.users import record_command_line

    record_command_line("served", args.run_dir, f"{args.host}:{args.port}")  # the team's audit trail, if it has one
    import torch

    threads = args.threads if args.threads and args.threads > 0 else serving_threads(os.cpu_count())
    if not torch.cuda.is_available():
        torch.set_num_threads(threads)
        print(f"CPU threads for generation: {threads} (--threads)", flush=True)
    print(f"Loading {args.run_dir} ...", flush=True)
    service = ChatService(args.run_dir)
    app = create_app(service, api_key=args.api_key)
    print(f"Models: {', '.join(service.models)}; http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
