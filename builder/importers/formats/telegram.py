"""Telegram Desktop's JSON export: one chat, or the whole account.

- One chat ("Export chat history", ``result.json``): ``{"name", "type", "id", "messages": [...]}``.
- The account ("Export Telegram data"): ``{"personal_information": {"user_id", ...}, "chats": {"list":
  [chat, ...]}, "left_chats": {"list": [...]}, ...}``, each chat as above.

A message is ``{"id", "type": "message" | "service", "date", "from", "from_id": "user<ID>", "text"}``;
``text`` is a string or a list of strings and entity objects (``{"type": "bold", "text": ...}``).
A ``service`` message (joined, pinned, called) is a system line; a message with no text but a ``photo``,
``file``, ``media_type`` (sticker, voice...), location, contact or poll is media-only.

Who is the agent: the account that exported. In an account export it is ``personal_information.user_id``
(messages ``from_id`` "user<ID>"); in a one-chat export of a ``personal_chat``, the chat's ``id`` is the
other person's, so the one other writer is the account. The Agent field (``agent`` in the mapping)
overrides both; in a group exported alone, with neither, the usual rules apply (``speakers.assign_roles``).

Each chat is cut into conversations by silence (``chats.sessions``). The file is walked as a stream
(``jsonstream``): one message is decoded at a time, so a large account export keeps flat memory, and a
truncated file still gives every conversation before the cut, then the cut as a set-aside record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.chats import ChatMessage, MessageKind, conversation_item, sessions
from builder.importers.jsonstream import JsonStream, StreamError
from builder.importers.registry import NOT_JSON, Sample, register
from builder.importers.types import Container, DetectedFormat, ReadItem, snippet

CHAT_TYPES = frozenset(
    {
        "personal_chat", "bot_chat", "saved_messages", "private_group", "private_supergroup", "public_supergroup",
        "private_channel", "public_channel",
    }
)  # fmt: skip
# Keys of a message that hold an attachment rather than text.
MEDIA_KEYS = (
    "photo", "file", "media_type", "sticker_emoji", "location_information", "contact_information", "poll",
    "game_information", "invoice_information", "place_name", "live_location_period_seconds",
)  # fmt: skip
_ACCOUNT_HEAD = re.compile(r'"personal_information"\s*:\s*\{')
_CHAT_HEAD = re.compile(r'"type"\s*:\s*"(?:' + "|".join(sorted(CHAT_TYPES)) + r')"')
_MESSAGES_HEAD = re.compile(r'"messages"\s*:\s*\[\s*(?:\]|\{\s*"id"\s*:)')
_USER_ID_HEAD = re.compile(r'"personal_information"\s*:\s*\{[^{}]*?"user_id"\s*:\s*(\d+)')


def _looks_like_messages(messages: list[Any]) -> bool:
    first = next((m for m in messages if isinstance(m, dict)), None)
    return first is not None and first.get("type") in ("message", "service") and "date" in first


def _owner_name(info: dict[str, Any]) -> str | None:
    name = " ".join(str(info.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return name or None


@register
class TelegramExport:
    """Telegram Desktop JSON: a single chat's ``result.json`` or the whole account's."""

    name: ClassVar[str] = "telegram"
    title: ClassVar[str] = "Telegram Desktop export (JSON)"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.0
        doc = sample.document
        if isinstance(doc, dict):
            chats = doc.get("chats")
            if isinstance(chats, dict) and isinstance(chats.get("list"), list):
                return 0.95
            if isinstance(doc.get("personal_information"), dict):
                return 0.8
            messages = doc.get("messages")
            if isinstance(messages, list) and (doc.get("type") in CHAT_TYPES or _looks_like_messages(messages)):
                return 0.9
            return 0.0
        if doc is not NOT_JSON or not sample.text.lstrip().startswith("{"):
            return 0.0
        # Too large to parse for a look: the first bytes say it.
        if _ACCOUNT_HEAD.search(sample.text):
            return 0.85
        if _CHAT_HEAD.search(sample.text) and _MESSAGES_HEAD.search(sample.text):
            return 0.85
        return 0.0

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        fields: dict[str, Any] = {}
        owner = None
        doc = sample.document
        if isinstance(doc, dict) and isinstance(doc.get("personal_information"), dict):
            info = doc["personal_information"]
            owner = _owner_name(info)
            fields["owner_id"] = f"user{info.get('user_id')}" if info.get("user_id") is not None else None
        elif (found := _USER_ID_HEAD.search(sample.text)) is not None:
            fields["owner_id"] = f"user{found.group(1)}"
        if isinstance(doc, dict):
            fields["export"] = "account" if "chats" in doc else "one chat"
        det = DetectedFormat(sample.path, self.name, Container.JSON, sample.encoding or "utf-8", fields=fields)
        det.owner = owner or fields.get("owner_id")
        return det

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        source = str(path)
        encoding = "utf-8-sig" if det.encoding in ("utf-8", "utf-8-sig") else det.encoding
        with path.open("r", encoding=encoding) as f:
            stream = JsonStream(f)
            walk = _Walk(stream, source, mapping)
            try:
                stream.enter("{")
                yield from walk.chat({}, top=True)
            except StreamError as err:
                yield ReadItem(source, err.line, reason=err.reason, message=str(err), raw=snippet(err.raw))


@dataclass
class _Walk:
    """One pass over an export: the account (once ``personal_information`` is read) and the chat being read."""

    stream: JsonStream
    source: str
    mapping: FieldMapping
    owner_id: str | None = None
    problems: list[ReadItem] = field(default_factory=list)

    def chat(self, header: dict[str, Any], top: bool = False) -> Iterator[ReadItem]:
        """The members of a chat object (entered already); at the top, the account's keys too."""
        stream = self.stream
        for key in stream.members():
            if key == "messages":
                yield from self._messages(header)
            elif key in ("name", "type", "id"):
                header[key] = stream.value()
            elif top and key == "personal_information":
                info = stream.value()
                if isinstance(info, dict) and info.get("user_id") is not None:
                    self.owner_id = f"user{info['user_id']}"
            elif top and key in ("chats", "left_chats"):
                yield from self._chat_list(key)
            else:
                stream.skip()

    def _chat_list(self, key: str) -> Iterator[ReadItem]:
        stream = self.stream
        stream.enter("{", key)
        for sub in stream.members():
            if sub != "list":
                stream.skip()
                continue
            stream.enter("[", f"{key}.list")
            for _ in stream.items():
                if stream.peek_kind() != "{":
                    line = stream.line
                    raw = snippet(repr(stream.value()))
                    message = f"an item of {key}.list is not a chat object"
                    yield ReadItem(self.source, line, reason="unknown_shape", message=message, raw=raw)
                    continue
                stream.enter("{")
                yield from self.chat({})

    def _messages(self, header: dict[str, Any]) -> Iterator[ReadItem]:
        failure: list[StreamError] = []
        chat_name = str(header.get("name") or header.get("type") or "chat")
        for session in sessions(self._chat_messages(failure)):
            meta = {"chat": chat_name, "chat_type": header.get("type")}
            first_id = session[0].meta.get("id")
            yield conversation_item(
                self.source, session, self.mapping, owners=self._owners(session, header),
                conv_id=f"{header.get('id', '')}:{first_id}", shape=TelegramExport.name, metadata=meta,
            )  # fmt: skip
            yield from self.problems
            self.problems.clear()
        yield from self.problems
        self.problems.clear()
        if failure:
            raise failure[0]

    def _chat_messages(self, failure: list[StreamError]) -> Iterator[ChatMessage]:
        """The chat's messages as they are decoded; a break in the file ends them (``failure``)."""
        stream = self.stream
        try:
            stream.enter("[", "messages")
            for line in stream.items():
                record = stream.value()
                if not isinstance(record, dict):
                    message = f"a message is {type(record).__name__}, not an object"
                    self.problems.append(
                        ReadItem(self.source, line, reason="bad_turn", message=message, raw=snippet(repr(record)))
                    )
                    continue
                yield chat_message(record, line)
        except StreamError as err:
            failure.append(err)

    def _owners(self, session: list[ChatMessage], header: dict[str, Any]) -> set[str]:
        """The account's names in this conversation: by ``personal_information``, else by a personal chat's peer."""
        owner_id = self.owner_id
        if owner_id is None and header.get("type") == "personal_chat" and header.get("id") is not None:
            peer = f"user{header['id']}"
            others = {m.meta.get("from_id") for m in session if m.meta.get("from_id")} - {peer}
            if len(others) == 1:
                owner_id = others.pop()
        if owner_id is None:
            return set()
        return {m.speaker for m in session if m.meta.get("from_id") == owner_id}


