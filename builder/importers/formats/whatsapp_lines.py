"""The lines of a WhatsApp chat export: which start a message, when it was sent, and what kind of message it is.

Public descriptions of the format (WhatsApp's help pages "export chat history", and the many readers of
it) agree on two shapes, one per phone system, each in the phone's locale:

- iOS: ``[20.06.19, 15:58:47] John: Hey`` or ``[1/5/21, 9:10:03 AM] Ana: hola``; the app's notices carry
  the chat's name as speaker and start with an invisible U+200E mark (``‎Messages and calls are...``,
  ``‎image omitted``, ``‎<attached: 00000012-PHOTO-....jpg>``);
- Android: ``1/5/21, 9:10 a. m. - Ana: hola`` or ``05.01.21, 21:10 - Ana: hola``; a notice has no
  speaker (``21/11/26, 10:14 - Messages and calls are end-to-end encrypted...``) and an attachment is
  ``<Media omitted>`` (``<Multimedia omitido>`` in Spanish).

A line that starts with no date continues the message before it. Dates are day-first or month-first
depending on the locale: the reader settles the order over the whole file (``DateEvidence``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from builder.importers.chats import MessageKind
from builder.importers.formats.linechat import LRM, plain, spaces_only

# 12-hour markers: AM/PM, a.m./p.m., Spanish "a. m."/"p. m.", Greek; East Asian ones come before the time.
_AFTER = r"(?:\s?(?P<ampm>[AaPp]\.?\s?[Mm]\.?|π\.?\s?μ\.?|μ\.?\s?μ\.?|vorm\.|nachm\.))?"
_BEFORE = r"(?:(?P<ampm_before>오전|오후|午前|午後|上午|下午)\s?)?"
_DATE = r"(?P<date>\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4})\.?"
_TIME = r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
IOS_LINE = re.compile(r"^\[" + _DATE + r",?\s" + _BEFORE + _TIME + _AFTER + r"\]\s(?P<rest>.*)$")
ANDROID_LINE = re.compile(r"^" + _DATE + r",?\s" + _BEFORE + _TIME + _AFTER + r"\s[-–]\s(?P<rest>.*)$")
_PM = ("p", "P", "μ", "nachm", "오후", "午後", "下午")

# What the app writes instead of an attachment (the message is only media, not a turn).
_WORDS_MEDIA = (
    r"image|video|vídeo|audio|sticker|gif|document|documento|contact card|tarjeta de contacto|photo|foto|imagen"
)
MEDIA = [
    re.compile(r"^<[^<>]{0,40}(?:media|multimedia|medien|mídia|médias|archivo|arquivo)[^<>]{0,40}>$", re.I),
    re.compile(r"^(?:.{0,160}\s)?(?:" + _WORDS_MEDIA + r")\s(?:omitted|omitid[ao]|weggelassen|omis|omesso)$", re.I),
    re.compile(r"^<(?:attached|adjunto|anexado|allegato|anhang|pièce jointe|bijlage):\s[^<>]+>$", re.I),
    re.compile(
        r"^\S.{0,200}\.\w{2,5}\s\((?:file attached|archivo adjunto|datei angehängt|arquivo anexado|"
        r"fichier joint|file allegato)\)$",
        re.I,
    ),
    re.compile(r"^(?:location|ubicación|localização|standort):\s?https?://\S+$", re.I),
    re.compile(r"^(?:live location shared|ubicación en tiempo real compartida|null)$", re.I),
]
# "<Media omitted>" followed by a caption on the next lines: the caption is the message.
_MEDIA_FIRST_LINE = re.compile(r"^(?:<[^<>]{1,60}>|\S+\.\w{2,5}\s\([^()]{4,30}\))$")
# A deleted message, its own words being the owner's ("You deleted..."): a notice, not a turn.
DELETED_BY_OWNER = re.compile(
    r"^(?:you deleted this message|eliminaste este mensaje|du hast diese nachricht gelöscht|"
    r"você apagou esta mensagem|vous avez supprimé ce message)\.?$",
    re.I,
)
_NOTICES = re.compile(
    r"^(?:this message was deleted|se eliminó este mensaje|este mensaje fue eliminado|diese nachricht wurde "
    r"gelöscht|mensagem apagada|esta mensagem foi apagada|ce message a été supprimé|"
    r"missed (?:voice|video) call|(?:llamada|videollamada)(?: de (?:voz|video))? perdida|"
    r"waiting for this message.*|esperando (?:el|este) mensaje.*|"
    r"messages and calls are end-to-end encrypted.*|los mensajes y las llamadas están cifrados.*)\.?$",
    re.I,
)
# App notices that may look like "Name: text" (a subject with a colon in it), or need no speaker.
SYSTEM_PHRASES = re.compile(
    r"end-to-end encrypted|cifrad[oa]s de extremo a extremo|changed the subject|cambió el asunto|"
    r"changed (?:the|this) group|cambió (?:la descripción|el ícono|el icono|la imagen)|created group|creó el grupo|"
    r"security code|código de seguridad|changed their phone number|cambió su número|"
    r"joined using this group's invite link|se unió (?:usando|con) el enlace|disappearing messages|"
    r"mensajes temporales|is a contact|es un contacto|pinned a message|fijó un mensaje",
    re.I,
)
_EDITED = re.compile(r"\s*<(?:this message was edited|se editó este mensaje\.?|mensaje editado)>$", re.I)
_SPEAKER_MAX = 60
_SPLIT = re.compile(r":\s")


@dataclass(frozen=True)
class Stamp:
    """A message line's date and time, as written; the date order is applied later."""

    date: tuple[int, int, int]  # the three numbers in the order written
    year_first: bool
    hour: int
    minute: int
    second: int
    twelve_hour: bool

    def when(self, day_first: bool) -> datetime | None:
        a, b, c = self.date
        if self.year_first:
            year, month, day = a, b, c
        else:
            day, month = (a, b) if day_first else (b, a)
            year = c + 2000 if c < 100 else c
        try:
            return datetime(year, month, day, self.hour, self.minute, self.second)
        except ValueError:  # a date that the other order would read (a mixed file): no time, never cuts
            return None


