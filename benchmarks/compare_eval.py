"""Are one run's answers better than another's, beyond noise? A paired bootstrap on two eval.json files.

Label tasks compare macro-F1 or accuracy; text tasks (support, translation, retrieval, content) compare
corpus chrF, recomputed on each draw the way the evaluation scores it. Both runs must have been
evaluated on the same dev examples in the same order (the same recipe data with another base model,
say). Each resample draws dev examples with replacement and scores both
runs' answers on the same draw; the interval is the 2.5th to 97.5th percentile of the difference.

    python -m benchmarks.compare_eval RUN_A RUN_B [--system tuned] [--system-b SYSTEM] [--metric chrf]

``--system-b`` compares two systems of one run: ``compare_eval RUN RUN --system-b base_few_shot`` says
whether the tuned model beats the few-shot base beyond noise.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from builder.core import metrics
from builder.evaluate.runner import SYSTEMS
from builder.run.rundir import RunDir
from builder.usecases.translation import cut_to_reference_lines

Metric = Callable[[Sequence[str], Sequence[str], Sequence[str]], float]
LABEL_METRICS: dict[str, Metric] = {
    "macro_f1": metrics.macro_f1,
    "accuracy": lambda predicted, gold, labels: metrics.accuracy(predicted, gold),
}
TEXT_METRICS: dict[str, Metric] = {"chrf": lambda predicted, gold, labels: metrics.chrf(predicted, gold)}
METRICS = {**LABEL_METRICS, **TEXT_METRICS}


def _answers(result: dict[str, Any], system: str) -> tuple[list[str], list[str]]:
    examples = result["examples"]
    answers, gold = [e[system] for e in examples], [e["reference"] for e in examples]
    if result.get("use_case") == "translation":  # the evaluation scores only the reference's lines
        answers = [cut_to_reference_lines(a, g) for a, g in zip(answers, gold, strict=True)]
    return answers, gold


def paired_bootstrap(
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    system: str = "tuned",
    system_b: str | None = None,
    metric: str = "macro_f1",
    resamples: int = 2000,
) -> dict[str, Any]:
    """Metric of each run on the whole set, the difference a - b and its 95% bootstrap interval."""
    labels = a.get("labels") or b.get("labels") or []
    if metric in LABEL_METRICS and not labels:
        raise ValueError(f"{metric} needs two evaluations of a label task (their 'labels' key); use --metric chrf")
    if metric in TEXT_METRICS and labels:
        raise ValueError(f"{metric} compares text answers; a label task compares macro_f1 or accuracy")
    answers_a, gold = _answers(a, system)
    answers_b, gold_b = _answers(b, system_b or system)
    if gold != gold_b:
        raise ValueError("the two evaluations are not on the same dev examples in the same order")
    score = METRICS[metric]
    rng = random.Random(0)
    n = len(gold)
    differences = []
    for _ in range(resamples):
        draw = [rng.randrange(n) for _ in range(n)]
        sample_gold = [gold[i] for i in draw]
        differences.append(
            score([answers_a[i] for i in draw], sample_gold, labels)
            - score([answers_b[i] for i in draw], sample_gold, labels)
        )
    differences.sort()
    return {
        "metric": metric,
        "system": system,
        "system_b": system_b or system,
        "n": n,
        "a": score(answers_a, gold, labels),
        "b": score(answers_b, gold, labels),
        "difference": score(answers_a, gold, labels) - score(answers_b, gold, labels),
        "interval_95": [differences[int(0.025 * resamples)], differences[int(0.975 * resamples) - 1]],
        "share_a_better": sum(d > 0 for d in differences) / resamples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_eval", description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--system", default="tuned", choices=SYSTEMS)
    parser.add_argument("--system-b", default=None, choices=SYSTEMS, help="RUN_B's system (default: --system)")
    parser.add_argument("--metric", default=None, choices=sorted(METRICS), help="default: macro_f1, or chrf for text")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    runs = [RunDir(run) for run in (args.run_a, args.run_b)]
    missing = [str(run.eval_json) for run in runs if run.eval_result() is None]
    if missing:
        print(f"no evaluation to compare: {', '.join(missing)} missing", file=sys.stderr)
        return 2
    a, b = (run.eval_result() for run in runs)
    metric = args.metric or ("macro_f1" if a.get("labels") else "chrf")
    try:
        result = paired_bootstrap(
            a, b, system=args.system, system_b=args.system_b, metric=metric, resamples=args.resamples
        )
    except ValueError as err:
        print(f"cannot compare {args.run_a} and {args.run_b}: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
