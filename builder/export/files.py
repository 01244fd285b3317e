"""Taking a run out of the tool: the adapter as a zip, the cleaned data as JSONL, and the command line.

- ``zip_adapter``: the PEFT adapter with its tokenizer, recipe and run.json, for use with
  ``PeftModel.from_pretrained`` on the same base model.
- ``export_run_data`` / ``export_conversations``: OpenAI chat JSONL (``{"messages": [...]}``
  a line), the format most fine-tuning services and tools read.
- the merged model folder is ``builder.export.merge``, the GGUF file ``builder.export.gguf``, the error they
  share ``builder.export.base``.

``python -m builder.export merge RUN_DIR [--out DIR]`` merges from the command line, and
``python -m builder.export gguf RUN_DIR [--quant q8_0] [--out DIR]`` writes the GGUF file; the web app
queues these commands as jobs, so an export waits for its turn like a training, and its Stop button
ends it without leaving a half-written model behind.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.export.base import ExportError
from builder.export.merge import merge_adapter, require_adapter
from builder.run.rundir import ADAPTER, ADAPTER_CONFIG, SPLITS, RunDir, atomic_path, write_jsonl

if TYPE_CHECKING:
    from builder.core.conversation import Conversation


ZIP_SIGNATURE = b"builder.export.zip_adapter"  # written into each zip: a value, not an import path


def zip_adapter(run_dir: Path | str, dest: Path | str | None = None) -> Path:
    """``<run>-adapter.zip``: the adapter, its tokenizer, the recipe and run.json, paths relative to the run."""
    run = RunDir(run_dir)
    require_adapter(run)
    dest = Path(dest) if dest else run.exports / f"{run.name}-adapter.zip"
    _check_replaceable_file(dest, _is_our_zip, "adapter zip")
    with atomic_path(dest) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.comment = ZIP_SIGNATURE
        for path in run.archive_members():
            archive.write(path, arcname=str(Path(run.name) / path.relative_to(run.path)))
    return dest


def _check_replaceable_file(dest: Path, ours: Callable[[Path], bool], what: str) -> None:
    """A file export replaces only a missing file or an earlier export of the same kind."""
    if dest.is_symlink() or dest.is_dir() or (dest.exists() and not ours(dest)):
        raise ExportError(f"{dest} exists and is not an earlier {what}; it is left as it is. Pick another name")


def _is_our_zip(path: Path) -> bool:
    """An adapter zip: signed, or (made before the signature) one run folder holding adapter/adapter_config.json."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            signed = archive.comment == ZIP_SIGNATURE
    except (OSError, zipfile.BadZipFile):
        return False
    tops = {name.split("/", 1)[0] for name in names}
    return signed or (len(tops) == 1 and f"{next(iter(tops))}/{ADAPTER}/{ADAPTER_CONFIG}" in names)


