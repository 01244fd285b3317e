"""The values the importers pass around: what a file looks like, and what one record gave."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from builder.config.recipe import ImportFormat
from builder.core.conversation import Conversation
from builder.core.messages import Message

# The one list of data-file suffixes: folders are searched for these, the Data tab accepts them.
DATA_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt", ".text", ".log", ".zip")
FORMATS: tuple[str, ...] = get_args(ImportFormat)
RAW_SNIPPET_CHARS = 1000
SNIFF_BYTES = 64 * 1024
# csv.QUOTE_MINIMAL, QUOTE_ALL, QUOTE_NONNUMERIC, QUOTE_NONE: the values csv.reader takes on Python 3.11.
Quoting = Literal[0, 1, 2, 3]


def object_at(record: dict[str, Any], key: str) -> dict[str, Any]:
    """``record[key]`` when it is a JSON object, else an empty one (exports leave keys out, null or odd)."""
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def text_at(record: dict[str, Any], key: str) -> str:
    """``record[key]`` when it is a string, else the empty string."""
    value = record.get(key)
    return value if isinstance(value, str) else ""


class DataError(ValueError):
    """Input that cannot be used at all; the message names the file, line or key."""


class RecordError(ValueError):
    """One record that cannot be read; ``reason`` is the short code counted in the report."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Container(StrEnum):
    """How a file is cut into records."""

    JSONL = "jsonl"
    JSON = "json"
    CSV = "csv"
    TEXT = "text"
    NONE = "none"  # nothing to read: empty or binary


@dataclass(frozen=True)
class MessageColumns:
    """One row per message: 0-based column indexes."""

    role: int
    content: int
    conversation_id: int | None = None
    timestamp: int | None = None

    @property
    def needed(self) -> int:
        """Cells a row needs (the timestamp is optional)."""
        return max(i for i in (self.role, self.content, self.conversation_id) if i is not None) + 1


@dataclass(frozen=True)
class PairColumns:
    """One row per exchange: 0-based column indexes."""

    prompt: int
    response: int
    system: int | None = None
    conversation_id: int | None = None

    @property
    def used(self) -> set[int]:
        return {i for i in (self.prompt, self.response, self.system, self.conversation_id) if i is not None}

    @property
    def needed(self) -> int:
        return max(self.used) + 1


FORMAT_NAMES = {
    "openai": "OpenAI chat messages",
    "sharegpt": "ShareGPT conversations",
    "dialogues": "dialogues with nested turns",
    "csv_messages": "one row per message",
    "csv_pairs": "one row per exchange",
    "text": "text transcript with speaker prefixes",
    "empty": "empty file",
    "binary": "binary data, not text",
    # the chat-app and helpdesk exports (one reader each, builder/importers/formats)
    "whatsapp": "WhatsApp chat export",
    "telegram": "Telegram export",
    "slack": "Slack workspace export",
    "discord": "Discord export (DiscordChatExporter)",
    "messenger": "Messenger or Instagram messages",
    "zendesk": "Zendesk tickets",
    "freshdesk": "Freshdesk tickets",
    "intercom": "Intercom conversations",
    "chatgpt_export": "ChatGPT data export",
    "chat_log": "chat log (time <nick> text)",
    "signal": "Signal text export",
}
CONTAINER_NAMES = {"jsonl": "JSONL", "json": "JSON", "csv": "CSV", "text": "text", "none": "file"}
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16", "cp1252": "latin-1 (cp1252)"}


