"""Import as a library: files in, cleaned conversations and set-aside records out, with a report.

The import streams: files are read record by record and kept conversations can go straight to a
writer (``ImportRun.run(on_kept=...)``), so memory does not grow with the size of the files, only
by a few integers per unique conversation for duplicate detection and statistics.
``report["seen"] == kept + quarantined + duplicates`` always holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from builder.config.recipe import FieldMapping, Recipe
from builder.core.conversation import Conversation
from builder.data.cleaning import Cleaner, CleaningOptions, Deduplicator, LanguageDetector, language_sample
from builder.data.owners import set_shared_owners
from builder.data.report import FileStats, ImportStats
from builder.importers import (
    DataError,
    DetectedFormat,
    Note,
    ReadItem,
    collect_files,
    detect_format,
    read_file,
    snippet,
)

OnKept = Callable[[Conversation], None]
OnSetAside = Callable[[dict[str, Any]], None]


@dataclass
class PreparedData:
    conversations: list[Conversation]  # kept, cleaned
    quarantine: list[dict[str, Any]]  # {"file", "line", "reason", "message", "record"}; duplicates too
    report: dict[str, Any]  # exactly the REPORT.json content, incl. "warnings" from the advisor


@dataclass
class ImportOptions(CleaningOptions):
    """How to clean, and when to stop."""

    max_conversations: int | None = None  # stop reading once this many are kept (quick runs)


class ImportRun:
    """One import: files in, callbacks for each kept or set-aside record, a report at the end."""

    def __init__(self, mapping: FieldMapping, options: ImportOptions | None = None) -> None:
        self.mapping = mapping
        self.options = options or ImportOptions()
        opts = self.options
        self.cleaner = Cleaner(opts)
        self.dedup = Deduplicator() if opts.dedupe else None
        self.languages = LanguageDetector(seed=0)
        self.stats = ImportStats(mapping)
        self.warnings: list[str | Note] = []  # a DataError's own words, or a keyed note
        self.stopped_early = False
        self._where: list[str] = []  # "file:line" of each kept conversation, for duplicate_of

    def run(self, paths: Iterable[Path], on_kept: OnKept, on_set_aside: OnSetAside) -> dict[str, Any]:
        # Every file is detected first, so that files of one chat app can tell together who the business is.
        detected = [(Path(path), self._detect(Path(path))) for path in paths]
        set_shared_owners([det for _, det in detected if isinstance(det, DetectedFormat)], self.mapping)
        for path, det in detected:
            if self.stopped_early:
                break
            self._import_file(path, det, on_kept, on_set_aside)
        return self.report()

    def report(self) -> dict[str, Any]:
        return self.stats.report(
            options=asdict(self.options),
            cleaner=self.cleaner,
            languages=self.languages,
            stopped_early=self.stopped_early,
            warnings=self.warnings,
        )

    def _detect(self, path: Path) -> DetectedFormat | ReadItem:
        """How the file will be read, or why it cannot be (set aside when its turn comes)."""
        try:
            return detect_format(path, self.mapping)
        except DataError as err:
            self.warnings.append(str(err) if str(path) in str(err) else f"{path}: {err}")
            return ReadItem(str(path), None, reason="bad_mapping", message=str(err))
        except OSError as err:
            return ReadItem(str(path), None, reason="unreadable_file", message=str(err))

    def _import_file(
        self, path: Path, det: DetectedFormat | ReadItem, on_kept: OnKept, on_set_aside: OnSetAside
    ) -> None:
        if isinstance(det, ReadItem):
            self._set_aside(det, on_set_aside)
            return
        file = FileStats(det)
        self.stats.files.append(file)
        try:
            self._read(path, file, on_kept, on_set_aside)
        except (OSError, DataError) as err:
            problem = ReadItem(str(path), None, reason="unreadable_file", message=str(err))
            self._set_aside(problem, on_set_aside, file=file)
        self.warnings += file.notes()

    def _read(self, path: Path, file: FileStats, on_kept: OnKept, on_set_aside: OnSetAside) -> None:
        limit = self.options.max_conversations
        for item in read_file(path, self.mapping, file.detected):
            file.read_item(item)
            self._handle(item, file, on_kept, on_set_aside)
            if limit is not None and self.stats.kept >= limit:
                self.stopped_early = True
                self.warnings.append(Note("stopped_early", {"limit": limit, "path": str(path), "line": item.line}))
                return

    def _handle(self, item: ReadItem, file: FileStats, on_kept: OnKept, on_set_aside: OnSetAside) -> None:
        conv = item.conversation
        if conv is None:
            self._set_aside(item, on_set_aside, file=file)
            return
        try:
            rejection = self.cleaner.clean(conv)
        except Exception as err:  # a safety net: one odd record must not stop an import
            message = f"{type(err).__name__}: {err}"
            problem = ReadItem(item.source, item.line, reason="unreadable_record", message=message)
            self._set_aside(problem, on_set_aside, conv, file)
            return
        if rejection is not None:
            set_aside = ReadItem(item.source, item.line, reason=rejection.reason, message=rejection.message)
            self._set_aside(set_aside, on_set_aside, conv, file)
            return
        if self.dedup is not None:
            kind, other = self.dedup.check(conv)
            if kind is not None:
                self.stats.duplicate(kind, file)
                on_set_aside(
                    {
                        "file": item.source,
                        "line": item.line,
                        "reason": "duplicate",
                        "message": f"{kind} duplicate of {self._where[other]}",
                        "duplicate_of": self._where[other],
                        "record": _raw(conv),
                    }
                )
                return
        self.cleaner.accept()
        self._where.append(f"{item.source}:{item.line}")
        if self.options.detect_language:
            conv.language = self.languages.detect(language_sample(conv))
        self.stats.keep(conv, file, (item.counts or {}).get("messages"))
        on_kept(conv)

    def _set_aside(
        self,
        item: ReadItem,
        on_set_aside: OnSetAside,
        conv: Conversation | None = None,
        file: FileStats | None = None,
    ) -> None:
        self.stats.set_aside(item.reason, file)
        entry = {
            "file": item.source,
            "line": item.line,
            "reason": item.reason,
            "message": item.message,
            "record": _raw(conv) if conv is not None else (item.raw or ""),
        }
        on_set_aside(entry)


def _raw(conv: Conversation) -> str:
    return snippet(json.dumps(conv.to_openai()["messages"], ensure_ascii=False))


def import_files(paths: list[Path], mapping: FieldMapping | None = None, **options: Any) -> PreparedData:
    """Import files (folders give their data files) into memory. For big files use ``ImportRun``.

    ``options`` are ``ImportOptions`` fields (``dedupe=False``...); unset, they take a recipe's defaults.
    """
    kept: list[Conversation] = []
    set_aside: list[dict[str, Any]] = []
    run = ImportRun(mapping or FieldMapping(), ImportOptions(**options))
    report = run.run(collect_files(paths), kept.append, set_aside.append)
    return PreparedData(kept, set_aside, report)


def mapping_from_recipe(recipe: Recipe) -> FieldMapping:
    return FieldMapping(**{name: getattr(recipe.data, name) for name in FieldMapping.model_fields})


def prepare_conversations(recipe: Recipe, paths: list[Path] | None = None) -> PreparedData:
    """The cleaned conversations of ``recipe.data.train`` (or ``paths``), as training reads them."""
    if paths is None:
        if not recipe.data.train:
            from builder.usecases import get_usecase

            if not get_usecase(recipe.use_case).needs_conversations(recipe):
                return import_files([], mapping_from_recipe(recipe))
            raise DataError("data.train: no files given in the recipe")
        paths = [recipe.resolve_path(p) for p in recipe.data.train]
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise DataError(f"data.train: not found: {', '.join(missing)}")
    files = collect_files([Path(p) for p in paths])
    if not files:
        raise DataError(f"data.train: no supported data file in {', '.join(map(str, paths))}")
    data = recipe.data
    return import_files(
        files,
        mapping_from_recipe(recipe),
        redact_pii=data.redact_pii,
        dedupe=data.dedupe,
        min_turns=data.min_turns,
        max_chars=data.max_chars,
        max_conversations=data.max_conversations,
    )
