"""Text transcripts: ``Customer: ...`` / ``Agent: ...`` lines and chat-app exports; a blank line ends a conversation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.config.recipe import FieldMapping
from builder.core.conversation import Conversation, Message, is_role
from builder.importers.encoding import BadLine, iter_lines
from builder.importers.types import Container, DetectedFormat, Note, ReadItem, RecordError, snippet
from builder.importers.vocabulary import speaker_roles

SPEAKER_SHARE = 0.5  # a text file is a transcript when at least this share of its lines start with "Name:"
_TIMESTAMP_LINE = re.compile(
    r"^\[?(?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}),?\s+"
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?:\s?[APap]\.?\s?[Mm]\.?)?)\]?\s*[-–]?\s*(?P<rest>.*)$"
)
_SPEAKER_LINE = re.compile(r"^(?P<name>[^\W\d_][\w .'&()\-]{0,40}?)\s*:[ \t]?(?P<text>.*)$")


@dataclass(frozen=True)
class TranscriptLine:
    speaker: str | None  # None for a continuation of the last turn, or a notice
    text: str
    timestamp: str | None


def parse_line(line: str) -> TranscriptLine:
    stamp = None
    m = _TIMESTAMP_LINE.match(line)
    if m:
        stamp = f"{m['date']} {m['time']}"
        line = m["rest"]
    s = _SPEAKER_LINE.match(line)
    if s and not s["text"].startswith("//"):
        return TranscriptLine(s["name"].strip(), s["text"], stamp)
    return TranscriptLine(None, line, stamp)


def detect_transcript(path: Path, encoding: str, lines: list[str]) -> DetectedFormat | None:
    """A text transcript when most sample lines start with a speaker; None otherwise."""
    nonblank = [line for line in lines[:200] if line.strip()]
    speakers = sum(1 for line in nonblank if parse_line(line).speaker is not None)
    if not nonblank or speakers / len(nonblank) < SPEAKER_SHARE:
        return None
    chat_app = sum(1 for line in nonblank if _TIMESTAMP_LINE.match(line))
    notes = [Note("chat_app")] if chat_app >= speakers / 2 else []
    return DetectedFormat(path, "text", Container.TEXT, encoding, notes=notes)


def read_text(path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
    """Speaker-prefixed transcripts; a blank line ends a conversation; unprefixed lines continue a turn.

    A line that is not text is set aside by itself; the conversation around it goes on.
    """
    source = str(path)
    block: list[tuple[int, str]] = []
    for number, line in iter_lines(path, det.encoding):
        if isinstance(line, BadLine):
            yield ReadItem(source, number, reason=line.reason, message=line.message, raw=line.raw)
            continue
        line = line.rstrip("\r\n")
        if line.strip():
            block.append((number, line))
        elif block:
            yield _text_block(source, block, mapping)
            block = []
    if block:
        yield _text_block(source, block, mapping)


def _text_block(source: str, block: list[tuple[int, str]], mapping: FieldMapping) -> ReadItem:
    first_line = block[0][0]
    raw = snippet("\n".join(text for _, text in block))
    turns: list[list[str]] = []  # [speaker, text]
    notices = 0
    started_at = None
    for _, line in block:
        parsed = parse_line(line)
        started_at = started_at or parsed.timestamp
        if parsed.speaker is not None:
            turns.append([parsed.speaker, parsed.text])
        elif parsed.timestamp is not None:
            notices += 1  # "21/11/26, 10:15 - Messages are end-to-end encrypted": no speaker, not a turn
        elif turns:
            turns[-1][1] += "\n" + parsed.text
        else:
            message = "text before the first speaker prefix (expected e.g. 'Customer: ...')"
            return ReadItem(source, first_line, reason="no_speaker", message=message, raw=raw)
    if not turns:
        return ReadItem(source, first_line, reason="no_speaker", message="no speaker prefixes found", raw=raw)
    try:
        roles, guessed = speaker_roles([s for s, _ in turns], mapping)
    except RecordError as err:
        return ReadItem.problem(source, first_line, err, raw)
    messages = [Message(role, t) for role, t in ((roles[s], t) for s, t in turns) if is_role(role)]  # not "drop"
    meta: dict[str, Any] = {"speakers": {s: roles[s] for s in dict.fromkeys(s for s, _ in turns)}}
    if guessed:
        meta["speakers_guessed"] = True
    if started_at:
        meta["started_at"] = started_at
    if notices:
        meta["notices_skipped"] = notices
    conv = Conversation(messages, source=source, line=first_line, metadata=meta)
    return ReadItem(source, first_line, conversation=conv, shape="text")
