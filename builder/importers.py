"""Format detection and streaming readers: transcript files in, ``Conversation`` objects out.

Every reader yields ``ReadItem``s: either a conversation or a problem (file, line, reason,
the raw record truncated), so that a caller can count and quarantine instead of failing.
JSONL, CSV/TSV and text are read line by line; a JSON document is parsed item by item so that
a truncated file still gives every complete dialogue before the cut.

One vocabulary (``builder.recipe.FieldMapping``) maps unknown shapes: where the list of turns
is (``messages_field``, a dotted path), which key holds the role and the text, which holds the
conversation id, how source roles map to user/assistant/system, and for pair files which
columns hold the customer message and the agent reply.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from builder.conversation import Conversation, Message
from builder.recipe import FieldMapping

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # one cell may hold a whole transcript (a 5 MB line)

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt", ".text", ".log")
FORMATS = ("auto", "openai", "sharegpt", "dialogues", "csv_messages", "csv_pairs", "text")
RAW_SNIPPET_CHARS = 1000
SNIFF_BYTES = 64 * 1024


class DataError(ValueError):
    """Input that cannot be used at all; the message names the file, line or key."""


# Source role names that need no mapping (lower case). A recipe's role_map is looked up first.
def _words(text: str) -> list[str]:
    return text.split()


DEFAULT_ROLES: dict[str, str] = {
    **dict.fromkeys(
        _words(
            "user human customer client cliente usuario usuaria prompter visitor caller consumer shopper "
            "question pregunta q you"
        ),
        "user",
    ),
    **dict.fromkeys(
        _words(
            "assistant gpt bot agent agente model chatgpt ai support soporte operator operador operadora "
            "representative rep advisor asesor asesora staff answer respuesta a helpdesk chatbot"
        ),
        "assistant",
    ),
    **dict.fromkeys(["system", "sistema", "instructions", "developer"], "system"),
}
# Words that, inside a chat-app display name ("Acme Support", "Soporte Tienda"), mark the agent.
AGENT_NAME_WORDS = frozenset(
    _words(
        "support soporte agent agente bot assistant asistente team equipo service servicio helpdesk atención "
        "atencion operator operador store tienda shop official"
    )
)

MESSAGES_KEYS = (
    "messages",
    "conversations",
    "conversation",
    "turns",
    "dialog",
    "dialogue",
    "utterances",
    "log",
    "chat",
)
ROLE_KEYS = (
    "role",
    "from",
    "speaker",
    "author",
    "sender",
    "who",
    "participant",
    "speaker_role",
    "author_role",
    "user_type",
)
# Parts of a column or key name that say "role" or "text" when no exact name matches (author_type, message_body).
ROLE_NAME_PARTS = ("role", "speaker", "author", "sender")
CONTENT_NAME_PARTS = ("text", "body", "message", "content", "utterance")
CONTENT_KEYS = ("content", "value", "text", "utterance", "message", "body", "utt", "sentence", "turn")
ID_KEYS = ("id", "conversation_id", "dialogue_id", "dialog_id", "conv_id", "session_id", "chat_id", "ticket_id", "uuid")
TIME_KEYS = ("timestamp", "time", "date", "datetime", "created_at", "sent_at", "fecha", "hora")
PROMPT_KEYS = (
    "instruction", "question", "prompt", "query", "input", "customer", "customer_message", "customer_text",
    "request", "pregunta", "consulta", "mensaje_cliente", "english", "source", "src", "sentence", "text",
)  # fmt: skip
RESPONSE_KEYS = (
    "response", "answer", "reply", "output", "completion", "agent", "agent_reply", "agent_response",
    "respuesta", "spanish", "target", "tgt", "label", "score", "sentiment",
)  # fmt: skip
CONTAINER_KEYS = ("data", "dialogues", "dialogs", "conversations", "items", "records", "examples", "rows")


@dataclass
class DetectedFormat:
    """What a file looks like, and how it will be read. ``description`` is for people (UI, CLI)."""

    path: Path
    format: str  # openai, sharegpt, dialogues, csv_messages, csv_pairs, text, empty, binary
    container: str  # jsonl, json, csv, text, none
    encoding: str = "utf-8"
    delimiter: str | None = None
    header: bool | None = None
    columns: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # resolved mapping: role/content/prompt... fields
    notes: list[str] = field(default_factory=list)
    quoting: int = csv.QUOTE_MINIMAL

    @property
    def description(self) -> str:
        names = {
            "openai": "OpenAI chat messages",
            "sharegpt": "ShareGPT conversations",
            "dialogues": "dialogues with nested turns",
            "csv_messages": "one row per message",
            "csv_pairs": "one row per exchange",
            "text": "text transcript with speaker prefixes",
            "empty": "empty file",
            "binary": "binary data, not text",
        }
        container = {"jsonl": "JSONL", "json": "JSON", "csv": "CSV", "text": "text", "none": "file"}[self.container]
        parts = [f"{container}, {names.get(self.format, self.format)}"]
        if self.delimiter is not None:
            parts.append("delimiter " + ("TAB" if self.delimiter == "\t" else repr(self.delimiter)))
        if self.container != "none":
            parts.append(f"encoding {_ENCODING_NAMES.get(self.encoding, self.encoding)}")
        if self.header is not None and self.container == "csv":
            parts.append("with header" if self.header else "no header")
        shown = {k: v for k, v in self.fields.items() if v is not None and not k.startswith("_")}
        if shown:
            parts.append("fields " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        return "; ".join([", ".join(parts), *self.notes])

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "container": self.container,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header": self.header,
            "columns": self.columns,
            "fields": {k: v for k, v in self.fields.items() if not k.startswith("_")},
            "description": self.description,
        }


_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16", "cp1252": "latin-1 (cp1252)"}


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


def snippet(text: str | bytes | None, limit: int = RAW_SNIPPET_CHARS) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


# --------------------------------------------------------------------------- encodings


def sniff_encoding(path: Path, head: bytes) -> str | None:
    """The file's encoding, or None when it is binary. UTF-8 is checked over the whole file (fast, streamed)."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if b"\x00" in sample:
        # UTF-16 without a BOM: mostly-ASCII text has a zero in every other byte.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even < odd // 8:
            return "utf-16-le"
        if even > len(sample) // 4 and odd < even // 8:
            return "utf-16-be"
        return None
    if _is_utf8(path):
        return "utf-8"
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252" if not _looks_binary(text) else None


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v") + text.count("\ufffd")
    return controls / len(text) > 0.05


