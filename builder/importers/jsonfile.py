"""JSON files: JSONL line by line, and JSON documents item by item (a truncated list still gives its items)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.config.recipe import FieldMapping
from builder.importers.encoding import BadLine, head_lines, iter_lines
from builder.importers.records import conversation_from_record, record_shape
from builder.importers.types import Container, DetectedFormat, Note, ReadItem, snippet
from builder.importers.vocabulary import CONTAINER_KEYS, first_key

JSONL_SUFFIXES = (".jsonl", ".ndjson")
SHAPE_FORMATS = {"openai": "openai", "sharegpt": "sharegpt", "pairs": "csv_pairs"}


@dataclass(frozen=True)
class JsonProblem:
    """What stopped a JSON document from being read further."""

    reason: str
    message: str
    raw: str


def detect_json(path: Path, encoding: str, mapping: FieldMapping) -> DetectedFormat:
    """JSONL when its first complete lines are JSON values each, else one JSON document.

    Lines longer than the sample are skipped, not parsed: a first line of 5 MB does not make a JSONL
    file look like one JSON document.
    """
    lines = head_lines(path, encoding, count=5)
    parsed = [_loads(text) for text, cut in lines if not cut]
    record = next((p for p in parsed if isinstance(p, dict | list)), None)
    if record is not None and (len(lines) > 1 or path.suffix.lower() in JSONL_SUFFIXES):
        shape = record_shape(record, mapping)
        return DetectedFormat(path, _format_of(shape.kind, mapping), Container.JSONL, encoding, fields=shape.fields)
    first = _first_json_record(path, encoding)
    if first is not None:
        shape = record_shape(first, mapping)
        return DetectedFormat(path, _format_of(shape.kind, mapping), Container.JSON, encoding, fields=shape.fields)
    fmt = mapping.format if mapping.format != "auto" else "dialogues"
    return DetectedFormat(path, fmt, Container.JSON, encoding, notes=[Note("no_first_record")])


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _format_of(shape: str, mapping: FieldMapping) -> str:
    if mapping.format != "auto":
        return mapping.format
    return SHAPE_FORMATS.get(shape, "dialogues")


def _first_json_record(path: Path, encoding: str) -> Any:
    try:
        for _line, item in iter_json_document(path, encoding, limit=1):
            return None if isinstance(item, JsonProblem) else item
    except UnicodeDecodeError:
        return None
    return None


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
        yield from ((1, item) for item in _document_items(doc, limit))
    else:
        yield 1, JsonProblem("unknown_shape", f"the JSON document is a {type(doc).__name__}", text[:2000])


def _document_items(doc: dict[str, Any], limit: int | None) -> list[Any]:
    """The records of a JSON object: itself, the list under a wrapper key, or the values of id -> dialogue."""
    wrapped = first_key(doc, CONTAINER_KEYS)
    if record_shape(doc, FieldMapping()).kind in ("openai", "sharegpt"):
        return [doc]
    if wrapped and isinstance(doc[wrapped], list) and all(isinstance(x, dict | list) for x in doc[wrapped][:5]):
        return doc[wrapped][:limit]
    if doc and all(isinstance(v, dict) for v in doc.values()):  # MultiWOZ style: {"dialogue id": {...}}
        return [{"id": key, **value} if "id" not in value else value for key, value in list(doc.items())[:limit]]
    return [doc]


_SEPARATORS = re.compile(r"[\s,]*")


def _iter_json_array(text: str, pos: int, decoder: json.JSONDecoder, limit: int | None) -> Iterator[tuple[int, Any]]:
    line, counted_to, count = 1, 0, 0
    while True:
        pos = _SEPARATORS.match(text, pos).end()  # type: ignore[union-attr]  # [\s,]* always matches
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
    """One record a line; a line that is not JSON, or not text at all, is set aside by itself."""
    source = str(path)
    for number, line in iter_lines(path, det.encoding):
        if isinstance(line, BadLine):
            yield ReadItem(source, number, reason=line.reason, message=line.message, raw=line.raw)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            message = f"not valid JSON: {err.msg} at column {err.colno}"
            yield ReadItem(source, number, reason="invalid_json", message=message, raw=snippet(line))
            continue
        yield conversation_from_record(record, mapping, source, number)
