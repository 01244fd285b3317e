"""The team's feedback on a run, and the next training round built from it.

A run collects votes and corrections in the playground (``builder.data.feedback_store`` stores and reads
them); a next round is built from them (``builder.feedback.rounds``). This module says what a run has collected.

``python -m builder.feedback RUN_DIR --method dpo|sft`` writes the next round's recipe and, with
``--train``, trains it; ``--summary`` prints the counts and warnings; ``--export`` writes the
corrections as OpenAI chat JSONL and the vote pairs as preference JSONL.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder.config.recipe import RecipeError, load_recipe
from builder.core.authors import corrections_by_author, votes_by_author
from builder.data.feedback_store import read_corrections, read_votes, vote_pairs, vote_summary
from builder.feedback.rounds import METHODS, write_next_round
from builder.run.rundir import RunDir

if TYPE_CHECKING:
    from builder.data.advisor import Advice


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
    from builder.data.advisor import feedback_advice

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
            from builder.export.files import export_feedback

            for path, count in export_feedback(args.run_dir):
                print(f"wrote {count} records to {path}")
        if args.method:
            if args.leave_out:
                args.overrides.append(f"feedback.exclude_authors={json.dumps(args.leave_out)}")
            path = write_next_round(args.run_dir, args.method, args.recipe_out, args.overrides)
            print(f"recipe written to {path}")
            if args.train:
                from builder.cli.sft import default_output_dir, train

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