def text_of(value: Any) -> str:
    """A message's ``text``: a string, or a list of strings and entity objects with a ``text``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_entity_text(p) for p in value)
    return ""


def _entity_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    text = str(part.get("text") or "")
    href = part.get("href")
    # A link under other words keeps its address: "here" alone says nothing.
    return f"{text} ({href})" if isinstance(href, str) and href and href != text else text


def _time(record: dict[str, Any]) -> datetime | None:
    """The local time Telegram shows (``date``); the UTC ``date_unixtime`` only when ``date`` is missing."""
    date = record.get("date")
    if isinstance(date, str):
        try:
            return datetime.fromisoformat(date).replace(tzinfo=None)
        except ValueError:
            pass
    unix = record.get("date_unixtime")
    if isinstance(unix, str | int) and str(unix).isdigit():
        return datetime.fromtimestamp(int(unix), tz=UTC).replace(tzinfo=None)
    return None


def chat_message(record: dict[str, Any], line: int) -> ChatMessage:
    """One Telegram message: text, a service line (system) or an attachment alone (media)."""
    meta = {"id": record.get("id"), "from_id": record.get("from_id") or record.get("actor_id")}
    time = _time(record)
    if record.get("type") == "service":
        actor = str(record.get("actor") or "")
        notice = str(record.get("action") or "") + (f": {text_of(record.get('text'))}" if record.get("text") else "")
        return ChatMessage(actor, notice.strip(), time, line, kind="system", meta=meta)
    speaker = record.get("from") or ("Deleted Account" if "from" in record else str(record.get("from_id") or "?"))
    text = text_of(record.get("text", record.get("text_entities")))
    if not text.strip():
        kind: MessageKind = "media" if any(record.get(k) for k in MEDIA_KEYS) else "system"
        label = str(
            record.get("media_type") or ("photo" if record.get("photo") else "file" if record.get("file") else "")
        )
        return ChatMessage(str(speaker), str(label), time, line, kind=kind, meta=meta)
    return ChatMessage(str(speaker), text, time, line, meta=meta)
