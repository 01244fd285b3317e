"""The run directory: the contract between the CLI, the UI and evaluation.

Written so that a crash leaves it readable: JSON files are replaced atomically,
metrics are appended a line at a time, and ``run.json`` says how the run ended.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
RECIPE = "recipe.yaml"
DATA_REPORT = "data_report.json"
TRAIN_EXAMPLES = "train.jsonl"
DEV_EXAMPLES = "dev.jsonl"
ADAPTER = "adapter"
TOKENIZER = "tokenizer"
CHECKPOINTS = "checkpoints"
LOG = "train.log"


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def update_run_json(run_dir: Path, **fields: Any) -> dict[str, Any]:
    path = Path(run_dir) / RUN_JSON
    info = read_json(path, {}) or {}
    info.update(fields)
    write_json_atomic(path, info)
    return info


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Lines that fail to parse (a line cut by a crash) are skipped, not fatal."""
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return records
