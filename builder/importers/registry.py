"""The one list of export readers, and the detector that asks each of them.

A reader knows one export format (WhatsApp, Slack, Zendesk, OpenAI JSONL...). It has two parts:

- ``sniff(sample)``: how sure it is, from 0 (not mine) to 1 (certainly mine), that a file, folder or
  zip is its format, from a cheap look (``Sample``: the first bytes, the JSON when the file is small,
  the names inside a folder or zip);
- ``read(path, det, mapping)``: the file as a stream of ``ReadItem``s, each a conversation or a record
  set aside with its reason.

``detect`` asks every registered reader, and takes the most certain one whose first records really
parse (a reader that gives no conversation from its first records makes way for the next one). When
more than one reader fits, the ``DetectedFormat`` says which was taken and why (note ``also_fits``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar, Protocol

from builder.config.recipe import FieldMapping
from builder.importers.encoding import head_lines, line_is_binary
from builder.importers.types import SNIFF_BYTES, Container, DetectedFormat, Note, ReadItem

JSON_SNIFF_LIMIT = 8 * 1024 * 1024  # a JSON file up to this size is parsed whole for sniffing
FITS = 0.5  # a reader this sure fits; below it, it is only a guess
TRIAL_RECORDS = 20  # records read to see that a reader's format really parses
NOT_JSON: Any = object()  # Sample.document of a file that is not (or too large to check as) one JSON document


@dataclass(frozen=True)
class Sample:
    """What a reader may look at to say how sure it is. Cheap to make: nothing is read beyond the first bytes
    (and a small file's JSON)."""

    path: Path
    encoding: str | None = None  # None for a folder or a zip
    text: str = ""  # the first SNIFF_BYTES, decoded, BOM stripped ("" for a folder or zip)
    lines: list[str] = field(default_factory=list)  # complete lines of ``text`` (a cut last line left out)
    document: Any = NOT_JSON  # the file parsed as one JSON document, when it is one and is small enough
    jsonl: list[Any] = field(default_factory=list)  # the first lines as JSON values, when every one parses
    members: list[str] = field(default_factory=list)  # a folder's or zip's file names, relative, '/'-separated
    size: int = 0  # bytes (a folder: 0)

    @property
    def is_bundle(self) -> bool:
        """A folder or a zip: a workspace export rather than one file."""
        return self.encoding is None


class ExportReader(Protocol):
    """One export format. Implementations are small modules registered in ``READERS`` below."""

    name: ClassVar[str]  # short code, also ``DetectedFormat.format`` and a value of the ``format`` mapping key
    title: ClassVar[str]  # for people: "WhatsApp chat export"
    container: ClassVar[Container]
    # Optional ``generic: ClassVar[bool] = True`` for a reader of any JSON/CSV/text layout: on a tie of
    # scores a format-specific reader wins over it (see ``candidates``).

    def sniff(self, sample: Sample) -> float: ...

    # Optional: ``describe(sample, mapping) -> DetectedFormat`` for a reader that works out more than its
    # name (fields, columns, the owner of the export); without it the detected format is just the name.

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]: ...


def sample_of(path: Path, encoding: str | None, head: str) -> Sample:
    """The sample of a plain text file, given its encoding and its decoded first bytes."""
    text = head.lstrip("\ufeff")
    lines = text.splitlines()
    size = path.stat().st_size
    if len(text) >= SNIFF_BYTES // 4 and size > len(head.encode(encoding or "utf-8", errors="replace")) and lines:
        lines = lines[:-1]  # the last line of the sample may be cut
    document = NOT_JSON
    if size <= JSON_SNIFF_LIMIT and text.lstrip()[:1] in ("[", "{"):
        try:
            document = json.loads(path.read_text(encoding=encoding or "utf-8").lstrip("\ufeff"))
        except (ValueError, UnicodeDecodeError):
            document = NOT_JSON
    jsonl: list[Any] = []
    if document is NOT_JSON and text.lstrip()[:1] in ("[", "{") and encoding is not None:
        # Lines longer than the sample (a 5 MB message) are skipped, not parsed.
        first = head_lines(path, encoding, count=5)
        whole = [line for line, cut in first if not cut and not line_is_binary(line)]
        if whole and (len(first) > 1 or path.suffix.lower() in (".jsonl", ".ndjson")):
            try:
                jsonl = [json.loads(line) for line in whole]
            except ValueError:
                jsonl = []
    return Sample(path, encoding, text, lines, document, jsonl, size=size)


