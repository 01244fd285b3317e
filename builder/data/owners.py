"""Who is the business, across files: the one speaker present in every chat of one chat-app format.

A small business exports one WhatsApp chat per customer; each file alone is a chat of two unknown people,
but the business writes in all of them and every customer in one. So when a run imports several files of
one format, no agent is named, and the format does not say its owner, the speaker common to every file
is taken as the owner (``DetectedFormat.owner``), which the readers pass to ``conversation_item(owners=)``.

Where the speakers come from, cheapest first:

1. the reader module's own ``<name>_owner(paths)`` function (e.g. ``whatsapp_owner``), or the reader's
   ``owner_across(paths)`` method: the owner, or None;
2. the reader's ``list_speakers(path, det)`` method: the names in one file;
3. a reading pass of the files themselves (their records' ``speakers``), only for single text or JSON files
   of a chat-app format and only up to ``READ_LIMIT_BYTES`` in all: larger runs name the agent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from builder.config.recipe import FieldMapping
from builder.importers import DetectedFormat, Note
from builder.importers.detect import read_file
from builder.importers.registry import ExportReader, reader_named

GENERIC_READERS = {"json", "csv", "transcript"}  # their records carry roles, not people
READ_LIMIT_BYTES = 64 * 1024 * 1024
RECORDS_LIMIT = 100_000  # records read per file when listing its speakers by reading


def set_shared_owners(detected: Iterable[DetectedFormat], mapping: FieldMapping) -> None:
    """Give every file of a chat-app format the owner shared by all files of that format, when one is."""
    if mapping.agent:
        return  # the user's word comes first
    groups: dict[str, list[DetectedFormat]] = {}
    for det in detected:
        if det.reader and det.reader not in GENERIC_READERS and det.owner is None:
            groups.setdefault(det.reader, []).append(det)
    for name, group in groups.items():
        reader = reader_named(name)
        if reader is None or len(group) < 2:
            continue
        owner = shared_owner(reader, group, mapping)
        if owner is None:
            continue
        for det in group:
            det.owner = owner
            # A reader's own guess of the agent in this file (field ``agent_guessed``, a note ``*agent_guessed``)
            # gives way: the report must not say two things.
            det.fields.pop("agent_guessed", None)
            det.notes[:] = [note for note in det.notes if not note.key.endswith("agent_guessed")]
            det.notes.append(Note("owner_across", {"owner": owner, "files": len(group), "format": name}))


def shared_owner(reader: ExportReader, group: list[DetectedFormat], mapping: FieldMapping) -> str | None:
    """The one speaker found in every file of ``group``, or None (none, or more than one)."""
    paths = [det.path for det in group]
    told = _owner_function(reader)
    if told is not None:
        return _one_name(told(paths))
    lister: Callable[[Path, DetectedFormat], Iterable[str]] | None = getattr(reader, "list_speakers", None)
    if lister is None:
        if sum(_size(p) for p in paths) > READ_LIMIT_BYTES or any(p.is_dir() or p.suffix == ".zip" for p in paths):
            return None
        lister = lambda path, det: _speakers_by_reading(path, det, mapping)  # noqa: E731
    common: set[str] | None = None
    for det in group:
        names = {" ".join(name.split()) for name in lister(det.path, det)}
        common = names if common is None else common & names
        if not common:
            return None
    return _one_name(common)


def _owner_function(reader: ExportReader) -> Callable[[list[Path]], Any] | None:
    module = sys.modules.get(type(reader).__module__)
    found = getattr(module, f"{reader.name}_owner", None) if module is not None else None
    return found if callable(found) else getattr(reader, "owner_across", None)


def _one_name(found: Any) -> str | None:
    if isinstance(found, str):
        return found or None
    names = list(found or [])
    return str(names[0]) if len(names) == 1 else None


def _speakers_by_reading(path: Path, det: DetectedFormat, mapping: FieldMapping) -> set[str]:
    names: set[str] = set()
    for item in islice(read_file(path, mapping, det), RECORDS_LIMIT):
        names.update(item.speakers or {})
    return names


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
