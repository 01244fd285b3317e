"""JSON records to conversations: find the list of turns, the role and text keys, the id, whatever the shape.

One vocabulary (``builder.config.recipe.FieldMapping``) maps unknown shapes: where the list of turns is
(``messages_field``, a dotted path), which key holds the role and the text, which holds the
conversation id, how source roles map to user/assistant/system, and for pair records which keys
hold the customer message and the agent reply.

Tool traffic (an assistant's ``tool_calls`` or ``function_call``, turns of role ``tool``/``function``,
ShareGPT's ``function_call`` and ``observation``) is not a turn: the product trains plain chat, with no
tool to run at serve time, so a call written as text would teach the model to show JSON to customers.
Such messages are counted (``tool_calls``, ``tool_results`` in the record's counts) and left out; the
assistant's text around them stays. A message that is only an image (content parts with no text)
counts as ``media_only``. A role map entry for one of these roles still wins (``tool=user``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from builder.config.recipe import FieldMapping
from builder.core.conversation import Conversation, Message, Role, is_role
from builder.importers.types import ReadItem, RecordError, snippet
from builder.importers.vocabulary import (
    CONTENT_KEYS,
    ID_KEYS,
    MESSAGES_KEYS,
    PROMPT_KEYS,
    RESPONSE_KEYS,
    ROLE_KEYS,
    TOOL_CALL_ROLES,
    TOOL_RESULT_ROLES,
    first_key,
    map_role,
)

ALTERNATING: tuple[Role, Role] = ("user", "assistant")


@dataclass(frozen=True)
class RecordShape:
    """How one JSON record holds its conversation. ``fields`` is for people (which key holds what)."""

    kind: str  # openai, sharegpt, dialogues, pairs, unknown
    fields: dict[str, Any]


def get_path(obj: Any, dotted: str) -> Any:
    """``obj["a"]["b"]`` for ``"a.b"``; list items by index; None where the path leads nowhere."""
    for part in dotted.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.lstrip("-").isdigit():
            obj = obj[int(part)] if -len(obj) <= int(part) < len(obj) else None
        else:
            return None
    return obj


def record_shape(record: Any, mapping: FieldMapping) -> RecordShape:
    """Which keys of one JSON record hold the turns, roles, text and id."""
    fields: dict[str, Any] = {}
    if isinstance(record, list):
        turns = record
        fields["messages"] = "(the record itself)"
    elif isinstance(record, dict):
        key = mapping.messages_field or _messages_key(record)
        if key is None:
            return _pair_shape(record, mapping)
        turns = get_path(record, key)
        fields["messages"] = key
        fields["id"] = mapping.id_field or first_key(record, ID_KEYS)
    else:
        return RecordShape("unknown", {})
    if not isinstance(turns, list):
        return RecordShape("unknown", fields)
    first = next((t for t in turns if isinstance(t, dict)), None)
    if first is None:
        fields["roles"] = "alternating"
        return RecordShape("dialogues" if any(isinstance(t, str) for t in turns) else "unknown", fields)
    fields["role"] = mapping.role_field or first_key(first, ROLE_KEYS)
    fields["content"] = mapping.content_field or first_key(first, CONTENT_KEYS)
    if fields["role"] is None:
        fields["roles"] = "alternating"
    kind = "dialogues"
    if fields["messages"] == "messages" and fields["role"] == "role" and fields["content"] == "content":
        kind = "openai"
    elif fields["messages"] == "conversations" and fields["role"] == "from" and fields["content"] == "value":
        kind = "sharegpt"
    return RecordShape(kind, fields)


def _messages_key(record: dict[str, Any]) -> str | None:
    key = first_key(record, MESSAGES_KEYS)
    if key is not None and isinstance(record[key], list):
        return key
    return next((k for k, v in record.items() if isinstance(v, list) and v and _turn_like(v[0])), None)


def _pair_shape(record: dict[str, Any], mapping: FieldMapping) -> RecordShape:
    prompt = mapping.prompt_field if isinstance(mapping.prompt_field, str) else None
    response = mapping.response_field if isinstance(mapping.response_field, str) else None
    prompt = prompt or first_key(record, PROMPT_KEYS)
    response = response or first_key(record, RESPONSE_KEYS)
    if prompt and response:
        return RecordShape("pairs", {"prompt": prompt, "response": response})
    return RecordShape("unknown", {})


def _turn_like(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, dict) and first_key(value, CONTENT_KEYS) is not None)


def text_of(content: Any) -> str:
    """Message text; OpenAI content may be a list of parts, of which the text parts are kept."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, dict) and isinstance(part.get("refusal"), str):  # the model's refusal is its reply
                texts.append(part["refusal"])
            elif isinstance(part, dict) and isinstance(part.get("text"), dict):  # Assistants API: text.value
                value = part["text"].get("value")
                texts.append(value if isinstance(value, str) else "")
        return "\n".join(texts)
    if isinstance(content, int | float | bool):
        return str(content)
    raise RecordError("bad_content", f"message content is {type(content).__name__}, not text")