def open_text(path: Path, encoding: str) -> TextIO:
    # newline="" keeps quoted newlines inside CSV cells intact; errors are impossible for a checked encoding.
    return path.open("r", encoding=encoding, errors="strict", newline="")


# --------------------------------------------------------------------------- detection

_TIMESTAMP_LINE = re.compile(
    r"^\[?(?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}),?\s+"
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?:\s?[APap]\.?\s?[Mm]\.?)?)\]?\s*[-–]?\s*(?P<rest>.*)$"
)
_SPEAKER_LINE = re.compile(r"^(?P<name>[^\W\d_][\w .'&()\-]{0,40}?)\s*:[ \t]?(?P<text>.*)$")


def _speaker_match(line: str) -> tuple[str | None, str, str | None]:
    """(speaker, text, timestamp) for a transcript line; speaker None for a continuation or a notice."""
    stamp = None
    m = _TIMESTAMP_LINE.match(line)
    if m:
        stamp = f"{m['date']} {m['time']}"
        line = m["rest"]
    s = _SPEAKER_LINE.match(line)
    if s and not s["text"].startswith("//"):
        return s["name"].strip(), s["text"], stamp
    return None, line, stamp


def detect_format(path: Path | str, mapping: FieldMapping | None = None) -> DetectedFormat:
    """Look at a file's first bytes (and check its encoding) and say how it will be read."""
    path = Path(path)
    mapping = mapping or FieldMapping()
    if mapping.format not in FORMATS:
        raise DataError(f"format {mapping.format!r} is not known; use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head.strip():
        return DetectedFormat(path, "empty", "none", notes=["the file holds nothing to import"])
    encoding = mapping.encoding or sniff_encoding(path, head)
    if encoding is None:
        return DetectedFormat(path, "binary", "none", notes=["the file is binary (not text in a known encoding)"])
    try:
        text = head.decode(encoding, errors="ignore" if len(head) == SNIFF_BYTES else "strict")
    except (UnicodeDecodeError, LookupError) as err:
        raise DataError(f"{path}: cannot decode with encoding {encoding!r} ({err})") from None
    if _looks_binary(text):
        return DetectedFormat(path, "binary", "none", encoding=encoding, notes=["the file is binary"])
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if len(head) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut

    if mapping.format in ("csv_messages", "csv_pairs"):
        return _detect_csv(path, encoding, text, mapping)
    if mapping.format == "text":
        return DetectedFormat(path, "text", "text", encoding=encoding)
    stripped = text.lstrip()
    if stripped[:1] in "[{" or mapping.format in ("openai", "sharegpt", "dialogues"):
        return _detect_json(path, encoding, lines, mapping)
    nonblank = [line for line in lines[:200] if line.strip()]
    speakers = sum(1 for line in nonblank if _speaker_match(line)[0] is not None)
    if nonblank and speakers / len(nonblank) >= 0.5:
        chat_app = sum(1 for line in nonblank if _TIMESTAMP_LINE.match(line))
        notes = ["chat-app export (timestamp before the speaker)"] if chat_app >= speakers / 2 else []
        return DetectedFormat(path, "text", "text", encoding=encoding, notes=notes)
    return _detect_csv(path, encoding, text, mapping)


def _detect_json(path: Path, encoding: str, lines: list[str], mapping: FieldMapping) -> DetectedFormat:
    first_lines = [line for line in lines if line.strip()][:5]
    parsed = []
    for line in first_lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            parsed.append(None)
    looks_jsonl = any(isinstance(p, dict | list) for p in parsed) and (
        len(first_lines) > 1 or path.suffix.lower() in (".jsonl", ".ndjson")
    )
    if looks_jsonl:
        record = next(p for p in parsed if isinstance(p, dict | list))
        shape, fields = record_shape(record, mapping)
        return DetectedFormat(path, _shape_to_format(shape, mapping), "jsonl", encoding=encoding, fields=fields)
    fmt = mapping.format if mapping.format != "auto" else "dialogues"
    try:
        first = _first_json_record(path, encoding)
    except (json.JSONDecodeError, UnicodeDecodeError):
        first = None
    if first is not None:
        shape, fields = record_shape(first, mapping)
        fmt = _shape_to_format(shape, mapping)
        return DetectedFormat(path, fmt, "json", encoding=encoding, fields=fields)
    return DetectedFormat(path, fmt, "json", encoding=encoding, notes=["could not parse a first record"])


def _shape_to_format(shape: str, mapping: FieldMapping) -> str:
    if mapping.format != "auto":
        return mapping.format
    return {"openai": "openai", "sharegpt": "sharegpt", "pairs": "csv_pairs"}.get(shape, "dialogues")


def _first_json_record(path: Path, encoding: str) -> Any:
    for _line, item in iter_json_document(path, encoding, limit=1):
        if isinstance(item, JsonProblem):
            return None
        return item
    return None


def _detect_csv(path: Path, encoding: str, text: str, mapping: FieldMapping) -> DetectedFormat:
    sample_rows, delimiter, quoting = _sniff_delimiter(text, mapping.delimiter, path.suffix.lower())
    header = mapping.header
    if header is None:
        header = _guess_header(sample_rows)
    width = max((len(r) for r in sample_rows), default=0)
    columns = [c.strip() for c in sample_rows[0]] if header and sample_rows else [str(i) for i in range(width)]
    layout = csv_layout(columns, mapping, header=bool(header))
    if quoting == csv.QUOTE_NONE:
        layout.notes.append("quotes are text, not cell quoting")
    det = DetectedFormat(
        path,
        layout.format,
        "csv",
        encoding=encoding,
        delimiter=delimiter,
        header=bool(header),
        columns=columns,
        fields=layout.fields,
        notes=layout.notes,
        quoting=quoting,
    )
    return det


def _sniff_delimiter(text: str, forced: str | None, suffix: str) -> tuple[list[list[str]], str, int]:
    """Pick the delimiter that splits the sample into the most consistent rows of two or more cells.

    Also decide whether double quotes quote cells: in many TSV exports a stray quote at the start of a
    sentence would otherwise swallow the following rows into one cell.
    """
    sample = "\n".join(text.splitlines()[:200])
    candidates = [forced] if forced else (["\t", ";", ",", "|"] if suffix != ".csv" else [",", ";", "\t", "|"])
    best: tuple[float, int, str, list[list[str]]] | None = None
    for delim in candidates:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delim) if r]
        except csv.Error:
            continue
        if len(rows) > 2:
            rows = rows[:-1]  # may be cut by the sample
        widths = Counter(len(r) for r in rows)
        if not widths:
            continue
        width, count = widths.most_common(1)[0]
        consistency = count / len(rows) if width >= 2 else 0.0
        score = (consistency, width)
        if best is None or score > best[:2]:
            best = (consistency, width, delim, rows)
    if best is None:
        return [], forced or ",", csv.QUOTE_MINIMAL
    consistency, width, delim, rows = best
    if _quotes_swallow_rows(rows, delim, width):
        plain = [r for r in csv.reader(io.StringIO(sample), delimiter=delim, quoting=csv.QUOTE_NONE) if r][:-1]
        plain_widths = Counter(len(r) for r in plain)
        if plain and plain_widths.get(width, 0) / len(plain) >= max(0.99, consistency):
            return plain, delim, csv.QUOTE_NONE
    return rows, delim, csv.QUOTE_MINIMAL


