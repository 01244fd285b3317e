"""What the Recipe and Train tabs say about a recipe before it runs: which files, how much data, how long.

The data is read as training reads it (``builder.data.prepare_conversations`` and the use case's
examples), so a binary file or a one-conversation file is seen for what it gives. The time is the
capacity estimate on the recipe's real token lengths, corrected by the measured pace of the newest
comparable run (``builder.run.pace``), exactly as the trainer's log says it: the two tabs and the log agree.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.core.messages import Message
from builder.data.advisor import MIN_CONVERSATIONS
from builder.ui.i18n import UIText

if TYPE_CHECKING:
    from builder.config.recipe import Recipe
    from builder.models.capacity_plan import Plan
    from builder.models.devices import Device
    from builder.models.shape import ModelShape

# Fewer training examples than this and a run has nothing to learn from (a batch or two, no dev split).
MIN_EXAMPLES = 10
# Use cases whose examples are made cheaply from the conversations (retrieval embeds a knowledge base first).
CHEAP_EXAMPLES = ("support", "translation", "sentiment", "content")
_CACHE: dict[str, DataCheck] = {}
_CACHE_SIZE = 16


@dataclass
class DataCheck:
    files: list[Path] = field(default_factory=list)  # the data files training reads
    conversations: int = 0
    train: int = 0  # training examples (after the dev split)
    dev: int = 0
    rows: list[dict[str, list[int]]] | None = None  # tokenized training examples, for the estimate
    error: str | None = None


def _key(recipe: Recipe) -> str:
    """What decides the data a recipe gives: its data section, use case, task and model, and the files' dates."""
    paths = [recipe.resolve_path(p) for p in recipe.data.train]
    stamps = [(str(p), p.stat().st_mtime if p.exists() else None) for p in map(Path, paths)]
    return json.dumps(
        {
            "data": recipe.data.model_dump(mode="json"),
            "use_case": recipe.use_case,
            "task": getattr(recipe, "task", None),
            "system_prompt": recipe.system_prompt,
            "base_model": recipe.base_model,
            "max_length": recipe.training.max_length,
            "seed": recipe.training.seed,
            "files": stamps,
        },
        sort_keys=True,
        default=str,
    )


def data_check(recipe: Recipe) -> DataCheck:
    """The recipe's data as training will read it (cached while the recipe and its files are unchanged)."""
    key = _key(recipe)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _read(recipe)
    return _CACHE[key]


def _read(recipe: Recipe) -> DataCheck:
    from builder.data import prepare_conversations
    from builder.data.dataset import split_dev, tokenize_examples
    from builder.importers.detect import collect_files
    from builder.usecases import get_usecase

    found = DataCheck()
    try:
        found.files = collect_files([Path(recipe.resolve_path(p)) for p in recipe.data.train])
        prepared = prepare_conversations(recipe)
        found.conversations = len(prepared.conversations)
        if recipe.use_case not in CHEAP_EXAMPLES:
            found.train = found.conversations
            return found
        with tempfile.TemporaryDirectory() as workdir:
            examples = get_usecase(recipe.use_case).build_examples(prepared.conversations, recipe, Path(workdir))
        data = recipe.data
        if data.dev:
            train, dev = examples, data.max_dev_examples
            found.train, found.dev = len(train), dev
        else:
            train, held = split_dev(examples, data.dev_fraction, data.max_dev_examples, recipe.training.seed)
            found.train, found.dev = len(train), len(held)
        found.rows, _ = tokenize_examples(train, _tokenizer(recipe), recipe.training.max_length)
    except Exception as err:  # a file the importer cannot read is what this check is for
        found.error = f"{type(err).__name__}: {err}"
    return found


_TOKENIZERS: dict[str, Any] = {}


def _tokenizer(recipe: Recipe) -> Any:
    from builder.models.loading import load_tokenizer

    if recipe.base_model not in _TOKENIZERS:
        _TOKENIZERS[recipe.base_model] = load_tokenizer(recipe.base_model, trust_remote_code=recipe.trust_remote_code)
    return _TOKENIZERS[recipe.base_model]


def data_problems(recipe: Recipe) -> list[Message]:
    """Why the recipe's data cannot train a run: unreadable, or fewer examples than a run can learn from."""
    from builder.usecases import get_usecase

    if not recipe.data.train or not get_usecase(recipe.use_case).needs_conversations(recipe):
        return []
    found = data_check(recipe)
    if found.error:
        return [UIText("data_unreadable", {"error": found.error})]
    if found.train < MIN_EXAMPLES:
        values = {"count": found.train, "conversations": found.conversations, "minimum": MIN_EXAMPLES}
        return [UIText("data_too_few", {**values, "advised": MIN_CONVERSATIONS})]
    return []


def data_warnings(recipe: Recipe) -> list[Message]:
    """Trainable, but fewer conversations than advised for a good fine-tune."""
    found = data_check(recipe) if recipe.data.train else None
    if found is None or found.error or found.train < MIN_EXAMPLES or found.conversations >= MIN_CONVERSATIONS:
        return []
    return [UIText("data_few", {"conversations": found.conversations, "advised": MIN_CONVERSATIONS})]


@dataclass(frozen=True)
class TimeEstimate:
    steps: int
    seconds_per_step: float | None
    measured_on: str | None  # the run whose pace corrected it

    @property
    def total_s(self) -> float | None:
        return None if self.seconds_per_step is None else self.seconds_per_step * self.steps


def planned_steps(recipe: Recipe, train_examples: int) -> int:
    """As the trainer plans them (``builder.train.run.planned_steps``, which imports the trainer: too heavy here)."""
    t = recipe.training
    if t.max_steps > 0:
        return t.max_steps
    per_step = t.batch_size * t.gradient_accumulation_steps
    return max(1, int(-(-max(1, train_examples) * t.num_epochs // per_step)))


def time_estimate(recipe: Recipe, runs_dir: Path) -> tuple[ModelShape, Plan, Device, TimeEstimate]:
    """(model shape, plan, this device, time) of the recipe here, as the trainer's log will say it."""
    from builder.models import capacity, devices
    from builder.run.pace import calibrated_seconds

    found = data_check(recipe) if recipe.data.train else DataCheck()
    steps = planned_steps(recipe, len(found.rows) if found.rows is not None else found.train)
    device = devices.present_device(capacity.memory_limit_from_env())
    shape, plan = capacity.recipe_plan(recipe, device, found.rows, steps=steps)
    raw = capacity.estimate(shape, plan, device).seconds_per_step
    seconds, pace = calibrated_seconds(raw, runs_dir, device.kind, plan.quantization)
    return shape, plan, device, TimeEstimate(steps, seconds, pace.run_id if pace else None)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
