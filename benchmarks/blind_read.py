"""A blind read of two runs' replies: which one would a customer rather get?

Two runs evaluated on the same dev examples (the same recipe with another base model, say) each have
their tuned replies in ``eval.json``. ``sheet`` writes a Markdown page with, per example, the
conversation's last customer message, the reference reply and the two tuned replies as "A" and "B" in
a seeded random order, and a separate key file saying which run is A on each line. Read the sheet,
write one verdict a line in a votes file (``A``, ``B`` or ``=``, optionally followed by a reason), then
``tally`` reads the votes against the key and says how often each run was preferred.

    python -m benchmarks.blind_read sheet RUN_A RUN_B --n 20 --out read.md --key read.key.json
    python -m benchmarks.blind_read tally read.key.json votes.txt
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from builder.run.rundir import RunDir

VERDICTS = ("A", "B", "=")


def _examples(run: Path) -> list[dict[str, Any]]:
    result = RunDir(run).eval_result()
    if result is None:
        raise ValueError(f"{run}: no eval.json (evaluate the run first: python -m builder.evaluate {run})")
    return result["examples"]


def write_sheet(run_a: Path, run_b: Path, n: int, seed: int = 0) -> tuple[str, dict[str, Any]]:
    """The Markdown sheet and its key. The order of A and B is drawn per example, so no side is a tell."""
    a, b = _examples(run_a), _examples(run_b)
    if [e["reference"] for e in a] != [e["reference"] for e in b]:
        raise ValueError(f"{run_a} and {run_b} were not evaluated on the same dev examples in the same order")
    rng = random.Random(seed)
    order: list[str] = []
    lines = [f"# Blind read: {min(n, len(a))} replies\n", "One verdict a line in the votes file: A, B or =.\n"]
    for i, (ea, eb) in enumerate(zip(a[:n], b[:n], strict=True), 1):
        first = rng.choice(["a", "b"])
        order.append(first)
        shown = (ea["tuned"], eb["tuned"]) if first == "a" else (eb["tuned"], ea["tuned"])
        lines += [
            f"## {i}\n",
            f"**Customer:** {ea['prompt'].strip()}\n",
            f"**Reference:** {ea['reference'].strip()}\n",
            f"**A:** {shown[0].strip()}\n",
            f"**B:** {shown[1].strip()}\n",
        ]
    key = {"run_a": str(run_a), "run_b": str(run_b), "seed": seed, "a_shown_first": [o == "a" for o in order]}
    return "\n".join(lines), key


def tally(key: dict[str, Any], votes_text: str, source: str = "votes") -> dict[str, Any]:
    """Unblind the votes: how many examples preferred each run, and how many were a tie."""
    votes = [line.split(maxsplit=1)[0] for line in votes_text.splitlines() if line.strip()]
    shown = key["a_shown_first"]
    if len(votes) != len(shown):
        raise ValueError(f"{source}: {len(votes)} verdicts for {len(shown)} examples")
    counts = {key["run_a"]: 0, key["run_b"]: 0, "tie": 0}
    for line, (vote, a_first) in enumerate(zip(votes, shown, strict=True), 1):
        if vote not in VERDICTS:
            raise ValueError(f"{source}, line {line}: {vote!r} is not one of {', '.join(VERDICTS)}")
        if vote == "=":
            counts["tie"] += 1
        else:
            counts[key["run_a"] if (vote == "A") == a_first else key["run_b"]] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blind_read", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sheet = commands.add_parser("sheet", help="write the blind sheet and its key")
    sheet.add_argument("run_a", type=Path)
    sheet.add_argument("run_b", type=Path)
    sheet.add_argument("--n", type=int, default=20)
    sheet.add_argument("--seed", type=int, default=0)
    sheet.add_argument("--out", type=Path, required=True)
    sheet.add_argument("--key", type=Path, required=True)
    count = commands.add_parser("tally", help="unblind a votes file against its key")
    count.add_argument("key", type=Path)
    count.add_argument("votes", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "sheet":
            text, key = write_sheet(args.run_a, args.run_b, args.n, args.seed)
            args.out.write_text(text, encoding="utf-8")
            args.key.write_text(json.dumps(key, indent=1), encoding="utf-8")
            print(f"wrote {args.out} (read it) and {args.key} (do not, until the votes are in)")
        else:
            key = json.loads(args.key.read_text(encoding="utf-8"))
            print(json.dumps(tally(key, args.votes.read_text(encoding="utf-8"), str(args.votes))))
    except (ValueError, OSError) as err:
        print(f"blind read: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
