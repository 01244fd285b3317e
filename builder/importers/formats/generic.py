"""The generic readers: JSON records in any shape (with the mapping keys), CSV/TSV, speaker-prefixed text.

They are sure of little: they take what no format-specific reader claims. A JSON file is JSON only
if it parses as JSON (a text whose first character is ``[`` is not enough).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.columns import detect_csv
from builder.importers.csvfile import read_csv
from builder.importers.jsonfile import detect_json, read_json, read_jsonl
from builder.importers.registry import NOT_JSON, Sample, register
from builder.importers.text import detect_transcript, read_text
from builder.importers.types import Container, DetectedFormat, ReadItem

_OBJECT_START = re.compile(r'\s*\{\s*"')


def _starts_with_a_json_record(text: str) -> bool:
    if _OBJECT_START.match(text):
        return True
    body = text.lstrip()
    if not body.startswith("["):
        return False
    items = body[1:].lstrip()
    try:
        first, _ = json.JSONDecoder().raw_decode(items)
    except ValueError:
        return False
    return isinstance(first, dict | list)


@register
class JsonRecords:
    """JSON or JSONL whose records hold turns (OpenAI, ShareGPT, nested dialogues) or pairs."""

    name: ClassVar[str] = "json"
    title: ClassVar[str] = "JSON records"
    container: ClassVar[Container] = Container.JSON
    generic: ClassVar[bool] = True  # a format-specific reader as sure wins

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.0
        if sample.jsonl and all(isinstance(x, dict | list) for x in sample.jsonl):
            return 0.4
        if sample.document is not NOT_JSON and isinstance(sample.document, dict | list):
            return 0.4
        # Too large to parse whole, or truncated: JSON when its first record parses as a JSON object or list.
        return 0.3 if _starts_with_a_json_record(sample.text) else 0.0

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        return detect_json(sample.path, sample.encoding or "utf-8", mapping)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        reader = read_jsonl if det.container == Container.JSONL else read_json
        return reader(path, det, mapping)


@register
class SpeakerText:
    """Text transcripts with ``Customer:``/``Agent:`` prefixes, a blank line between conversations."""

    name: ClassVar[str] = "transcript"
    title: ClassVar[str] = "text transcript with speaker prefixes"
    container: ClassVar[Container] = Container.TEXT
    generic: ClassVar[bool] = True  # a format-specific reader as sure wins

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle or sample.document is not NOT_JSON:
            return 0.0
        return 0.45 if detect_transcript(sample.path, sample.encoding or "utf-8", sample.lines) else 0.0

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        det = detect_transcript(sample.path, sample.encoding or "utf-8", sample.lines)
        return det or DetectedFormat(sample.path, "text", Container.TEXT, sample.encoding or "utf-8")

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        return read_text(path, det, mapping)


@register
class Delimited:
    """CSV/TSV with one row per message or one row per exchange: the last resort for a text file."""

    name: ClassVar[str] = "csv"
    title: ClassVar[str] = "CSV/TSV"
    container: ClassVar[Container] = Container.CSV
    generic: ClassVar[bool] = True  # a format-specific reader as sure wins

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle or sample.document is not NOT_JSON or sample.jsonl:
            return 0.0
        return 0.2

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        return detect_csv(sample.path, sample.encoding or "utf-8", sample.text, mapping)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        return read_csv(path, det, mapping)
