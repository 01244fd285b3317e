"""Does a round of playground feedback move the model the way the team asked? An automated voter.

The team's judgement is stood in for by a rule a reply follows or not (``--rule``, see ``RULES``):
``brief`` (at most 30 words: the support recipe's system prompt asks for brief answers, and the
135M model follows it about a third of the time, so the rule often prefers one side of a pair; but most
reference replies are longer, so it pulls against the chrF metric), ``complete`` (the reply ends a
sentence instead of trailing off at the playground's 64-token limit: what an agent would check before
sending a draft; every reference reply of the sample data follows it) or ``order-number`` (asks for
the order number when none was given: followed about 1 time in 50, too rarely to pick a side; kept
because EVALUATION.md reports that attempt). Three steps, each a
command (EVALUATION.md, "Feedback round", has the figures):

    python -m benchmarks.feedback_round votes RUN            # playground pairs, voted by the rule
    python -m builder.feedback RUN --method dpo --train --output-dir RUN-dpo
    python -m benchmarks.feedback_round measure RUN          # rule-follow rate on held-out prompts
    python -m benchmarks.feedback_round measure RUN-dpo --prompts RUN/feedback-proof/heldout.json
    python -m benchmarks.feedback_round report RUN RUN-dpo   # before/after with intervals

``revote`` applies another rule to the pairs a run already has in ``votes.jsonl`` (the answers were
generated without looking at any rule, so re-voting them is the same as voting them anew).

``votes``: the customer's opening message of each conversation of the run's data, with no order
number in it, is a prompt. A held-out set (every dev prompt, then seeded train prompts, up to
``--heldout``) is kept apart. Each remaining prompt is answered ``--rounds`` times by the base and
the tuned model with the playground's sampling (temperature 0.7, top-p 0.9, repetition penalty 1.1),
exactly the pair the playground shows; the rule votes (one side follows it: that side wins; both or
neither: a tie) and the vote is saved with ``builder.data.feedback_store.record_vote`` like a blind playground vote.

``measure``: the run's tuned model answers each held-out prompt greedily (the evaluation's decoding)
and ``--samples`` times with the playground's sampling. Reported: the share that follows the rule,
with a Wilson 95% interval (greedy) and a bootstrap interval over prompts (sampled).

``report``: both runs' rates and the paired difference (bootstrap over prompts), and the support
recipe's main metric (chrF on the shared dev split, from each run's ``eval.json``) with a paired
bootstrap interval of the per-example difference.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

PROOF_DIR = "feedback-proof"
ORDER_GIVEN = re.compile(r"\bNV-?\d{4,}\b|\b\d{6,}\b", re.IGNORECASE)
ASKS_FOR_ORDER = re.compile(
    r"order\s*(number|no\b|#|id\b|reference|code)|n[úu]mero\s+de\s+(pedido|orden)|n[ºo°]\s*de\s+pedido",
    re.IGNORECASE,
)
PLAYGROUND_SAMPLING = {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1}


BRIEF_WORDS = 30
WORD = re.compile(r"\w+")
# What a finished reply ends with: a sentence mark, or a closing quote or bracket after one.
SENTENCE_END = re.compile(r"[.!?…][\"'»)\]]*$")


def asks_for_order_number(reply: str) -> bool:
    """For a prompt without an order number: the reply asks for (or names) the order number."""
    return bool(ASKS_FOR_ORDER.search(reply))


def is_brief(reply: str) -> bool:
    """The reply is at most BRIEF_WORDS words (and not empty)."""
    return 0 < len(WORD.findall(reply)) <= BRIEF_WORDS


def is_complete(reply: str) -> bool:
    """The reply ends a sentence: it was finished, not cut off mid-sentence by the length limit."""
    return bool(SENTENCE_END.search(reply.strip()))


RULES = {"brief": is_brief, "complete": is_complete, "order-number": asks_for_order_number}
DEFAULT_RULE = "complete"  # the rule of the proof in EVALUATION.md


def follows_rule(reply: str, rule: str = DEFAULT_RULE) -> bool:
    return RULES[rule](reply)


def rule_vote(base: str, tuned: str, rule: str = DEFAULT_RULE) -> str:
    base_ok, tuned_ok = follows_rule(base, rule), follows_rule(tuned, rule)
    if base_ok == tuned_ok:
        return "tie"
    return "tuned" if tuned_ok else "base"


def prompt_pools(run: Path, heldout: int, seed: int) -> tuple[list[list[dict]], list[list[dict]]]:
    """(pair prompts, held-out prompts): system prompt + opening customer message, no order number given."""
    from builder.run import rundir

    def openings(path: Path) -> list[list[dict]]:
        found = []
        for record in rundir.read_jsonl(path):
            messages = record["messages"]
            system = [m for m in messages if m["role"] == "system"][:1]
            user = next((m for m in messages if m["role"] == "user"), None)
            if user and not ORDER_GIVEN.search(user["content"]):
                found.append([*system, {"role": "user", "content": user["content"]}])
        return found

    dev, train = openings(run / "dev.jsonl"), openings(run / "train.jsonl")
    random.Random(seed).shuffle(train)
    keep = max(0, heldout - len(dev))
    return train[keep:], dev + train[:keep]


def load_run(run: Path) -> tuple[Any, Any]:
    from builder.models.loading import load_tuned

    model, tokenizer, _ = load_tuned(run)
    return model, tokenizer


def sampled(model: Any, tokenizer: Any, prompts: list, seed: int, adapter: bool, max_new: int) -> list[str]:
    import torch

    from builder.models.generation import generate

    torch.manual_seed(seed)
    out = generate(
        model, tokenizer, prompts, max_new_tokens=max_new, batch_size=16, adapter=adapter, sampling=PLAYGROUND_SAMPLING
    )
    return out.texts


def cmd_votes(args: argparse.Namespace) -> int:
    from builder.data.feedback_store import record_vote

    run = args.run.resolve()
    pairs, heldout = prompt_pools(run, args.heldout, args.seed)
    out = run / PROOF_DIR
    out.mkdir(exist_ok=True)
    (out / "heldout.json").write_text(json.dumps(heldout, ensure_ascii=False, indent=1), encoding="utf-8")
    model, tokenizer = load_run(run)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    counts = {"base": 0, "tuned": 0, "tie": 0}
    settings = {**PLAYGROUND_SAMPLING, "max_new_tokens": args.max_new_tokens}
    for round_number in range(args.first_round, args.first_round + args.rounds):
        seed = args.seed + 1000 * round_number
        base = sampled(model, tokenizer, pairs, seed, False, args.max_new_tokens)
        tuned = sampled(model, tokenizer, pairs, seed, True, args.max_new_tokens)
        for prompt, b, t in zip(pairs, base, tuned, strict=True):
            winner = rule_vote(b, t, args.rule)
            counts[winner] += 1
            shown_first = rng.choice(["base", "tuned"])  # blind mode shuffles the sides
            record_vote(
                run,
                prompt=prompt[-1]["content"],
                winner=winner,
                base=b,
                tuned=t,
                blind=True,
                messages=prompt,
                sampling=settings,
                shown_first=shown_first,
            )
        print(f"round {round_number + 1}: {counts} after {time.perf_counter() - started:.0f} s", flush=True)
    summary = {
        "rule": args.rule,
        "first_round": args.first_round,
        "pair_prompts": len(pairs),
        "heldout_prompts": len(heldout),
        "rounds": args.rounds,
        "pairs_generated": len(pairs) * args.rounds,
        "votes": counts,
        "seconds": round(time.perf_counter() - started, 1),
    }
    name = f"votes-summary-from-round-{args.first_round + 1}.json" if args.first_round else "votes-summary.json"
    (out / name).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(json.dumps(summary))
    return 0


def cmd_revote(args: argparse.Namespace) -> int:
    """Vote the run's saved pairs again with ``--rule``; the previous file is kept beside the proof."""
    run = args.run.resolve()
    votes_file = run / "votes.jsonl"
    rows = [json.loads(line) for line in votes_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    (run / PROOF_DIR).mkdir(exist_ok=True)
    kept = run / PROOF_DIR / "votes-before-revote.jsonl"
    kept.write_text(votes_file.read_text(encoding="utf-8"), encoding="utf-8")
    counts = {"base": 0, "tuned": 0, "tie": 0}
    for row in rows:
        row["winner"] = rule_vote(row["base"], row["tuned"], args.rule)
        counts[row["winner"]] += 1
    votes_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} pairs voted by the rule {args.rule!r}: {counts} (previous votes kept in {kept})")
    return 0


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def bootstrap(values: list[float], n: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of per-prompt values."""
    rng = random.Random(seed)
    means = sorted(sum(rng.choice(values) for _ in values) / len(values) for _ in range(n))
    return (means[int(0.025 * n)], means[int(0.975 * n) - 1])


def cmd_measure(args: argparse.Namespace) -> int:
    from builder.models.generation import generate

    run = args.run.resolve()
    prompts_file = args.prompts or run / PROOF_DIR / "heldout.json"
    prompts = json.loads(Path(prompts_file).read_text(encoding="utf-8"))
    model, tokenizer = load_run(run)
    started = time.perf_counter()
    greedy = generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens, batch_size=16).texts
    samples = [sampled(model, tokenizer, prompts, 7 + s, True, args.max_new_tokens) for s in range(args.samples)]
    greedy_ok = [follows_rule(r, args.rule) for r in greedy]
    per_prompt = [sum(follows_rule(s[i], args.rule) for s in samples) / args.samples for i in range(len(prompts))]
    result = {
        "run": str(run),
        "rule": args.rule,
        "prompts": len(prompts),
        "greedy_rate": sum(greedy_ok) / len(prompts),
        "greedy_ci": wilson(sum(greedy_ok), len(prompts)),
        "sampled_rate": sum(per_prompt) / len(prompts),
        "sampled_ci": bootstrap(per_prompt),
        "samples_per_prompt": args.samples,
        "seconds": round(time.perf_counter() - started, 1),
        "greedy_follows": greedy_ok,
        "sampled_per_prompt": per_prompt,
        "greedy_answers": greedy,
    }
    dest = args.out or run / PROOF_DIR / f"measure-{args.rule}.json"
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    Path(dest).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(
        f"{run.name}: greedy {result['greedy_rate']:.1%} {fmt_ci(result['greedy_ci'])}, "
        f"sampled {result['sampled_rate']:.1%} {fmt_ci(result['sampled_ci'])} on {len(prompts)} prompts"
    )
    return 0


def fmt_ci(ci: tuple[float, float] | list[float]) -> str:
    return f"[{ci[0]:.1%}, {ci[1]:.1%}]"


def sentence_chrf(eval_json: dict[str, Any]) -> list[float]:
    from builder.core.metrics import chrf

    return [chrf([e["tuned"]], [e["reference"]]) for e in eval_json["examples"]]


def cmd_report(args: argparse.Namespace) -> int:
    before_run, after_run = args.before.resolve(), args.after.resolve()
    name = f"measure-{args.rule}.json"
    before = json.loads((before_run / PROOF_DIR / name).read_text(encoding="utf-8"))
    after = json.loads((after_run / PROOF_DIR / name).read_text(encoding="utf-8"))
    lines = [f"rule {args.rule!r}, follow rate on {before['prompts']} held-out prompts (no order number given):"]
    for key, name in (("greedy", "greedy"), ("sampled", f"sampled x{before['samples_per_prompt']}")):
        lines.append(
            f"  {name:12s} before {before[f'{key}_rate']:.1%} {fmt_ci(before[f'{key}_ci'])}  "
            f"after {after[f'{key}_rate']:.1%} {fmt_ci(after[f'{key}_ci'])}"
        )
    a = [float(x) for x in after["greedy_follows"]]
    b = [float(x) for x in before["greedy_follows"]]
    diff = [x - y for x, y in zip(a, b, strict=True)]
    lines.append(f"  greedy difference {sum(diff) / len(diff):+.1%} {fmt_ci(bootstrap(diff))} (paired bootstrap)")
    sdiff = [x - y for x, y in zip(after["sampled_per_prompt"], before["sampled_per_prompt"], strict=True)]
    lines.append(f"  sampled difference {sum(sdiff) / len(sdiff):+.1%} {fmt_ci(bootstrap(sdiff))} (paired bootstrap)")
    eval_before = json.loads((before_run / "eval.json").read_text(encoding="utf-8"))
    eval_after = json.loads((after_run / "eval.json").read_text(encoding="utf-8"))
    metric = eval_before["main_metric"]
    chrf_diff = [x - y for x, y in zip(sentence_chrf(eval_after), sentence_chrf(eval_before), strict=True)]
    lo, hi = bootstrap(chrf_diff)
    lines.append(
        f"{metric} on {len(chrf_diff)} dev examples: before {eval_before['systems']['tuned']['metrics'][metric]:.1f}, "
        f"after {eval_after['systems']['tuned']['metrics'][metric]:.1f}; per-example difference "
        f"{sum(chrf_diff) / len(chrf_diff):+.2f} [{lo:+.2f}, {hi:+.2f}] (paired bootstrap)"
    )
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feedback_round", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    votes = sub.add_parser("votes", help="playground pairs voted by the rule, into RUN/votes.jsonl")
    votes.add_argument("run", type=Path)
    votes.add_argument("--rounds", type=int, default=3, help="pairs per prompt")
    votes.add_argument("--heldout", type=int, default=80, help="prompts kept apart for the measurement")
    votes.add_argument("--max-new-tokens", type=int, default=64)
    votes.add_argument("--seed", type=int, default=0)
    votes.add_argument("--first-round", type=int, default=0, help="rounds already voted (new seeds, appended)")
    revote = sub.add_parser("revote", help="vote the pairs already in RUN/votes.jsonl again with --rule")
    revote.add_argument("run", type=Path)
    measure = sub.add_parser("measure", help="the rule-follow rate of a run on the held-out prompts")
    measure.add_argument("run", type=Path)
    measure.add_argument("--prompts", type=Path, help="held-out prompts (default: RUN/feedback-proof/heldout.json)")
    measure.add_argument("--samples", type=int, default=3)
    measure.add_argument("--max-new-tokens", type=int, default=64)
    measure.add_argument("--out", type=Path)
    report = sub.add_parser("report", help="before/after with intervals")
    report.add_argument("before", type=Path)
    report.add_argument("after", type=Path)
    for command in (votes, revote, measure, report):
        command.add_argument("--rule", choices=sorted(RULES), default=DEFAULT_RULE, help="the stand-in voter")
    args = parser.parse_args(argv)
    commands = {"votes": cmd_votes, "revote": cmd_revote, "measure": cmd_measure, "report": cmd_report}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
