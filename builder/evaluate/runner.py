"""Base vs few-shot base vs tuned, on the dev split of a run: ``python -m builder.evaluate RUN_DIR``.

Three systems answer the same dev prompts with greedy decoding:
- ``base``: the base model, the prompt as the tuned model sees it;
- ``base_few_shot``: the base model with ``recipe.eval.few_shot`` training examples put before the
  prompt as earlier user/assistant turns (the usual way to teach a task without training);
- ``tuned``: the base model with the run's adapter.
All three are one model in memory (the adapter is switched off for the first two). Each is scored
with the use case's metrics, and the prompt length per request is counted: a tuned model gets the
task from its weights, so it needs no examples in the prompt. Results go to ``eval.json`` and ``eval.md``.

A label task (a use case with a label set, ``builder.usecases.label_set``) answers by scoring each
label (``builder.models.labels``): its ``metrics`` come from those answers, which are never off-label, and
each example keeps the label probabilities; the free-generation metrics stay beside them
(``generated_metrics``), so the gain of scoring over generating is visible.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from builder.config.recipe import Recipe
from builder.evaluate.progress import EvalProgress
from builder.models.generation import Generations
from builder.models.labels import LabelScores, format_probabilities
from builder.run import rundir
from builder.run.rundir import RunDir
from builder.usecases import Example, get_usecase, label_set

SYSTEMS = ("base", "base_few_shot", "tuned")
# One system's answers: (model, tokenizer, prompts, labels, *, max_new_tokens, batch_size, adapter, on_progress)
# -> (Generations, LabelScores | None); ``builder.evaluate.answers.answer_prompts`` is the one used.
Answerer = Callable[..., tuple[Generations, LabelScores | None]]
SYSTEM_TITLES = {"base": "base", "base_few_shot": "base + few-shot", "tuned": "tuned"}


def read_examples(path: Path) -> list[Example]:
    from builder.data.dataset import example_from_record

    if not path.is_file():
        return []
    return [example_from_record(r) for r in rundir.read_jsonl(path)]


def pick_shots(train: list[Example], k: int, seed: int) -> list[Example]:
    """``k`` training examples, seeded; different references first, so that a label task shows each label."""
    if k <= 0 or not train:
        return []
    pool = list(train)
    random.Random(seed).shuffle(pool)
    shots: list[Example] = []
    seen: set[str] = set()
    for example in pool:
        if example.reference not in seen:
            shots.append(example)
            seen.add(example.reference)
        if len(shots) == k:
            return shots
    shots += [e for e in pool if e not in shots][: k - len(shots)]
    return shots


def few_shot_prompt(example: Example, shots: list[Example]) -> list[dict[str, str]]:
    """The example's system turns, then each shot as a finished exchange, then the example's own turns."""
    prompt = example.prompt_messages
    system = [m for m in prompt if m["role"] == "system"]
    turns = [m for m in prompt if m["role"] != "system"]
    shown = [m for shot in shots for m in shot.messages if m["role"] != "system"]
    return [*system, *shown, *turns]


def _numbers(scores: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in scores.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def evaluate_run(
    run_dir: Path, *, max_examples: int | None = None, batch_size: int = 8, answerer: Answerer | None = None
) -> dict[str, Any]:
    """Generate on the dev split with the three systems, score them, write eval.json and eval.md."""
    from builder.models.loading import load_tuned

    run = RunDir(run_dir)
    dev = read_examples(run.examples("dev"))
    if not dev:
        raise ValueError(f"{run.examples('dev')}: no dev examples to evaluate on (is data.dev_fraction 0?)")
    EvalProgress(run.path, SYSTEMS, len(dev)).loading()  # a previous evaluation's progress is replaced at once
    model, tokenizer, recipe = load_tuned(run)
    return evaluate_loaded(
        run, model, tokenizer, recipe, max_examples=max_examples, batch_size=batch_size, answerer=answerer
    )


def evaluate_loaded(
    run_dir: Path | RunDir,
    model: Any,
    tokenizer: Any,
    recipe: Recipe,
    *,
    max_examples: int | None = None,
    batch_size: int = 8,
    answerer: Answerer | None = None,
) -> dict[str, Any]:
    """``evaluate_run`` with the run's model already loaded (``builder.models.loading.load_tuned``); ``answerer``
    computes one system's answers (default ``builder.evaluate.answers.answer_prompts``)."""
    from builder.evaluate.answers import answer_prompts

    answer_system = answerer or answer_prompts
    run = RunDir(run_dir)
    usecase = get_usecase(recipe.use_case)
    dev = read_examples(run.examples("dev"))
    dev = dev[: max_examples or recipe.eval.max_examples]
    shots = pick_shots(read_examples(run.examples("train")), recipe.eval.few_shot, recipe.training.seed)
    progress = EvalProgress(run.path, SYSTEMS, len(dev))

    prompts = {
        "base": [e.prompt_messages for e in dev],
        "base_few_shot": [few_shot_prompt(e, shots) for e in dev],
        "tuned": [e.prompt_messages for e in dev],
    }
    labels = label_set(usecase, recipe)
    systems: dict[str, Any] = {}
    outputs: dict[str, list[str]] = {}
    per_example: dict[str, list[dict[str, Any]]] = {}
    for index, name in enumerate(SYSTEMS):
        print(f"evaluate: {SYSTEM_TITLES[name]} on {len(dev)} dev examples...", flush=True)
        progress.system(index)
        gen, scored = answer_system(
            model,
            tokenizer,
            prompts[name],
            labels,
            max_new_tokens=recipe.eval.max_new_tokens,
            batch_size=batch_size,
            adapter=name == "tuned",
            on_progress=progress.update,
        )
        outputs[name] = gen.texts
        systems[name] = {
            "metrics": usecase.score(gen.texts, dev, recipe),
            "prompt_tokens_mean": round(gen.mean_prompt_tokens, 1),
            "prompt_tokens_max": max(gen.prompt_tokens),
            "new_tokens_mean": round(sum(gen.new_tokens) / len(gen.new_tokens), 1),
            "seconds": round(gen.seconds, 1),
        }
        per_example[name] = [{name: text} for text in gen.texts]
        if scored is not None:
            systems[name]["generated_metrics"] = systems[name]["metrics"]
            systems[name]["metrics"] = usecase.score(scored.answers, dev, recipe)
            systems[name]["label_seconds"] = round(scored.seconds, 1)
            per_example[name] = [
                {name: answer, f"{name}_generated": text, f"{name}_probabilities": _rounded(probabilities)}
                for answer, text, probabilities in zip(scored.answers, gen.texts, scored.probabilities, strict=True)
            ]

    result = {
        "run_dir": str(run.path),
        "use_case": recipe.use_case,
        "main_metric": usecase.main_metric,
        "base_model": recipe.base_model,
        "n_examples": len(dev),
        "few_shot": len(shots),
        "max_new_tokens": recipe.eval.max_new_tokens,
        "answers": "label_scores" if labels else "generation",
        "labels": labels,
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "systems": systems,
        "examples": [
            {
                "prompt": e.prompt_messages[-1]["content"],
                "reference": e.reference,
                **{k: v for name in SYSTEMS for k, v in per_example[name][i].items()},
            }
            for i, e in enumerate(dev)
        ],
    }
    rundir.write_json_atomic(run.eval_json, result)
    rundir.write_text_atomic(run.eval_md, render_markdown(result))
    progress.done()
    return result