def _quotes_swallow_rows(rows: list[list[str]], delim: str, width: int) -> bool:
    """True when a quoted cell holds lines that are whole rows by themselves (quotes used as text)."""
    for row in rows:
        for cell in row:
            if "\n" in cell and any(len(part.split(delim)) == width for part in cell.split("\n")[1:]):
                return True
    return False


_KNOWN_COLUMNS = frozenset(
    {k.lower() for k in (*ROLE_KEYS, *CONTENT_KEYS, *ID_KEYS, *TIME_KEYS, *PROMPT_KEYS, *RESPONSE_KEYS)}
    | {"flags", "category", "intent", "tags", "context", "language", "lang", "spanish", "english"}
)


def _guess_header(rows: list[list[str]]) -> bool:
    """A header names columns: a known column name, or words over a numeric column."""
    if not rows:
        return False
    first = [c.strip().lower() for c in rows[0]]
    if any(c in _KNOWN_COLUMNS for c in first):
        return True
    identifier = re.compile(r"^[a-z_][a-z0-9_ .-]{0,40}$")
    if not all(identifier.match(c) for c in first):
        return False
    body = rows[1:20]
    for i in range(len(first)):
        values = [r[i].strip() for r in body if i < len(r) and r[i].strip()]
        if values and all(_is_number(v) for v in values) and not _is_number(first[i]):
            return True
    return any("_" in c for c in first)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


