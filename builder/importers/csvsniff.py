"""CSV/TSV dialect from a sample: the delimiter, whether quotes quote cells, and whether row one is a header."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass

from builder.importers.types import Quoting
from builder.importers.vocabulary import CONTENT_KEYS, ID_KEYS, PROMPT_KEYS, RESPONSE_KEYS, ROLE_KEYS, TIME_KEYS

SAMPLE_LINES = 200
KNOWN_COLUMNS = frozenset(
    {k.lower() for k in (*ROLE_KEYS, *CONTENT_KEYS, *ID_KEYS, *TIME_KEYS, *PROMPT_KEYS, *RESPONSE_KEYS)}
    | {"flags", "category", "intent", "tags", "context", "language", "lang", "spanish", "english"}
)
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_ .-]{0,40}")
_WORD = re.compile(r"[^\W\d][\w.-]{0,40}")  # one word in any alphabet: quién, rôle, 発言者


@dataclass(frozen=True)
class Dialect:
    rows: list[list[str]]  # the sample, cut into rows
    delimiter: str
    quoting: Quoting


def sniff_dialect(text: str, forced: str | None, suffix: str) -> Dialect:
    """Pick the delimiter that splits the sample into the most consistent rows of two or more cells.

    Also decide whether double quotes quote cells: in many TSV exports a stray quote at the start of a
    sentence would otherwise swallow the following rows into one cell.
    """
    sample = "\n".join(text.splitlines()[:SAMPLE_LINES])
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
        if best is None or (consistency, width) > best[:2]:
            best = (consistency, width, delim, rows)
    if best is None:
        return Dialect([], forced or ",", csv.QUOTE_MINIMAL)
    consistency, width, delim, rows = best
    if _quotes_swallow_rows(rows, delim, width):
        plain = [r for r in csv.reader(io.StringIO(sample), delimiter=delim, quoting=csv.QUOTE_NONE) if r][:-1]
        plain_widths = Counter(len(r) for r in plain)
        if plain and plain_widths.get(width, 0) / len(plain) >= max(0.99, consistency):
            return Dialect(plain, delim, csv.QUOTE_NONE)
    return Dialect(rows, delim, csv.QUOTE_MINIMAL)


def _quotes_swallow_rows(rows: list[list[str]], delim: str, width: int) -> bool:
    """True when a quoted cell holds lines that are whole rows by themselves (quotes used as text)."""
    for row in rows:
        for cell in row:
            if "\n" in cell and any(len(part.split(delim)) == width for part in cell.split("\n")[1:]):
                return True
    return False


def guess_header(rows: list[list[str]]) -> bool:
    """A header names columns: a known column name, words over a numeric column, or a word over a column of
    a few repeated values (roles, categories) that does not repeat it."""
    if not rows:
        return False
    first = [c.strip().lower() for c in rows[0]]
    if any(c in KNOWN_COLUMNS for c in first):
        return True
    body = rows[1:SAMPLE_LINES]
    if all(_WORD.fullmatch(c) for c in first) and any(
        _repeated_values_without(column_values(body, i), name) for i, name in enumerate(first)
    ):
        return True
    if not all(_IDENTIFIER.fullmatch(c) for c in first):
        return False
    for i in range(len(first)):
        values = column_values(body[:19], i)
        if values and all(is_number(v) for v in values) and not is_number(first[i]):
            return True
    return any("_" in c for c in first)


def column_values(rows: list[list[str]], index: int) -> list[str]:
    """The non-blank values of one column, stripped."""
    return [r[index].strip() for r in rows if index < len(r) and r[index].strip()]


def _repeated_values_without(values: list[str], name: str) -> bool:
    distinct = {v.lower() for v in values}
    return len(values) >= 4 and 2 <= len(distinct) <= len(values) // 2 and name not in distinct


def is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True
