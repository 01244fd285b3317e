"""Taking a run out of the tool: the adapter as a zip, a merged model folder, the cleaned data as JSONL.

- ``zip_adapter``: the PEFT adapter with its tokenizer, recipe and run.json, for use with
  ``PeftModel.from_pretrained`` on the same base model.
- ``merge_adapter``: the base model loaded in full precision (a merge into 4-bit weights
  would round the adapter away), the adapter folded in with PEFT's ``merge_and_unload``,
  saved as a plain safetensors model folder that needs neither PEFT nor this tool.
- ``export_run_data`` / ``export_conversations``: OpenAI chat JSONL (``{"messages": [...]}``
  a line), the format most fine-tuning services and tools read.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.conversation import Conversation


class ExportError(RuntimeError):
    """An export that cannot be made; the message names the run and the missing piece."""


def _require_adapter(run_dir: Path) -> Path:
    adapter = Path(run_dir) / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        raise ExportError(f"{run_dir}: no adapter/adapter_config.json; the run has not finished training")
    return adapter


def zip_adapter(run_dir: Path | str, dest: Path | str | None = None) -> Path:
    """``<run>-adapter.zip``: adapter/, tokenizer/, recipe.yaml and run.json, paths relative to the run."""
    run_dir = Path(run_dir)
    _require_adapter(run_dir)
    dest = Path(dest) if dest else run_dir / "exports" / f"{run_dir.name}-adapter.zip"
    dest.parent.mkdir(parents=True, exist_ok=True)
    members: list[Path] = []
    for folder in ("adapter", "tokenizer"):
        members += sorted(p for p in (run_dir / folder).rglob("*") if p.is_file())
    members += [run_dir / name for name in ("recipe.yaml", "run.json", "eval.md") if (run_dir / name).is_file()]
    tmp = dest.with_name(f".{dest.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in members:
            archive.write(path, arcname=str(Path(run_dir.name) / path.relative_to(run_dir)))
    os.replace(tmp, dest)
    return dest


def merge_adapter(run_dir: Path | str, out_dir: Path | str | None = None) -> Path:
    """A standalone model folder: the base in full precision with the adapter merged into its weights."""
    import torch
    from peft import PeftModel
    from transformers import AutoTokenizer

    from builder.models import load_model
    from builder.recipe import load_recipe

    run_dir = Path(run_dir)
    adapter = _require_adapter(run_dir)
    recipe = load_recipe(run_dir / "recipe.yaml")
    out_dir = Path(out_dir) if out_dir else run_dir / "exports" / "merged"
    # Full precision on the CPU: merging needs unquantized weights, and the CPU always has room for a copy.
    base, used = load_model(recipe.base_model, "none", device="cpu", trust_remote_code=recipe.trust_remote_code)
    assert used == "none"
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.to(torch.float32)
    tokenizer_dir = run_dir / "tokenizer"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir if tokenizer_dir.is_dir() else base.name_or_path)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-"))
    try:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        provenance = {"base_model": recipe.base_model, "adapter": str(adapter.resolve()), "run": run_dir.name}
        (tmp / "merged_from.json").write_text(json.dumps(provenance, indent=2), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _write_jsonl(records: Iterable[dict[str, Any]], dest: Path) -> tuple[Path, int]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, dest)
    return dest, count


def export_conversations(conversations: Iterable[Conversation], dest: Path | str) -> tuple[Path, int]:
    """Cleaned conversations (after import, redaction and dedupe) as OpenAI chat JSONL."""
    return _write_jsonl((c.to_openai() for c in conversations), Path(dest))


def export_run_data(run_dir: Path | str, dest: Path | str | None = None) -> tuple[Path, int]:
    """The examples a run trained on (train.jsonl, then dev.jsonl) as OpenAI chat JSONL with their split."""
    run_dir = Path(run_dir)
    sources = [(split, run_dir / f"{split}.jsonl") for split in ("train", "dev")]
    if not any(path.is_file() for _, path in sources):
        raise ExportError(f"{run_dir}: no train.jsonl or dev.jsonl; the run stopped before preparing its data")
    dest = Path(dest) if dest else run_dir / "exports" / f"{run_dir.name}-data.jsonl"

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