@dataclass
class CsvLayout:
    format: str
    fields: dict[str, Any]
    notes: list[str]


def _find_column(columns: list[str], wanted: str | int | None, candidates: tuple[str, ...], key: str) -> int | None:
    """Index of a column given by name or 0-based index; else the first known name. Raises if ``wanted`` is absent."""
    lowered = [c.strip().lower() for c in columns]
    if wanted is not None:
        if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit() and wanted not in columns):
            index = int(wanted)
            if 0 <= index < len(columns):
                return index
            raise DataError(f"{key}={wanted}: the file has columns 0..{len(columns) - 1}")
        if wanted.strip().lower() in lowered:
            return lowered.index(wanted.strip().lower())
        raise DataError(f"{key}={wanted!r}: no such column; the columns are {', '.join(columns)}")
    for name in candidates:
        if name in lowered:
            return lowered.index(name)
    return None


def _find_column_by_part(columns: list[str], parts: tuple[str, ...], taken: set[int | None]) -> int | None:
    for i, name in enumerate(columns):
        if i not in taken and any(part in name.lower() for part in parts):
            return i
    return None


def csv_layout(columns: list[str], mapping: FieldMapping, *, header: bool) -> CsvLayout:
    """Decide between one row per message and one row per exchange, and which columns hold what."""
    notes: list[str] = []
    find = _find_column
    role = find(columns, mapping.role_field, ROLE_KEYS, "role_field") if header or mapping.role_field else None
    content = find(columns, mapping.content_field, CONTENT_KEYS, "content_field") if header else None
    if mapping.content_field is not None and not header:
        content = find(columns, mapping.content_field, (), "content_field")
    conv_id = find(columns, mapping.id_field, ID_KEYS, "id_field") if header or mapping.id_field else None
    if header and role is None and mapping.role_field is None:
        role = _find_column_by_part(columns, ROLE_NAME_PARTS, {conv_id})
    if header and content is None and mapping.content_field is None:
        content = _find_column_by_part(columns, CONTENT_NAME_PARTS, {conv_id, role})
    prompt = find(columns, mapping.prompt_field, PROMPT_KEYS if header else (), "prompt_field")
    response = find(columns, mapping.response_field, RESPONSE_KEYS if header else (), "response_field")
    system = find(columns, mapping.system_field, ("system", "system_prompt") if header else (), "system_field")

    wants_messages = mapping.format == "csv_messages" or mapping.role_field is not None
    wants_pairs = (
        mapping.format == "csv_pairs" or mapping.prompt_field is not None or mapping.response_field is not None
    )
    is_pair_file = prompt is not None and response is not None
    if not wants_pairs and (wants_messages or (role is not None and content is not None and not is_pair_file)):
        if role is None or content is None:
            raise DataError(
                f"one row per message needs a role and a text column; the columns are {', '.join(columns)} "
                "(set role_field and content_field)"
            )
        stamp = find(columns, None, TIME_KEYS, "timestamp") if header else None
        fields = {"role": columns[role], "content": columns[content]}
        fields["id"] = columns[conv_id] if conv_id is not None else None
        fields["timestamp"] = columns[stamp] if stamp is not None else None
        if conv_id is None:
            notes.append("no conversation id column: blank rows separate conversations")
        return CsvLayout("csv_messages", {**fields, "_idx": (role, content, conv_id, stamp)}, notes)

    if len(columns) < 2:
        raise DataError("a CSV/TSV needs two columns or more (a customer message and an agent reply)")
    if prompt is None or response is None:
        free = [i for i in range(len(columns)) if i not in (prompt, response, conv_id, system)]
        if prompt is None:
            prompt = free.pop(0)
        if response is None:
            response = free.pop(0) if free else None
        if response is None:
            raise DataError(f"cannot tell which column is the reply; the columns are {', '.join(columns)}")
        notes.append(
            f"guessed columns: prompt={columns[prompt]}, response={columns[response]} (set prompt_field/response_field)"
        )
    fields = {"prompt": columns[prompt], "response": columns[response]}
    fields["system"] = columns[system] if system is not None else None
    fields["id"] = columns[conv_id] if conv_id is not None else None
    return CsvLayout("csv_pairs", {**fields, "_idx": (prompt, response, system, conv_id)}, notes)


