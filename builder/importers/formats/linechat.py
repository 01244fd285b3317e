"""What the line-based chat readers share (WhatsApp, Signal text exports, IRC-style logs).

Such a file is a list of lines, most of them starting a message (``time``, ``speaker``, ``text``); a line
that does not start one either continues the message before it (WhatsApp, Signal) or is set aside by
itself (IRC logs). This module turns the lines into ``ChatMessage``s, and the messages into conversations
(cut by silence with ``chats.sessions``, or where the file itself marks a cut), so that the three readers
count and report the same way. It registers no reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from builder.config.recipe import FieldMapping
from builder.importers.chats import SESSION_GAP, ChatMessage, conversation_item, sessions
from builder.importers.encoding import BadLine, iter_lines
from builder.importers.registry import Sample
from builder.importers.types import ReadItem, snippet

# Marks that chat apps put in their exports and that no one typed: the left-to-right mark (U+200E) and
# the other direction controls are dropped; no-break and narrow no-break spaces (U+00A0, U+202F, before
# "a. m." or "PM") become plain spaces.
_INVISIBLE = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_ODD_SPACES = "\u00a0\u202f\u2007\u2009"
_MARKS = {**dict.fromkeys(map(ord, _INVISIBLE)), **{ord(c): " " for c in _ODD_SPACES}}
LRM = "\u200e"
# English month abbreviations, as exporters write them whatever the phone's language (C locale's %b).
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def plain(text: str) -> str:
    """The text without invisible direction marks, its odd spaces as plain spaces."""
    return text.translate(_MARKS)


def sample_lines(sample: Sample, limit: int) -> list[str]:
    """The first ``limit`` lines of a sample that hold more than marks and spaces: what a line reader sniffs."""
    return [line for line in sample.lines[:limit] if plain(line).strip()]


def spaces_only(text: str) -> str:
    """Odd spaces as plain spaces, the direction marks kept (where they mean something, as in WhatsApp iOS)."""
    return text.translate({ord(c): " " for c in _ODD_SPACES})


class Cut:
    """Where the file itself ends a conversation (a blank line between two chats in a hand-made file)."""


CUT = Cut()
Stream = Iterable[ChatMessage | ReadItem | Cut]


@dataclass
class Header:
    """A line that starts a message: its time, who wrote it (None for a notice of the app) and its first line."""

    time: datetime | None
    speaker: str | None
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


def text_lines(path: Path, encoding: str) -> Iterator[tuple[int, str] | ReadItem]:
    """(line number, text without its line ending), or a ``ReadItem`` for a line that is not text."""
    source = str(path)
    for number, line in iter_lines(path, encoding):
        if isinstance(line, BadLine):
            yield ReadItem(source, number, reason=line.reason, message=line.message, raw=line.raw)
        else:
            yield number, line.rstrip("\r\n")


def messages_from_lines(
    path: Path,
    encoding: str,
    parse: Callable[[str], Header | None],
    finish: Callable[[Header, str, int], ChatMessage],
    *,
    continues: bool,
    cut_at_blank: bool = False,
    stray: Callable[[int, str], ReadItem],
) -> Iterator[ChatMessage | ReadItem | Cut]:
    """The messages of a line-based export, in file order.

    ``parse`` says whether a line starts a message; ``finish`` makes the message from its header and its
    whole text (first line and continuation lines). A line that starts nothing continues the last message
    when ``continues``, else (and before the first message) it is set aside by ``stray``. With
    ``cut_at_blank``, a blank line right before a message ends the conversation there (``CUT``).
    """
    open_header: Header | None = None
    open_line = 0
    body: list[str] = []
    blanks = 0
    for entry in text_lines(path, encoding):
        if isinstance(entry, ReadItem):
            yield entry
            continue
        number, line = entry
        if not plain(line).strip():
            blanks += 1
            continue
        header = parse(line)
        if header is not None:
            if open_header is not None:
                yield finish(open_header, "\n".join(body), open_line)
            if cut_at_blank and blanks and open_header is not None:
                yield CUT
            open_header, open_line, body, blanks = header, number, [header.text], 0
        elif continues and open_header is not None:
            body.extend([""] * blanks + [line])
            blanks = 0
        else:
            blanks = 0
            yield stray(number, line)
    if open_header is not None:
        yield finish(open_header, "\n".join(body), open_line)


def conversation_items(
    source: str,
    stream: Stream,
    mapping: FieldMapping,
    *,
    shape: str,
    owners: Iterable[str] = (),
    gap: timedelta = SESSION_GAP,
    metadata: dict[str, Any] | None = None,
) -> Iterator[ReadItem]:
    """Conversations from a stream of messages: cut by ``gap`` of silence and at each ``CUT``.

    Lines set aside on the way (``ReadItem``s in the stream) come out before the conversation they fall in.
    """
    owners = list(owners)
    problems: list[ReadItem] = []
    stream_iter = iter(stream)
    ended = False

    def until_cut() -> Iterator[ChatMessage]:
        nonlocal ended
        for entry in stream_iter:
            if isinstance(entry, Cut):
                return
            if isinstance(entry, ReadItem):
                problems.append(entry)
            else:
                yield entry
        ended = True

    while not ended:
        for session in sessions(until_cut(), gap):
            yield from problems
            problems.clear()
            conv_id = f"{Path(source).stem}:{session[0].line}" if session[0].line is not None else ""
            yield conversation_item(
                source, session, mapping, owners=owners, conv_id=conv_id, shape=shape, metadata=metadata
            )
        yield from problems
        problems.clear()


def stray_line(source: str, reason: str, explain: str) -> Callable[[int, str], ReadItem]:
    """A ``stray`` for ``messages_from_lines``: the line set aside with ``reason`` and ``explain`` (``{line}``)."""

    def set_aside(number: int, line: str) -> ReadItem:
        return ReadItem(source, number, reason=reason, message=explain.format(line=number), raw=snippet(line))

    return set_aside
