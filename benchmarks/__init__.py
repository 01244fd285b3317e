"""Speed and memory measurements with their baselines; ``python -m benchmarks --quick --json OUT`` runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def report_json(result: Any, path: Path | None) -> None:
    """Print a benchmark's result as JSON and, when ``--json PATH`` was given, write it there atomically."""
    from builder.run.rundir import write_json_atomic

    print(json.dumps(result, indent=2, ensure_ascii=False))
    if path is not None:
        write_json_atomic(path, result)
