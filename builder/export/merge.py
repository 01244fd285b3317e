"""A merged model: the base in full precision with a run's adapter folded into its weights.

- ``load_merged``: the merged model in memory (what the GGUF export writes);
- ``merge_adapter``: the same saved as a plain safetensors model folder that needs neither PEFT nor
  this tool (a merge into 4-bit weights would round the adapter away, hence full precision).

``python -m builder.export merge RUN_DIR [--out DIR]`` runs it (``builder.export.files``'s command line); the web
app queues that command as a job, so a merge waits for its turn like a training.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.export.base import ExportError
from builder.run.rundir import ADAPTER, ADAPTER_CONFIG, RunDir, atomic_dir

if TYPE_CHECKING:
    from builder.config.recipe import Recipe


def require_adapter(run: RunDir) -> Path:
    if not run.has_adapter():
        raise ExportError(f"{run.path}: no {ADAPTER}/{ADAPTER_CONFIG}; the run has not finished training")
    return run.adapter


MERGE_MARKER = "merged_from.json"
MERGE_SIGNATURE = "builder.export.merge_adapter"  # written into merged_from.json: a value, not an import path


def _is_our_merge(folder: Path) -> bool:
    """A folder an earlier merge wrote: its merged_from.json is ours (by content, not by name)."""
    marker = folder / MERGE_MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    # Merges made before the signature was written carry exactly these three keys.
    return data.get("created_by") == MERGE_SIGNATURE or set(data) == {"base_model", "adapter", "run"}


def check_merge_target(out_dir: Path | str) -> None:
    """Raise ExportError unless ``out_dir`` is new, empty, or an earlier merge: never replace what we did not make."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise ExportError(f"{out_dir} is a link; a merge is written to a new folder, pick another name")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file; a merge is written to a new folder, pick another name")
    if any(out_dir.iterdir()) and not _is_our_merge(out_dir):
        raise ExportError(
            f"{out_dir} is a folder that holds other files (it has no {MERGE_MARKER} of an earlier merge); "
            "it is left as it is. Pick a new or empty folder"
        )


def _replace_folder(new: Path, out_dir: Path) -> None:
    """Put ``new`` at ``out_dir`` by renames (one, or two with an earlier merge moved aside), then delete that merge."""
    check_merge_target(out_dir)  # again: the folder may have changed during the minutes the merge took
    if out_dir.exists() and any(out_dir.iterdir()):
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-old-"))
        os.replace(out_dir, old)  # old is an empty folder: rename may replace it
        os.replace(new, out_dir)
        shutil.rmtree(old)
    else:
        os.replace(new, out_dir)  # over a missing or empty folder, in one step


def load_merged(run_dir: Path | str) -> tuple[Any, Any, Recipe]:
    """(model, tokenizer, recipe): the base in float32 on the CPU with the run's adapter folded into its weights."""
    import torch
    from peft import PeftModel
    from transformers import AutoTokenizer

    from builder.models.loading import load_model

    run = RunDir(run_dir)
    adapter = require_adapter(run)
    recipe = run.recipe()
    # Full precision on the CPU: merging needs unquantized weights, and the CPU always has room for a copy.
    base, used = load_model(recipe.base_model, "none", device="cpu", trust_remote_code=recipe.trust_remote_code)
    assert used == "none"
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.to(torch.float32)
    merged.eval()
    tokenizer = AutoTokenizer.from_pretrained(run.tokenizer if run.tokenizer.is_dir() else base.name_or_path)
    return merged, tokenizer, recipe


def merge_adapter(run_dir: Path | str, out_dir: Path | str | None = None) -> Path:
    """A standalone model folder: the base in full precision with the adapter merged into its weights.

    The merge is written to a fresh hidden folder beside ``out_dir`` and renamed into place. An
    existing ``out_dir`` is replaced only when it is empty or an earlier merge (see ``check_merge_target``).
    """
    run = RunDir(run_dir)
    adapter = require_adapter(run)
    out_dir = Path(out_dir) if out_dir else run.merged
    check_merge_target(out_dir)  # before minutes of loading and merging
    merged, tokenizer, recipe = load_merged(run.path)

    with atomic_dir(out_dir, put=_replace_folder) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        provenance = {
            "created_by": MERGE_SIGNATURE,
            "base_model": recipe.base_model,
            "adapter": str(adapter.resolve()),
            "run": run.name,
        }
        (tmp / MERGE_MARKER).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
    return out_dir