# --------------------------------------------------------------------------- record shapes (JSON)


def _get_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.lstrip("-").isdigit():
            obj = obj[int(part)] if -len(obj) <= int(part) < len(obj) else None
        else:
            return None
    return obj


def _first_key(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): k for k in obj}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


def record_shape(record: Any, mapping: FieldMapping) -> tuple[str, dict[str, Any]]:
    """(shape, fields) of one JSON record: which keys hold the turns, roles, text and id."""
    fields: dict[str, Any] = {}
    if isinstance(record, list):
        turns = record
        fields["messages"] = "(the record itself)"
    elif isinstance(record, dict):
        key = mapping.messages_field
        if key is None:
            key = _first_key(record, MESSAGES_KEYS)
            if key is None or not isinstance(record[key], list):
                key = next((k for k, v in record.items() if isinstance(v, list) and v and _turn_like(v[0])), None)
        if key is None:
            prompt = mapping.prompt_field if isinstance(mapping.prompt_field, str) else None
            prompt = prompt or _first_key(record, PROMPT_KEYS)
            response = mapping.response_field if isinstance(mapping.response_field, str) else None
            response = response or _first_key(record, RESPONSE_KEYS)
            if prompt and response:
                return "pairs", {"prompt": prompt, "response": response}
            return "unknown", {}
        turns = _get_path(record, key)
        fields["messages"] = key
        fields["id"] = mapping.id_field or _first_key(record, ID_KEYS)
    else:
        return "unknown", {}
    if not isinstance(turns, list):
        return "unknown", fields
    first = next((t for t in turns if isinstance(t, dict)), None)
    if first is None:
        fields["roles"] = "alternating"
        return ("dialogues" if any(isinstance(t, str) for t in turns) else "unknown"), fields
    fields["role"] = mapping.role_field or _first_key(first, ROLE_KEYS)
    fields["content"] = mapping.content_field or _first_key(first, CONTENT_KEYS)
    if fields["role"] is None:
        fields["roles"] = "alternating"
    shape = "dialogues"
    if fields.get("messages") == "messages" and fields["role"] == "role" and fields["content"] == "content":
        shape = "openai"
    elif fields.get("messages") == "conversations" and fields["role"] == "from" and fields["content"] == "value":
        shape = "sharegpt"
    return shape, fields


def _turn_like(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, dict) and _first_key(value, CONTENT_KEYS) is not None)


class RecordError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def map_role(raw: Any, mapping: FieldMapping) -> str:
    name = str(raw).strip().lower()
    role = mapping.role_map.get(name) or DEFAULT_ROLES.get(name)
    if role is None:
        raise RecordError(
            "unknown_role", f"role {str(raw)!r} is not known; map it, e.g. --role-map {str(raw).strip()}=user"
        )
    return role


