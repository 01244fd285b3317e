"""Which files a recipe names, and whether they lie inside the folders the web app serves.

Every field whose value names a file or folder on this machine carries a ``LocalPath`` marker
in its pydantic annotation (``Annotated[list[str], LocalPath()]``), in the recipe and in each
use case's ``task:`` options model. ``recipe_paths`` walks those markers, so a new path key is
found (and confined) without being listed anywhere else. The walk over a whole recipe (its own
fields and its use case's options) is ``builder.usecases.paths``: it needs the use cases.

``Confinement`` is the one check the web app applies to every path a user can set: recipe
keys, ``--set`` overrides (they are applied before the recipe is validated, so they are just
recipe keys here), merge and export targets, uploads. The CLI does not use it: its user owns
the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from builder.core.messages import Message, MessageError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

# Folders with more entries than this are refused rather than scanned for links.
MAX_SCANNED_ENTRIES = 200_000

# Why a path may not be used, by key: the English here; the web app's Spanish in builder/ui/i18n_messages.py.
PATH_PROBLEMS: dict[str, str] = {
    "url": "{field}: {value!r} is a URL; the web app reads and writes only local folders it serves",
    "unusable": "{field}: {value!r} is not a usable path ({error})",
    "outside": "{field}: {value!r} is outside the folders this app serves ({roots})",
    "link_outside": "{field}: {value!r} holds {link}, a link to a place outside the folders this app serves ({roots})",
    "root_project": "the project folder",
    "root_named": "the {label} folder",
    "remote_code": "trust_remote_code: true runs the Python files of {model}, which is in the runs folder where web "
    "uploads land; the web app refuses that (the CLI allows it)",
}


@dataclass(frozen=True)
class PathProblem(Message):
    """Why a path a web user set may not be used (``PATH_PROBLEMS`` holds its English)."""

    templates: ClassVar[dict[str, str]] = PATH_PROBLEMS
    prefix: ClassVar[str] = "path_"


@dataclass(frozen=True)
class LocalPath:
    """Marks a field whose value (a string or a list of strings) names files or folders on this machine.

    ``relative_to``: what a relative value is read against: the recipe's folder, or the working
    folder of the process that opens it (the trainer runs in the project folder).
    ``model``: the value may instead be a model hub id or a bundled model, which are no paths.
    """

    relative_to: Literal["recipe", "cwd"] = "recipe"
    model: bool = False


@dataclass(frozen=True)
class PathRef:
    """One path a recipe holds: its dotted key (``data.train[0]``), the value as written, and its marker."""

    key: str
    value: str
    marker: LocalPath


def _marker(field: FieldInfo) -> LocalPath | None:
    return next((m for m in field.metadata if isinstance(m, LocalPath)), None)


def _refs(key: str, value: Any, marker: LocalPath) -> Iterator[PathRef]:
    if isinstance(value, str):
        yield PathRef(key, value, marker)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield PathRef(f"{key}[{i}]", item, marker)


def model_paths(instance: BaseModel, prefix: str = "") -> Iterator[PathRef]:
    """The marked fields of a pydantic model and of the models nested in it."""
    from pydantic import BaseModel

    for name, field in type(instance).model_fields.items():
        value = getattr(instance, name)
        marker = _marker(field)
        if marker is not None:
            yield from _refs(f"{prefix}{name}", value, marker)
        elif isinstance(value, BaseModel):
            yield from model_paths(value, f"{prefix}{name}.")


def raw_paths(model: type[BaseModel], raw: Mapping[str, Any], prefix: str = "") -> Iterator[PathRef]:
    """The marked fields of ``model`` read from a raw mapping (not validated: a path is confined even when
    another value makes the mapping invalid)."""
    for name, field in model.model_fields.items():
        marker = _marker(field)
        if marker is not None and raw.get(name) is not None:
            yield from _refs(f"{prefix}{name}", raw[name], marker)


class ConfinementError(MessageError):
    """A path outside the folders the web app serves; the message (a ``PathProblem``) names the key and the path."""


@dataclass
class Confinement:
    """The folders the web app may read and write: ``roots`` maps a label shown to users to a folder."""

    roots: Sequence[tuple[str, Path]]
    cwd: Path

    def __post_init__(self) -> None:
        self.roots = [(label, Path(root).resolve()) for label, root in self.roots]
        self.cwd = Path(self.cwd).resolve()

    def contains(self, path: Path) -> bool:
        return any(path == root or root in path.parents for _, root in self.roots)

    def shown(self, path: Path | str) -> str:
        """A path as users see it: relative to the served folder that holds it, never the server's absolute path."""
        path = Path(path)
        best: tuple[str, Path] | None = None
        for label, root in self.roots:
            if (path == root or root in path.parents) and (best is None or len(root.parts) > len(best[1].parts)):
                best = (label, root)
        if best is None:
            return str(path)
        rest = path.relative_to(best[1]).as_posix()
        if best[0] and rest != ".":
            return f"{best[0]}/{rest}"
        return best[0] or rest or "."

    def shown_text(self, text: str) -> str:
        """A message with every absolute path under a served folder written as ``shown`` writes it."""
        for label, root in sorted(self.roots, key=lambda item: len(item[1].parts), reverse=True):
            text = text.replace(f"{root}/", f"{label}/" if label else "").replace(str(root), label or ".")
        return text

    def describe_roots(self) -> list[PathProblem]:
        """The served folders as a problem names them (messages, so that they are said in the reader's language)."""
        return [
            PathProblem("root_named", {"label": label}) if label else PathProblem("root_project")
            for label, _ in self.roots
        ]

    def resolve(self, value: str, base: Path) -> Path:
        """``value`` as the loader opens it (``~`` expanded, relative to ``base``), links followed."""
        path = Path(value).expanduser()
        return (path if path.is_absolute() else base / path).resolve()

    def problem(self, key: str, value: str, base: Path) -> PathProblem | None:
        """Why ``value`` (set as ``key``, relative to ``base``) may not be used, or None when it may."""
        where = {"field": key, "value": self.shown_text(value)}  # a value inside a served folder, as users see it
        if "://" in value:
            return PathProblem("url", where)
        try:
            path = self.resolve(value, base)
        except (OSError, RuntimeError, ValueError) as err:
            return PathProblem("unusable", {**where, "error": str(getattr(err, "strerror", None) or err)})
        roots = self.describe_roots()
        if not self.contains(path):
            return PathProblem("outside", {**where, "roots": roots})
        try:
            link = self._link_outside(path)
        except OSError as err:  # a name too long, a folder it may not list...
            return PathProblem("unusable", {**where, "error": err.strerror})
        if link is not None:
            return PathProblem("link_outside", {**where, "link": self.shown(link), "roots": roots})
        return None

    def _link_outside(self, folder: Path) -> Path | None:
        """The first link under ``folder`` that leads outside the roots (the importers read through links)."""
        if not folder.is_dir():
            return None
        seen = 0
        for top, dirs, files in os.walk(folder):
            for name in dirs + files:
                seen += 1
                entry = Path(top) / name
                if entry.is_symlink():
                    try:
                        target = entry.resolve()
                    except (OSError, RuntimeError):
                        return entry
                    if not self.contains(target):
                        return entry
            if seen > MAX_SCANNED_ENTRIES:
                return folder
        return None

    def target(self, key: str, value: str, base: Path) -> Path:
        """A folder or file the app will write: resolved, or ConfinementError naming ``key``."""
        problem = self.problem(key, value, base)
        if problem:
            raise ConfinementError(problem)
        return self.resolve(value, base)
