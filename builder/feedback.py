"""The team's feedback on a run, and the next training round built from it.

A run collects two kinds of feedback in the playground, both in its run directory:

- ``votes.jsonl`` (``builder.chat.record_vote``): the prompt as the models saw it, both answers,
  the sampling settings, which model was shown first, and the winner (base, tuned or tie);
- ``corrections.jsonl`` (``record_correction``): "Write the right reply": the conversation with
  the agent's own reply, PII-redacted, one OpenAI chat record a line (a training conversation).

A next round is an ordinary recipe with a ``feedback`` section (``builder.recipe.FeedbackConfig``)
and ``builder.sft`` trains it into an ordinary run directory:

- ``method: dpo`` continues the parent run's adapter on the vote pairs (``builder.dpo``);
- ``method: sft`` continues it on the corrections plus the parent's own training examples.

Either way the round keeps the parent's dev split (so its evaluation compares with the parent's)
and ``run.json`` records its lineage: the parent run and each feedback file with its hash.

``python -m builder.feedback RUN_DIR --method dpo|sft`` writes the next round's recipe and, with
``--train``, trains it; ``--summary`` prints the counts and warnings; ``--export`` writes the
corrections as OpenAI chat JSONL and the vote pairs as preference JSONL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder import rundir
from builder.authors import corrections_by_author, latest_votes, leave_out, votes_by_author
from builder.chat import append_locked, vote_summary
from builder.recipe import ROUND_EPOCHS, ROUND_LEARNING_RATE, Recipe, RecipeError, load_recipe, recipe_from_dict
from builder.rundir import RunDir

if TYPE_CHECKING:
    from builder.advisor import Advice
    from builder.dataset import PreparedSplits
    from builder.usecases import Example

METHODS = ("dpo", "sft")


# ---------------------------------------------------------------- corrections


def _redact(text: str, counts: Counter[str]) -> str:
    from builder.cleaning import redact_pii

    return redact_pii(text, counts)


def record_correction(
    run_dir: Path | str,
    *,
    messages: list[dict[str, str]],
    reply: str,
    original: str | None = None,
    corrected: str | None = None,
    redact: bool = True,
    author: str | None = None,
) -> dict[str, Any]:
    """Save the conversation with the agent's reply as a new training conversation (``author``: who wrote it).

    ``messages`` is the prompt the model answered (system turns are kept in the metadata, not
    in the conversation: training puts the recipe's own system prompt first). PII is redacted
    as in the importer, so a correction can never put an email or a card number into training.
    """
    reply = (reply or "").strip()
    if not reply:
        raise ValueError("a correction needs the reply the agent would have written")
    turns = [m for m in messages if m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("a correction answers a customer message: the conversation must end with a user turn")
    counts: Counter[str] = Counter()
    clean = (lambda text: _redact(text, counts)) if redact else (lambda text: text)
    conversation = [{"role": m["role"], "content": clean(m["content"])} for m in turns]
    conversation.append({"role": "assistant", "content": clean(reply)})
    system = [m["content"] for m in messages if m.get("role") == "system"]
    record = {
        "messages": conversation,
        "metadata": {
            "source": "playground correction",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "corrects": corrected,
            "original": clean(original) if original else original,
            "system_prompt": system[0] if system else None,
            "redactions": dict(counts),
            "author": author,
        },
    }
    append_locked(RunDir(run_dir).corrections, record)
    return record


def read_corrections(paths: list[Path]) -> list[dict[str, Any]]:
    """Correction records with a conversation that ends on the agent's reply; anything else is skipped."""
    found = []
    for path in paths:
        for record in rundir.read_jsonl(path):
            messages = record.get("messages") if isinstance(record, dict) else None
            if isinstance(messages, list) and messages and messages[-1].get("role") == "assistant":
                found.append(record)
    return found


# ---------------------------------------------------------------- votes and pairs


def read_votes(paths: list[Path]) -> list[dict[str, Any]]:
    """The votes in ``paths``, one per author per pair (the latest); anonymous votes are all kept."""
    return latest_votes(v for path in paths for v in rundir.read_jsonl(path) if isinstance(v, dict) and v.get("winner"))


def vote_prompt(vote: dict[str, Any]) -> list[dict[str, str]]:
    """The prompt the answers were given to; votes saved before it was kept have only the message."""
    messages = vote.get("messages")
    if isinstance(messages, list) and messages:
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    return [{"role": "user", "content": str(vote.get("prompt", ""))}]


def vote_pairs(votes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Preference pairs in TRL's conversational format: the winner's answer chosen over the loser's.

    Ties, empty answers and two identical answers say nothing about which reply is better: left out.
    """
    pairs = []
    for vote in votes:
        winner = vote.get("winner")
        if winner not in ("base", "tuned"):
            continue
        loser = "base" if winner == "tuned" else "tuned"
        chosen, rejected = str(vote.get(winner) or "").strip(), str(vote.get(loser) or "").strip()
        if not chosen or not rejected or chosen == rejected:
            continue
        pairs.append(
            {
                "prompt": vote_prompt(vote),
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }
        )
    return pairs


# ---------------------------------------------------------------- what a run has collected


@dataclass
class FeedbackSummary:
    votes: int = 0
    tuned: int = 0
    base: int = 0
    tie: int = 0
    pairs: int = 0
    corrections: int = 0
    tuned_win_rate: float | None = None  # a tie counts half
    by_author: dict[str, int] = field(default_factory=dict)  # votes per author, most first ("": anonymous)
    corrections_by_author: dict[str, int] = field(default_factory=dict)
    advice: dict[str, list[Advice]] = field(default_factory=dict)  # the advisor's warnings, per method

    @property
    def warnings(self) -> dict[str, list[str]]:
        return {method: [item.text() for item in items] for method, items in self.advice.items()}


def summarize(run_dir: Path | str) -> FeedbackSummary:
    """Counts, the tuned win rate and the advisor's warnings for a round of each method."""
    from builder.advisor import feedback_advice

    run = RunDir(run_dir)
    votes = read_votes([run.votes])
    corrections = read_corrections([run.corrections])
    counts = vote_summary(run)
    summary = FeedbackSummary(
        votes=counts["votes"],
        tuned=counts["tuned"],
        base=counts["base"],
        tie=counts["tie"],
        pairs=len(vote_pairs(votes)),
        corrections=len(corrections),
        tuned_win_rate=counts["tuned_win_rate"],
        by_author=votes_by_author(votes),
        corrections_by_author=corrections_by_author(corrections),
    )
    summary.advice = {m: feedback_advice(votes, corrections, method=m) for m in METHODS}
    return summary


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
    from builder.conversation import Conversation
    from builder.usecases import get_usecase

    counts: Counter[str] = Counter()
    conversations = []
    for number, record in enumerate(records, 1):
        conversation = Conversation.from_openai(record)
        if recipe.data.redact_pii:
            for message in conversation.messages:
                message.content = _redact(message.content, counts)
        conversation.id = conversation.id or f"correction-{number}"
        conversations.append(conversation)
    return get_usecase(recipe.use_case).build_examples(conversations, recipe, workdir)


def prepare_round(recipe: Recipe, output_dir: Path) -> PreparedSplits:
    """The splits of a feedback round: the parent's dev split unchanged, and for ``sft`` the
    corrections (repeated ``correction_repeats`` times) plus, by default, the parent's examples.
    Records the lineage in ``run.json`` and, for ``dpo``, the pairs in ``pairs.jsonl``."""
    from builder.advisor import advise_feedback
    from builder.dataset import PreparedSplits, examples_hash
    from builder.evaluate import read_examples

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


def attach_adapter(model: Any, recipe: Recipe, lora: Any) -> Any:
    """A fresh LoRA adapter, or for a feedback round the parent's adapter, trainable, to continue."""
    from peft import PeftModel, get_peft_model

    if not recipe.feedback.parent_run:
        return get_peft_model(model, lora)
    return PeftModel.from_pretrained(model, parent_dir(recipe).adapter, is_trainable=True)


# ---------------------------------------------------------------- the next round's recipe


def next_round_recipe(run_dir: Path | str, method: str, overrides: list[str] | None = None) -> Recipe:
    """The parent's own recipe, continued: ``method``, a ``feedback`` section naming the parent and
    its feedback files, the round's learning rate, and steps counted in epochs of the new data."""
    from builder.recipe import apply_overrides

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


# ---------------------------------------------------------------- command line


HELP_EPILOG = """\
examples:
  python -m builder.feedback runs/support-20260101-120000 --summary
  python -m builder.feedback runs/support-20260101-120000 --method dpo            # writes the recipe
  python -m builder.feedback runs/support-20260101-120000 --method dpo --train    # and trains it
  python -m builder.feedback runs/support-20260101-120000 --method sft --set feedback.correction_repeats=3
  python -m builder.feedback runs/support-20260101-120000 --export
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m builder.feedback",
        description="A run's playground feedback (votes, corrections) and the next training round from it.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, help="the run whose feedback to use")
    parser.add_argument("--method", choices=METHODS, help="dpo: learn from the vote pairs; sft: from the corrections")
    parser.add_argument("--recipe-out", type=Path, help="where to write the recipe (default: RUN_DIR/next-METHOD.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="dotted.key=value")
    parser.add_argument(
        "--leave-out", action="append", default=[], metavar="AUTHOR", help="train without this author's feedback"
    )
    parser.add_argument("--train", action="store_true", help="train the round now (python -m builder.sft RECIPE)")
    parser.add_argument("--output-dir", type=Path, help="the new run directory (with --train)")
    parser.add_argument("--summary", action="store_true", help="print the counts and the advisor's warnings")
    parser.add_argument("--export", action="store_true", help="write corrections and pairs as JSONL under exports/")
    return parser.parse_args(argv)


def print_summary(summary: FeedbackSummary, method: str | None) -> None:
    rate = "-" if summary.tuned_win_rate is None else f"{summary.tuned_win_rate:.0%}"
    print(
        f"votes {summary.votes} (tuned {summary.tuned}, base {summary.base}, tie {summary.tie}), "
        f"tuned win rate {rate}, vote pairs {summary.pairs}, corrections {summary.corrections}"
    )
    if summary.by_author:
        print("votes by author: " + ", ".join(f"{a or '(anonymous)'} {n}" for a, n in summary.by_author.items()))
    for name in [method] if method else METHODS:
        for warning in summary.warnings.get(name, []):
            print(f"warning ({name}): {warning}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if not RunDir(args.run_dir).is_run():
            raise RecipeError(f"{args.run_dir}: not a run directory (no run.json)")
        if args.summary or not (args.method or args.export):
            print_summary(summarize(args.run_dir), args.method)
        if args.export:
            from builder.export import export_feedback

            for path, count in export_feedback(args.run_dir):
                print(f"wrote {count} records to {path}")
        if args.method:
            if args.leave_out:
                args.overrides.append(f"feedback.exclude_authors={json.dumps(args.leave_out)}")
            path = write_next_round(args.run_dir, args.method, args.recipe_out, args.overrides)
            print(f"recipe written to {path}")
            if args.train:
                from builder.sft import default_output_dir, train

                recipe = load_recipe(path)
                train(recipe, args.output_dir or default_output_dir(recipe))
    except RecipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # RuntimeError: an ExportError
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
