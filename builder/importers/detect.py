"""Which reader a file needs: look at its first bytes (and its encoding), then hand it to that reader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from builder.importers.columns import detect_csv
from builder.importers.csvfile import read_csv
from builder.importers.encoding import check_encoding, mostly_binary, sniff_encoding
from builder.importers.jsonfile import detect_json, read_json, read_jsonl
from builder.importers.text import detect_transcript, read_text
from builder.importers.types import (
    DATA_SUFFIXES,
    FORMATS,
    SNIFF_BYTES,
    Container,
    DataError,
    DetectedFormat,
    Note,
    ReadItem,
)
from builder.recipe import FieldMapping

Reader = Callable[[Path, DetectedFormat, FieldMapping], Iterator[ReadItem]]
READERS: dict[Container, Reader] = {
    Container.JSON: read_json,
    Container.JSONL: read_jsonl,
    Container.CSV: read_csv,
    Container.TEXT: read_text,
}


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
        return DetectedFormat(path, "empty", Container.NONE, notes=[Note("empty")])
    encoding = mapping.encoding or sniff_encoding(path, head)
    if encoding is None:
        return DetectedFormat(path, "binary", Container.NONE, notes=[Note("binary_encoding")])
    try:
        check_encoding(encoding)
    except LookupError:
        raise DataError(f"{path}: encoding {encoding!r} is not known") from None
    # Undecodable bytes become U+FFFD here: the readers set aside the lines that hold them, one by one.
    text = head.decode(encoding, errors="replace")
    if mostly_binary(text):
        return DetectedFormat(path, "binary", Container.NONE, encoding=encoding, notes=[Note("binary")])
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if len(head) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut

    if mapping.format in ("csv_messages", "csv_pairs"):
        return detect_csv(path, encoding, text, mapping)
    if mapping.format == "text":
        return DetectedFormat(path, "text", Container.TEXT, encoding=encoding)
    if text.lstrip()[:1] in "[{" or mapping.format in ("openai", "sharegpt", "dialogues"):
        return detect_json(path, encoding, mapping)
    return detect_transcript(path, encoding, lines) or detect_csv(path, encoding, text, mapping)


def read_file(path: Path, mapping: FieldMapping, det: DetectedFormat | None = None) -> Iterator[ReadItem]:
    """Every record of one file, as conversations or problems. Raises DataError only for unusable options."""
    det = det or detect_format(path, mapping)
    if det.format == "binary":
        with path.open("rb") as f:
            head = f.read(200)
        message = "binary file, not a transcript (or an encoding that is not UTF-8/16 or Latin-1)"
        yield ReadItem(str(path), None, reason="binary_file", message=message, raw=repr(head))
    if det.container == Container.NONE:
        return
    try:
        yield from READERS[det.container](path, det, mapping)
    except UnicodeDecodeError as err:
        message = f"cannot decode as {det.encoding} at byte {err.start}; set encoding"
        yield ReadItem(str(path), None, reason="bad_encoding", message=message, raw="")


def collect_files(paths: list[Path]) -> list[Path]:
    """Files to import: each file as given; a folder gives its data files (``DATA_SUFFIXES``), sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
            files.extend(p for p in found if ".quarantine." not in p.name and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return files
