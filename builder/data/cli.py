"""``python -m builder.data``: import files into one cleaned JSONL, or say how each file would be read.

Exit codes: 0 when something was kept, 1 when nothing could be, 2 for wrong usage or an output
that cannot be written (one line naming the path, no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from builder.config.recipe import FieldMapping, cleaning_default
from builder.data.library import ImportOptions, ImportRun
from builder.data.peek import peek_files, peek_lines
from builder.data.report import summary_lines
from builder.importers import DATA_SUFFIXES, MAPPING_KEYS, DataError, collect_files, mapping_from_values
from builder.run.rundir import atomic_path, write_json_atomic


class OutputError(Exception):
    """An output file that cannot be written; the message names it."""

    def __init__(self, path: Path, err: OSError) -> None:
        super().__init__(f"cannot write {path}: {err.strerror or err}")


def quarantine_path(out: Path) -> Path:
    name = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.stem
    return out.with_name(f"{name}.quarantine.jsonl")


def report_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".report.json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m builder.data", description="Import and clean chat transcripts.")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import files into one cleaned OpenAI-chat JSONL")
    imp.add_argument("files", nargs="+", type=Path, help="files, folders (every data file in them) or zips")
    imp.add_argument("--out", type=Path, help="OUT.jsonl; set-aside records go to OUT.quarantine.jsonl")
    imp.add_argument("--report", type=Path, help="REPORT.json (default: beside OUT, OUT.report.json)")
    imp.add_argument("--dry-run", action="store_true", help="read and clean, print the report, write nothing")
    add_mapping_options(imp)
    flag = argparse.BooleanOptionalAction
    imp.add_argument("--redact-pii", action=flag, default=cleaning_default("redact_pii"), help="emails, phones...")
    imp.add_argument("--dedupe", action=flag, default=cleaning_default("dedupe"), help="exact and near duplicates")
    imp.add_argument(
        "--min-turns", type=int, default=cleaning_default("min_turns"), help="fewer customer+agent turns are set aside"
    )
    imp.add_argument(
        "--max-chars", type=int, default=cleaning_default("max_chars"), help="longer conversations are set aside"
    )
    imp.add_argument("--max-conversations", type=int, default=None, help="stop once this many are kept")
    imp.add_argument("--no-language", action="store_true", help="skip language detection")
    det = sub.add_parser(
        "detect", help="say how each file would be read: the reader taken, the others that fit, the speakers"
    )
    det.add_argument("files", nargs="+", type=Path)
    add_mapping_options(det)
    return parser


def add_mapping_options(parser: argparse.ArgumentParser) -> None:
    """One option per ``FieldMapping`` key (``--role-field``...), from ``MAPPING_KEYS``."""
    for key in MAPPING_KEYS:
        if key.kind == "choice":
            parser.add_argument(key.option, choices=key.choices, help=f"{key.help} (default: auto)")
        elif key.kind == "flag":
            parser.add_argument(key.option, action=argparse.BooleanOptionalAction, default=None, help=key.help)
        elif key.kind == "names":
            # --drop-speakers reads as well in the singular, one name at a time: --drop-speaker Bot
            singular = [key.option[:-1]] if key.option.endswith("s") else []
            parser.add_argument(
                key.option, *singular, dest=key.name, action="append", metavar="NAME", help=f"{key.help}; repeatable"
            )
        else:
            parser.add_argument(key.option, help=key.help)


def mapping_from_args(args: argparse.Namespace) -> FieldMapping:
    return mapping_from_values({key.name: getattr(args, key.name) for key in MAPPING_KEYS})


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        mapping = mapping_from_args(args)
    except ValueError as err:
        return _usage_error(str(err).replace("\n", " "))
    try:
        files = collect_files(args.files)
    except DataError as err:
        return _usage_error(str(err))
    if not files:
        return _usage_error("no data files (" + ", ".join(DATA_SUFFIXES) + ")")
    if args.command == "detect":
        for seen in peek_files(files, mapping):
            print("\n".join(peek_lines(seen)))
        return 0
    if args.out is None and not args.dry_run:
        return _usage_error("--out OUT.jsonl is required (or --dry-run)")
    if args.min_turns < 1 or args.max_chars < 1:
        return _usage_error("--min-turns and --max-chars must be 1 or more")
    options = ImportOptions(
        redact_pii=args.redact_pii,
        dedupe=args.dedupe,
        min_turns=args.min_turns,
        max_chars=args.max_chars,
        detect_language=not args.no_language,
        max_conversations=args.max_conversations,
    )
    run = ImportRun(mapping, options)
    try:
        report = run.run(files, lambda conv: None, lambda entry: None) if args.dry_run else _import_to(run, files, args)
    except OutputError as err:
        return _usage_error(str(err))
    for line in summary_lines(report):
        print(line)
    if not args.dry_run:
        print(f"wrote {args.out} and {quarantine_path(args.out)}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    return 0 if report["kept"] > 0 else 1


def _import_to(run: ImportRun, files: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    """Run the import into OUT, OUT.quarantine.jsonl and the report; nothing is left half written."""
    out: Path = args.out
    outputs = [out, quarantine_path(out), args.report or report_path(out)]
    try:
        with contextlib.ExitStack() as stack:
            kept, aside = (stack.enter_context(_jsonl_file(stack, path)) for path in outputs[:2])
            report = run.run(files, lambda conv: _write(kept, conv.to_openai()), lambda entry: _write(aside, entry))
        write_json_atomic(outputs[2], report)
    except OSError as err:
        raise OutputError(_failed_output(err, outputs), err) from None
    return report


def _jsonl_file(stack: contextlib.ExitStack, path: Path) -> TextIO:
    """A file to write (the stack closes it), renamed over ``path`` only when the whole import succeeds."""
    return open(stack.enter_context(atomic_path(path)), "w", encoding="utf-8")


def _write(handle: TextIO, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _failed_output(err: OSError, outputs: list[Path]) -> Path:
    """Which output an error is about: its temporary file is named after it; else OUT."""
    named = f"{err.filename or ''} {err.filename2 or ''}"
    return next((path for path in sorted(outputs, key=lambda p: -len(p.name)) if path.name in named), outputs[0])
