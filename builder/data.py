"""Import transcripts: read every file, clean, quarantine what cannot be used, report what happened.

Library::

    prepared = prepare_conversations(recipe)            # what training uses
    prepared = import_files([Path("chats.csv")], FieldMapping())
    det = detect_format(Path("chats.csv")); det.description

Command line::

    python -m builder.data import FILE... --out OUT.jsonl [--report REPORT.json] [options]
    python -m builder.data detect FILE...

The import streams: files are read record by record and kept conversations can go straight to a
writer (``ImportRun.run(on_kept=...)``), so memory does not grow with the size of the files, only
by a few integers per unique conversation for duplicate detection and statistics.
``report["seen"] == kept + quarantined + duplicates`` always holds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from builder.advisor import advise
from builder.cleaning import Cleaner, CleaningOptions, Deduplicator, LanguageDetector, language_sample, skeleton
from builder.conversation import Conversation
from builder.importers import (
    FORMATS,
    DataError,
    DetectedFormat,
    ReadItem,
    collect_files,
    detect_format,
    read_file,
    snippet,
)
from builder.recipe import FieldMapping, Recipe, parse_role_map

__all__ = [
    "DataError",
    "DetectedFormat",
    "ImportOptions",
    "ImportRun",
    "PreparedData",
    "detect_format",
    "import_files",
    "mapping_from_recipe",
    "prepare_conversations",
]

TEMPLATE_TOP_N = 10


@dataclass
class PreparedData:
    conversations: list[Conversation]  # kept, cleaned
    quarantine: list[dict[str, Any]]  # {"file", "line", "reason", "message", "record"}; duplicates too
    report: dict[str, Any]  # exactly the REPORT.json content, incl. "warnings" from the advisor


@dataclass
class ImportOptions:
    redact_pii: bool = True
    dedupe: bool = True
    min_turns: int = 2
    max_chars: int = 20000
    max_conversations: int | None = None  # stop reading once this many are kept (quick runs)
    detect_language: bool = True


@dataclass
class _FileStats:
    detected: DetectedFormat
    records: int = 0
    kept: int = 0
    shapes: Counter[str] = field(default_factory=Counter)


class ImportRun:
    """One import: files in, callbacks for each kept or set-aside record, a report at the end."""

    def __init__(self, mapping: FieldMapping, options: ImportOptions | None = None) -> None:
        self.mapping = mapping
        self.options = options or ImportOptions()
        opts = self.options
        self.cleaner = Cleaner(CleaningOptions(opts.redact_pii, opts.dedupe, opts.min_turns, opts.max_chars))
        self.dedup = Deduplicator() if opts.dedupe else None
        self.languages = LanguageDetector(seed=0)
        self.seen = self.kept = self.quarantined = 0
        self.reasons: Counter[str] = Counter()
        self.duplicate_kinds: Counter[str] = Counter()
        self.language_counts: Counter[str] = Counter()
        self.role_counts: Counter[str] = Counter()
        self.reply_templates: Counter[int] = Counter()
        self.reply_words = array("I")
        self.turns = array("I")
        self.tokens = array("I")
        self.files: list[_FileStats] = []
        self.warnings: list[str] = []
        self.stopped_early = False
        self._where: list[str] = []  # "file:line" of each kept conversation, for duplicate_of

    def run(
        self,
        paths: Iterable[Path],
        on_kept: Callable[[Conversation], None],
        on_set_aside: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        for path in paths:
            if self.stopped_early:
                break
            self._import_file(Path(path), on_kept, on_set_aside)
        return self.report()

    def _import_file(
        self, path: Path, on_kept: Callable[[Conversation], None], on_set_aside: Callable[[dict[str, Any]], None]
    ) -> None:
        try:
            det = detect_format(path, self.mapping)
        except DataError as err:
            self._set_aside(ReadItem(str(path), None, reason="bad_mapping", message=str(err)), on_set_aside)
            self.warnings.append(str(err) if str(path) in str(err) else f"{path}: {err}")
            return
        except OSError as err:
            self._set_aside(ReadItem(str(path), None, reason="unreadable_file", message=str(err)), on_set_aside)
            return
        stats = _FileStats(det)
        self.files.append(stats)
        if det.format == "empty":
            self.warnings.append(f"{path}: the file is empty")
        try:
            for item in read_file(path, self.mapping, det):
                stats.records += 1
                if item.shape:
                    stats.shapes[item.shape] += 1
                if self._handle(item, on_kept, on_set_aside):
                    stats.kept += 1
                if self.options.max_conversations is not None and self.kept >= self.options.max_conversations:
                    self.stopped_early = True
                    self.warnings.append(
                        f"stopped at max_conversations={self.options.max_conversations} in {path} line {item.line}; "
                        "the rest was not read"
                    )
                    return
        except (OSError, DataError) as err:
            self._set_aside(ReadItem(str(path), None, reason="unreadable_file", message=str(err)), on_set_aside)
        if len(stats.shapes) > 1:
            shapes = ", ".join(f"{n} {s}" for s, n in stats.shapes.most_common())
            self.warnings.append(f"{path}: records of several shapes in one file ({shapes})")
        for note in det.notes:
            if note.startswith("guessed"):
                self.warnings.append(f"{path}: {note}")

    def _handle(
        self, item: ReadItem, on_kept: Callable[[Conversation], None], on_set_aside: Callable[[dict[str, Any]], None]
    ) -> bool:
        conv = item.conversation
        if conv is None:
            self._set_aside(item, on_set_aside)
            return False
        self.seen += 1
        try:
            rejection = self.cleaner.clean(conv)
        except Exception as err:  # a safety net: one odd record must not stop an import
            rejection = None
            item = ReadItem(item.source, item.line, reason="unreadable_record", message=f"{type(err).__name__}: {err}")
            self.seen -= 1
            self._set_aside(item, on_set_aside, raw=_raw(conv))
            return False
        if rejection is not None:
            self.seen -= 1
            set_aside = ReadItem(item.source, item.line, reason=rejection.reason, message=rejection.message)
            self._set_aside(set_aside, on_set_aside, raw=_raw(conv))
            return False
        if self.dedup is not None:
            kind, other = self.dedup.check(conv)
            if kind is not None:
                self.duplicate_kinds[kind] += 1
                entry = {
                    "file": item.source,
                    "line": item.line,
                    "reason": "duplicate",
                    "message": f"{kind} duplicate of {self._where[other]}",
                    "duplicate_of": self._where[other],
                    "record": _raw(conv),
                }
                on_set_aside(entry)
                return False
        self.cleaner.accept()
        self._where.append(f"{item.source}:{item.line}")
        if self.options.detect_language:
            conv.language = self.languages.detect(language_sample(conv))
            self.language_counts[conv.language] += 1
        self._count(conv)
        self.kept += 1
        on_kept(conv)
        return True

    def _set_aside(
        self, item: ReadItem, on_set_aside: Callable[[dict[str, Any]], None], raw: str | None = None
    ) -> None:
        self.seen += 1
        self.quarantined += 1
        self.reasons[item.reason or "unknown"] += 1
        entry = {
            "file": item.source,
            "line": item.line,
            "reason": item.reason,
            "message": item.message,
            "record": raw if raw is not None else (item.raw or ""),
        }
        on_set_aside(entry)

    def _count(self, conv: Conversation) -> None:
        self.turns.append(sum(1 for m in conv.messages if m.role != "system"))
        # About 4 characters a token for English and Spanish with common tokenizers; cheap and tokenizer-free.
        self.tokens.append(sum(len(m.content) for m in conv.messages) // 4 + 1)
        for m in conv.messages:
            self.role_counts[m.role] += 1
            if m.role == "assistant":
                # Python's hash of a str is salted per process: CRC32 keeps the counts repeatable.
                self.reply_templates[zlib.crc32(skeleton(m.content[:300]).encode())] += 1
                if len(self.reply_words) < 10000:  # a bounded sample is enough for a median
                    self.reply_words.append(len(m.content.split()))

    def report(self) -> dict[str, Any]:
        replies = sum(self.reply_templates.values())
        # Only templates used more than once count: ten distinct replies are not ten templates.
        top = sum(n for _, n in self.reply_templates.most_common(TEMPLATE_TOP_N) if n > 1)
        report: dict[str, Any] = {
            "seen": self.seen,
            "kept": self.kept,
            "quarantined": self.quarantined,
            "duplicates": sum(self.duplicate_kinds.values()),
            "quarantine_reasons": dict(self.reasons.most_common()),
            "duplicate_kinds": dict(self.duplicate_kinds),
            "languages": dict(self.language_counts.most_common()),
            "turns": _summary(self.turns),
            "approx_tokens": _summary(self.tokens),
            "messages_by_role": dict(self.role_counts),
            "redactions": dict(self.cleaner.redactions),
            "turns_merged": self.cleaner.turn_stats.merged,
            "empty_turns_dropped": self.cleaner.turn_stats.empty_dropped,
            "templates": {
                "agent_replies": replies,
                "distinct": len(self.reply_templates),
                "top_n": TEMPLATE_TOP_N,
                "top_share": round(top / replies, 4) if replies else None,
                "median_words": sorted(self.reply_words)[len(self.reply_words) // 2] if self.reply_words else None,
            },
            "files": [
                {**s.detected.to_dict(), "records": s.records, "kept": s.kept, "shapes": dict(s.shapes)}
                for s in self.files
            ],
            "options": asdict(self.options),
            "mapping": self.mapping.model_dump(mode="json"),
            "language_detection": {
                "by_stopwords": self.languages.calls_stopwords,
                "by_langdetect": self.languages.calls_langdetect,
            },
            "stopped_early": self.stopped_early,
        }
        assert report["seen"] == report["kept"] + report["quarantined"] + report["duplicates"]
        report["warnings"] = list(dict.fromkeys([*self.warnings, *advise(report)]))
        return report


def _summary(values: array) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "min": ordered[0],
        "mean": round(statistics.fmean(ordered), 2),
        "median": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
        "total": sum(ordered),
    }


def _raw(conv: Conversation) -> str:
    return snippet(json.dumps(conv.to_openai()["messages"], ensure_ascii=False))


# --------------------------------------------------------------------------- library entry points


def import_files(
    paths: list[Path],
    mapping: FieldMapping | None = None,
    *,
    redact_pii: bool = True,
    dedupe: bool = True,
    min_turns: int = 2,
    max_chars: int = 20000,
    max_conversations: int | None = None,
    detect_language: bool = True,
) -> PreparedData:
    """Import files (folders give their supported files) into memory. For big files use ``ImportRun``."""
    options = ImportOptions(redact_pii, dedupe, min_turns, max_chars, max_conversations, detect_language)
    kept: list[Conversation] = []
    set_aside: list[dict[str, Any]] = []
    report = ImportRun(mapping or FieldMapping(), options).run(collect_files(paths), kept.append, set_aside.append)
    return PreparedData(kept, set_aside, report)


def mapping_from_recipe(recipe: Recipe) -> FieldMapping:
    return FieldMapping(**{name: getattr(recipe.data, name) for name in FieldMapping.model_fields})


def prepare_conversations(recipe: Recipe, paths: list[Path] | None = None) -> PreparedData:
    """The cleaned conversations of ``recipe.data.train`` (or ``paths``), as training reads them."""
    if paths is None:
        if not recipe.data.train:
            if recipe.task.get("questions") == "knowledge_base":  # retrieval: questions are made from the KB
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


# --------------------------------------------------------------------------- command line


class _JsonlWriter:
    """Writes to a temporary file beside the target and renames it at the end: a crash leaves no half file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        self.tmp = Path(tmp)
        self.file = os.fdopen(fd, "w", encoding="utf-8")
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self, keep: bool = True) -> None:
        self.file.close()
        if keep:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def quarantine_path(out: Path) -> Path:
    name = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.stem
    return out.with_name(f"{name}.quarantine.jsonl")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m builder.data", description="Import and clean chat transcripts.")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import files into one cleaned OpenAI-chat JSONL")
    imp.add_argument("files", nargs="+", type=Path, help="files or folders (every supported file in them)")
    imp.add_argument("--out", type=Path, help="OUT.jsonl; set-aside records go to OUT.quarantine.jsonl")
    imp.add_argument("--report", type=Path, help="REPORT.json (default: beside OUT, OUT.report.json)")
    imp.add_argument("--dry-run", action="store_true", help="read and clean, print the report, write nothing")
    _add_mapping_options(imp)
    imp.add_argument("--redact-pii", action=argparse.BooleanOptionalAction, default=True, help="emails, phones...")
    imp.add_argument("--dedupe", action=argparse.BooleanOptionalAction, default=True, help="exact and near duplicates")
    imp.add_argument("--min-turns", type=int, default=2, help="fewer customer+agent turns are set aside")
    imp.add_argument("--max-chars", type=int, default=20000, help="longer conversations are set aside")
    imp.add_argument("--max-conversations", type=int, default=None, help="stop once this many are kept")
    imp.add_argument("--no-language", action="store_true", help="skip language detection")
    det = sub.add_parser("detect", help="say how each file would be read")
    det.add_argument("files", nargs="+", type=Path)
    _add_mapping_options(det)
    return parser


