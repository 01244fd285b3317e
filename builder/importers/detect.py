"""Which reader a file needs: look at its first bytes (and its encoding), ask every registered reader, read.

A folder or a zip is one input when a reader claims it whole (a Slack workspace, a Discord export with
its threads); otherwise a folder gives its data files one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.importers.columns import detect_csv
from builder.importers.encoding import check_encoding, mostly_binary, sniff_encoding
from builder.importers.formats import READERS_LOADED  # noqa: F401  (registers every reader)
from builder.importers.jsonfile import detect_json
from builder.importers.registry import (
    FITS,
    Sample,
    bundle_sample,
    candidates,
    describe,
    detect,
    is_bundle_path,
    reader_named,
    readers,
    sample_of,
)
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

# Formats a user can force that the generic readers read (the others are reader names).
_GENERIC = {"openai": "json", "sharegpt": "json", "dialogues": "json", "csv_messages": "csv", "csv_pairs": "csv"}


def detect_format(path: Path | str, mapping: FieldMapping | None = None) -> DetectedFormat:
    """Look at a file's (or folder's, or zip's) first bytes and say how it will be read."""
    path = Path(path)
    mapping = mapping or FieldMapping()
    if mapping.format not in FORMATS:
        raise DataError(f"format {mapping.format!r} is not known; use one of {', '.join(FORMATS)}")
    if is_bundle_path(path):
        return _detect_bundle(path, mapping)
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
    sample = sample_of(path, encoding, text)
    if mapping.format != "auto":
        return _forced(sample, encoding, mapping)
    det = detect(sample, mapping)
    if det is None:  # no reader claims it: read it as a delimited file, which says what it guessed
        det = detect_csv(path, encoding, sample.text, mapping)
        det.reader = "csv"
    return det


def _forced(sample: Sample, encoding: str, mapping: FieldMapping) -> DetectedFormat:
    """The format the user named: a reader's name, or a shape of the generic readers (``encoding``: the file's)."""
    fmt = mapping.format
    if fmt in ("csv_messages", "csv_pairs"):
        det = detect_csv(sample.path, encoding, sample.text, mapping)
    elif fmt in _GENERIC:
        det = detect_json(sample.path, encoding, mapping)
    elif fmt == "text":
        det = DetectedFormat(sample.path, "text", Container.TEXT, encoding=encoding)
        det.reader = "transcript"
        return det
    else:
        reader = reader_named(fmt)
        if reader is None:
            raise DataError(f"format {fmt!r} has no reader")
        return describe(sample, reader, mapping)
    det.reader = _GENERIC[fmt]
    return det


def _detect_bundle(path: Path, mapping: FieldMapping) -> DetectedFormat:
    sample = bundle_sample(path)
    if mapping.format != "auto" and (reader := reader_named(mapping.format)) is not None:
        return describe(sample, reader, mapping)
    det = detect(sample, mapping)
    if det is None:
        if path.is_dir():
            raise DataError(f"{path}: no reader knows this folder as an export")
        raise DataError(
            f"{path}: no reader knows this zip as an export; if it holds data files (JSONL, CSV, text...), "
            "unzip it and give the folder, or upload the files themselves"
        )
    return det


def read_file(path: Path, mapping: FieldMapping, det: DetectedFormat | None = None) -> Iterator[ReadItem]:
    """Every record of one input, as conversations or problems. Raises DataError only for unusable options."""
    det = det or detect_format(path, mapping)
    if det.format == "binary":
        with path.open("rb") as f:
            head = f.read(200)
        message = "binary file, not a transcript (or an encoding that is not UTF-8/16 or Latin-1)"
        yield ReadItem(str(path), None, reason="binary_file", message=message, raw=repr(head))
    if det.container == Container.NONE:
        return
    reader = reader_named(det.reader or "")
    if reader is None:
        raise DataError(f"{path}: no reader named {det.reader!r}")
    try:
        yield from reader.read(path, det, mapping)
    except UnicodeDecodeError as err:
        message = f"cannot decode as {det.encoding} at byte {err.start}; set encoding"
        yield ReadItem(str(path), None, reason="bad_encoding", message=message, raw="")


def claims_whole(path: Path) -> bool:
    """Whether a reader takes this folder or zip as one export (else a folder gives its files one by one)."""
    return any(c.score >= FITS for c in candidates(bundle_sample(path)))


def collect_files(paths: list[Path]) -> list[Path]:
    """Inputs to import: each file as given; a folder that a reader claims whole (a Slack or Discord export) as
    itself; any other folder gives its data files (``DATA_SUFFIXES``), sorted, and the exports inside it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_folder_inputs(path))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return _without_companions(files)


def _without_companions(files: list[Path]) -> list[Path]:
    """Leave out a file that another input reads along with itself (a reader's optional ``read_along_with``:
    a Freshdesk conversations file is read with its tickets file)."""
    hooks = [hook for reader in readers() if (hook := getattr(reader, "read_along_with", None)) is not None]
    if not hooks or len(files) < 2:
        return files
    inputs = {f.resolve() for f in files}
    return [f for f in files if not any((owner := hook(f)) is not None and owner.resolve() in inputs for hook in hooks)]


def _folder_inputs(folder: Path) -> list[Path]:
    if claims_whole(folder):
        return [folder]
    found: list[Path] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            found.extend(_folder_inputs(child))
        elif child.suffix.lower() in DATA_SUFFIXES and ".quarantine." not in child.name:
            found.append(child)
    return found