@dataclass(frozen=True)
class Line:
    """A line that starts a message: its stamp, the rest after the stamp, and which phone wrote it."""

    stamp: Stamp
    rest: str  # with its U+200E marks: they say "notice" on iOS
    platform: str  # ios or android
    ampm: str | None
    written: str  # the date as written ("20.06.19"), for notes and the date order


def parse_stamp_line(line: str) -> Line | None:
    text = spaces_only(line).lstrip(LRM)
    for platform, pattern in (("ios", IOS_LINE), ("android", ANDROID_LINE)):
        m = pattern.match(text)
        if m is None:
            continue
        parts = [int(p) for p in re.split(r"[./\-]", m["date"])]
        if len(parts) != 3:
            return None
        clock = [int(p) for p in re.split(r"[:.]", m["time"])]
        hour, minute, second = clock[0], clock[1], clock[2] if len(clock) > 2 else 0
        marker = m["ampm"] or m["ampm_before"]
        if marker is not None:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if marker.startswith(_PM) else 0)
        if hour > 23 or minute > 59 or second > 59:
            return None
        year_first = re.match(r"\d{4}", m["date"]) is not None
        stamp = Stamp((parts[0], parts[1], parts[2]), year_first, hour, minute, second, marker is not None)
        return Line(stamp, m["rest"], platform, marker, m["date"])
    return None


def split_speaker(rest: str) -> tuple[str | None, str]:
    """(speaker, text) of what follows the stamp; (None, rest) for a notice of the app."""
    bare = plain(rest).strip()
    m = _SPLIT.search(rest)
    if m is None:
        return None, bare
    speaker = plain(rest[: m.start()]).strip()
    quoted = any(q in speaker for q in '"“”«')  # a group's subject in quotes: a notice, not a name
    if not speaker or len(speaker) > _SPEAKER_MAX or quoted or SYSTEM_PHRASES.search(speaker):
        return None, bare
    return speaker, rest[m.end() :]


def kind_of(text: str) -> tuple[MessageKind, str]:
    """(kind, text): ``text`` for a message, ``media`` for an attachment placeholder, ``system`` for a notice.

    ``text`` still has its marks: one leading U+200E is how iOS marks what the app wrote.
    """
    marked = text.startswith(LRM)
    bare = _EDITED.sub("", plain(text).strip())
    lines = bare.split("\n")
    if any(p.match(bare) for p in MEDIA):
        return "media", bare
    if len(lines) > 1 and _MEDIA_FIRST_LINE.match(lines[0].strip()) and any(p.match(lines[0]) for p in MEDIA):
        return "text", "\n".join(lines[1:]).strip()  # an attachment with a caption: the caption is the message
    if _NOTICES.match(bare) or DELETED_BY_OWNER.match(bare):
        return "system", bare
    if marked and len(lines) == 1:
        return "system", bare  # iOS marks its own notices (calls, group changes) with U+200E
    return "text", bare


@dataclass
class DateEvidence:
    """What the whole file says about its date order: day-first or month-first.

    A first field above 12 means day-first, a second field above 12 month-first. When no field says it,
    the order under which the messages go back in time less often wins (an export is in time order).
    """

    first_over_12: str | None = None  # an example date
    second_over_12: str | None = None
    backwards: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})  # day_first -> count
    _last: dict[bool, datetime | None] = field(default_factory=lambda: {True: None, False: None})
    us_style: int = 0  # AM/PM with slashes, as in the United States
    dotted: int = 0  # 05.01.21: day-first in every locale that writes it

    def add(self, line: Line) -> None:
        stamp, written = line.stamp, line.written
        if stamp.year_first:
            return
        a, b, _ = stamp.date
        if a > 12 and self.first_over_12 is None:
            self.first_over_12 = written
        if b > 12 and self.second_over_12 is None:
            self.second_over_12 = written
        self.dotted += "." in written
        self.us_style += bool(line.ampm and line.ampm.strip(". ").upper() in ("AM", "PM") and "/" in written)
        for day_first in (True, False):
            when = stamp.when(day_first)
            last = self._last[day_first]
            if when is not None:
                if last is not None and when < last:
                    self.backwards[day_first] += 1
                self._last[day_first] = when

    def order(self) -> tuple[bool, str, dict[str, str | int]]:
        """(day_first, note key, note values)."""
        if self.first_over_12 and not self.second_over_12:
            return True, "wa_day_first", {"example": self.first_over_12}
        if self.second_over_12 and not self.first_over_12:
            return False, "wa_month_first", {"example": self.second_over_12}
        if self.first_over_12 and self.second_over_12:
            return True, "wa_dates_mixed", {"example": self.first_over_12, "other": self.second_over_12}
        day, month = self.backwards[True], self.backwards[False]
        if day != month:
            key = "wa_day_first_by_order" if day < month else "wa_month_first_by_order"
            return day < month, key, {"count": max(day, month)}
        day_first = not (self.us_style and not self.dotted)
        return day_first, "wa_dates_ambiguous_day" if day_first else "wa_dates_ambiguous_month", {}
