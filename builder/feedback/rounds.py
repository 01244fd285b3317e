"""A next training round from a run's feedback: its data, its lineage and its recipe.

A round is an ordinary recipe with a ``feedback`` section (``builder.config.recipe.FeedbackConfig``),
trained by ``builder.cli.sft`` into an ordinary run directory:

- ``method: dpo`` continues the parent run's adapter on the vote pairs (``builder.feedback.dpo``);
- ``method: sft`` continues it on the corrections plus the parent's own training examples.

Either way the round keeps the parent's dev split (so its evaluation compares with the parent's)
and ``run.json`` records its lineage: the parent run and each feedback file with its hash.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.config.recipe import (
    ROUND_EPOCHS,
    ROUND_LEARNING_RATE,
    Recipe,
    RecipeError,
    apply_overrides,
    recipe_from_dict,
)
from builder.core.authors import leave_out
from builder.data.feedback_store import read_corrections, read_votes, redact_text, vote_pairs
from builder.run import rundir
from builder.run.rundir import RunDir

if TYPE_CHECKING:
    from builder.data.dataset import PreparedSplits
    from builder.usecases import Example

METHODS = ("dpo", "sft")


# ---------------------------------------------------------------- a round's data and lineage


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Where a feedback file was, its sha256 and line count when the round read it."""
    data = path.read_bytes() if path.is_file() else b""
    return {
        "path": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "lines": data.count(b"\n"),
        "exists": path.is_file(),
    }


def parent_dir(recipe: Recipe) -> RunDir:
    """The run a round continues; it must have finished training with the same base model."""
    if not recipe.feedback.parent_run:
        raise RecipeError("feedback.parent_run: a feedback round needs the run whose adapter it continues")
    parent = RunDir(recipe.resolve_path(recipe.feedback.parent_run))
    if not parent.has_adapter():
        raise RecipeError(f"feedback.parent_run: {parent.path} holds no adapter/ (has that run finished training?)")
    parent_recipe = parent.recipe()
    if parent_recipe.base_model != recipe.base_model:
        raise RecipeError(
            f"base_model: {recipe.base_model!r} differs from the parent run's {parent_recipe.base_model!r}; "
            "an adapter only continues on the base model it was trained on"
        )
    return parent


def feedback_files(recipe: Recipe, parent: RunDir) -> tuple[list[Path], list[Path]]:
    votes = [recipe.resolve_path(p) for p in recipe.feedback.votes] or [parent.votes]
    corrections = [recipe.resolve_path(p) for p in recipe.feedback.corrections] or [parent.corrections]
    return votes, corrections


def round_feedback(recipe: Recipe, parent: RunDir) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The votes and corrections a round learns from: those of the authors ``feedback.exclude_authors`` leaves out
    are not among them."""
    vote_files, correction_files = feedback_files(recipe, parent)
    excluded = recipe.feedback.exclude_authors
    votes = leave_out(read_votes(vote_files), excluded, votes=True)
    return votes, leave_out(read_corrections(correction_files), excluded, votes=False)


def load_pairs(recipe: Recipe) -> list[dict[str, Any]]:
    votes, _ = round_feedback(recipe, parent_dir(recipe))
    return vote_pairs(votes)


def correction_examples(recipe: Recipe, records: list[dict[str, Any]], workdir: Path) -> list[Example]:
    """Corrections through the same cleaning (PII) and the use case's example builder as imported data."""
    from builder.core.conversation import Conversation
    from builder.usecases import get_usecase

    counts: Counter[str] = Counter()
    conversations = []
    for number, record in enumerate(records, 1):
        conversation = Conversation.from_openai(record)
        if recipe.data.redact_pii:
            for message in conversation.messages:
                message.content = redact_text(message.content, counts)
        conversation.id = conversation.id or f"correction-{number}"
        conversations.append(conversation)
    return get_usecase(recipe.use_case).build_examples(conversations, recipe, workdir)


