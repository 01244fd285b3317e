"""Plain chat logs, one message a line with its time first: IRC clients' logs and the like.

Shapes taken, from the public descriptions of common clients' log files (irssi, mIRC, HexChat, ZNC) and
of hand-kept chat logs:

- ``[12:01] <nick> text``, ``12:01 <@nick> text``, ``[12:01:30] < nick> text`` (a mode mark before the nick:
  ``@`` operator, ``+`` voice, a space);
- ``2021-01-05 12:01:30 <nick> text``, ``Jan 05 12:01:30 <nick> text`` (a date before the time);
- ``[12:01] nick: text`` (the speaker before a colon; a name of up to 40 characters).

The client's own lines are system lines, counted and never turns: joins and quits (``-!- ana has joined``,
``* ana has quit``, ``*** Joins: ana``, ``--> ana``), actions (``* ana waves``) and the day markers
(``--- Day changed Tue Jan 05 2021``, ``--- Log opened ...``), which also give the date to the times after
them. A line with no time is set aside with its reason (a log has no continuation lines); a blank line
before a message ends the conversation there (hand-kept logs separate chats that way).

Conversations are cut by 6 hours of silence. Where the log gives no date, a time earlier than the one
before it means the next day. Who is the agent: the user's word; else nicks written as channel operators
(``<@nick>``), who answer in a help channel (said in a note); else the usual rules (``speakers``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.chats import SESSION_GAP, ChatMessage, MessageKind
from builder.importers.formats.linechat import (
    CUT,
    MONTHS,
    Cut,
    Header,
    conversation_items,
    messages_from_lines,
    plain,
    sample_lines,
    stray_line,
    text_lines,
)
from builder.importers.registry import Sample, register
from builder.importers.types import NOTES, Container, DetectedFormat, Note, ReadItem

NOTES.update(
    {
        "log_ops_as_agents": "{nicks} written as channel operators (<@nick>): taken as the agent side; name the "
        "agent to change it",
        "log_no_dates": "the log gives times without dates: a time earlier than the one before it is taken as the "
        "next day",
    }
)

_STAMP_BODY = (
    r"(?:(?P<iso>\d{4}-\d{2}-\d{2})[ T]|(?P<mon>[A-Z][a-z]{2}) (?P<mday>\d{1,2}) )?"
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?)"
)
_STAMPS = (  # "[12:01] rest" and "12:01 rest", each with an optional date before the time
    re.compile(r"^\[" + _STAMP_BODY + r"\]\s+(?P<rest>\S.*)$"),
    re.compile(r"^" + _STAMP_BODY + r"\s+(?P<rest>\S.*)$"),
)
_ANGLE = re.compile(r"^<(?P<mode>[@+%&~! ]?)(?P<nick>[^<>\s][^<>]{0,39})>\s?(?P<text>.*)$")
_COLON = re.compile(r"^(?P<nick>[^\s:<>\[\]*-][^:<>\[\]]{0,39}?):\s(?P<text>.*)$")
_CLIENT = re.compile(r"^(?:-!-|\*\*\*|\*\s|-->|<--|--\s|==|\*$)")  # the client's own notices and actions
_DAY_MARK = re.compile(
    r"^---\s(?:Day changed|Log opened|Log closed|Session (?:Start|Close|Ident))\b.*?(?:(?P<iso>\d{4}-\d{2}-\d{2})|"
    r"(?P<mon>[A-Z][a-z]{2})\s+(?P<mday>\d{1,2})(?:\s+[\d:]+)?\s+(?P<year>\d{4}))?\s*$"
)
_OPERATOR_MODES = "@&~"
_NO_DATE = date(2000, 1, 1)  # a day to count from when the log gives none (never shown: such times are not kept)


class _Clock:
    """The date of each line: from the line itself, from the last day marker, or counted by times going back."""

    def __init__(self) -> None:
        self.day: date | None = None
        self.counted = _NO_DATE
        self.last: time | None = None
        self.rolled = 0

    def mark(self, day: date | None) -> None:
        if day is not None:
            self.day, self.last = day, None

    def at(self, clock: time, day: date | None) -> tuple[datetime | None, datetime]:
        """(the real time when the date is known, a time to measure silences by)."""
        if day is not None:
            self.day = day
        elif self.last is not None and clock < self.last:
            if self.day is not None:
                self.day += timedelta(days=1)
            self.counted += timedelta(days=1)
            self.rolled += 1
        self.last = clock
        if self.day is not None:
            when = datetime.combine(self.day, clock)
            return when, when
        return None, datetime.combine(self.counted, clock)


def _day(iso: str | None, mon: str | None, mday: str | None, year: int | None) -> date | None:
    try:
        if iso:
            return date.fromisoformat(iso)
        if mon and mday and year and mon.lower() in MONTHS:
            return date(year, MONTHS.index(mon.lower()) + 1, int(mday))
    except ValueError:
        return None
    return None


def _stamp(line: str) -> tuple[time, str | None, str | None, str | None, str] | None:
    """(time, iso date, month, day of month, rest) of a line that starts with a time, else None."""
    bare = plain(line).rstrip()
    m = next((found for pattern in _STAMPS if (found := pattern.match(bare)) is not None), None)
    if m is None:
        return None
    g = m.groupdict()
    parts = [int(p) for p in g["time"].split(":")]
    if parts[0] > 23 or parts[1] > 59 or (len(parts) > 2 and parts[2] > 59):
        return None
    second = parts[2] if len(parts) > 2 else 0
    return time(parts[0], parts[1], second), g.get("iso"), g.get("mon"), g.get("mday"), g["rest"]


def _speaker(rest: str) -> tuple[str | None, str, str]:
    """(speaker, text, mode mark) of what follows the time; speaker None for the client's own line."""
    if _CLIENT.match(rest):
        return None, rest, ""
    m = _ANGLE.match(rest)
    if m is not None:
        return m["nick"].strip(), m["text"], m["mode"]
    m = _COLON.match(rest)
    if m is not None:
        return m["nick"].strip(), m["text"], ""
    return None, rest, ""


