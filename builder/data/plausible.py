"""Does what a reader gave look like people talking? The signs that a file was read as the wrong format.

A reader that takes a file for its own may still cut it wrongly: a WhatsApp export read as a CSV gives
"turns" that are dates, a log cut at every line gives one "speaker" per message. Nothing fails then,
so the import report has to say it (``plausibility_notes``, keyed ``Note``s naming the file).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from builder.importers import Note

# A date, a time, or both (20.06.19, 1/5/21, 2021-01-05T10:00:00Z, 9:10 a. m., [15:58:47]), or epoch seconds
# or milliseconds: what a misread timestamp column or a cut chat-app line leaves in a turn or a name.
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?\s*(?:[ap]\.?\s?m\.?)?(?:\s*(?:Z|UTC|[+-]\d{2}:?\d{2}))?"
_DATE = r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
TIMESTAMP = re.compile(rf"^[\W_]*(?:{_DATE}(?:[,T\s]+{_TIME})?|{_TIME}|\d{{10}}(?:\d{{3}})?)[\W_]*$", re.IGNORECASE)
NUMBER = re.compile(r"^[\d\s.,:/\-#]+$")
SHORT = 48  # longer texts are not a bare date or number

DATE_TURNS_SHARE = 0.2  # this share of a file's turns being bare dates or times: the file was cut wrongly
DATE_TURNS_MIN = 3
SINGLE_TURN_SHARE = 0.5  # most conversations of one turn: every line was taken for a conversation
SINGLE_TURN_MIN = 5
SPEAKER_PER_MESSAGE_SHARE = 0.8  # nearly as many speakers as messages: the "speaker" is a per-line field
SPEAKER_PER_MESSAGE_MIN = 10
EXAMPLES = 3


def looks_like_timestamp(text: str) -> bool:
    text = text.strip()
    return bool(text) and len(text) <= SHORT and TIMESTAMP.match(text) is not None


def looks_like_number_name(name: str) -> bool:
    """A speaker name that is a date, a time or a number. International phone numbers ("+34 600...") are
    how WhatsApp names unsaved contacts: those are names."""
    name = name.strip()
    if not name or len(name) > SHORT or name.startswith("+"):
        return False
    return NUMBER.match(name) is not None or TIMESTAMP.match(name) is not None


@dataclass
class Plausibility:
    """What one file's conversations looked like as the reader gave them (before cleaning)."""

    conversations: int = 0
    single_turn: int = 0
    turns: int = 0
    date_turns: int = 0
    date_examples: list[str] = field(default_factory=list)
    odd_names: Counter[str] = field(default_factory=Counter)  # speaker names that are dates or numbers

    def add_turns(self, texts: list[str]) -> None:
        self.conversations += 1
        self.turns += len(texts)
        self.single_turn += len(texts) == 1
        for text in texts:
            if looks_like_timestamp(text):
                self.date_turns += 1
                if len(self.date_examples) < EXAMPLES:
                    self.date_examples.append(text.strip())

    def add_names(self, speakers: dict[str, int]) -> None:
        for name, messages in speakers.items():
            if looks_like_number_name(name) and (name in self.odd_names or len(self.odd_names) < 100):
                self.odd_names[name] += messages


def plausibility_notes(path: str, seen: Plausibility, speakers: Counter[str]) -> list[Note]:
    """The warnings about one file whose reading looks wrong; ``speakers``: messages per speaker name."""
    notes: list[Note] = []
    if seen.date_turns >= DATE_TURNS_MIN and seen.date_turns >= DATE_TURNS_SHARE * seen.turns:
        examples = ", ".join(repr(e) for e in seen.date_examples)
        values = {"path": path, "count": seen.date_turns, "turns": seen.turns, "examples": examples}
        notes.append(Note("file_date_turns", values))
    if seen.odd_names:
        examples = ", ".join(repr(name) for name, _ in seen.odd_names.most_common(EXAMPLES))
        values = {"path": path, "count": len(seen.odd_names), "messages": sum(seen.odd_names.values())}
        notes.append(Note("file_number_speakers", {**values, "examples": examples}))
    messages = sum(speakers.values())
    if len(speakers) > SPEAKER_PER_MESSAGE_MIN and len(speakers) >= SPEAKER_PER_MESSAGE_SHARE * messages:
        notes.append(Note("file_speaker_per_message", {"path": path, "speakers": len(speakers), "messages": messages}))
    if seen.conversations >= SINGLE_TURN_MIN and seen.single_turn > SINGLE_TURN_SHARE * seen.conversations:
        values = {"path": path, "single": seen.single_turn, "conversations": seen.conversations}
        notes.append(Note("file_single_turn", values))
    return notes