def _text_of(content: Any) -> str:
    """Message text; OpenAI content may be a list of parts, of which the text parts are kept."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "\n".join(texts)
    if isinstance(content, int | float | bool):
        return str(content)
    raise RecordError("bad_content", f"message content is {type(content).__name__}, not text")


def conversation_from_record(record: Any, mapping: FieldMapping, source: str, line: int | None) -> ReadItem:
    shape, fields = record_shape(record, mapping)
    if shape == "unknown":
        keys = ", ".join(map(str, record)) if isinstance(record, dict) else type(record).__name__
        return ReadItem(
            source, line, reason="unknown_shape", raw=_dump(record), shape=shape,
            message=f"no list of turns found (keys: {keys}); set messages_field, role_field and content_field",
        )  # fmt: skip
    try:
        if shape == "pairs":
            conv = _conversation_from_pair(record, fields, mapping)
        else:
            conv = _conversation_from_turns(record, fields, mapping)
    except RecordError as err:
        return ReadItem(source, line, reason=err.reason, message=str(err), raw=_dump(record), shape=shape)
    conv.source, conv.line = source, line
    return ReadItem(source, line, conversation=conv, shape=shape)


def _conversation_from_pair(record: dict[str, Any], fields: dict[str, Any], mapping: FieldMapping) -> Conversation:
    messages = []
    system_key = mapping.system_field if isinstance(mapping.system_field, str) else _first_key(record, ("system",))
    if system_key and record.get(system_key):
        messages.append(Message("system", _text_of(record[system_key])))
    prompt = _text_of(record.get(fields["prompt"]))
    extra_input = record.get("input") if fields["prompt"] != "input" else None
    if isinstance(extra_input, str) and extra_input.strip():
        prompt = f"{prompt}\n\n{extra_input}"  # Alpaca style: instruction plus input
    messages += [Message("user", prompt), Message("assistant", _text_of(record.get(fields["response"])))]
    used = {fields["prompt"], fields["response"], system_key, "input"}
    conv_id = record.get(mapping.id_field or _first_key(record, ID_KEYS) or "")
    return Conversation(messages, id=str(conv_id or ""), metadata=_scalar_metadata(record, used))


def _conversation_from_turns(record: Any, fields: dict[str, Any], mapping: FieldMapping) -> Conversation:
    if isinstance(record, list):
        turns, meta, conv_id = record, {}, ""
    else:
        turns = _get_path(record, fields["messages"])
        if not isinstance(turns, list):
            raise RecordError("unknown_shape", f"{fields['messages']!r} is not a list of turns")
        id_key = fields.get("id")
        conv_id = str(_get_path(record, id_key) or "") if id_key else ""
        meta = _scalar_metadata(record, {fields["messages"].split(".")[0], id_key, "system"})
        conv_id = conv_id or str(meta.pop("id", "") or "")
    messages: list[Message] = []
    if isinstance(record, dict) and isinstance(record.get("system"), str) and record["system"].strip():
        messages.append(Message("system", record["system"]))  # ShareGPT variants keep the system prompt beside
    role_key, content_key = fields.get("role"), fields.get("content")
    alternate = ("user", "assistant")
    for index, turn in enumerate(turns):
        if isinstance(turn, str):
            messages.append(Message(alternate[index % 2], turn))
            continue
        if not isinstance(turn, dict):
            raise RecordError("bad_turn", f"turn {index} is {type(turn).__name__}, not an object or a string")
        if content_key is None or content_key not in turn:
            present = ", ".join(turn)
            raise RecordError("bad_turn", f"turn {index} has no text field (keys: {present}); set content_field")
        if role_key is None:
            role = alternate[index % 2]
        else:
            if role_key not in turn:
                raise RecordError("bad_turn", f"turn {index} has no {role_key!r} field")
            role = map_role(turn[role_key], mapping)
        if role == "drop":
            continue
        messages.append(Message(role, _text_of(turn[content_key])))  # type: ignore[arg-type]
    return Conversation(messages, id=conv_id, metadata=meta)


def _scalar_metadata(record: dict[str, Any], used: set[Any]) -> dict[str, Any]:
    """Scalar keys beside the turns, plus those of a nested ``metadata`` object (as our own output writes it)."""
    meta = {k: v for k, v in record.items() if k not in used and (v is None or isinstance(v, str | int | float | bool))}
    nested = record.get("metadata")
    if isinstance(nested, dict):
        for k, v in nested.items():
            if k not in ("source", "line") and (v is None or isinstance(v, str | int | float | bool)):
                meta.setdefault(k, v)
    return meta


def _dump(record: Any) -> str:
    try:
        return snippet(json.dumps(record, ensure_ascii=False))
    except (TypeError, ValueError):
        return snippet(repr(record))


# --------------------------------------------------------------------------- readers


@dataclass
class JsonProblem:
    reason: str
    message: str
    raw: str


def iter_json_document(path: Path, encoding: str, limit: int | None = None) -> Iterator[tuple[int, Any]]:
    """Records of a JSON document (a list, a wrapper object, or an object of id -> dialogue), one by one.

    A list is decoded item by item, so a truncated file yields every complete item and then one
    ``JsonProblem`` for the rest.
    """
    with path.open("r", encoding=encoding) as f:
        text = f.read().lstrip("\ufeff")
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] == "[":
        yield from _iter_json_array(text, start + 1, decoder, limit)
        return
    try:
        doc, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError as err:
        yield err.lineno, JsonProblem("invalid_json", f"not valid JSON: {err.msg} at line {err.lineno}", text[:2000])
        return
    if text[end:].strip():
        line = text.count("\n", 0, end) + 1
        yield line, JsonProblem("invalid_json", "extra data after the JSON document", text[end : end + 2000])
    if isinstance(doc, dict):
        shape, _ = record_shape(doc, FieldMapping())
        wrapped = _first_key(doc, CONTAINER_KEYS)
        if shape in ("openai", "sharegpt"):
            yield 1, doc
        elif wrapped and isinstance(doc[wrapped], list) and all(isinstance(x, dict | list) for x in doc[wrapped][:5]):
            for item in doc[wrapped][:limit]:
                yield 1, item
        elif doc and all(isinstance(v, dict) for v in doc.values()):
            for key, value in list(doc.items())[:limit]:  # MultiWOZ style: {"dialogue id": {...}}
                yield 1, {"id": key, **value} if "id" not in value else value
        else:
            yield 1, doc
    else:
        yield 1, JsonProblem("unknown_shape", f"the JSON document is a {type(doc).__name__}", text[:2000])


def _iter_json_array(text: str, pos: int, decoder: json.JSONDecoder, limit: int | None) -> Iterator[tuple[int, Any]]:
    line, counted_to, count = 1, 0, 0
    ws = re.compile(r"[\s,]*")
    while True:
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        if pos >= len(text):
            yield line, JsonProblem("truncated_json", "the JSON list is not closed (file truncated?)", "")
            return
        if text[pos] == "]":
            if text[pos + 1 :].strip():
                yield line, JsonProblem("invalid_json", "extra data after the JSON list", text[pos + 1 : pos + 2001])
            return
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            reason = "truncated_json" if err.pos >= len(text) - 1 or "Unterminated" in err.msg else "invalid_json"
            message = f"{err.msg} (line {err.lineno}); the rest of the list could not be read"
            yield line, JsonProblem(reason, message, text[pos : pos + 2000])
            return
        yield line, item
        count += 1
        if limit is not None and count >= limit:
            return
        pos = end


def read_json(path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
    source = str(path)
    for line, item in iter_json_document(path, det.encoding):
        if isinstance(item, JsonProblem):
            yield ReadItem(source, line, reason=item.reason, message=item.message, raw=snippet(item.raw))
        else:
            yield conversation_from_record(item, mapping, source, line)


def read_jsonl(path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
    source = str(path)
    with open_text(path, det.encoding) as f:
        for number, line in enumerate(f, start=1):
            if number == 1:
                line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                message = f"not valid JSON: {err.msg} at column {err.colno}"
                yield ReadItem(source, number, reason="invalid_json", message=message, raw=snippet(line))
                continue
            yield conversation_from_record(record, mapping, source, number)


def _csv_rows(path: Path, det: DetectedFormat) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, cells); a row whose quoted cell spans lines is reported at its first line."""
    with open_text(path, det.encoding) as f:
        reader = csv.reader(f, delimiter=det.delimiter or ",", quoting=det.quoting)
        line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield line, [f"\x00csv error: {err}"]
                line = reader.line_num + 1
                continue
            if line == 1 and row:
                row[0] = row[0].lstrip("\ufeff")
            yield line, row
            line = reader.line_num + 1


