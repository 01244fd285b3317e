"""Slack workspace export: a folder or a .zip of ``<channel>/YYYY-MM-DD.json`` day files, with ``users.json``
and ``channels.json`` (``groups.json``, ``dms.json``, ``mpims.json`` for private channels and direct messages).

A day file is a list of messages: ``{"type": "message", "subtype"?, "user", "user_profile", "text", "ts",
"thread_ts", "reply_count", "latest_reply", "bot_id", "attachments", "files"}``.

- A thread (messages sharing a ``thread_ts``) is one conversation, whatever days its replies fall on;
  the other messages of a channel are cut into conversations by silence (``chats.SESSION_GAP``).
- Names: user ids become names by ``users.json`` (real name, else display name, else handle), else by the
  message's ``user_profile``; ``<@U123>`` mentions in the text too. A bot post is by its ``username`` or
  ``bot_profile`` name; when its text is only in ``attachments`` (``pretext``, ``title``, ``text``,
  ``fallback``), that is its text.
- Joins, leaves, topic and purpose changes, pins and deleted-message tombstones are system lines; a
  message with files and no text is media-only.
- Who is the agent: Slack does not say (workspace admins are not the support staff). A thread of two people
  takes the one who asked as the customer (guessed); with more, name the agent (the Data tab's Agent field,
  ``agent`` in the mapping). A bot whose name says support ("Help Bot") is taken as the agent by its name.

Streaming: members are opened one at a time (a day file is small); a thread stays in memory only until its
``reply_count`` replies are read or the days have passed its ``latest_reply``, so a 1 GB zip keeps flat memory.
A single day file ``YYYY-MM-DD.json`` is read too (a ``users.json`` two folders up gives the names).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.bundle import Bundle
from builder.importers.chats import SESSION_GAP, ChatMessage, MessageKind, conversation_item
from builder.importers.formats.slack_text import message_text, speaker_name
from builder.importers.jsonstream import JsonStream, StreamError
from builder.importers.registry import NOT_JSON, Sample, register
from builder.importers.types import DATA_SUFFIXES, Container, DetectedFormat, ReadItem, snippet

DAY_FILE = re.compile(r"(?:^|/)([^/]+)/(\d{4}-\d{2}-\d{2})\.json$")
_DAY_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
USER_FILES = ("users.json", "org_users.json")
CHANNEL_FILES = ("channels.json", "groups.json", "dms.json", "mpims.json")
SYSTEM_SUBTYPES = frozenset(
    {
        "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name", "channel_archive",
        "channel_unarchive", "channel_convert_to_private", "channel_convert_to_public", "group_join", "group_leave",
        "group_topic", "group_purpose", "group_name", "group_archive", "group_unarchive", "pinned_item",
        "unpinned_item", "bot_add", "bot_remove", "bot_enable", "bot_disable", "reminder_add", "tombstone",
        "huddle_thread", "sh_room_created", "channel_canvas_updated", "joiner_notification",
    }
)  # fmt: skip
THREAD_IDLE = timedelta(days=30)  # a thread whose end Slack does not give is closed after this much quiet


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _looks_like_slack_messages(doc: Any) -> bool:
    if not isinstance(doc, list) or not doc:
        return False
    first = [m for m in doc[:5] if isinstance(m, dict)]
    return bool(first) and all(
        isinstance(m.get("ts"), str) and ("user" in m or "bot_id" in m or "subtype" in m) for m in first
    )


@register
class SlackExport:
    """A Slack workspace export (folder or zip), or one of its day files."""

    name: ClassVar[str] = "slack"
    title: ClassVar[str] = "Slack workspace export"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            bases = {_base(m) for m in sample.members}
            days = any(DAY_FILE.search(m) for m in sample.members)
            users, channels = bool(bases & set(USER_FILES)), bool(bases & set(CHANNEL_FILES))
            if days and any(
                not m.lower().endswith(".json") for m in sample.members if m.lower().endswith(DATA_SUFFIXES)
            ):
                return 0.4  # other data files beside (a WhatsApp chat, a JSONL): not claimed whole, read one by one
            if days and users and channels:
                return 0.95
            return 0.8 if days and (users or channels) else 0.0
        if sample.document is not NOT_JSON:
            if not _looks_like_slack_messages(sample.document):
                return 0.0
            return 0.7 if _DAY_NAME.match(sample.path.name) else 0.6
        head = sample.text.lstrip()
        if _DAY_NAME.match(sample.path.name) and head.startswith("[") and re.search(r'"ts"\s*:\s*"\d+\.\d+"', head):
            return 0.6
        return 0.0

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        fields: dict[str, Any] = {}
        if sample.is_bundle:
            fields["channels"] = len({m.group(1) for name in sample.members if (m := DAY_FILE.search(name))})
            fields["day_files"] = sum(1 for name in sample.members if DAY_FILE.search(name))
        else:
            fields["channel"] = sample.path.parent.name
        return DetectedFormat(sample.path, self.name, Container.JSON, sample.encoding or "utf-8", fields=fields)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        if path.is_file() and path.suffix.lower() == ".json":
            yield from _read_day_file(path, mapping)
            return
        with Bundle(path) as bundle:
            yield from _read_bundle(bundle, mapping)


def _read_day_file(path: Path, mapping: FieldMapping) -> Iterator[ReadItem]:
    users: dict[str, str] = {}
    beside = path.parent.parent / "users.json"
    problems: list[ReadItem] = []
    if beside.is_file():
        with beside.open(encoding="utf-8-sig") as f:
            users = _user_names(f, str(beside), problems)
    yield from problems
    channel = _Channel(path.parent.name, users, mapping)
    with path.open(encoding="utf-8-sig") as f:
        yield from channel.day(f, str(path))
    yield from channel.finish()


def _read_bundle(bundle: Bundle, mapping: FieldMapping) -> Iterator[ReadItem]:
    problems: list[ReadItem] = []
    users: dict[str, str] = {}
    titles: dict[str, str] = {}
    for member in bundle.members:
        if _base(member) in USER_FILES:
            with bundle.open(member) as f:
                users.update(_user_names(f, bundle.source(member), problems))
    for member in bundle.members:
        if _base(member) in CHANNEL_FILES:
            with bundle.open(member) as f:
                titles.update(_channel_titles(f, bundle.source(member), users, problems))
    yield from problems
    channel: _Channel | None = None
    for member in bundle.members:  # sorted: a channel's day files together, in date order
        found = DAY_FILE.search(member)
        if found is None:
            continue
        folder = found.group(1)
        if channel is None or channel.folder != folder:
            if channel is not None:
                yield from channel.finish()
            channel = _Channel(folder, users, mapping, titles.get(folder, folder))
        with bundle.open(member) as f:
            yield from channel.day(f, bundle.source(member))
    if channel is not None:
        yield from channel.finish()


def _records(f: Any, source: str, what: str, problems: list[ReadItem]) -> Iterator[dict[str, Any]]:
    """The objects of a JSON list file, one by one; a break is set aside with its line."""
    stream = JsonStream(f)
    try:
        stream.enter("[", what)
        for line in stream.items():
            value = stream.value()
            if isinstance(value, dict):
                yield {**value, "_line": line}
            else:
                message = f"an item of {what} is {type(value).__name__}, not an object"
                problems.append(ReadItem(source, line, reason="bad_turn", message=message, raw=snippet(repr(value))))
    except StreamError as err:
        problems.append(ReadItem(source, err.line, reason=err.reason, message=f"{what}: {err}", raw=snippet(err.raw)))


def _user_names(f: Any, source: str, problems: list[ReadItem]) -> dict[str, str]:
    names = {}
    for user in _records(f, source, "users.json", problems):
        if isinstance(user.get("id"), str):
            names[user["id"]] = speaker_name(user.get("profile"), user) or user["id"]
    return names


def _channel_titles(f: Any, source: str, users: dict[str, str], problems: list[ReadItem]) -> dict[str, str]:
    """Folder name -> how people know the channel ("#general", "DM: Ana, Luis")."""
    titles = {}
    for channel in _records(f, source, _base(source), problems):
        members = [users.get(m, m) for m in channel.get("members") or [] if isinstance(m, str)]
        if isinstance(channel.get("name"), str):
            titles[channel["name"]] = "#" + channel["name"]
        elif isinstance(channel.get("id"), str):  # a direct message: its folder is its id
            titles[channel["id"]] = "DM: " + ", ".join(members)
    return titles


def _time(ts: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass
class _Thread:
    messages: list[ChatMessage] = field(default_factory=list)
    expected: int | None = None  # the parent's reply_count
    latest: datetime | None = None  # the parent's latest_reply
    last: datetime | None = None  # the newest message read

    def complete(self) -> bool:
        replies = sum(1 for m in self.messages if m.meta.get("reply"))
        return self.expected is not None and replies >= self.expected


@dataclass
class _Channel:
    """One channel's day files in date order: threads and the channel's own flow, cut into conversations."""

    folder: str
    users: dict[str, str]
    mapping: FieldMapping
    title: str = ""
    threads: dict[str, _Thread] = field(default_factory=dict)
    flow: list[ChatMessage] = field(default_factory=list)

    def day(self, f: Any, source: str) -> Iterator[ReadItem]:
        problems: list[ReadItem] = []
        records = sorted(_records(f, source, _base(source), problems), key=lambda r: _float(r.get("ts")))
        yield from problems
        day_end: datetime | None = None
        for record in records:
            message = self._message(record, source)
            day_end = message.time or day_end
            thread_ts = record.get("thread_ts")
            is_parent = thread_ts == record.get("ts")
            if isinstance(thread_ts, str) and (not is_parent or record.get("reply_count") or record.get("replies")):
                yield from self._thread_message(thread_ts, record, message, is_parent)
                continue
            if self.flow and message.time and self.flow[-1].time and message.time - self.flow[-1].time > SESSION_GAP:
                yield self._item(self.flow, f"{self.folder}:{self.flow[0].meta['ts']}")
                self.flow = []
            self.flow.append(message)
        if day_end is not None:
            yield from self._close_threads(day_end)

    def finish(self) -> Iterator[ReadItem]:
        if self.flow:
            yield self._item(self.flow, f"{self.folder}:{self.flow[0].meta['ts']}")
            self.flow = []
        for ts in list(self.threads):
            yield self._item(self.threads.pop(ts).messages, f"{self.folder}:{ts}", thread=True)

    def _thread_message(
        self, ts: str, record: dict[str, Any], message: ChatMessage, parent: bool
    ) -> Iterator[ReadItem]:
        thread = self.threads.setdefault(ts, _Thread())
        if parent:
            thread.messages.insert(0, message)
            replies = record.get("reply_count", len(record.get("replies") or []))
            thread.expected = replies if isinstance(replies, int) else None
            thread.latest = _time(record.get("latest_reply"))
        else:
            message.meta["reply"] = True
            thread.messages.append(message)
        thread.last = message.time or thread.last
        if thread.complete():
            yield self._item(self.threads.pop(ts).messages, f"{self.folder}:{ts}", thread=True)

    def _close_threads(self, now: datetime) -> Iterator[ReadItem]:
        """Threads that can have no more replies: past the parent's ``latest_reply``, or quiet for long."""
        for ts, thread in list(self.threads.items()):
            past_latest = thread.latest is not None and now.date() > thread.latest.date()
            idle = thread.last is not None and now - thread.last > THREAD_IDLE
            if past_latest or idle:
                yield self._item(self.threads.pop(ts).messages, f"{self.folder}:{ts}", thread=True)

    def _message(self, record: dict[str, Any], source: str) -> ChatMessage:
        speaker = self._speaker(record)
        text = message_text(record, self.users)
        subtype = record.get("subtype")
        meta = {"ts": record.get("ts"), "source": source}
        time, line = _time(record.get("ts")), record.get("_line")
        if subtype in SYSTEM_SUBTYPES:
            return ChatMessage(speaker, text or str(subtype), time, line, kind="system", meta=meta)
        if not text.strip():
            kind: MessageKind = "media" if record.get("files") or record.get("attachments") else "system"
            return ChatMessage(speaker, "", time, line, kind=kind, meta=meta)
        return ChatMessage(speaker, text, time, line, meta=meta)

    def _speaker(self, record: dict[str, Any]) -> str:
        user = record.get("user")
        if isinstance(user, str) and user in self.users:
            return self.users[user]
        named = speaker_name(record.get("user_profile"), None)
        if named:
            return named
        bot = record.get("username") or (record.get("bot_profile") or {}).get("name")
        return str(bot or user or record.get("bot_id") or "unknown")

    def _item(self, messages: list[ChatMessage], conv_id: str, thread: bool = False) -> ReadItem:
        messages = sorted(messages, key=lambda m: _float(m.meta.get("ts")))
        meta = {"channel": self.title or self.folder, "thread": thread}
        return conversation_item(
            messages[0].meta["source"], messages, self.mapping, conv_id=conv_id, shape=SlackExport.name, metadata=meta
        )


def _float(ts: Any) -> float:
    try:
        return float(ts)
    except (TypeError, ValueError):
        return 0.0