def _is_chat_jsonl(path: Path) -> bool:
    """An OpenAI chat JSONL, what the data exports write: its first line is an object with messages."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline(1_000_000)
        if not first:
            return True  # an empty export; nothing to lose
        row = json.loads(first)
    except (OSError, ValueError):
        return False
    return isinstance(row, dict) and "messages" in row


def _write_jsonl(records: Iterable[dict[str, Any]], dest: Path) -> tuple[Path, int]:
    _check_replaceable_file(dest, _is_chat_jsonl, "chat JSONL export")
    return dest, write_jsonl(dest, records)


def export_conversations(conversations: Iterable[Conversation], dest: Path | str) -> tuple[Path, int]:
    """Cleaned conversations (after import, redaction and dedupe) as OpenAI chat JSONL."""
    return _write_jsonl((c.to_openai() for c in conversations), Path(dest))


def export_run_data(run_dir: Path | str, dest: Path | str | None = None) -> tuple[Path, int]:
    """The examples a run trained on (the train split, then dev) as OpenAI chat JSONL with their split."""
    run = RunDir(run_dir)
    sources = [(split, run.examples(split)) for split in SPLITS]
    if not any(path.is_file() for _, path in sources):
        names = " or ".join(SPLITS.values())
        raise ExportError(f"{run.path}: no {names}; the run stopped before preparing its data")
    dest = Path(dest) if dest else run.exports / f"{run.name}-data.jsonl"

    def records() -> Iterable[dict[str, Any]]:
        for split, path in sources:
            if not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    example = json.loads(line)
                    messages = example["messages"]
                except (ValueError, KeyError, TypeError) as err:
                    raise ExportError(f"{path}:{number}: not an example line ({err})") from None
                yield {"messages": messages, "metadata": {"split": split, **(example.get("meta") or {})}}

    return _write_jsonl(records(), dest)


def export_feedback(run_dir: Path | str, dest_dir: Path | str | None = None) -> list[tuple[Path, int]]:
    """A run's playground feedback: corrections as OpenAI chat JSONL, vote pairs as preference JSONL
    (``prompt``/``chosen``/``rejected`` in chat form, the format TRL's DPOTrainer reads)."""
    from builder.data.feedback_store import read_corrections, read_votes, vote_pairs

    run = RunDir(run_dir)
    dest_dir = Path(dest_dir) if dest_dir else run.exports
    corrections = read_corrections([run.corrections])
    pairs = vote_pairs(read_votes([run.votes]))
    if not corrections and not pairs:
        raise ExportError(f"{run.path}: no corrections and no vote pairs yet; collect them in the playground")
    return [
        _write_jsonl(corrections, dest_dir / f"{run.name}-corrections.jsonl"),
        _write_jsonl(pairs, dest_dir / f"{run.name}-pairs.jsonl"),
    ]


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """``python -m builder.export merge|gguf RUN_DIR [--quant q8_0] [--out DIR]`` (the app's export jobs), or the
    flag form ``python -m builder.export RUN_DIR --gguf [--quant q8_0] [--out DIR]`` (also --zip, --merge, --data,
    --vllm)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["merge"], ["gguf"]):
        return _job_command(argv[0], argv[1:])
    return _flag_command(argv)


def _job_command(what: str, argv: list[str]) -> int:
    """One export as the app's job runs it: a merge, or a GGUF file with its Modelfile."""
    from builder.export.gguf import DEFAULT_QUANT, QUANTS

    doing = {"merge": "Merge a run's adapter.", "gguf": "Write a run as one GGUF file and its Modelfile."}[what]
    parser = argparse.ArgumentParser(prog=f"python -m builder.export {what}", description=doing)
    parser.add_argument("run_dir", type=Path, help="a run directory written by `python -m builder.sft`")
    parser.add_argument("--out", type=Path, default=None, help="the folder to write (default: in the run's exports)")
    if what == "gguf":
        parser.add_argument("--quant", default=DEFAULT_QUANT, choices=QUANTS, help=f"default {DEFAULT_QUANT}")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: _exit_on_sigterm(what, signum))
    try:
        if what == "gguf":
            _export_gguf_cli(args.run_dir, args.quant, args.out)
        else:
            print(f"merged into {merge_adapter(args.run_dir, args.out)}")
    except (ExportError, OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _exit_on_sigterm(what: str, signum: int) -> None:
    """The app's Stop button sends SIGTERM: exit through Python so that the half-written hidden merge folder
    or GGUF file (as large as the model) is removed on the way out instead of being left beside the target."""
    print(f"{what} stopped", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def _flag_command(argv: list[str]) -> int:
    from builder.export.gguf import DEFAULT_QUANT, QUANTS

    parser = argparse.ArgumentParser(
        prog="python -m builder.export", description="Take a finished run out of the tool."
    )
    parser.add_argument("run_dir", type=Path, help="a run directory (with adapter/)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--gguf", action="store_true", help="one GGUF file for llama.cpp/LM Studio, and an Ollama Modelfile"
    )
    what.add_argument("--zip", action="store_true", help="the PEFT adapter as a zip")
    what.add_argument("--merge", action="store_true", help="a merged safetensors model folder")
    what.add_argument("--data", action="store_true", help="the run's examples as OpenAI chat JSONL")
    what.add_argument("--vllm", action="store_true", help="check the adapter for vLLM and print `vllm serve`")
    parser.add_argument("--quant", default=DEFAULT_QUANT, choices=QUANTS, help=f"GGUF type (default {DEFAULT_QUANT})")
    parser.add_argument("--out", type=Path, help="where to write (a folder for --gguf/--merge, a file otherwise)")
    args = parser.parse_args(argv)
    try:
        if args.gguf:
            _export_gguf_cli(args.run_dir, args.quant, args.out)
        elif args.zip:
            print(zip_adapter(args.run_dir, args.out))
        elif args.merge:
            print(merge_adapter(args.run_dir, args.out))
        elif args.data:
            path, count = export_run_data(args.run_dir, args.out)
            print(f"{count} examples -> {path}")
        else:
            from builder.export.vllm import check_run

            check = check_run(args.run_dir)
            print(check.summary())
            return 0 if check.ok else 1
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _export_gguf_cli(run_dir: Path, quant: str, out: Path | None) -> None:
    from builder.export.gguf import export_gguf
    from builder.export.ollama import commands
    from builder.export.vllm import check_run

    shown = [-1]

    def progress(fraction: float, message: str) -> None:
        if int(fraction * 10) > shown[0]:  # a line every tenth of the way
            shown[0] = int(fraction * 10)
            print(f"{fraction:4.0%}  {message}", flush=True)

    result = export_gguf(run_dir, quant, out, progress=progress)
    print(f"GGUF ({result.architecture}, {quant}): {result.path} ({result.bytes / 1e6:.1f} MB, {result.seconds:.0f} s)")
    modelfile = result.path.parent / "Modelfile"
    if modelfile.is_file():
        print(f"Ollama: {modelfile}; in that folder run:")
        for line in commands(result.name):
            print(f"  {line}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"llama.cpp: llama-server -m {result.path}   (stop tokens: {', '.join(result.stop_tokens)})")
    print(check_run(run_dir).summary())


if __name__ == "__main__":
    raise SystemExit(main())
