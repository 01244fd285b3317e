"""Facebook Messenger and Instagram message exports ("Download your information", JSON).

A thread is a folder (``messages/inbox/<name>_<id>/``) of ``message_1.json``, ``message_2.json``...: each file is
``{"participants": [{"name"}], "messages": [...], "title", "is_still_participant", "thread_path", ...}``, the
newest messages first, ``message_1.json`` holding the newest. A message is ``{"sender_name", "timestamp_ms",
"content", "type", "photos" | "videos" | "gifs" | "audio_files" | "files" | "sticker" | "share", "reactions",
"is_unsent"}``. Instagram's ``your_instagram_activity/messages/inbox/`` has the same shape.

- Mojibake: the exports write each UTF-8 byte as a code point (``Buz\\u00c3\\u00a1s`` for "Buzás"); every
  string is repaired (``repair``), and left as it is where it is not such a mis-encoding.
- A thread's files are one conversation stream, cut into conversations by silence (``chats.SESSION_GAP``).
- An attachment (photos, video, audio, files, a sticker, a shared link) with no words of its own is
  media-only; joins, leaves, calls, unsent messages and Messenger's notices ("X reacted 👍 to your message",
  "You are now connected on Messenger", in English) are system lines; reactions are not turns (counted as
  ``reactions``).
- Who is the agent: the export's owner, the one participant present in every thread of the export (a page's
  or shop's inbox); with one thread it cannot be told, and the usual rules apply (``speakers.assign_roles``:
  of two people, the first to write is the customer, guessed). The Agent field (``agent``) overrides.

Input: one ``message_N.json`` (``message_1.json`` brings the thread's other files in the same folder
along), a thread folder, or an inbox or whole export folder or zip. Streamed: files are opened one at a
time and walked with ``jsonstream``, one message decoded at a time; memory holds one conversation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

from builder.config.recipe import FieldMapping
from builder.importers.bundle import Bundle
from builder.importers.chats import SESSION_GAP, ChatMessage, conversation_item
from builder.importers.jsonstream import JsonStream, StreamError
from builder.importers.registry import NOT_JSON, Sample, is_bundle_path, register
from builder.importers.types import DATA_SUFFIXES, Container, DetectedFormat, ReadItem, object_at, snippet

MESSAGE_FILE = re.compile(r"(?:^|/)message_(\d+)\.json$")
MEDIA_KEYS = ("photos", "videos", "gifs", "audio_files", "files", "sticker", "share")
SYSTEM_TYPES = frozenset({"Subscribe", "Unsubscribe", "Call"})  # joined, left, a call
HEAD_CHARS = 4096
MIXED_FOLDER = 0.4  # below registry.FITS: a zip is still read as Messenger when nothing else fits
_HEAD = re.compile(r'"participants"\s*:\s*\[\s*(?:\]|\{\s*"name"\s*:)')
_MESSAGES = re.compile(r'"(?:sender_name|timestamp_ms)"\s*:|"messages"\s*:\s*\[\s*\]')
# Messenger's own words for an attachment or an event, written as a message (English exports).
_MEDIA_NOTICE = re.compile(
    r"^.{0,80}\bsent an? (?:attachment|photo|video|link|sticker|GIF|voice message|audio clip|file)\.?$", re.I
)
_SYSTEM_NOTICE = re.compile(
    r"^(?:.{0,80}\b(?:reacted .{1,16} to (?:your|a) message|liked a message|unsent a message|named the group"
    r"|changed the group photo|set (?:the|your|his|her|their) nickname|created the group|added .{1,80} to the group"
    r"|removed .{1,80} from the group|left the group|started a (?:video |audio )?call|joined the (?:video )?call"
    r"|missed (?:a|your) (?:video )?call)|You are now connected on Messenger|The (?:video )?call ended)\.?$",
    re.I,
)


def repair(text: str) -> str:
    """UTF-8 bytes written as latin-1 code points, back to the text ("BuzÃ¡s" -> "Buzás"); other text as it is."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _file_number(name: str) -> int | None:
    found = MESSAGE_FILE.search(name)
    return int(found.group(1)) if found else None


def _looks_like_thread(doc: Any) -> bool:
    if not isinstance(doc, dict) or not isinstance(doc.get("participants"), list):
        return False
    messages = doc.get("messages")
    if not isinstance(messages, list):
        return False
    first = next((m for m in messages if isinstance(m, dict)), None)
    return (first is None and not messages) or (
        first is not None and "sender_name" in first and "timestamp_ms" in first
    )


def _head_says_thread(head: str) -> bool:
    return head.lstrip().startswith("{") and bool(_HEAD.search(head)) and bool(_MESSAGES.search(head))


