"""DiscordChatExporter JSON: one file per channel (``guild``, ``channel``, ``dateRange``, ``messages[]``), threads
as files of their own, often in a ``_threads/`` folder beside the channel files.

A message is ``{"id", "type", "timestamp", "content", "author": {"id", "name", "nickname", "isBot"},
"attachments", "embeds", "stickers", "reference"}``.

- ``Default``, ``Reply`` and application command answers are messages; member joins, pins, thread
  creations, calls, renames and boosts are system lines. With no ``content``, an embed's title,
  description and fields are the text (bots answer in embeds); attachments or stickers alone are media-only.
- A thread file (``channel.type`` a thread, or a file under ``_threads/``) is one conversation; a channel's
  messages are cut into conversations by silence (``chats.SESSION_GAP``).
- Speakers are named by their server nickname, else their user name; the Agent field may name either.
- Who is the agent: the Agent field (``agent`` in the mapping) first. Otherwise, where one bot answers one
  person (a support bot's thread or DM), the bot is the agent; where a bot writes beside two or more people
  it is not taken (ticket and moderation bots post beside the staff who really answer), and the usual rules
  apply (``speakers.assign_roles``: a name that says support, two people guessed, else the speakers are listed).

A folder (or zip) of DiscordChatExporter files with a ``_threads/`` folder, or made only of such files, is
one export. Each file is walked as a stream (``jsonstream``): one message decoded at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

from builder.config.recipe import FieldMapping
from builder.importers.bundle import Bundle
from builder.importers.chats import ChatMessage, conversation_item, sessions
from builder.importers.jsonstream import JsonStream, StreamError
from builder.importers.registry import NOT_JSON, Sample, register
from builder.importers.types import DATA_SUFFIXES, Container, DetectedFormat, ReadItem, object_at, snippet, text_at

TEXT_TYPES = frozenset({"Default", "Reply", "ChatInputCommand", "ContextMenuCommand", "ThreadStarterMessage"})
_HEAD = re.compile(r'"guild"\s*:\s*\{.*?"channel"\s*:\s*\{', re.S)
HEAD_CHARS = 4096


def _looks_like_export(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("guild"), dict)
        and isinstance(doc.get("channel"), dict)
        and isinstance(doc.get("messages"), list)
    )


def _is_thread(member: str, channel: dict[str, Any]) -> bool:
    return "Thread" in str(channel.get("type") or "") or "_threads/" in f"/{member}"


@register
class DiscordExport:
    """DiscordChatExporter JSON files: a channel, a thread, or a folder of them."""

    name: ClassVar[str] = "discord"
    title: ClassVar[str] = "Discord export (DiscordChatExporter JSON)"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return self._sniff_bundle(sample)
        if sample.document is not NOT_JSON:
            return 0.95 if _looks_like_export(sample.document) else 0.0
        return 0.85 if sample.text.lstrip().startswith("{") and _HEAD.search(sample.text[:HEAD_CHARS]) else 0.0

    def _sniff_bundle(self, sample: Sample) -> float:
        data = [
            m for m in sample.members
            if m.lower().endswith(DATA_SUFFIXES) and not any(p.startswith((".", "__MACOSX")) for p in m.split("/"))
        ]  # fmt: skip
        if not data or any(not m.lower().endswith(".json") for m in data):
            return 0.0
        heads = []
        try:
            with Bundle(sample.path) as bundle:
                for member in dict.fromkeys([data[0], data[-1]]):  # the first and last file: cheap, and enough
                    with bundle.open(member) as f:
                        heads.append(f.read(HEAD_CHARS))
        except (OSError, UnicodeDecodeError, ValueError, KeyError):
            return 0.0
        if not all(_HEAD.search(head) for head in heads):
            return 0.0
        return 0.9 if any("_threads/" in f"/{m}" for m in data) else 0.8

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        fields: dict[str, Any] = {}
        doc = sample.document
        if _looks_like_export(doc):
            fields = {"guild": doc["guild"].get("name"), "channel": doc["channel"].get("name")}
        elif sample.is_bundle:
            fields = {"files": sum(1 for m in sample.members if m.lower().endswith(".json"))}
        return DetectedFormat(sample.path, self.name, Container.JSON, sample.encoding or "utf-8", fields=fields)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        if path.is_file() and path.suffix.lower() == ".json":
            with path.open(encoding="utf-8-sig") as f:
                yield from _read_export(f, str(path), path.name, mapping)
            return
        with Bundle(path) as bundle:
            for member in bundle.members:
                if member.lower().endswith(".json"):
                    with bundle.open(member) as f:
                        yield from _read_export(f, bundle.source(member), member, mapping)


def _read_export(f: TextIO, source: str, member: str, mapping: FieldMapping) -> Iterator[ReadItem]:
    """One DiscordChatExporter file: its channel's (or thread's) conversations; a break set aside with its line."""
    stream = JsonStream(f)
    header: dict[str, Any] = {}
    try:
        stream.enter("{")
        for key in stream.members():
            if key == "messages":
                yield from _conversations(stream, header, source, member, mapping)
            elif key in ("guild", "channel"):
                header[key] = stream.value()
            else:
                stream.skip()
    except StreamError as err:
        yield ReadItem(source, err.line, reason=err.reason, message=f"{member}: {err}", raw=snippet(err.raw))


def _conversations(
    stream: JsonStream, header: dict[str, Any], source: str, member: str, mapping: FieldMapping
) -> Iterator[ReadItem]:
    channel = object_at(header, "channel")
    guild = object_at(header, "guild")
    thread = _is_thread(member, channel)
    meta = {"guild": guild.get("name"), "channel": channel.get("name"), "thread": thread}
    if thread and channel.get("category"):
        meta["parent"] = channel.get("category")
    problems: list[ReadItem] = []
    failure: list[StreamError] = []
    agents = {" ".join(a.casefold().split()) for a in mapping.agent + mapping.drop_speakers}
    messages = _messages(stream, source, agents, problems, failure)
    groups = [list(messages)] if thread else sessions(messages)
    for group in groups:
        if group:
            yield conversation_item(
                source, group, mapping, owners=_answering_bot(group), conv_id=f"{channel.get('id', '')}:"
                f"{group[0].meta.get('id')}", shape=DiscordExport.name, metadata=meta,
            )  # fmt: skip
        yield from problems
        problems.clear()
    yield from problems
    if failure:
        raise failure[0]


def _messages(
    stream: JsonStream, source: str, agents: set[str], problems: list[ReadItem], failure: list[StreamError]
) -> Iterator[ChatMessage]:
    try:
        stream.enter("[", "messages")
        for line in stream.items():
            record = stream.value()
            if isinstance(record, dict) and isinstance(record.get("author"), dict):
                yield chat_message(record, line, agents)
            else:
                message = "a message is not an object with an author"
                problems.append(ReadItem(source, line, reason="bad_turn", message=message, raw=snippet(repr(record))))
    except StreamError as err:
        failure.append(err)


def _speaker(author: dict[str, Any], agents: set[str]) -> str:
    name = str(author.get("name") or author.get("id") or "unknown")
    nickname = str(author.get("nickname") or "")
    if not nickname or " ".join(name.casefold().split()) in agents:
        return name  # the user named the account by its user name: keep that name
    return nickname


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _embed_text(embeds: Any) -> str:
    parts: list[str] = []
    for embed in embeds if isinstance(embeds, list) else []:
        if not isinstance(embed, dict):
            continue
        parts += [str(embed[k]) for k in ("title", "description") if embed.get(k)]
        for item in embed.get("fields") or []:
            if isinstance(item, dict) and (item.get("name") or item.get("value")):
                parts.append(f"{item.get('name') or ''}: {item.get('value') or ''}".strip(": "))
    return "\n".join(parts)


def chat_message(record: dict[str, Any], line: int, agents: set[str]) -> ChatMessage:
    """One Discord message: text, a notice of the app (system) or attachments alone (media)."""
    author = record["author"]
    speaker = _speaker(author, agents)
    meta = {"id": record.get("id"), "bot": bool(author.get("isBot"))}
    time = _time(record.get("timestamp"))
    content = text_at(record, "content")
    kind = str(record.get("type") or "Default")
    if kind not in TEXT_TYPES:
        return ChatMessage(speaker, content or kind, time, line, kind="system", meta=meta)
    text = content if content.strip() else _embed_text(record.get("embeds"))
    if text.strip():
        return ChatMessage(speaker, text, time, line, meta=meta)
    media = record.get("attachments") or record.get("stickers")
    return ChatMessage(speaker, "", time, line, kind="media" if media else "system", meta=meta)


def _answering_bot(messages: list[ChatMessage]) -> set[str]:
    """A bot is the agent where it is the one bot and answers one person (see the module docstring)."""
    writers = {(m.speaker, m.meta.get("bot")) for m in messages if m.kind == "text" and m.text.strip()}
    bots = {name for name, bot in writers if bot}
    people = {name for name, bot in writers if not bot}
    return bots if len(bots) == 1 and len(people) <= 1 else set()
