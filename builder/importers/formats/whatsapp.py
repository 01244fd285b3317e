"""WhatsApp chat exports ("Export chat" > "Without media"), from iOS and Android, in any locale.

The file is read twice: once whole to settle what only the whole file says (the date order, whether
someone cut the chats by hand with blank lines, who the business is), then as a stream of messages
cut into conversations by 6 hours of silence (``chats.sessions``). App notices and deleted messages
are system lines, ``<Media omitted>`` and the like are media-only messages: counted, never turns.

Who is the business: the user's word (``agent``) first; then the export's owner where the file says it
(a "You deleted this message" in someone's name, or ``det.owner`` set by the import from
``whatsapp_owner`` over several files: the one person in every chat); then names such as "Tienda
Soporte"; in a chat of two people with none of these, the one who starts fewer conversations (the
customer writes first), said in a note.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.chats import SESSION_GAP, ChatMessage, MessageKind
from builder.importers.encoding import sniff_encoding
from builder.importers.formats.linechat import (
    Header,
    conversation_items,
    messages_from_lines,
    plain,
    sample_lines,
    stray_line,
    text_lines,
)
from builder.importers.formats.whatsapp_lines import (
    DELETED_BY_OWNER,
    DateEvidence,
    kind_of,
    parse_stamp_line,
    split_speaker,
)
from builder.importers.registry import FITS, Sample, register, sample_of
from builder.importers.speakers import assign_roles
from builder.importers.types import NOTES, SNIFF_BYTES, Container, DetectedFormat, Note, ReadItem, RecordError

NOTES.update(
    {
        "wa_platform": "WhatsApp {platform} export, {clock}-hour times",
        "wa_day_first": "dates read day first: {example} has a first field above 12",
        "wa_month_first": "dates read month first: {example} has a second field above 12",
        "wa_dates_mixed": "dates written both ways in one file ({example}, {other}): read day first; a message "
        "whose date does not fit has no time",
        "wa_day_first_by_order": "dates read day first: read month first, the messages would go back in time "
        "{count} times",
        "wa_month_first_by_order": "dates read month first: read day first, the messages would go back in time "
        "{count} times",
        "wa_dates_ambiguous_day": "date order ambiguous (no field above 12): read day first, as most locales "
        "write dates; only where conversations are cut by silence depends on it",
        "wa_dates_ambiguous_month": "date order ambiguous (no field above 12): read month first (AM/PM times "
        "with slashes, as in the United States); only where conversations are cut by silence depends on it",
        "wa_cut_at_blank": "conversations end where the file has a blank line before a message ({count} such "
        "places), not by silence",
        "wa_owner_deleted": '{owner} taken as the business: the export says "You deleted this message" in their name',
        "wa_agent_guessed": "{agent} taken as the agent: of the two people, {customer} starts more conversations "
        "({starts} of {sessions}); name the agent to change it",
    }
)
# A hand-made file (several chats pasted together) marks its chats with blank lines; a real export has at
# most a stray one. Blank-line cuts are taken when there is at least one per this many messages.
_MESSAGES_PER_HAND_CUT = 200
_MIXED_SHARE = 0.2  # iOS and Android lines in one file: pasted together by hand, not one export
_ISO_BRACKET = re.compile(r"^\[\d{4}-\d{2}-\d{2} ")  # Signal's text exports (builder.importers.formats.signal)
_WHATSAPP_MARKS = re.compile(r"\u200e|omitted|omitid[ao]|end-to-end|extremo a extremo|<Media|<Multimedia", re.I)


@dataclass
class Scan:
    """What the whole file says."""

    platforms: Counter[str] = field(default_factory=Counter)
    twelve_hour: int = 0
    dates: DateEvidence = field(default_factory=DateEvidence)
    messages: int = 0
    hand_cuts: int = 0
    speakers: Counter[str] = field(default_factory=Counter)  # text messages per speaker
    owner_hints: Counter[str] = field(default_factory=Counter)
    # Who writes first after each silence, by date order (True: day first), and after each hand cut.
    starts: dict[bool | None, Counter[str]] = field(default_factory=lambda: {True: Counter(), False: Counter(),
                                                                             None: Counter()})  # fmt: skip
    _last: dict[bool, datetime | None] = field(default_factory=lambda: {True: None, False: None})
    _open: dict[bool | None, bool] = field(default_factory=lambda: {True: True, False: True, None: True})

    def add(self, line: str, after_blank: bool) -> None:
        parsed = parse_stamp_line(line)
        if parsed is None:
            return
        self.messages += 1
        self.platforms[parsed.platform] += 1
        self.twelve_hour += parsed.stamp.twelve_hour
        self.dates.add(parsed)
        if after_blank and self.messages > 1:
            self.hand_cuts += 1
            self._open[None] = True
        for day_first in (True, False):
            when, last = parsed.stamp.when(day_first), self._last[day_first]
            if when is not None:
                if last is not None and when - last > SESSION_GAP:
                    self._open[day_first] = True
                self._last[day_first] = when
        speaker, text = split_speaker(parsed.rest)
        if speaker is None:
            return
        if DELETED_BY_OWNER.match(plain(text).strip()):
            self.owner_hints[speaker] += 1
        if kind_of(text)[0] != "text":
            return
        self.speakers[speaker] += 1
        for key, is_open in self._open.items():
            if is_open:
                self.starts[key][speaker] += 1
                self._open[key] = False

    @property
    def hand_cut(self) -> bool:
        return self.hand_cuts >= max(1, self.messages // _MESSAGES_PER_HAND_CUT)


def scan_file(path: Path, encoding: str) -> Scan:
    scan = Scan()
    blank = False
    for entry in text_lines(path, encoding):
        if isinstance(entry, ReadItem):
            continue
        line = entry[1]
        if not plain(line).strip():
            blank = True
            continue
        scan.add(line, blank)
        blank = False
    return scan


def _agent_guess(scan: Scan, mapping: FieldMapping, day_first: bool) -> Note | None:
    """In a chat of two people that nothing else settles, the one who starts fewer conversations is the agent."""
    if len(scan.speakers) != 2:
        return None
    try:
        if not assign_roles(list(scan.speakers), mapping).guessed:
            return None  # named by the user, the role map or a name such as "Soporte"
    except RecordError:
        return None
    starts = scan.starts[None if scan.hand_cut else day_first]
    first_writer = next(iter(scan.speakers))
    customer = max(scan.speakers, key=lambda s: (starts[s], s == first_writer))
    agent = next(s for s in scan.speakers if s != customer)
    values = {"agent": agent, "customer": customer, "starts": starts[customer], "sessions": starts.total()}
    return Note("wa_agent_guessed", values)


@register
class WhatsAppReader:
    name: ClassVar[str] = "whatsapp"
    title: ClassVar[str] = "WhatsApp chat export"
    container: ClassVar[Container] = Container.TEXT

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.0
        lines = sample_lines(sample, 200)
        found = [p for p in map(parse_stamp_line, lines) if p is not None]
        if not found:
            return 0.0
        platforms = Counter(p.platform for p in found)
        if min(platforms.values()) >= _MIXED_SHARE * len(found) and len(platforms) > 1:
            return 0.3  # iOS and Android lines pasted together: the generic transcript reader fits better
        marked = _WHATSAPP_MARKS.search(sample.text) is not None
        if sum(bool(_ISO_BRACKET.match(line)) for line in lines) * 2 > len(found) and not marked:
            return 0.4  # [2021-01-05 09:10] is how signal-export writes; WhatsApp only with its own marks
        share = len(found) / len(lines)
        return 0.9 if share >= 0.5 else 0.7 if share >= 0.25 else 0.3

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        encoding = sample.encoding or "utf-8"
        scan = scan_file(sample.path, encoding)
        day_first, key, values = scan.dates.order()
        platform = scan.platforms.most_common(1)[0][0] if scan.platforms else "android"
        clock = "12" if scan.twelve_hour * 2 > scan.messages else "24"
        notes = [Note("wa_platform", {"platform": "iOS" if platform == "ios" else "Android", "clock": clock})]
        notes.append(Note(key, values))
        if scan.hand_cut:
            notes.append(Note("wa_cut_at_blank", {"count": scan.hand_cuts}))
        fields = {
            "platform": platform,
            "date_order": "day_first" if day_first else "month_first",
            "cut_by": "blank_lines" if scan.hand_cut else "silence",
        }
        owner = scan.owner_hints.most_common(1)[0][0] if scan.owner_hints else None
        if owner is not None:
            notes.append(Note("wa_owner_deleted", {"owner": owner}))
        elif (guess := _agent_guess(scan, mapping, day_first)) is not None:
            notes.append(guess)
            fields["agent_guessed"] = guess.values["agent"]
        return DetectedFormat(sample.path, self.name, self.container, encoding, fields=fields, notes=notes, owner=owner)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        fields = det.fields
        if "date_order" not in fields:  # a DetectedFormat made elsewhere: settle the file's settings now
            fields = self.describe(Sample(path, det.encoding), mapping).fields
        day_first = fields["date_order"] == "day_first"
        hand_cut = fields.get("cut_by") == "blank_lines"
        source = str(path)
        owners: list[str] = [det.owner] if det.owner else []
        metadata = None
        if not owners and fields.get("agent_guessed"):
            owners = [fields["agent_guessed"]]
            metadata = None if mapping.agent else {"speakers_guessed": True}

        def parse(line: str) -> Header | None:
            parsed = parse_stamp_line(line)
            if parsed is None:
                return None
            speaker, text = split_speaker(parsed.rest)
            return Header(parsed.stamp.when(day_first), speaker, text)

        def finish(header: Header, text: str, line: int) -> ChatMessage:
            kind: MessageKind
            kind, clean = ("system", plain(text).strip()) if header.speaker is None else kind_of(text)
            return ChatMessage(header.speaker or "", clean, header.time, line, kind)

        stray = stray_line(
            source,
            "no_timestamp",
            "line {line} comes before the first message and has no date and time; a WhatsApp export starts "
            "each message with them (remove the line, or choose another format on the Data tab)",
        )
        stream = messages_from_lines(
            path, det.encoding, parse, finish, continues=True, cut_at_blank=hand_cut, stray=stray
        )
        gap = timedelta.max if hand_cut else SESSION_GAP
        yield from conversation_items(
            source, stream, mapping, shape=self.name, owners=owners, gap=gap, metadata=metadata
        )


def whatsapp_owner(paths: Iterable[Path]) -> str | None:
    """The business among several WhatsApp chats imported together: the one person who writes in every chat.

    The import calls this with all its input files (files of other formats are skipped) and, when it
    gives a name, sets it as ``DetectedFormat.owner`` of each WhatsApp file (or as the mapping's agent),
    so that every chat takes that person as the agent. A "You deleted this message" in someone's name
    settles it too, even in one file. None when fewer than two chats are given or no one person (or more
    than one) writes in all of them.
    """
    writers: list[set[str]] = []
    hints: Counter[str] = Counter()
    reader = WhatsAppReader()
    for path in paths:
        sample = _text_sample(Path(path))
        if sample is None or reader.sniff(sample) < FITS:
            continue
        scan = scan_file(sample.path, sample.encoding or "utf-8")
        hints.update(scan.owner_hints)
        writers.append(set(scan.speakers))
    if hints:
        return hints.most_common(1)[0][0]
    if len(writers) < 2:
        return None
    common = set.intersection(*writers)
    return next(iter(common)) if len(common) == 1 else None


def _text_sample(path: Path) -> Sample | None:
    """The detector's sample of a text file (None for a folder, a binary file or an unknown encoding)."""
    if not path.is_file():
        return None
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    encoding = sniff_encoding(path, head)
    if encoding is None:
        return None
    return sample_of(path, encoding, head.decode(encoding, errors="replace"))