def _foreign_files(members: Iterable[str], threads: dict[str, list[str]]) -> bool:
    """Data files that are not Messenger's: anything but JSON, or JSON outside a ``messages/`` folder of the export
    (a WhatsApp chat or a Telegram export in the same folder must not be passed over unread)."""
    inside = {m for files in threads.values() for m in files}
    for member in members:
        parts = member.split("/")
        if member in inside or not member.lower().endswith(DATA_SUFFIXES) or parts[0] == "__MACOSX":
            continue
        if any(p.startswith(".") for p in parts):
            continue
        if not member.lower().endswith(".json") or "messages" not in parts[:-1]:
            return True
    return False


def _threads(members: Iterable[str]) -> dict[str, list[str]]:
    """Folder -> its message_N.json files, message_1 first (members of one folder are one thread)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for member in members:
        number = _file_number(member)
        if number is not None and not any(p.startswith((".", "__MACOSX")) for p in member.split("/")):
            found.setdefault(member.rpartition("/")[0], []).append((number, member))
    return {folder: [m for _, m in sorted(files)] for folder, files in sorted(found.items())}


@register
class MessengerExport:
    """Messenger or Instagram JSON: one thread's ``message_N.json``, a thread folder, or an inbox or export."""

    name: ClassVar[str] = "messenger"
    title: ClassVar[str] = "Messenger or Instagram messages (JSON)"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            threads = _threads(sample.members)
            if not threads:
                return 0.0
            first = next(iter(threads.values()))[0]
            try:
                with Bundle(sample.path) as bundle, bundle.open(first) as f:
                    head = f.read(HEAD_CHARS)
            except (OSError, UnicodeDecodeError, ValueError, KeyError):
                return 0.0
            if not _head_says_thread(head):
                return 0.0
            if _foreign_files(sample.members, threads):
                return MIXED_FOLDER  # other exports beside the threads: the folder gives its files one by one
            return 0.9 if len(threads) > 1 else 0.85
        if sample.document is not NOT_JSON:
            return 0.95 if _looks_like_thread(sample.document) else 0.0
        return 0.85 if _head_says_thread(sample.text[:HEAD_CHARS]) else 0.0

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        fields: dict[str, Any] = {}
        owner = None
        if sample.is_bundle:
            threads = _threads(sample.members)
            fields = {"threads": len(threads), "files": sum(len(files) for files in threads.values())}
            owner = _owner_of([sample.path])
        elif _looks_like_thread(sample.document):
            fields = {"participants": len(sample.document["participants"])}
        det = DetectedFormat(sample.path, self.name, Container.JSON, sample.encoding or "utf-8", fields=fields)
        det.owner = owner
        return det

    def read_along_with(self, path: Path) -> Path | None:
        """``message_1.json`` reads the thread's other files: a ``message_2.json`` beside it is not an input."""
        number = _file_number(path.name)
        first = path.with_name("message_1.json")
        if number is None or number == 1 or not first.is_file():
            return None
        with first.open(encoding="utf-8-sig", errors="replace") as f:
            return first if _head_says_thread(f.read(HEAD_CHARS)) else None

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        owners = {det.owner} if det.owner else set()
        if path.is_file() and not is_bundle_path(path):
            files = [path]
            if _file_number(path.name) == 1:  # the thread's older messages, in the same folder
                files += sorted(
                    (p for p in path.parent.glob("message_*.json") if (_file_number(p.name) or 1) > 1),
                    key=lambda p: _file_number(p.name) or 0,
                )
            opener: Callable[[str], TextIO] = lambda name: (path.parent / name).open(encoding="utf-8-sig")  # noqa: E731
            yield from _Thread(path.parent.name, [p.name for p in files], opener, str(path), mapping, owners).read()
            return
        with Bundle(path) as bundle:
            for folder, members in _threads(bundle.members).items():
                source = bundle.source(members[0])
                name = folder.rpartition("/")[2] or path.stem
                yield from _Thread(name, members, bundle.open, source, mapping, owners).read()


def messenger_owner(paths: list[Path]) -> str | None:
    """For ``builder.data.owners``: the participant of every thread of these inputs, when there is one."""
    return _owner_of(paths)


def _owner_of(paths: list[Path]) -> str | None:
    common: set[str] | None = None
    threads = 0
    for path in paths:
        for names in _participants_of_threads(path):
            threads += 1
            common = set(names) if common is None else common & set(names)
            if not common:
                return None
    return next(iter(common)) if threads > 1 and common and len(common) == 1 else None


def _participants_of_threads(path: Path) -> Iterator[list[str]]:
    """Each thread's participants: read from the start of its first file (the key comes first)."""
    if path.is_file() and not is_bundle_path(path):
        with path.open(encoding="utf-8-sig") as f:
            yield _participants(f)
        return
    with Bundle(path) as bundle:
        for files in _threads(bundle.members).values():
            with bundle.open(files[0]) as f:
                yield _participants(f)