def _rounded(probabilities: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in probabilities.items()}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) <= 1 else f"{value:.1f}"
    return str(value)


def _quote(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|") or "(empty)"


def render_markdown(result: dict[str, Any], n_examples: int = 5) -> str:
    systems = result["systems"]
    metric_names = list(_numbers(systems["tuned"]["metrics"]))
    header = "| metric | " + " | ".join(SYSTEM_TITLES[s] for s in SYSTEMS) + " |"
    rule = "| --- |" + " --- |" * len(SYSTEMS)
    scored = result.get("answers") == "label_scores"
    how = (
        f"answers scored over the label set ({', '.join(result.get('labels') or [])}): the most likely label, "
        f"never off-label; the free-generation rows are greedy decoding, at most {result['max_new_tokens']} new tokens"
        if scored
        else f"greedy decoding, at most {result['max_new_tokens']} new tokens"
    )
    lines = [
        f"# Evaluation: {result['use_case']}",
        "",
        f"{result['n_examples']} dev examples, {how}; "
        f"few-shot uses {result['few_shot']} training examples in the prompt. "
        f"Main metric: **{result['main_metric']}**.",
        "",
        header,
        rule,
    ]
    for metric in metric_names:
        label = f"**{metric}**" if metric == result["main_metric"] else metric
        lines.append(f"| {label} | " + " | ".join(_cell(systems[s]["metrics"].get(metric, "")) for s in SYSTEMS) + " |")
    if scored:
        for metric in _numbers(systems["tuned"].get("generated_metrics", {})):
            cells = " | ".join(_cell(systems[s].get("generated_metrics", {}).get(metric, "")) for s in SYSTEMS)
            lines.append(f"| {metric} (free generation) | {cells} |")
    for key, label in (("prompt_tokens_mean", "prompt tokens / request"), ("new_tokens_mean", "new tokens / request")):
        lines.append(f"| {label} | " + " | ".join(_cell(systems[s][key]) for s in SYSTEMS) + " |")
    lines.append("| generation seconds | " + " | ".join(_cell(systems[s]["seconds"]) for s in SYSTEMS) + " |")

    confusion = {s: systems[s]["metrics"].get("confusion") for s in SYSTEMS}
    if all(confusion.values()):
        lines += ["", "## Confusion matrices (rows: gold label, columns: answer)"]
        for s in SYSTEMS:
            matrix = confusion[s]
            columns = list(next(iter(matrix.values())))
            lines += ["", f"**{SYSTEM_TITLES[s]}**", "", "| gold \\ answer | " + " | ".join(columns) + " |"]
            lines.append("| --- |" + " --- |" * len(columns))
            lines += [f"| {gold} | " + " | ".join(str(row[c]) for c in columns) + " |" for gold, row in matrix.items()]

    lines += ["", "## Examples side by side", ""]
    for i, example in enumerate(result["examples"][:n_examples], 1):
        lines += [f"**{i}.** {_quote(example['prompt'], 400)}", "", "| | answer |", "| --- | --- |"]
        lines.append(f"| reference | {_quote(example['reference'])} |")
        for s in SYSTEMS:
            answer = _quote(example[s])
            if f"{s}_probabilities" in example:
                answer += f" ({format_probabilities(example[f'{s}_probabilities'])}; generated: "
                answer += f"{_quote(example[f'{s}_generated'], 80)})"
            lines.append(f"| {SYSTEM_TITLES[s]} | {answer} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m builder.evaluate",
        description="Evaluate a finished run: base, base with few-shot examples, and tuned, on its dev split.",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory written by `python -m builder.sft`")
    parser.add_argument("--max-examples", type=int, default=None, help="default: the recipe's eval.max_examples")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)
    run = RunDir(args.run_dir)
    if not run.recipe_file.is_file():
        print(f"{run.path}: not a run directory (no {run.recipe_file.name})", file=sys.stderr)
        return 2
    try:
        result = evaluate_run(args.run_dir, max_examples=args.max_examples, batch_size=args.batch_size)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"evaluation failed: {err}", file=sys.stderr)
        return 1
    main_metric = result["main_metric"]
    for name in SYSTEMS:
        s = result["systems"][name]
        print(
            f"{SYSTEM_TITLES[name]:>16}: {main_metric} {_cell(s['metrics'][main_metric])}, "
            f"prompt tokens {s['prompt_tokens_mean']}"
        )
    print(f"wrote {run.eval_json} and {run.eval_md}")
    print(json.dumps({n: _numbers(result["systems"][n]["metrics"]) for n in SYSTEMS}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
