"""ChatGPT data export: ``conversations.json`` (alone, or in the export's folder or zip).

Shape read (as public descriptions of the export give it): a JSON list of conversations, each with
``title``, ``create_time``, ``mapping`` ``{node_id: {id, parent, children, message}}`` and
``current_node``. A conversation is a tree (an edited question or a regenerated answer starts a
branch); what the user saw last is the path from ``current_node`` up to the root through ``parent``,
reversed. Other branches are not read. Without a ``current_node``, the path follows the last child.

On that path: user and assistant text are turns (the text parts of ``parts``; an image part alone
makes a media-only message). Hidden and empty system messages, custom instructions
(``user_editable_context``) and reasoning (``thoughts``) are system lines; a message the assistant
sends to a tool (``recipient`` other than ``all``) counts as ``tool_calls``, a tool's answer
(role ``tool``) as ``tool_results``: neither is a turn.
The list is walked one conversation at a time (``jsonstream``), so a large export is not held whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TextIO

from builder.config.recipe import FieldMapping
from builder.importers.bundle import Bundle
from builder.importers.chats import ChatMessage
from builder.importers.helpdesk import first_values, parse_time, ticket_item, wrong_value
from builder.importers.jsonstream import JsonStream, StreamError
from builder.importers.registry import Sample, register
from builder.importers.types import Container, DetectedFormat, ReadItem, object_at, snippet

CONVERSATIONS = "conversations.json"
_EXPORT_SIBLINGS = ("user.json", "chat.html", "message_feedback.json", "shared_conversations.json")
_HIDDEN_TYPES = frozenset(("user_editable_context", "thoughts", "reasoning_recap", "model_editable_context"))
_TEXT_HINT = re.compile(r'"mapping"\s*:\s*\{.*"(?:current_node|parent|children)"\s*:', re.DOTALL)
_FIX = "the ChatGPT export's conversations.json holds a list of conversations with mapping and current_node"


def is_conversation(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("mapping"), dict) and "current_node" in value


def _export_member(members: list[str]) -> str | None:
    """``conversations.json`` of an export folder or zip (at its top, or in one folder), beside the export's files."""
    found = [m for m in members if m.rsplit("/", 1)[-1] == CONVERSATIONS and m.count("/") <= 1]
    for member in found:
        folder = member[: -len(CONVERSATIONS)]
        if any(f"{folder}{name}" in members for name in _EXPORT_SIBLINGS):
            return member
    return None


@register
class ChatGptExportReader:
    name: ClassVar[str] = "chatgpt_export"
    title: ClassVar[str] = "ChatGPT data export (conversations.json)"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.85 if _export_member(sample.members) else 0.0
        values = first_values(sample)
        if values:
            return 0.95 if is_conversation(values[0]) else 0.0
        return 0.6 if _TEXT_HINT.search(sample.text) else 0.0

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        member = _export_member(sample.members) if sample.is_bundle else None
        fields = {"turns": "path from current_node to the root", **({"file": member} if member else {})}
        return DetectedFormat(sample.path, self.name, Container.JSON, sample.encoding or "utf-8", fields=fields)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        if path.is_dir() or path.suffix.lower() == ".zip":
            with Bundle(path) as bundle:
                member = _export_member(bundle.members)
                if member is None:
                    message = f"no {CONVERSATIONS} beside user.json or chat.html in this folder or zip"
                    yield ReadItem(str(path), None, reason="unknown_shape", message=message)
                    return
                with bundle.open(member) as f:
                    yield from _read_stream(bundle.source(member), f, mapping)
            return
        with path.open("r", encoding=det.encoding if det.encoding != "utf-8" else "utf-8-sig") as f:
            yield from _read_stream(str(path), f, mapping)


def _read_stream(source: str, file: TextIO, mapping: FieldMapping) -> Iterator[ReadItem]:
    stream = JsonStream(file)
    try:
        if stream.peek_kind() == "{":  # one conversation by itself
            yield _item(source, stream.line, stream.value(), mapping)
            return
        stream.enter("[", "the list of conversations")
        for line in stream.items():
            yield _item(source, line, stream.value(), mapping)
    except StreamError as err:
        yield ReadItem(source, err.line, reason=err.reason, message=str(err), raw=snippet(err.raw))


def path_to(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes from the root to ``current_node`` (or, without it, to the leaf reached by last children)."""
    nodes: dict[str, Any] = conversation["mapping"]
    current = conversation.get("current_node")
    if current not in nodes:
        root = next((k for k, n in nodes.items() if isinstance(n, dict) and not n.get("parent")), None)
        current, seen = root, set()
        while current in nodes and (children := nodes[current].get("children")) and current not in seen:
            seen.add(current)
            current = children[-1]
    path: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    while current is not None and current in nodes and current not in seen_ids:  # a loop ends the walk
        seen_ids.add(current)
        node = nodes[current]
        if not isinstance(node, dict):
            break
        path.append(node)
        current = node.get("parent")
    return path[::-1]


def _text_and_media(content: dict[str, Any]) -> tuple[str, bool]:
    texts, media = [], False
    for part in content.get("parts") or []:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict):
            media = True  # an image, an audio clip, a file pointer
    if not texts and isinstance(content.get("text"), str):
        texts.append(content["text"])
    return "\n".join(t for t in texts if t.strip()).strip(), media


def _message(message: dict[str, Any], tools: dict[str, int]) -> ChatMessage | None:
    """One message on the path as a chat message; None for tool traffic (counted in ``tools``)."""
    author = object_at(message, "author")
    role = str(author.get("role") or "unknown")
    content = object_at(message, "content")
    kind = str(content.get("content_type") or "text")
    time = parse_time(message.get("create_time"))
    if role == "tool":
        tools["tool_results"] += 1
        return None
    if role == "assistant" and message.get("recipient") not in (None, "all"):
        tools["tool_calls"] += 1
        return None
    meta = object_at(message, "metadata")
    text, media = _text_and_media(content)
    if kind in _HIDDEN_TYPES or meta.get("is_visually_hidden_from_conversation") or (role == "system" and not text):
        return ChatMessage("ChatGPT", kind if role != "system" else "system message", time, kind="system")
    if not text:
        return ChatMessage(role, "", time, kind="media") if media else None
    return ChatMessage(role, text, time)


def _item(source: str, line: int, conversation: Any, mapping: FieldMapping) -> ReadItem:
    if not is_conversation(conversation):
        return wrong_value(source, line, conversation, "a ChatGPT conversation", _FIX)
    tools = {"tool_calls": 0, "tool_results": 0}
    messages = []
    for node in path_to(conversation):
        if isinstance(node.get("message"), dict) and (message := _message(node["message"], tools)) is not None:
            messages.append(message)
    conv_id = str(conversation.get("conversation_id") or conversation.get("id") or "")
    meta = {"title": conversation.get("title") or ""}
    if conversation.get("current_node") not in conversation["mapping"]:
        meta["current_node"] = "missing: the last branch was read"
    return ticket_item(
        source, messages, mapping, owners=("assistant",), conv_id=conv_id, line=line, shape="chatgpt_export",
        metadata=meta, left_out=tools,
    )  # fmt: skip
