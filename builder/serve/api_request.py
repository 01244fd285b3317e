"""An OpenAI ``/v1/chat/completions`` request body, checked: ``parse_request`` gives a ``ChatRequest`` or
raises an ``ApiError`` that names the field, answered in OpenAI's error format by ``builder.serve.server``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.export.base import SamplingDefaults

MAX_TOKENS_LIMIT = 4096
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class ApiError(Exception):
    """An error a client caused (4xx) or met (5xx), answered in OpenAI's format."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind = kind or ("invalid_request_error" if status < 500 else "server_error")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass
class ChatRequest:
    model: str
    side: str  # "tuned" or "base"
    messages: list[dict[str, str]]
    stream: bool
    include_usage: bool
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: list[str]
    repetition_penalty: float | None = None  # vLLM's extension field; None: the run's default


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{key} must be a number, not {type(value).__name__}", param=key)
    if not low <= value <= high:
        raise ApiError(400, f"{key} must be between {low:g} and {high:g}, not {value}", param=key)
    return float(value)


def _content(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"messages[{index}].content: only text parts are supported", param="messages")
            parts.append(part["text"])
        return "".join(parts)
    raise ApiError(400, f"messages[{index}].content must be a string or a list of text parts", param="messages")


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "messages must be a non-empty list of {role, content} objects", param="messages")
    messages = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise ApiError(400, f"messages[{index}] must be an object with role and content", param="messages")
        role = message.get("role")
        if role not in ROLES:
            raise ApiError(
                400, f"messages[{index}].role {role!r} is not supported (system, user, assistant)", param="messages"
            )
        messages.append({"role": ROLES[role], "content": _content(message, index)})
    if messages[-1]["role"] != "user":
        raise ApiError(400, "the last message must be the user's", param="messages")
    return messages


def parse_request(body: Any, models: dict[str, str], defaults: SamplingDefaults) -> ChatRequest:
    """Check a /v1/chat/completions body; every problem is an ApiError that names the field."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required (see GET /v1/models)", param="model")
    if model not in models:
        raise ApiError(
            404, f"the model {model!r} does not exist here; models: {', '.join(models)}", code="model_not_found"
        )
    if body.get("n", 1) != 1:
        raise ApiError(400, "n must be 1: one answer per request", param="n")
    if body.get("tools") or body.get("functions"):
        raise ApiError(400, "tools are not supported by this model", param="tools")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream must be true or false", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "stream_options must be an object", param="stream_options")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = defaults.max_new_tokens if limit is None else limit
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise ApiError(400, f"max_tokens must be an integer from 1 to {MAX_TOKENS_LIMIT}", param="max_tokens")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, "seed must be an integer", param="seed")
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
        raise ApiError(400, "stop must be a string or a list of up to 4 non-empty strings", param="stop")
    return ChatRequest(
        model=model,
        side=models[model],
        messages=_messages(body),
        stream=stream,
        include_usage=bool(options.get("include_usage")),
        max_tokens=int(max_tokens),
        temperature=_number(body, "temperature", defaults.temperature, 0.0, 2.0),
        top_p=_number(body, "top_p", defaults.top_p, 0.0, 1.0),
        seed=seed,
        stop=stop,
        repetition_penalty=_number(body, "repetition_penalty", 0.0, 0.1, 10.0) or None,
    )
