"""Which CSV column holds what: by the mapping, by known names, then by content.

A file with one row per message has a column of a few short values that alternate (the roles)
and usually a column of ids that repeat in runs (the conversation). Those are recognised by their
values, so headers in any language (``id_conversacion,rol,mensaje``, ``hilo,quien,dijo``) work.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.importers.csvsniff import column_values, guess_header, sniff_dialect
from builder.importers.types import Container, DataError, DetectedFormat, MessageColumns, Note, PairColumns
from builder.importers.vocabulary import (
    CONTENT_KEYS,
    CONTENT_NAME_PARTS,
    ID_KEYS,
    PROMPT_KEYS,
    RESPONSE_KEYS,
    ROLE_KEYS,
    ROLE_NAME_PARTS,
    SYSTEM_KEYS,
    TIME_KEYS,
    known_role,
)

MIN_ROWS = 4  # fewer sample rows say nothing about a column's values
MAX_ROLES = 6
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T,]+\d{1,2}:\d{2}.*)?")


@dataclass(frozen=True)
class ColumnProfile:
    """What the sample's values of one column look like."""

    index: int
    values: int  # non-blank values
    distinct: int
    max_len: int
    mean_len: float
    changes: float  # share of consecutive values that differ: about 1 for alternating roles
    runs: int  # blocks of equal consecutive values
    role_words: float  # share of values that are known role names
    dates: float  # share of values that look like a date or a time stamp
    spaced: float  # share of values with a space: text, not ids


def profile(rows: list[list[str]], index: int, mapping: FieldMapping) -> ColumnProfile:
    values = column_values(rows, index)
    n = len(values) or 1
    changes = sum(a != b for a, b in pairwise(values))
    return ColumnProfile(
        index=index,
        values=len(values),
        distinct=len(set(values)),
        max_len=max(map(len, values), default=0),
        mean_len=sum(map(len, values)) / n,
        changes=changes / max(1, len(values) - 1),
        runs=changes + 1 if values else 0,
        role_words=sum(known_role(v, mapping) is not None for v in values) / n,
        dates=sum(bool(_DATE.fullmatch(v)) for v in values) / n,
        spaced=sum(" " in v for v in values) / n,
    )


@dataclass
class Columns:
    """Column indexes found so far; None where unknown."""

    role: int | None = None
    content: int | None = None
    conversation_id: int | None = None
    timestamp: int | None = None
    prompt: int | None = None
    response: int | None = None
    system: int | None = None
    notes: list[Note] = field(default_factory=list)


def find_column(columns: list[str], wanted: str | int | None, candidates: tuple[str, ...], key: str) -> int | None:
    """Index of a column given by name or 0-based index; else the first known name. Raises if ``wanted`` is absent."""
    lowered = [c.strip().lower() for c in columns]
    if wanted is not None:
        if isinstance(wanted, int) or (wanted.isdigit() and wanted not in columns):
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


def _find_by_part(columns: list[str], parts: tuple[str, ...], taken: set[int | None]) -> int | None:
    for i, name in enumerate(columns):
        if i not in taken and any(part in name.lower() for part in parts):
            return i
    return None


def by_name(columns: list[str], mapping: FieldMapping, header: bool) -> Columns:
    """Columns the mapping names, and, with a header, columns whose names are known."""
    m = mapping
    found = Columns(
        role=find_column(columns, m.role_field, ROLE_KEYS if header else (), "role_field"),
        content=find_column(columns, m.content_field, CONTENT_KEYS if header else (), "content_field"),
        conversation_id=find_column(columns, m.id_field, ID_KEYS if header else (), "id_field"),
        prompt=find_column(columns, m.prompt_field, PROMPT_KEYS if header else (), "prompt_field"),
        response=find_column(columns, m.response_field, RESPONSE_KEYS if header else (), "response_field"),
        system=find_column(columns, m.system_field, SYSTEM_KEYS if header else (), "system_field"),
        timestamp=find_column(columns, None, TIME_KEYS, "timestamp") if header else None,
    )
    if header and found.role is None and m.role_field is None:
        found.role = _find_by_part(columns, ROLE_NAME_PARTS, {found.conversation_id})
    if header and found.content is None and m.content_field is None:
        found.content = _find_by_part(columns, CONTENT_NAME_PARTS, {found.conversation_id, found.role})
    return found


def by_content(found: Columns, rows: list[list[str]], width: int, mapping: FieldMapping, header: bool) -> Columns:
    """Fill in the role, text, id and time columns of a one-row-per-message file from the values.

    Without a header, only a column of known role words counts as roles; with one, a column of a few
    short values that alternate counts too when a column of ids repeats beside it.
    """
    profiles = [profile(rows, i, mapping) for i in range(width)]
    if not profiles or max(p.values for p in profiles) < MIN_ROWS:
        return found
    taken = {found.role, found.content, found.conversation_id, found.timestamp}
    free = [p for p in profiles if p.index not in taken]
    stamp = found.timestamp if found.timestamp is not None else _best(p for p in free if p.dates >= 0.8)
    conv_id = found.conversation_id
    if conv_id is None:
        conv_id = _best((p for p in free if p.index != stamp and _repeats_in_runs(p)), key="distinct")
    role = found.role
    if role is None:
        short = [p for p in free if p.index not in (stamp, conv_id) and _few_short_values(p)]
        role = _best(p for p in short if p.role_words >= 0.8)
        if role is None and header and conv_id is not None:
            role = _best((p for p in short if p.changes >= 0.5), key="changes")
    content = found.content
    if content is None and role is not None:
        rest = [p for p in free if p.index not in (stamp, conv_id, role)]
        content = _best(rest, key="mean_len")
    if role is None or content is None:
        return found
    note = Note("found_by_values")
    return replace(found, role=role, content=content, conversation_id=conv_id, timestamp=stamp, notes=[note])