def _participants(f: TextIO) -> list[str]:
    stream = JsonStream(f)
    try:
        stream.enter("{")
        for key in stream.members():
            if key == "participants":
                return _names(stream.value())
            if key == "messages" and stream.peek_kind() == "[":  # walked item by item: never decoded whole
                stream.enter("[")
                for _ in stream.items():
                    stream.skip()
            else:
                stream.skip()
    except StreamError:
        pass
    return []


def _names(value: Any) -> list[str]:
    people = value if isinstance(value, list) else []
    return [repair(p["name"]) for p in people if isinstance(p, dict) and isinstance(p.get("name"), str)]


class _Thread:
    """One thread's files, newest first, walked as one stream of messages and cut into conversations."""

    def __init__(
        self,
        name: str,
        files: list[str],
        opener: Callable[[str], TextIO],
        source: str,
        mapping: FieldMapping,
        owners: set[str],
    ) -> None:
        self.name, self.files, self.opener, self.source = name, files, opener, source
        self.mapping, self.owners = mapping, owners
        self.participants: list[str] = []
        self.problems: list[ReadItem] = []

    def read(self) -> Iterator[ReadItem]:
        for session in _sessions(self._messages()):
            yield self._item(session)
            yield from self.problems
            self.problems.clear()
        yield from self.problems
        self.problems.clear()

    def _item(self, session: list[ChatMessage]) -> ReadItem:
        meta = {"thread": self.name, "participants": self.participants}
        item = conversation_item(
            self.source, session, self.mapping, owners=self.owners, conv_id=f"{self.name}:{session[0].meta['ts']}",
            shape=MessengerExport.name, metadata=meta,
        )  # fmt: skip
        if item.counts is not None:
            item.counts["reactions"] = sum(m.meta.get("reactions", 0) for m in session)
        return item

    def _messages(self) -> Iterator[ChatMessage]:
        for name in self.files:
            with self.opener(name) as f:
                yield from self._file(f, name)

    def _file(self, f: TextIO, name: str) -> Iterator[ChatMessage]:
        stream = JsonStream(f)
        try:
            stream.enter("{", name)
            for key in stream.members():
                if key == "participants":
                    names = _names(stream.value())
                    self.participants = self.participants or names
                elif key == "messages":
                    stream.enter("[", f"{name}: messages")
                    for line in stream.items():
                        record = stream.value()
                        if isinstance(record, dict) and isinstance(record.get("sender_name"), str):
                            yield chat_message(record, line)
                        else:
                            message = f"{name}: a message is not an object with a sender_name"
                            self.problems.append(
                                ReadItem(
                                    self.source, line, reason="bad_turn", message=message, raw=snippet(repr(record))
                                )
                            )
                else:
                    stream.skip()
        except StreamError as err:
            where = self.source if name in self.source else f"{self.source} ({name})"
            self.problems.append(
                ReadItem(where, err.line, reason=err.reason, message=f"{name}: {err}", raw=snippet(err.raw))
            )


def _sessions(messages: Iterable[ChatMessage]) -> Iterator[list[ChatMessage]]:
    """Runs with no silence longer than ``SESSION_GAP``, in time order, whichever order the files hold them in."""
    current: list[ChatMessage] = []
    last: datetime | None = None
    for message in messages:
        if current and message.time and last and abs(message.time - last) > SESSION_GAP:
            yield _in_time_order(current)
            current = []
        current.append(message)
        last = message.time or last
    if current:
        yield _in_time_order(current)


def _in_time_order(messages: list[ChatMessage]) -> list[ChatMessage]:
    if messages[0].meta["ts"] > messages[-1].meta["ts"]:
        messages.reverse()  # newest first, as exported: equal times keep the order they were written in
    return sorted(messages, key=lambda m: m.meta["ts"])


def chat_message(record: dict[str, Any], line: int) -> ChatMessage:
    """One message: text, a notice (system), or an attachment with no words of its own (media)."""
    speaker = repair(record["sender_name"]) or "unknown"
    stamp = record.get("timestamp_ms")
    ts = stamp if isinstance(stamp, int) else 0
    time = datetime.fromtimestamp(ts / 1000, tz=UTC).replace(tzinfo=None) if ts else None
    reactions = record.get("reactions")
    meta = {"ts": ts, "reactions": len(reactions) if isinstance(reactions, list) else 0}
    content = repair(record["content"]).strip() if isinstance(record.get("content"), str) else ""
    if record.get("is_unsent") or record.get("type") in SYSTEM_TYPES or _SYSTEM_NOTICE.match(content):
        return ChatMessage(speaker, content or str(record.get("type") or "unsent"), time, line, "system", meta)
    if any(record.get(key) for key in MEDIA_KEYS):
        share = object_at(record, "share")
        if not content or _MEDIA_NOTICE.match(content) or content == share.get("link"):
            return ChatMessage(speaker, "", time, line, "media", meta)
    if not content:
        return ChatMessage(speaker, "", time, line, "system", meta)
    return ChatMessage(speaker, content, time, line, meta=meta)
