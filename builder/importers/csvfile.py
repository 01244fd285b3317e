"""CSV/TSV files: rows to conversations, one row per exchange or one row per message.

Which columns hold what is decided once per file by detection (``builder.importers.columns``)
and handed over as typed ``PairColumns`` or ``MessageColumns``.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.core.conversation import Conversation, Message, is_role
from builder.importers.encoding import BadLine, iter_lines
from builder.importers.types import DetectedFormat, MessageColumns, PairColumns, ReadItem, RecordError, snippet
from builder.importers.vocabulary import map_role

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # one cell may hold a whole transcript (a 5 MB line)


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts; a quoted cell may carry it over several lines
    cells: list[str]


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str
    message: str
    raw: str = ""


class _TextLines:
    """The file's text lines for ``csv.reader``; lines that are not text are held back as problems."""

    def __init__(self, path: Path, encoding: str) -> None:
        self._lines = iter_lines(path, encoding)
        self.problems: list[RowProblem] = []
        self.row_start: int | None = None  # line number of the first line of the row being read

    def __iter__(self) -> _TextLines:
        return self

    def __next__(self) -> str:
        while True:
            number, line = next(self._lines)
            if isinstance(line, BadLine):
                self.problems.append(RowProblem(number, line.reason, line.message, line.raw))
                continue
            if self.row_start is None:
                self.row_start = number
            return line


def csv_rows(path: Path, det: DetectedFormat) -> Iterator[Row | RowProblem]:
    """Rows in file order, each with its first line; rows the csv module cannot parse come as problems."""
    lines = _TextLines(path, det.encoding)
    reader = csv.reader(lines, delimiter=det.delimiter or ",", quoting=det.quoting)
    while True:
        lines.row_start = None
        try:
            cells = next(reader)
        except StopIteration:
            yield from lines.problems
            return
        except csv.Error as err:
            yield from _drain(lines)
            yield RowProblem(lines.row_start or 0, "bad_row", f"csv error: {err}")
            continue
        yield from _drain(lines)
        yield Row(lines.row_start or 0, cells)


def _drain(lines: _TextLines) -> Iterator[RowProblem]:
    yield from lines.problems
    lines.problems.clear()


def read_csv(path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
    rows = csv_rows(path, det)
    source, delimiter = str(path), det.delimiter or ","
    if det.header:
        rows = _skip_header(rows)
    if isinstance(det.layout, MessageColumns):
        yield from _read_messages(source, rows, det.layout, mapping, delimiter)
    elif isinstance(det.layout, PairColumns):
        names = det.columns if det.header else []
        yield from _read_pairs(source, rows, det.layout, names, delimiter)
    else:
        raise ValueError(f"{path}: no column layout detected")  # detection always sets one for CSV


def _skip_header(rows: Iterator[Row | RowProblem]) -> Iterator[Row | RowProblem]:
    skipped = False
    for row in rows:
        if isinstance(row, Row) and not skipped:
            skipped = True
            continue
        yield row


def _checked(source: str, row: Row | RowProblem, needed: int, delimiter: str) -> Row | ReadItem | None:
    """The row if it can be used; a problem to set aside; None for a blank row."""
    if isinstance(row, RowProblem):
        return ReadItem(source, row.line, reason=row.reason, message=row.message, raw=row.raw)
    if not any(cell.strip() for cell in row.cells):
        return None
    if len(row.cells) < needed:
        message = f"row has {len(row.cells)} cells, the header has {needed}"
        return ReadItem(source, row.line, reason="bad_row", message=message, raw=snippet(delimiter.join(row.cells)))
    return row


def _read_pairs(
    source: str, rows: Iterator[Row | RowProblem], columns: PairColumns, names: list[str], delimiter: str
) -> Iterator[ReadItem]:
    used = columns.used
    for row in rows:
        checked = _checked(source, row, columns.needed, delimiter)
        if not isinstance(checked, Row):
            if checked is not None:
                yield checked
            continue
        cells = checked.cells
        system = cells[columns.system] if columns.system is not None else ""
        messages = [Message("system", system)] if system.strip() else []
        messages += [Message("user", cells[columns.prompt]), Message("assistant", cells[columns.response])]
        meta = {(names[i] if i < len(names) else f"column_{i}"): v for i, v in enumerate(cells) if i not in used}
        conv_id = cells[columns.conversation_id] if columns.conversation_id is not None else ""
        conv = Conversation(messages, id=conv_id, source=source, line=checked.line, metadata=meta)
        yield ReadItem(source, checked.line, conversation=conv, shape="pairs")


@dataclass
class _OpenConversation:
    """The rows of the conversation being gathered."""

    key: str | None = None  # the id as the rows spell it
    id: str = ""  # the conversation's id: the key, or key@line when the key came back after other ids
    rows: list[tuple[int, str, str, str]] = field(default_factory=list)  # (line, role, text, timestamp)

    def close(self, source: str, mapping: FieldMapping) -> ReadItem | None:
        if not self.rows:
            return None
        first_line = self.rows[0][0]
        try:
            roles = [map_role(raw_role, mapping) for _, raw_role, _, _ in self.rows]
        except RecordError as err:
            raw = snippet("\n".join(f"{r}: {t}" for _, r, t, _ in self.rows))
            return ReadItem.problem(source, first_line, err, raw)
        messages = [Message(r, t) for r, (_, _, t, _) in zip(roles, self.rows, strict=True) if is_role(r)]  # not "drop"
        meta = {"started_at": self.rows[0][3]} if self.rows[0][3] else {}
        conv = Conversation(messages, id=self.id, source=source, line=first_line, metadata=meta)
        return ReadItem(source, first_line, conversation=conv, shape="messages")


def _read_messages(
    source: str, rows: Iterator[Row | RowProblem], columns: MessageColumns, mapping: FieldMapping, delimiter: str
) -> Iterator[ReadItem]:
    """Consecutive rows of one conversation id make a conversation; without an id column, blank rows separate."""
    seen_ids: set[str] = set()
    current = _OpenConversation()
    for row in rows:
        checked = _checked(source, row, columns.needed, delimiter)
        if checked is None and columns.conversation_id is None and (done := current.close(source, mapping)):
            yield done
            current = _OpenConversation()
        if not isinstance(checked, Row):
            if checked is not None:
                yield checked
            continue
        cells = checked.cells
        if columns.conversation_id is not None:
            conv_id = cells[columns.conversation_id].strip()
            if conv_id != current.key:
                if done := current.close(source, mapping):
                    yield done
                # Rows of one id apart from each other: read as a separate conversation.
                shown = f"{conv_id}@{checked.line}" if conv_id in seen_ids else conv_id
                current = _OpenConversation(conv_id, shown)
                seen_ids.add(conv_id)
        stamp_i = columns.timestamp
        stamp = cells[stamp_i] if stamp_i is not None and stamp_i < len(cells) else ""
        current.rows.append((checked.line, cells[columns.role], cells[columns.content], stamp))
    if done := current.close(source, mapping):
        yield done