def _add_mapping_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", default="auto", choices=FORMATS)
    p.add_argument("--messages-field", help="key (dotted path) of the list of turns in each record")
    p.add_argument("--role-field", help="key or column of the speaker's role")
    p.add_argument("--content-field", help="key or column of the message text")
    p.add_argument("--id-field", help="key or column of the conversation id")
    p.add_argument("--role-map", help="source roles to user/assistant/system/drop, e.g. USER=user,SYSTEM=assistant")
    p.add_argument("--prompt-field", help="pair files: column (name or 0-based index) of the customer message")
    p.add_argument("--response-field", help="pair files: column (name or 0-based index) of the agent reply")
    p.add_argument("--system-field", help="pair files: column of a per-row system prompt")
    p.add_argument("--header", action=argparse.BooleanOptionalAction, default=None, help="CSV first row is a header")
    p.add_argument("--delimiter", help="CSV delimiter: a character, or tab, comma, semicolon, pipe")
    p.add_argument("--encoding", help="file encoding (default: detect)")


def _mapping_from_args(args: argparse.Namespace) -> FieldMapping:
    def column(value: str | None) -> str | int | None:
        return int(value) if value is not None and value.isdigit() else value

    parse_role_map(args.role_map)  # raises ValueError with a clear message
    return FieldMapping(
        format=args.format,
        messages_field=args.messages_field,
        role_field=args.role_field,
        content_field=args.content_field,
        id_field=args.id_field,
        role_map=args.role_map or {},
        prompt_field=column(args.prompt_field),
        response_field=column(args.response_field),
        system_field=column(args.system_field),
        header=args.header,
        delimiter=args.delimiter,
        encoding=args.encoding,
    )


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        mapping = _mapping_from_args(args)
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        return _usage_error(str(err).replace("\n", " "))
    try:
        files = collect_files(args.files)
    except DataError as err:
        return _usage_error(str(err))
    if not files:
        return _usage_error("no supported files (" + ", ".join(SUPPORTED_NOTE) + ")")
    if args.command == "detect":
        for path in files:
            try:
                print(f"{path}: {detect_format(path, mapping).description}")
            except DataError as err:
                print(f"{path}: {err}")
        return 0
    if args.out is None and not args.dry_run:
        return _usage_error("--out OUT.jsonl is required (or --dry-run)")
    if args.min_turns < 1 or args.max_chars < 1:
        return _usage_error("--min-turns and --max-chars must be 1 or more")
    options = ImportOptions(
        args.redact_pii, args.dedupe, args.min_turns, args.max_chars, args.max_conversations, not args.no_language
    )
    return _run_import(files, mapping, options, args)