# What the importers say about a file, by key: the English here; the web app's other languages in
# builder/ui/i18n_messages.py by the same keys. Notes come with the file's format; the ``file_`` ones are the
# import report's warnings about one file (builder/data/report.py).
NOTES: dict[str, str] = {
    "empty": "the file holds nothing to import",
    "binary_encoding": "the file is binary (not text in a known encoding)",
    "binary": "the file is binary",
    "no_first_record": "could not parse a first record",
    "chat_app": "chat-app export (timestamp before the speaker)",
    "found_by_values": "roles, text and conversation found by their values (set role_field, content_field, id_field "
    "to change)",
    "no_id_column": "no conversation id column: blank rows separate conversations",
    "guessed_columns": "guessed columns: prompt={prompt}, response={response} (set prompt_field/response_field)",
    "quotes_are_text": "quotes are text, not cell quoting",
    "file_empty": "{path}: the file is empty",
    "file_shapes": "{path}: records of several shapes in one file ({shapes})",
    "file_misread": "{path}: {misread} of {kept} conversations have turns that are only ids or role words "
    "(e.g. {example!r}): the columns were probably misread (read as {fields}); set the mapping (role_field, "
    "content_field, id_field, or prompt_field and response_field)",
    "stopped_early": "stopped at max_conversations={limit} in {path} line {line}; the rest was not read",
    "also_fits": "read as {taken} (sure {score}); also fits: {others}",
    "reader_fell_back": "read as {taken}: the first records did not parse as {others}",
    "owner_across": "{owner} writes in all {files} {format} files: taken for the agent (set agent to change)",
    # The import report's warnings when what a reader gave does not look like people talking (builder/data/plausible.py)
    "file_date_turns": "{path}: {count} of {turns} turns are only a date or a time (e.g. {examples}): the file was "
    "probably read as the wrong format or cut wrongly; check the format taken, or set format",
    "file_number_speakers": "{path}: {count} speaker names look like timestamps or numbers (e.g. {examples}; "
    "{messages} messages): the lines were probably cut wrongly (if they are phone numbers of unsaved contacts, "
    "ignore this)",
    "file_speaker_per_message": "{path}: {speakers} speakers for {messages} messages, nearly one per message: the "
    "speaker was probably read from the wrong place; check the format taken, or set format",
    "file_single_turn": "{path}: {single} of {conversations} conversations have a single turn: the file was "
    "probably cut into conversations wrongly; check the format taken, or set format",
    "file_agent_unknown": "{path}: {count} conversations set aside because no speaker is known as the agent. "
    "Speakers (messages): {speakers}. Name the agent: the Data tab's Agent field, --agent NAME on the command "
    "line, or agent: [NAME] under data: in the recipe",
}
NOTES["file_guessed"] = "{path}: " + NOTES["guessed_columns"]  # a guess is worth a warning in the report


@dataclass(frozen=True)
class Note(Message):
    """One thing an importer says about a file (``NOTES`` holds its English)."""

    templates: ClassVar[dict[str, str]] = NOTES
    prefix: ClassVar[str] = "note_"


@dataclass
class DetectedFormat:
    """What a file looks like, and how it will be read. ``description`` is for people (UI, CLI)."""

    path: Path
    format: str  # one of FORMATS but "auto", or empty, binary
    container: Container
    encoding: str = "utf-8"
    delimiter: str | None = None
    header: bool | None = None
    columns: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # for people: which key or column holds what
    notes: list[Note] = field(default_factory=list)
    quoting: Quoting = csv.QUOTE_MINIMAL
    layout: MessageColumns | PairColumns | None = None  # CSV only: the columns the reader uses
    reader: str | None = None  # the registered reader (builder.importers.registry) that reads the file
    owner: str | None = None  # the export's own account (the business side), where the format says it

    @property
    def description(self) -> str:
        parts = [f"{CONTAINER_NAMES[self.container]}, {FORMAT_NAMES.get(self.format, self.format)}"]
        if self.delimiter is not None:
            parts.append("delimiter " + ("TAB" if self.delimiter == "\t" else repr(self.delimiter)))
        if self.container != Container.NONE:
            parts.append(f"encoding {ENCODING_NAMES.get(self.encoding, self.encoding)}")
        if self.header is not None and self.container == Container.CSV:
            parts.append("with header" if self.header else "no header")
        shown = {k: v for k, v in self.fields.items() if v is not None}
        if shown:
            parts.append("fields " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        return "; ".join([", ".join(parts), *map(str, self.notes)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "container": str(self.container),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header": self.header,
            "columns": self.columns,
            "fields": dict(self.fields),
            "description": self.description,
            "reader": self.reader,
            "owner": self.owner,
        }


@dataclass
class ReadItem:
    """One record read from a file: a conversation, or why there is none."""

    source: str
    line: int | None
    conversation: Conversation | None = None
    reason: str | None = None  # short code for counting: invalid_json, unknown_role, ...
    message: str | None = None  # for people: what is wrong and how to fix it
    raw: str | None = None  # the record as read, truncated
    shape: str | None = None  # openai, sharegpt, dialogues, pairs... for the "mixed shapes" note
    # Message-level counts of this record, for the report: speaker name -> messages, and
    # {"messages": kept messages, "system_lines": ..., "media_only": ..., "<reason>": lines set aside}.
    speakers: dict[str, int] | None = None
    counts: dict[str, int] | None = None

    @classmethod
    def problem(cls, source: str, line: int | None, error: RecordError, raw: str = "") -> ReadItem:
        return cls(source, line, reason=error.reason, message=str(error), raw=raw)


def snippet(text: str | bytes | None, limit: int = RAW_SNIPPET_CHARS) -> str:
    """The raw record as quarantine files show it: cut to ``limit`` characters, saying how much was cut."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"