def bundle_sample(path: Path) -> Sample:
    """The sample of a folder or a zip: the names of the files inside."""
    if path.is_dir():
        members = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    else:
        with zipfile.ZipFile(path) as zf:
            members = [name for name in zf.namelist() if not name.endswith("/")]
    return Sample(path, members=members)


def is_bundle_path(path: Path) -> bool:
    return path.is_dir() or (path.suffix.lower() == ".zip" and zipfile.is_zipfile(path))


_READERS: list[ExportReader] = []


def register(reader: type[ExportReader]) -> type[ExportReader]:
    """Class decorator: add a reader to the list the detector asks. Its name must be new."""
    if any(r.name == reader.name for r in _READERS):
        raise ValueError(f"a reader named {reader.name!r} is registered already")
    _READERS.append(reader())
    return reader


def readers() -> list[ExportReader]:
    """Every registered reader (the format modules register themselves when ``builder.importers`` is imported)."""
    return list(_READERS)


def reader_named(name: str) -> ExportReader | None:
    return next((r for r in _READERS if r.name == name), None)


@dataclass(frozen=True)
class Candidate:
    reader: ExportReader
    score: float


def candidates(sample: Sample) -> list[Candidate]:
    """Readers that think the sample may be theirs, most certain first; on a tie a format-specific reader comes
    before a generic one, then registration order."""
    scored = []
    for reader in _READERS:
        try:
            score = float(reader.sniff(sample))
        except Exception:  # a reader's sniff must never stop detection: it is just not this format
            score = 0.0
        if score > 0:
            scored.append(Candidate(reader, min(score, 1.0)))
    return sorted(scored, key=lambda c: (-c.score, bool(getattr(c.reader, "generic", False))))


def describe(sample: Sample, reader: ExportReader, mapping: FieldMapping) -> DetectedFormat:
    """How ``reader`` sees the sample (its own ``describe`` where it has one)."""
    own = getattr(reader, "describe", None)
    if own is not None:
        det: DetectedFormat = own(sample, mapping)
    else:
        det = DetectedFormat(sample.path, reader.name, reader.container, encoding=sample.encoding or "utf-8")
    det.reader = reader.name
    return det


def detect(sample: Sample, mapping: FieldMapping) -> DetectedFormat | None:
    """The reader for a sample: the most certain one whose first records parse; None when no reader fits."""
    found = candidates(sample)
    fitting = [c for c in found if c.score >= FITS] or found[:1]
    passed_over: list[Candidate] = []
    for cand in fitting:
        det = describe(sample, cand.reader, mapping)
        if _parses(sample.path, det, mapping, cand.reader) or cand is fitting[-1]:
            # In a folder or zip, any other reader that sees its files there is named: part of it may be theirs.
            others = [c for c in (found if sample.is_bundle else fitting) if c is not cand and c not in passed_over]
            if passed_over:
                names = ", ".join(c.reader.name for c in passed_over)
                det.notes.append(Note("reader_fell_back", {"taken": cand.reader.name, "others": names}))
            if others:
                names = ", ".join(f"{c.reader.name} ({c.score:.2f})" for c in others)
                det.notes.append(
                    Note("also_fits", {"taken": cand.reader.name, "score": f"{cand.score:.2f}", "others": names})
                )
            return det
        passed_over.append(cand)
    return None


def _parses(path: Path, det: DetectedFormat, mapping: FieldMapping, reader: ExportReader) -> bool:
    """Whether the first records give a conversation (or something set aside for a reason other than shape)."""
    try:
        items = list(islice(reader.read(path, det, mapping), TRIAL_RECORDS))
    except Exception:
        return False
    if any(item.conversation is not None for item in items):
        return True
    # A reader that understood the records but set them all aside for a reason of their content
    # (no agent reply, agent unknown) did parse them; shape errors mean it is the wrong reader.
    shape_reasons = {"invalid_json", "unknown_shape", "bad_turn", "no_speaker", "truncated_json"}
    return bool(items) and all(item.reason not in shape_reasons for item in items)


def trial_read(path: Path, det: DetectedFormat, mapping: FieldMapping, count: int = TRIAL_RECORDS) -> list[ReadItem]:
    """The first records as a reader gives them (for previews and tests)."""
    reader = reader_named(det.reader or det.format)
    if reader is None:
        return []
    return list(islice(reader.read(path, det, mapping), count))
