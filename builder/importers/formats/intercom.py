"""Intercom: conversations with their parts.

Shape read (from Intercom's public REST API reference, the conversation model): a conversation has
``source`` (``conversation_message`` in API 1.x), the opening message with ``author {type, id, name}``
and an HTML ``body``; then ``conversation_parts.conversation_parts[]``, each with ``part_type``
(``comment``, ``note``, ``assignment``, ``close``, ``open``...), ``body`` and ``author``. A file holds one
conversation, a JSON list of them, ``{"type": "conversation.list", "conversations": [...]}``, or JSONL.

Who is who: authors of type ``admin``, ``bot`` and ``team`` are the agent; ``user``, ``lead`` and
``contact`` the customer. Notes are private (counted as ``private_notes``, not turns). A part with no
body (an assignment, a close, a rating) is a system line; one with a body (an admin may reply and
assign, or close with a reply, at once) is a message, as the customer saw it. Bodies are HTML, read as
plain text (tags stripped, entities unescaped), never rendered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.chats import ChatMessage
from builder.importers.helpdesk import (
    html_has_image,
    html_to_text,
    iter_values,
    json_container,
    parse_time,
    sniff_values,
    ticket_item,
    wrong_value,
)
from builder.importers.registry import Sample, register
from builder.importers.types import Container, DetectedFormat, ReadItem, text_at

AGENT_TYPES = frozenset(("admin", "bot", "team"))
NOTE_TYPES = frozenset(("note", "note_and_reopen"))
_TEXT_HINT = re.compile(r'"conversation_parts"\s*:')
_FIX = "export Intercom conversations with their conversation_parts as JSON (set format to read it another way)"


def _opening(value: dict[str, Any]) -> Any:
    return value.get("source") if isinstance(value.get("source"), dict) else value.get("conversation_message")


def is_conversation(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(_opening(value), dict)
        and (isinstance(value.get("conversation_parts"), dict | list) or value.get("type") == "conversation")
    )


def _conversations(value: Any) -> list[Any] | None:
    """The conversations a top-level value holds (itself, or a list page's), or None when it is not Intercom's."""
    if is_conversation(value):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("conversations"), list):
        items = value["conversations"]
        if not items and value.get("type") == "conversation.list":
            return []
        if items and is_conversation(items[0]):
            return items
    return None


def _parts(conversation: dict[str, Any]) -> list[Any]:
    parts = conversation.get("conversation_parts")
    if isinstance(parts, dict):
        parts = parts.get("conversation_parts")
    return parts if isinstance(parts, list) else []


@register
class IntercomReader:
    name: ClassVar[str] = "intercom"
    title: ClassVar[str] = "Intercom conversations"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.0
        return sniff_values(sample, lambda v: _conversations(v) is not None, lambda text: bool(_TEXT_HINT.search(text)))

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        fields = {"opening": "source", "parts": "conversation_parts", "agent": "author.type admin/bot"}
        return DetectedFormat(sample.path, self.name, json_container(sample), sample.encoding or "utf-8", fields=fields)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        source = str(path)
        for value in iter_values(path, det):
            if isinstance(value, ReadItem):
                yield value
                continue
            found = _conversations(value.data)
            if found is None:
                yield wrong_value(source, value.line, value.data, "an Intercom conversation", _FIX)
                continue
            for conversation in found:
                if is_conversation(conversation):
                    yield _item(source, value.line, conversation, mapping)
                else:
                    yield wrong_value(source, value.line, conversation, "an Intercom conversation", _FIX)


def _speaker(author: Any) -> tuple[str, bool]:
    """A part author's name, and whether they are on the agent side."""
    if not isinstance(author, dict):
        return "unknown", False
    kind = str(author.get("type") or "user")
    name = author.get("name") or f"{kind} {author.get('id', '')}".strip()
    return str(name), kind in AGENT_TYPES


def _message(part: dict[str, Any], time: Any, agents: set[str]) -> ChatMessage:
    speaker, agent = _speaker(part.get("author"))
    body = text_at(part, "body")
    text = html_to_text(body)
    when = parse_time(time)
    if text:
        if agent:
            agents.add(speaker)
        return ChatMessage(speaker, text, when)
    if part.get("attachments") or html_has_image(body):
        return ChatMessage(speaker, "", when, kind="media")
    return ChatMessage("Intercom", str(part.get("part_type") or "event"), when, kind="system")


def _item(source: str, line: int, conversation: dict[str, Any], mapping: FieldMapping) -> ReadItem:
    agents: set[str] = set()
    opening = _opening(conversation)
    messages = [_message(opening, conversation.get("created_at"), agents)]
    notes = 0
    for part in _parts(conversation):
        if not isinstance(part, dict):
            continue
        if part.get("part_type") in NOTE_TYPES:
            notes += 1
            continue
        messages.append(_message(part, part.get("created_at"), agents))
    meta: dict[str, Any] = {"conversation_id": conversation.get("id")}
    subject = html_to_text(str(opening.get("subject") or ""))
    if subject:
        meta["subject"] = subject
    return ticket_item(
        source, messages, mapping, owners=agents, conv_id=str(conversation.get("id") or ""), line=line,
        shape="intercom", metadata=meta, left_out={"private_notes": notes},
    )  # fmt: skip
