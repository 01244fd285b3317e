"""A quick look at files before importing them: the reader taken, the other readers that fit, the speakers.

``python -m builder.data detect`` prints it and the Data tab shows it after an upload, so that a user can
name the agent before importing. Only the first ``PEEK_RECORDS`` records of a file are read (the line says
so when there were more): a 1 GB export is looked at, not imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data.owners import set_shared_owners
from builder.data.report import FileStats, file_lines
from builder.importers import DataError, DetectedFormat, detect_format, read_file
from builder.importers.encoding import sniff_encoding
from builder.importers.registry import bundle_sample, candidates, is_bundle_path, sample_of
from builder.importers.types import SNIFF_BYTES

PEEK_RECORDS = 2000


@dataclass
class FilePeek:
    path: Path
    stats: FileStats | None  # None when the file cannot be read at all (``error`` says why)
    scores: list[tuple[str, float]]  # every reader that thinks the file may be its own, most certain first
    complete: bool = True  # every record was read (else the first PEEK_RECORDS)
    error: str = ""

    @property
    def detected(self) -> DetectedFormat | None:
        return self.stats.detected if self.stats is not None else None


def peek_files(paths: list[Path], mapping: FieldMapping, records: int = PEEK_RECORDS) -> list[FilePeek]:
    """Each file detected as the import would (owners across files included), its first records read."""
    found: list[FilePeek] = []
    for path in paths:
        try:
            found.append(FilePeek(path, FileStats(detect_format(path, mapping)), reader_scores(path, mapping)))
        except (DataError, OSError) as err:
            found.append(FilePeek(path, None, [], error=str(err) if str(path) in str(err) else f"{path}: {err}"))
    set_shared_owners([p.stats.detected for p in found if p.stats is not None], mapping)
    for seen in found:
        if seen.stats is None:
            continue
        try:
            for item in islice(read_file(seen.path, mapping, seen.stats.detected), records + 1):
                if seen.stats.records == records:
                    seen.complete = False
                    break
                seen.stats.read_item(item)
                if item.conversation is None:
                    seen.stats.set_aside[item.reason or "unknown"] += 1
        except (DataError, OSError) as err:
            seen.error = str(err)
    return found


def reader_scores(path: Path, mapping: FieldMapping) -> list[tuple[str, float]]:
    """How sure each reader is that ``path`` is its format (those above 0), most certain first."""
    if is_bundle_path(path):
        sample = bundle_sample(path)
    else:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
        encoding = mapping.encoding or sniff_encoding(path, head)
        if encoding is None or not head.strip():
            return []
        sample = sample_of(path, encoding, head.decode(encoding, errors="replace"))
    return [(c.reader.name, round(c.score, 2)) for c in candidates(sample)]


def peek_lines(seen: FilePeek) -> list[str]:
    """The look at one file for a terminal: format taken, other candidates, speakers and counts."""
    if seen.stats is None:
        return [seen.error]
    entry = seen.stats.to_dict()
    entry["counts"].pop("messages_kept")  # nothing is kept before an import
    first, *rest = file_lines(entry)
    lines = [first.rsplit("; ", 1)[0]]  # records and kept mean nothing before an import
    taken = entry.get("reader")
    shown = [f"{name} {score:.2f}" + (" (taken)" if name == taken else "") for name, score in seen.scores]
    if shown:
        lines.append("  readers that fit: " + ", ".join(shown))
    if entry.get("owner"):
        lines.append(f"  owner (the business side): {entry['owner']}")
    lines += rest
    if not seen.complete:
        lines.append(f"  (from the first {seen.stats.records} records only)")
    if seen.error:
        lines.append(f"  stopped: {seen.error}")
    return lines