def read_csv(path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
    rows = _csv_rows(path, det)
    if det.header:
        next(rows, None)
    if det.format == "csv_messages":
        yield from _read_csv_messages(str(path), rows, det, mapping)
    else:
        yield from _read_csv_pairs(str(path), rows, det)


def _row_problem(source: str, line: int, row: list[str], width: int, delimiter: str) -> ReadItem | None:
    if row and row[0].startswith("\x00csv error"):
        return ReadItem(source, line, reason="bad_row", message=row[0][1:], raw="")
    if len(row) < width:
        raw = snippet(delimiter.join(row))
        message = f"row has {len(row)} cells, the header has {width}"
        return ReadItem(source, line, reason="bad_row", message=message, raw=raw)
    return None


def _read_csv_pairs(source: str, rows: Iterator[tuple[int, list[str]]], det: DetectedFormat) -> Iterator[ReadItem]:
    prompt, response, system, conv_id = det.fields["_idx"]
    needed = max(i for i in (prompt, response, system, conv_id) if i is not None) + 1
    used = {prompt, response, system, conv_id}
    names = det.columns if det.header else []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        problem = _row_problem(source, line, row, needed, det.delimiter or ",")
        if problem:
            yield problem
            continue
        messages = [Message("system", row[system])] if system is not None and row[system].strip() else []
        messages += [Message("user", row[prompt]), Message("assistant", row[response])]
        meta = {(names[i] if i < len(names) else f"column_{i}"): value for i, value in enumerate(row) if i not in used}
        conv = Conversation(
            messages, id=row[conv_id] if conv_id is not None else "", source=source, line=line, metadata=meta
        )
        yield ReadItem(source, line, conversation=conv, shape="pairs")


def _read_csv_messages(
    source: str, rows: Iterator[tuple[int, list[str]]], det: DetectedFormat, mapping: FieldMapping
) -> Iterator[ReadItem]:
    role_i, content_i, id_i, stamp_i = det.fields["_idx"]
    needed = max(i for i in (role_i, content_i, id_i) if i is not None) + 1
    seen_ids: set[str] = set()
    current: list[tuple[int, str, str, str]] = []  # (line, role, text, timestamp) of the open conversation
    current_id: str | None = None
    problem: ReadItem | None = None

    def close() -> Iterator[ReadItem]:
        nonlocal current, problem
        if problem is not None:
            yield problem
        elif current:
            first_line = current[0][0]
            try:
                messages = [
                    Message(r, t)  # type: ignore[arg-type]
                    for _, raw_role, t, _ in current
                    if (r := map_role(raw_role, mapping)) != "drop"
                ]
            except RecordError as err:
                raw = snippet("\n".join(f"{r}: {t}" for _, r, t, _ in current))
                yield ReadItem(source, first_line, reason=err.reason, message=str(err), raw=raw)
            else:
                meta = {"started_at": current[0][3]} if current[0][3] else {}
                conv = Conversation(messages, id=current_id or "", source=source, line=first_line, metadata=meta)
                yield ReadItem(source, first_line, conversation=conv, shape="messages")
        current, problem = [], None

    for line, row in rows:
        blank = not any(cell.strip() for cell in row)
        if blank:
            if id_i is None:
                yield from close()
            continue
        bad = _row_problem(source, line, row, needed, det.delimiter or ",")
        if bad:
            yield bad
            continue
        conv_id = row[id_i].strip() if id_i is not None else None
        if id_i is not None and conv_id != current_id:
            yield from close()
            if conv_id in seen_ids:
                conv_id_note = f"{conv_id}@{line}"
                current_id = conv_id_note  # rows of one id apart from each other: read as a separate conversation
            else:
                current_id = conv_id
            seen_ids.add(conv_id or "")
        stamp = row[stamp_i] if stamp_i is not None and stamp_i < len(row) else ""
        current.append((line, row[role_i], row[content_i], stamp))
    yield from close()


def read_text(path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
    """Speaker-prefixed transcripts; a blank line ends a conversation; unprefixed lines continue a turn."""
    source = str(path)
    block: list[tuple[int, str]] = []
    with open_text(path, det.encoding) as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if number == 1:
                line = line.lstrip("\ufeff")
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
        speaker, text, stamp = _speaker_match(line)
        started_at = started_at or stamp
        if speaker is not None:
            turns.append([speaker, text])
        elif stamp is not None:
            notices += 1  # "21/11/26, 10:15 - Messages are end-to-end encrypted": no speaker, not a turn
        elif turns:
            turns[-1][1] += "\n" + text
        else:
            message = "text before the first speaker prefix (expected e.g. 'Customer: ...')"
            return ReadItem(source, first_line, reason="no_speaker", message=message, raw=raw)
    if not turns:
        return ReadItem(source, first_line, reason="no_speaker", message="no speaker prefixes found", raw=raw)
    try:
        roles, guessed = _speaker_roles([s for s, _ in turns], mapping)
    except RecordError as err:
        return ReadItem(source, first_line, reason=err.reason, message=str(err), raw=raw)
    messages = [Message(roles[s], t) for s, t in turns if roles[s] != "drop"]  # type: ignore[arg-type]
    meta: dict[str, Any] = {"speakers": {s: roles[s] for s in dict.fromkeys(s for s, _ in turns)}}
    if guessed:
        meta["speakers_guessed"] = True
    if started_at:
        meta["started_at"] = started_at
    if notices:
        meta["notices_skipped"] = notices
    conv = Conversation(messages, source=source, line=first_line, metadata=meta)
    return ReadItem(source, first_line, conversation=conv, shape="text")


def _speaker_roles(speakers: list[str], mapping: FieldMapping) -> tuple[dict[str, str], bool]:
    """Roles for display names: the role map, known words, then order (the first unknown speaker is the customer)."""
    roles: dict[str, str] = {}
    unknown: list[str] = []
    for name in dict.fromkeys(speakers):
        key = name.lower()
        role = mapping.role_map.get(key) or DEFAULT_ROLES.get(key)
        if role is None and set(re.findall(r"\w+", key)) & AGENT_NAME_WORDS:
            role = "assistant"
        if role is None:
            unknown.append(name)
        else:
            roles[name] = role
    if not unknown:
        return roles, False
    free = [r for r in ("user", "assistant") if r not in roles.values()]
    if len(unknown) > len(free):
        names = ", ".join(unknown)
        raise RecordError("unknown_role", f"cannot tell who is the customer among {names}; use --role-map NAME=user")
    for name, role in zip(unknown, free, strict=False):
        roles[name] = role
    return roles, True


READERS = {"json": read_json, "jsonl": read_jsonl, "csv": read_csv, "text": read_text}


def read_file(path: Path, mapping: FieldMapping, det: DetectedFormat | None = None) -> Iterator[ReadItem]:
    """Every record of one file, as conversations or problems. Raises DataError only for unusable options."""
    det = det or detect_format(path, mapping)
    if det.format in ("empty", "binary"):
        if det.format == "binary":
            with path.open("rb") as f:
                head = f.read(200)
            message = "binary file, not a transcript (or an encoding that is not UTF-8/16 or Latin-1)"
            yield ReadItem(str(path), None, reason="binary_file", message=message, raw=repr(head))
        return
    try:
        yield from READERS[det.container](path, det, mapping)
    except UnicodeDecodeError as err:
        message = f"cannot decode as {det.encoding} at byte {err.start}; set encoding"
        yield ReadItem(str(path), None, reason="bad_encoding", message=message, raw="")


def collect_files(paths: list[Path]) -> list[Path]:
    """Files to import: each file as given; a folder gives its supported files, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            files.extend(p for p in found if ".quarantine." not in p.name and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return files