def _few_short_values(p: ColumnProfile) -> bool:
    return p.values >= MIN_ROWS and 2 <= p.distinct <= MAX_ROLES and 2 * p.distinct <= p.values and p.max_len <= 30


def _repeats_in_runs(p: ColumnProfile) -> bool:
    """Ids of conversations: each value in one block of rows, blocks of two rows or more on average."""
    return (
        p.values >= MIN_ROWS
        and p.distinct >= 1
        and p.runs <= p.distinct + 1
        and p.values >= 1.5 * p.distinct
        and p.max_len <= 64
        and p.spaced <= 0.1
        and p.role_words < 0.5
    )


def _best(profiles, key: str = "role_words") -> int | None:
    chosen = max(profiles, key=lambda p: getattr(p, key), default=None)
    return None if chosen is None else chosen.index


def csv_layout(
    columns: list[str], rows: list[list[str]], mapping: FieldMapping, *, header: bool
) -> tuple[str, MessageColumns | PairColumns, dict[str, str | None], list[Note]]:
    """Decide between one row per message and one row per exchange, and which columns hold what.

    Returns the format, the columns the reader uses, the same by name for people, and notes.
    """
    found = by_name(columns, mapping, header)
    wants_messages = mapping.format == "csv_messages" or mapping.role_field is not None
    wants_pairs = (
        mapping.format == "csv_pairs" or mapping.prompt_field is not None or mapping.response_field is not None
    )
    is_pair_file = found.prompt is not None and found.response is not None
    if not wants_pairs and (wants_messages or not is_pair_file) and (found.role is None or found.content is None):
        found = by_content(found, rows, len(columns), mapping, header)
    if not wants_pairs and (
        wants_messages or (found.role is not None and found.content is not None and not is_pair_file)
    ):
        return _message_layout(columns, found)
    return _pair_layout(columns, found)


def _message_layout(
    columns: list[str], found: Columns
) -> tuple[str, MessageColumns, dict[str, str | None], list[Note]]:
    if found.role is None or found.content is None:
        raise DataError(
            f"one row per message needs a role and a text column; the columns are {', '.join(columns)} "
            "(set role_field and content_field)"
        )
    layout = MessageColumns(found.role, found.content, found.conversation_id, found.timestamp)
    notes = list(found.notes)
    if found.conversation_id is None:
        notes.append(Note("no_id_column"))
    names: dict[str, str | None] = {"role": columns[found.role], "content": columns[found.content]}
    names["id"] = columns[found.conversation_id] if found.conversation_id is not None else None
    names["timestamp"] = columns[found.timestamp] if found.timestamp is not None else None
    return "csv_messages", layout, names, notes


def _pair_layout(columns: list[str], found: Columns) -> tuple[str, PairColumns, dict[str, str | None], list[Note]]:
    if len(columns) < 2:
        raise DataError("a CSV/TSV needs two columns or more (a customer message and an agent reply)")
    prompt, response, notes = found.prompt, found.response, []
    if prompt is None or response is None:
        free = [i for i in range(len(columns)) if i not in (prompt, response, found.conversation_id, found.system)]
        prompt = free.pop(0) if prompt is None else prompt
        response = free.pop(0) if response is None and free else response
        if response is None:
            raise DataError(f"cannot tell which column is the reply; the columns are {', '.join(columns)}")
        notes.append(Note("guessed_columns", {"prompt": columns[prompt], "response": columns[response]}))
    layout = PairColumns(prompt, response, found.system, found.conversation_id)
    names: dict[str, str | None] = {"prompt": columns[prompt], "response": columns[response]}
    names["system"] = columns[found.system] if found.system is not None else None
    names["id"] = columns[found.conversation_id] if found.conversation_id is not None else None
    return "csv_pairs", layout, names, notes


def detect_csv(path: Path, encoding: str, text: str, mapping: FieldMapping) -> DetectedFormat:
    dialect = sniff_dialect(text, mapping.delimiter, path.suffix.lower())
    rows = dialect.rows
    header = guess_header(rows) if mapping.header is None else mapping.header
    width = max((len(r) for r in rows), default=0)
    columns = [c.strip() for c in rows[0]] if header and rows else [str(i) for i in range(width)]
    body = rows[1:] if header else rows
    fmt, layout, names, notes = csv_layout(columns, body, mapping, header=bool(header))
    if dialect.quoting == csv.QUOTE_NONE:
        notes.append(Note("quotes_are_text"))
    return DetectedFormat(
        path, fmt, Container.CSV, encoding, delimiter=dialect.delimiter, header=bool(header), columns=columns,
        fields=names, notes=notes, quoting=dialect.quoting, layout=layout,
    )  # fmt: skip