def conversation_from_record(record: Any, mapping: FieldMapping, source: str, line: int | None) -> ReadItem:
    shape = record_shape(record, mapping)
    if shape.kind == "unknown":
        keys = ", ".join(map(str, record)) if isinstance(record, dict) else type(record).__name__
        return ReadItem(
            source, line, reason="unknown_shape", raw=dump(record), shape=shape.kind,
            message=f"no list of turns found (keys: {keys}); set messages_field, role_field and content_field",
        )  # fmt: skip
    left_out: Counter[str] = Counter()
    try:
        if shape.kind == "pairs":
            conv = _conversation_from_pair(record, shape.fields, mapping)
        else:
            conv = _conversation_from_turns(record, shape.fields, mapping, left_out)
    except RecordError as err:
        return ReadItem(source, line, reason=err.reason, message=str(err), raw=dump(record), shape=shape.kind)
    conv.source, conv.line = source, line
    counts = None
    if +left_out:  # say what was left out beside the turns (the report counts the turns itself otherwise)
        counts = {"messages": sum(1 for m in conv.messages if m.role != "system"), **(+left_out)}
    return ReadItem(source, line, conversation=conv, shape=shape.kind, counts=counts)


def _conversation_from_pair(record: dict[str, Any], fields: dict[str, Any], mapping: FieldMapping) -> Conversation:
    messages = []
    system_key = mapping.system_field if isinstance(mapping.system_field, str) else first_key(record, ("system",))
    if system_key and record.get(system_key):
        messages.append(Message("system", text_of(record[system_key])))
    prompt = text_of(record.get(fields["prompt"]))
    extra_input = record.get("input") if fields["prompt"] != "input" else None
    if isinstance(extra_input, str) and extra_input.strip():
        prompt = f"{prompt}\n\n{extra_input}"  # Alpaca style: instruction plus input
    messages += [Message("user", prompt), Message("assistant", text_of(record.get(fields["response"])))]
    used = {fields["prompt"], fields["response"], system_key, "input"}
    conv_id = record.get(mapping.id_field or first_key(record, ID_KEYS) or "")
    return Conversation(messages, id=str(conv_id or ""), metadata=_scalar_metadata(record, used))


def _conversation_from_turns(
    record: Any, fields: dict[str, Any], mapping: FieldMapping, left_out: Counter[str]
) -> Conversation:
    if isinstance(record, list):
        turns, meta, conv_id = record, {}, ""
    else:
        turns = get_path(record, fields["messages"])
        if not isinstance(turns, list):
            raise RecordError("unknown_shape", f"{fields['messages']!r} is not a list of turns")
        id_key = fields.get("id")
        conv_id = str(get_path(record, id_key) or "") if id_key else ""
        meta = _scalar_metadata(record, {fields["messages"].split(".")[0], id_key, "system", "tools"})
        conv_id = conv_id or str(meta.pop("id", "") or "")
    messages: list[Message] = []
    if isinstance(record, dict) and isinstance(record.get("system"), str) and record["system"].strip():
        messages.append(Message("system", record["system"]))  # ShareGPT variants keep the system prompt beside
    role_key, content_key = fields.get("role"), fields.get("content")
    for index, turn in enumerate(turns):
        if isinstance(turn, str):
            messages.append(Message(ALTERNATING[index % 2], turn))
            continue
        if not isinstance(turn, dict):
            raise RecordError("bad_turn", f"turn {index} is {type(turn).__name__}, not an object or a string")
        if content_key is None or content_key not in turn:
            present = ", ".join(turn)
            raise RecordError("bad_turn", f"turn {index} has no text field (keys: {present}); set content_field")
        role: str | None
        if role_key is None:
            role = ALTERNATING[index % 2]
        elif role_key not in turn:
            raise RecordError("bad_turn", f"turn {index} has no {role_key!r} field")
        else:
            role = _role_or_tool(turn[role_key], mapping, left_out)
        if role is None or not is_role(role):  # tool traffic, or a role mapped to "drop"
            continue
        text = text_of(turn[content_key])
        tool_calls = turn.get("tool_calls")
        calls = tool_calls if isinstance(tool_calls, list) else []
        left_out["tool_calls"] += len(calls) + isinstance(turn.get("function_call"), dict)
        if not text.strip() and _only_media(turn[content_key]):
            left_out["media_only"] += 1
        elif text.strip() or not (calls or turn.get("function_call")):  # an empty call message is not a turn
            messages.append(Message(role, text))
    return Conversation(messages, id=conv_id, metadata=meta)


def _role_or_tool(raw: Any, mapping: FieldMapping, left_out: Counter[str]) -> str | None:
    """The role of a turn, or None for tool traffic (counted in ``left_out``); the role map comes first."""
    name = str(raw).strip().lower()
    if name not in mapping.role_map:
        if name in TOOL_CALL_ROLES:
            left_out["tool_calls"] += 1
            return None
        if name in TOOL_RESULT_ROLES:
            left_out["tool_results"] += 1
            return None
    return map_role(raw, mapping)


def _only_media(content: Any) -> bool:
    """Content parts that hold something (an image, audio, a file) but no text."""
    return isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") not in (None, "text", "input_text", "output_text")
        for part in content
    )


def _scalar_metadata(record: dict[str, Any], used: set[Any]) -> dict[str, Any]:
    """Scalar keys beside the turns, plus those of a nested ``metadata`` object (as our own output writes it)."""
    meta = {k: v for k, v in record.items() if k not in used and (v is None or isinstance(v, str | int | float | bool))}
    nested = record.get("metadata")
    if isinstance(nested, dict):
        for k, v in nested.items():
            if k not in ("source", "line") and (v is None or isinstance(v, str | int | float | bool)):
                meta.setdefault(k, v)
    return meta


def dump(record: Any) -> str:
    try:
        return snippet(json.dumps(record, ensure_ascii=False))
    except (TypeError, ValueError):
        return snippet(repr(record))
