"""Signal chats as text: Signal has no text export of its own, and the two common exporters write these.

From their public descriptions:

- signal-export (Signal Desktop to Markdown, one ``chat.md`` per chat): ``[2024-03-02 10:15:30] Me: text``
  (older versions ``[2019-05-29, 15:04] Me: text``). ``Me`` is the account that exported. A message may run
  over several lines; a quoted message comes first as ``> ...`` lines, reactions after as ``(- Ana: 👍 -)``,
  attachments as Markdown links to ``./media/...``, a sticker as ``(( 😀 ))``; a deleted message is
  ``(This message was deleted)`` and calls are "Missed voice call", "Outgoing call (...)".
- signalbackup-tools ``--exporttxt`` (one ``Name (_idN).txt`` per thread): ``[Mar 02, 2024 10:15:30] <Ana> text``,
  reactions appended as `` (Ana: 👍; Me: ❤️)``; ``[...] *** <Ana> sent file "IMG.jpg"`` is an attachment and
  any other ``[...] *** ...`` line a notice of the app. The file is named after the thread: in a chat of two,
  the person the file is named after is the customer and the other one the account that exported.

Quotes and reactions are left out of the turn's text; attachments, stickers, notices, calls and deleted
messages are counted, never turns. Conversations are cut by 6 hours of silence.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.chats import ChatMessage, MessageKind
from builder.importers.formats.linechat import (
    MONTHS,
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
        "sig_markdown": "Signal chat as signal-export writes it (Markdown)",
        "sig_backup_txt": "Signal chat as signalbackup-tools writes it (plain text)",
        "sig_me_owner": '"Me" is the account that exported the chat: taken as the agent (name the agent to change it)',
        "sig_owner_by_file_name": "the file is named after {customer}: the other person, {owner}, is taken as the "
        "account that exported it and as the agent (name the agent to change it)",
    }
)

MARKDOWN_LINE = re.compile(
    r"^\[(?P<date>\d{4}-\d{2}-\d{2}),? (?P<time>\d{2}:\d{2}(?::\d{2})?)\] "
    r"(?P<speaker>[^:\n]{1,80}?):(?: (?P<text>.*))?$"
)
BACKUP_LINE = re.compile(
    r"^\[(?P<mon>[A-Z][a-z]{2}) (?P<mday>\d{1,2}), (?P<year>\d{4}) (?P<time>\d{2}:\d{2}:\d{2})\] (?P<rest>.*)$"
)
_BACKUP_SPEAKER = re.compile(r"^<(?P<speaker>[^<>]{1,80})> ?(?P<text>.*)$")
_BACKUP_FILE = re.compile(r"^\*\*\* <(?P<speaker>[^<>]{1,80})> sent file\b")
_BACKUP_REACTIONS = re.compile(r" \((?:[^():;]{1,80}: [^\w\s():;]{1,12}(?:; )?)+\)$")
_MD_ATTACHMENT = re.compile(r"!?\[[^\]\n]*\]\((?:\./media/|\.\./exported_stickers/|media/)[^)\n]*\)")
_MD_REACTIONS = re.compile(r"^\(- .* -\)$")
_MD_STICKER = re.compile(r"^\(\( .{1,40} \)\)$")
_CALL = re.compile(r"^(?:missed|incoming|outgoing)(?: voice| video)? call(?: \(.*\))?$", re.I)
_DELETED = re.compile(r"^\(?this message was deleted\)?\.?$", re.I)
_THREAD_FILE = re.compile(r"^(?P<name>.+?) \(_id\d+\)$")
ME = "Me"
_NO_SENDER = "No-Sender"


def _markdown(line: str) -> Header | None:
    m = MARKDOWN_LINE.match(plain(line).rstrip())
    if m is None:
        return None
    clock = m["time"] if m["time"].count(":") == 2 else m["time"] + ":00"
    when = _when(f"{m['date']}T{clock}")
    speaker = m["speaker"].strip()
    return Header(when, None if speaker == _NO_SENDER else speaker, m["text"] or "")


def _backup(line: str) -> Header | None:
    m = BACKUP_LINE.match(plain(line).rstrip())
    if m is None or m["mon"].lower() not in MONTHS:
        return None
    month = MONTHS.index(m["mon"].lower()) + 1
    when = _when(f"{m['year']}-{month:02d}-{int(m['mday']):02d}T{m['time']}")
    rest = m["rest"]
    if (attached := _BACKUP_FILE.match(rest)) is not None:
        return Header(when, attached["speaker"].strip(), rest, {"media": True})
    if rest.startswith("***"):
        return Header(when, None, rest.removeprefix("***").strip())
    said = _BACKUP_SPEAKER.match(rest)
    if said is None:
        return Header(when, None, rest)
    return Header(when, said["speaker"].strip(), said["text"])


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a date that does not exist (written by hand): no time, never cuts
        return None


def _markdown_message(speaker: str | None, text: str) -> tuple[MessageKind, str]:
    """(kind, text) of a signal-export message: quotes and reactions left out, attachments counted."""
    kept: list[str] = []
    media = False
    for raw in text.split("\n"):
        line = raw.rstrip()
        if line.startswith(">") or _MD_REACTIONS.match(line.strip()):
            continue  # a quoted message or the reactions: not what this person wrote
        if _MD_STICKER.match(line.strip()):
            media = True
            continue
        without = _MD_ATTACHMENT.sub("", line)
        media = media or without != line
        kept.append(without.rstrip())
    body = "\n".join(kept).strip()
    return _kind(speaker, body, media)


def _backup_message(speaker: str | None, text: str, is_file: bool) -> tuple[MessageKind, str]:
    if is_file:
        return "media", plain(text).strip()
    lines = text.split("\n")
    lines[-1] = _BACKUP_REACTIONS.sub("", lines[-1].rstrip())
    return _kind(speaker, "\n".join(lines).strip(), False)


def _kind(speaker: str | None, body: str, media: bool) -> tuple[MessageKind, str]:
    if speaker is None or _CALL.match(body) or _DELETED.match(body):
        return "system", body
    if not body:
        return ("media" if media else "system"), body
    return "text", body


def _style(lines: list[str]) -> tuple[str | None, int]:
    """(markdown or backup_txt, how many lines start a message) of a sample's lines."""
    md = sum(MARKDOWN_LINE.match(plain(line).rstrip()) is not None for line in lines)
    txt = sum(BACKUP_LINE.match(plain(line).rstrip()) is not None for line in lines)
    if not md and not txt:
        return None, 0
    return ("markdown", md) if md >= txt else ("backup_txt", txt)


