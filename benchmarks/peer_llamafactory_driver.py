"""Runs inside the LLaMA-Factory venv (not the product's): one LLaMA-Factory training, timed step by step.

    PEER_PYTHON benchmarks/peer_llamafactory_driver.py SPEC.json OUT.json
    PEER_PYTHON benchmarks/peer_llamafactory_driver.py --check     # it imports; the versions

SPEC holds ``args`` (LLaMA-Factory's own training arguments, as its YAML files take them) and ``dev_rows``
(the product's tokenized dev rows: ``input_ids``, ``assistant_masks``). The training runs through
``llamafactory.train.tuner.run_exp`` with one callback that times each step, records the tokens of each
batch (its collator wrapped by ``benchmarks.measure.RecordingCollator``) and, at the end, scores the dev
rows with the trained model (``benchmarks.measure.assistant_token_losses``: the definition the product's
variants are scored with). Only the repository's ``benchmarks.measure`` is imported from the product.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.measure import RecordingCollator, assistant_token_losses


def stub_torchaudio() -> None:
    """LLaMA-Factory imports torchaudio at module level (data/mm_plugin.py) and calls it only to read audio
    inputs; the venv has none that loads against the CPU torch (benchmarks.peer_venv), so an empty module
    stands in. transformers decides first, and caches, that torchaudio is absent, so it never uses the stand-in."""
    import importlib.machinery
    import types

    from transformers.utils import import_utils

    import_utils.is_torchaudio_available()  # False now (not installed), and lru-cached for the whole run
    stub = types.ModuleType("torchaudio")
    stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    sys.modules.setdefault("torchaudio", stub)


def check() -> int:
    """``--check``: LLaMA-Factory's trainer imports; print the versions that matter here."""
    import importlib.metadata as md

    stub_torchaudio()
    import llamafactory.train.tuner  # noqa: F401

    names = ("llamafactory", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes")
    print(json.dumps({name: md.version(name) for name in names}))
    return 0


def main(spec_path: str, out_path: str) -> int:
    stub_torchaudio()
    import torch
    from llamafactory.train.tuner import run_exp
    from transformers import Trainer, TrainerCallback

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    out: dict[str, Any] = {"step_seconds": [], "torch_threads": torch.get_num_threads()}

    recorders: list[RecordingCollator] = []
    original_init = Trainer.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        # LLaMA-Factory's trainer subclasses transformers' Trainer, which builds its dataloaders from
        # self.data_collator at train time: wrapping it here counts every batch's real and padded tokens.
        original_init(self, *args, **kwargs)
        self.data_collator = RecordingCollator(self.data_collator)
        recorders.append(self.data_collator)

    Trainer.__init__ = recording_init

    class Measure(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            out["bf16"] = bool(args.bf16)

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            out["step_seconds"].append(time.perf_counter() - self.started)

        def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            records = recorders[-1].records[: len(out["step_seconds"])] if recorders else []
            out["batches"] = [{"useful": r.useful, "padded": r.padded, "labelled": r.labelled} for r in records]
            out["parameter_dtypes"] = sorted({str(p.dtype) for p in model.parameters()})
            # LLaMA-Factory turns checkpointing on in the model itself (not through TrainingArguments).
            out["gradient_checkpointing"] = bool(getattr(model, "is_gradient_checkpointing", False))
            t0 = time.perf_counter()
            out["dev_losses"] = assistant_token_losses(model, spec["dev_rows"])
            out["dev_eval_s"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    run_exp(spec["args"], callbacks=[Measure()])
    out["run_s"] = round(time.perf_counter() - t0, 1)
    Path(out_path).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:] == ["--check"] else main(sys.argv[1], sys.argv[2]))
