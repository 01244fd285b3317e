"""A folder or a zip holding an export (a Slack workspace, a Messenger inbox), its files opened one at a time.

A 1 GB zip is never read whole: ``open`` gives one member as a text stream, decompressed as it is read.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from types import TracebackType
from typing import TextIO


def _wanted(name: str) -> bool:
    """Files of the export: not folders, not macOS resource forks or hidden files."""
    parts = name.split("/")
    return not name.endswith("/") and parts[0] != "__MACOSX" and not any(p.startswith(".") for p in parts)


class Bundle:
    """The files of a folder or a zip, by their relative '/'-separated names (sorted)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            names = (p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        else:
            self._zip = zipfile.ZipFile(path)
            names = (info.filename for info in self._zip.infolist())
        self.members = sorted(n for n in names if _wanted(n))

    def open(self, member: str) -> TextIO:
        """One file as text (UTF-8; a byte order mark is dropped), read as it streams."""
        if self._zip is not None:
            return io.TextIOWrapper(self._zip.open(member), encoding="utf-8-sig")
        return (self.path / member).open("r", encoding="utf-8-sig")

    def source(self, member: str) -> str:
        """How reports name a member: the bundle's path and the member's name."""
        return f"{self.path}/{member}"

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