def prepare_round(recipe: Recipe, output_dir: Path) -> PreparedSplits:
    """The splits of a feedback round: the parent's dev split unchanged, and for ``sft`` the
    corrections (repeated ``correction_repeats`` times) plus, by default, the parent's examples.
    Records the lineage in ``run.json`` and, for ``dpo``, the pairs in ``pairs.jsonl``."""
    from builder.data.advisor import advise_feedback
    from builder.data.dataset import PreparedSplits, examples_hash
    from builder.evaluate.runner import read_examples

    parent = parent_dir(recipe)
    vote_files, correction_files = feedback_files(recipe, parent)
    votes, corrections = round_feedback(recipe, parent)
    parent_train = read_examples(parent.examples("train"))
    dev = read_examples(parent.examples("dev"))
    pairs = vote_pairs(votes)
    if recipe.method == "dpo":
        if not pairs:
            raise ValueError(
                f"no vote pairs in {', '.join(map(str, vote_files))}: a DPO round needs votes with a winner "
                "(ties and identical answers are left out)"
            )
        train = parent_train  # not trained on; kept for the few-shot column of the evaluation
        digest = examples_hash(dev) + hashlib.sha256(repr(pairs).encode()).hexdigest()[:16]
    else:
        fixed = correction_examples(recipe, corrections, output_dir)
        if not fixed:
            raise ValueError(f"no corrections in {', '.join(map(str, correction_files))}: nothing for an SFT round")
        train = (parent_train if recipe.feedback.include_original else []) + fixed * recipe.feedback.correction_repeats
        digest = examples_hash(train + dev)
    warnings = advise_feedback(votes, corrections, method=recipe.method)
    for warning in warnings:
        print(f"Feedback warning: {warning}", flush=True)
    report = rundir.read_json(parent.data_report, {}) or {}
    counts = {"votes": len(votes), "pairs": len(pairs), "corrections": len(corrections)}
    if int(os.environ.get("RANK", "0")) == 0:
        if recipe.method == "dpo":
            rundir.write_jsonl(RunDir(output_dir).pairs, pairs)
        lineage = {
            "method": recipe.method,
            "parent_run": str(parent.path),
            "parent_run_id": parent.name,
            "feedback_files": [file_fingerprint(p) for p in [*vote_files, *correction_files]],
            **counts,
            "excluded_authors": list(recipe.feedback.exclude_authors),
            "warnings": warnings,
        }
        RunDir(output_dir).update_info(method=recipe.method, lineage=lineage)
    return PreparedSplits(
        train=train,
        dev=dev,
        data_report={**report, "feedback": counts},
        data_hash=digest,
        conversations=len(train),
        warnings=warnings,
    )


# ---------------------------------------------------------------- the next round's recipe


def next_round_recipe(run_dir: Path | str, method: str, overrides: list[str] | None = None) -> Recipe:
    """The parent's own recipe, continued: ``method``, a ``feedback`` section naming the parent and
    its feedback files, the round's learning rate, and steps counted in epochs of the new data."""
    if method not in METHODS:
        raise RecipeError(f"--method: expected one of {', '.join(METHODS)}, not {method!r}")
    run = RunDir(Path(run_dir).resolve())
    if not run.recipe_file.is_file():
        raise RecipeError(f"{run.path}: no recipe.yaml; is this a run directory?")
    parent = run.recipe()
    raw = parent.model_dump(mode="json")
    raw["name"] = f"{parent.name}-{method}"
    raw["method"] = method
    raw["feedback"] = {
        **raw.get("feedback", {}),
        "parent_run": str(run.path),
        "votes": [str(run.votes)],
        "corrections": [str(run.corrections)],
    }
    raw["training"] = {
        **raw["training"],
        "max_steps": -1,
        "learning_rate": ROUND_LEARNING_RATE[method],
        "num_epochs": ROUND_EPOCHS[method],
    }
    raw = apply_overrides(raw, overrides or [])
    return recipe_from_dict(raw, source=f"next round of {run.path}", base_dir=parent.base_dir)


def write_next_round(
    run_dir: Path | str, method: str, dest: Path | None = None, overrides: list[str] | None = None
) -> Path:
    """Write the next round's recipe (default: ``<run>/next-<method>.yaml``) and return its path."""
    recipe = next_round_recipe(run_dir, method, overrides)
    dest = Path(dest) if dest else Path(run_dir) / f"next-{method}.yaml"
    header = (
        f"# Next round from the feedback of {Path(run_dir).resolve().name} ({method}).\n"
        f"# Train it: python -m builder.sft {dest}\n"
    )
    rundir.write_text_atomic(dest, header + recipe.to_yaml())
    return dest