@register
class SignalReader:
    name: ClassVar[str] = "signal"
    title: ClassVar[str] = "Signal text export"
    container: ClassVar[Container] = Container.TEXT

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.0
        lines = sample_lines(sample, 300)
        style, count = _style(lines)
        if style is None:
            return 0.0
        # Message lines and their continuations: most lines of the sample start a message in a real chat.
        share = count / len(lines)
        if style == "backup_txt":
            return 0.9 if share >= 0.4 else 0.4
        me = any(line.startswith("[") and f"] {ME}: " in line for line in lines)
        return (0.9 if me else 0.8) if share >= 0.4 else 0.4

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        encoding = sample.encoding or "utf-8"
        style, _ = _style(sample_lines(sample, 300))
        style = style or "markdown"
        parse = _markdown if style == "markdown" else _backup
        speakers: Counter[str] = Counter()
        for entry in text_lines(sample.path, encoding):
            if isinstance(entry, ReadItem):
                continue
            header = parse(entry[1])
            if header is not None and header.speaker is not None and not header.meta.get("media"):
                speakers[header.speaker] += 1
        notes = [Note("sig_markdown" if style == "markdown" else "sig_backup_txt")]
        owner = None
        if ME in speakers and style == "markdown":
            owner = ME
            notes.append(Note("sig_me_owner"))
        elif (m := _THREAD_FILE.match(sample.path.stem)) is not None and len(speakers) == 2:
            customer = next((s for s in speakers if s.casefold() == m["name"].strip().casefold()), None)
            if customer is not None:
                owner = next(s for s in speakers if s != customer)
                notes.append(Note("sig_owner_by_file_name", {"customer": customer, "owner": owner}))
        if mapping.agent and owner is not None:
            notes = notes[:1]  # the user's word: the owner is not used
        fields = {"style": style}
        return DetectedFormat(sample.path, self.name, self.container, encoding, fields=fields, notes=notes, owner=owner)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        source = str(path)
        style = det.fields.get("style")
        if style is None:  # a DetectedFormat made elsewhere: look at the file now
            det = self.describe(Sample(path, det.encoding, lines=_head(path, det.encoding)), mapping)
            style = det.fields["style"]
        markdown = style == "markdown"

        def finish(header: Header, text: str, line: int) -> ChatMessage:
            if markdown:
                kind, body = _markdown_message(header.speaker, text)
            else:
                kind, body = _backup_message(header.speaker, text, bool(header.meta.get("media")))
            return ChatMessage(header.speaker or "", body, header.time, line, kind)

        stray = stray_line(
            source,
            "no_timestamp",
            "line {line} comes before the first message and has no date and time; a Signal export starts each "
            "message with them (remove the line, or choose another format on the Data tab)",
        )
        parse = _markdown if markdown else _backup
        stream = messages_from_lines(path, det.encoding, parse, finish, continues=True, stray=stray)
        owners = [det.owner] if det.owner else []
        yield from conversation_items(source, stream, mapping, shape=self.name, owners=owners)


def _head(path: Path, encoding: str, count: int = 300) -> list[str]:
    lines: list[str] = []
    for entry in text_lines(path, encoding):
        if not isinstance(entry, ReadItem):
            lines.append(entry[1])
        if len(lines) >= count:
            break
    return lines