SUPPORTED_NOTE = [".jsonl", ".json", ".csv", ".tsv", ".txt"]


def _run_import(files: list[Path], mapping: FieldMapping, options: ImportOptions, args: argparse.Namespace) -> int:
    run = ImportRun(mapping, options)
    if args.dry_run:
        report = run.run(files, lambda conv: None, lambda entry: None)
    else:
        out: Path = args.out
        kept_writer, aside_writer = _JsonlWriter(out), _JsonlWriter(quarantine_path(out))
        try:
            report = run.run(files, lambda conv: kept_writer.write(conv.to_openai()), aside_writer.write)
        except BaseException:
            kept_writer.close(keep=False)
            aside_writer.close(keep=False)
            raise
        kept_writer.close()
        aside_writer.close()
        report_path = args.report or out.with_name(out.name.removesuffix(".jsonl") + ".report.json")
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _print_summary(report, args)
    return 0 if report["kept"] > 0 else 1


def _print_summary(report: dict[str, Any], args: argparse.Namespace) -> None:
    for f in report["files"]:
        print(f"{f['path']}: {f['description']} ({f['records']} records, {f['kept']} kept)")
    reasons = ", ".join(f"{k} {v}" for k, v in report["quarantine_reasons"].items())
    print(
        f"seen {report['seen']}, kept {report['kept']}, quarantined {report['quarantined']}"
        + (f" ({reasons})" if reasons else "")
        + f", duplicates {report['duplicates']}"
    )
    if report["languages"]:
        print("languages: " + ", ".join(f"{k} {v}" for k, v in report["languages"].items()))
    if report["redactions"]:
        print("redacted: " + ", ".join(f"{k} {v}" for k, v in report["redactions"].items()))
    if not args.dry_run:
        print(f"wrote {args.out} and {quarantine_path(args.out)}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")


if __name__ == "__main__":
    sys.exit(main())