def _shape(line: str) -> str | None:
    """``angle`` or ``colon`` for a message line (``colon_iso`` with a bracketed ISO date: signal-export's shape),
    ``client`` for the client's own, None for any other line."""
    stamped = _stamp(line)
    if stamped is None:
        return "client" if _DAY_MARK.match(plain(line).strip()) else None
    rest = stamped[4]
    if _CLIENT.match(rest):
        return "client"
    if _ANGLE.match(rest):
        return "angle"
    if _COLON.match(rest) is None:
        return None
    return "colon_iso" if stamped[1] and plain(line).startswith("[") else "colon"


@register
class ChatLogReader:
    name: ClassVar[str] = "chat_log"
    title: ClassVar[str] = "chat log (time <nick> text)"
    container: ClassVar[Container] = Container.TEXT

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.0
        lines = sample_lines(sample, 300)
        if not lines:
            return 0.0
        shapes = Counter(_shape(line) for line in lines)
        messages = shapes["angle"] + shapes["colon"] + shapes["colon_iso"]
        if not messages or (messages + shapes["client"]) * 2 < len(lines):
            return 0.0
        if shapes["colon_iso"] * 2 > messages:
            return 0.4  # "[2024-03-02 10:15:30] Name: text" is how signal-export writes: Signal's reader takes it
        # ``<nick>`` is the log's own mark; "time name: text" is shared with pasted transcripts.
        return 0.85 if shapes["angle"] * 2 >= messages else 0.6

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        encoding = sample.encoding or "utf-8"
        ops: Counter[str] = Counter()
        dated = undated = 0
        for entry in text_lines(sample.path, encoding):
            if isinstance(entry, ReadItem):
                continue
            line = entry[1]
            if _DAY_MARK.match(plain(line).strip()):
                dated += 1
                continue
            stamped = _stamp(line)
            if stamped is None:
                continue
            speaker, _, mode = _speaker(stamped[4])
            if speaker is not None:
                dated += bool(stamped[1] or stamped[2])
                undated += not (stamped[1] or stamped[2])
                if mode in _OPERATOR_MODES and mode:
                    ops[speaker] += 1
        notes: list[Note] = []
        fields: dict[str, object] = {}
        if ops and not mapping.agent:
            fields["operators"] = sorted(ops)
            notes.append(Note("log_ops_as_agents", {"nicks": ", ".join(sorted(ops))}))
        if undated and not dated:
            notes.append(Note("log_no_dates"))
        return DetectedFormat(sample.path, self.name, self.container, encoding, fields=fields, notes=notes)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        source = str(path)
        clock = _Clock()
        owners = [] if mapping.agent else list(det.fields.get("operators") or [])

        def parse(line: str) -> Header | None:
            bare = plain(line).strip()
            if (marker := _DAY_MARK.match(bare)) is not None:
                year = int(marker["year"]) if marker["year"] else None
                clock.mark(_day(marker["iso"], marker["mon"], marker["mday"], year))
                return Header(None, None, bare)
            stamped = _stamp(line)
            if stamped is None:
                return None
            at, iso, mon, mday, rest = stamped
            year = clock.day.year if clock.day is not None else None
            when, measured = clock.at(at, _day(iso, mon, mday, year))
            speaker, text, _ = _speaker(rest)
            return Header(when, speaker, text, {"at": measured})

        def finish(header: Header, text: str, line: int) -> ChatMessage:
            kind: MessageKind = "system" if header.speaker is None else "text"
            return ChatMessage(header.speaker or "", text.strip(), header.time, line, kind, dict(header.meta))

        stray = stray_line(
            source,
            "no_timestamp",
            "line {line} has no time: a chat log starts each line with one ([12:01] <nick> text); the line is "
            "set aside (join it to the message before if it belongs to it)",
        )
        stream = messages_from_lines(path, det.encoding, parse, finish, continues=False, cut_at_blank=True, stray=stray)
        yield from conversation_items(source, _cut_by_silence(stream), mapping, shape=self.name, owners=owners)


def _cut_by_silence(stream: Iterator[ChatMessage | ReadItem | Cut]) -> Iterator[ChatMessage | ReadItem | Cut]:
    """A ``CUT`` where the log falls silent for 6 hours, measured on times counted without a date too."""
    last: datetime | None = None
    for entry in stream:
        if isinstance(entry, ChatMessage) and (at := entry.meta.pop("at", None)) is not None:
            if last is not None and entry.time is None and at - last > SESSION_GAP:
                yield CUT
            last = at
        elif isinstance(entry, Cut):
            last = None
        yield entry
