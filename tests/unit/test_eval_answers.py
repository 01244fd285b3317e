"""Prompts encoded once (shared prefix, one pass for labels and generation) answer as the full computation does."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.eval_reference import answer_prompts_reference
from builder.evaluate.answers import answer_prompts
from builder.evaluate.runner import few_shot_prompt
from builder.models.kv_prefix import common_prefix_length
from builder.usecases import Example

LABELS = ["negative", "neutral", "positive"]
TEXTS = [
    "The chair arrived broken and nobody answers my emails.",
    "Fine.",
    "¡Me encanta la lámpara, llegó antes de lo previsto!",
    "Order NV-100200 was delivered on Tuesday, as planned, to the neighbour on the second floor.",
    "Where is my refund?",
]
SYSTEM = {"role": "system", "content": "You label the sentiment of customer messages."}


def example(text: str, label: str) -> Example:
    return Example(
        messages=[SYSTEM, {"role": "user", "content": text}, {"role": "assistant", "content": label}], reference=label
    )


def prompt_sets() -> dict[str, list[list[dict[str, str]]]]:
    dev = [example(t, "?") for t in TEXTS]
    shots = [
        example("Terrible service.", "negative"),
        example("It is a table.", "neutral"),
        example("Love it!", "positive"),
    ]
    return {"plain": [e.prompt_messages for e in dev], "few_shot": [few_shot_prompt(e, shots) for e in dev]}


@pytest.fixture(scope="module")
def tuned(tiny_model_dir: Path):
    """The tiny random model with a random (not zero) LoRA: base and tuned sides differ."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    model.eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def test_common_prefix_length() -> None:
    assert common_prefix_length([[1, 2, 3], [1, 2, 4, 5], [1, 2]]) == 2
    assert common_prefix_length([[7, 8]]) == 2
    assert common_prefix_length([[1], [2]]) == 0
    assert common_prefix_length([]) == 0


@pytest.mark.parametrize("name", ["plain", "few_shot"])
@pytest.mark.parametrize("adapter", [False, True])
def test_one_pass_answers_equal_the_full_computation(tuned, name: str, adapter: bool) -> None:
    model, tokenizer = tuned
    prompts = prompt_sets()[name]
    seen: list[tuple[int, int]] = []
    gen, scored = answer_prompts(
        model, tokenizer, prompts, LABELS, max_new_tokens=5, batch_size=2, adapter=adapter,
        on_progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    ref_gen, ref_scored = answer_prompts_reference(
        model, tokenizer, prompts, LABELS, max_new_tokens=5, batch_size=2, adapter=adapter
    )
    assert gen.texts == ref_gen.texts
    assert gen.new_tokens == ref_gen.new_tokens and gen.prompt_tokens == ref_gen.prompt_tokens
    assert scored is not None and ref_scored is not None
    assert scored.answers == ref_scored.answers
    for mine, theirs in zip(scored.probabilities, ref_scored.probabilities, strict=True):
        assert list(mine) == LABELS
        assert [mine[label] for label in LABELS] == pytest.approx([theirs[label] for label in LABELS], abs=1e-6)
    assert seen[-1] == (len(prompts), len(prompts)) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_free_generation_alone_equals_model_generate_with_several_batches(tuned) -> None:
    model, tokenizer = tuned
    prompts = prompt_sets()["few_shot"] + prompt_sets()["plain"]
    for batch_size in (1, 3, 16):
        gen, scored = answer_prompts(model, tokenizer, prompts, None, max_new_tokens=7, batch_size=batch_size)
        ref, _ = answer_prompts_reference(model, tokenizer, prompts, None, max_new_tokens=7, batch_size=batch_size)
        assert scored is None
        assert gen.texts == ref.texts and gen.new_tokens == ref.new_tokens, batch_size


def test_the_shared_prefix_cache_is_never_written(tuned) -> None:
    """Two batches continue from one prefix; its tensors stay what they were when computed."""
    import torch

    from builder.models.generation import greedy_continue
    from builder.models.kv_prefix import SharedPrefix, prefill

    model, tokenizer = tuned
    rows = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in ("one two three four", "one two five")]
    shared = common_prefix_length(rows)
    assert shared >= 1
    with torch.inference_mode():
        prefix = SharedPrefix.compute(model, rows[0][:shared])
        before = [(k.clone(), v.clone()) for k, v in prefix.layers]
        first = greedy_continue(model, prefill(model, prefix, rows, 0), stops=[[], []], max_new_tokens=[4, 4], pad_id=0)
        again = greedy_continue(model, prefill(model, prefix, rows, 0), stops=[[], []], max_new_tokens=[4, 4], pad_id=0)
    assert first == again
    for (k, v), (k0, v0) in zip(prefix.layers, before, strict=True):
        assert torch.equal(k, k0) and torch.equal(v, v0)
    with pytest.raises(ValueError, match="shared prefix"):
        prefill(model, prefix, [rows[0][:shared]], 0)  # nothing of its own after the prefix


def test_greedy_continue_keeps_each_rows_stop_tokens_and_maximum(tuned) -> None:
    import torch

    from builder.models.generation import greedy_continue
    from builder.models.kv_prefix import SharedPrefix, prefill

    model, tokenizer = tuned
    rows = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in ("hello there", "hello again you")]
    with torch.inference_mode():
        free = greedy_continue(
            model, prefill(model, SharedPrefix([], []), rows, 0), stops=[[], []], max_new_tokens=[6, 6], pad_id=0
        )
        # Row 0 stops at its third token (declared a stop token for it alone); row 1 gets at most 2 tokens.
        bounded = greedy_continue(
            model,
            prefill(model, SharedPrefix([], []), rows, 0),
            stops=[[free[0][2]], []],
            max_new_tokens=[6, 2],
            pad_id=0,
        )
    first_stop = free[0].index(free[0][2])
    assert bounded[0] == free[0][: first_stop + 1]
    assert bounded[1] == free[1][:2]


def assert_same_eval(new: dict, old: dict) -> None:
    from benchmarks.eval_reference import compare_results

    gaps = compare_results(new, old)
    assert gaps["metrics_missing_on_one_side"] == [], gaps
    assert gaps["max_metric_difference"] <= 1e-6, gaps
    assert gaps["answers_or_texts_differing"] == 0, gaps
    # Stored rounded to 4 decimals: a difference in the 7th decimal may move the last digit.
    assert gaps["max_probability_difference"] <= 1.01e-4, gaps


def tiny_run(tmp_path: Path, tiny_model_dir: Path, use_case: str) -> Path:
    """Two training steps on the tiny model: a sentiment run (label task) or a support run (free text)."""
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe
    from tests.conftest import write_support_jsonl

    if use_case == "sentiment":
        rows = ["text\tlabel"] + [f"{t} {i}\t{LABELS[i % 3]}" for i, t in enumerate(TEXTS * 4)]
        (tmp_path / "data.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        data = "{train: [data.tsv], prompt_field: text, response_field: label, dedupe: false, dev_fraction: 0.3}"
    else:
        write_support_jsonl(tmp_path / "data.jsonl", copies=3)
        data = "{train: [data.jsonl], dedupe: false, dev_fraction: 0.3}"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"""
name: tiny-{use_case}
use_case: {use_case}
base_model: {tiny_model_dir}
quantization: none
data: {data}
training: {{max_steps: 2, batch_size: 4, max_length: 128, eval_steps: 2, save_steps: 2}}
eval: {{enabled: false, few_shot: 2, max_new_tokens: 8}}
""",
        encoding="utf-8",
    )
    return train(load_recipe(recipe), tmp_path / "run")


@pytest.mark.parametrize("use_case", ["sentiment", "support"])
def test_a_tiny_runs_eval_json_numbers_are_those_of_the_full_computation(
    tmp_path: Path, tiny_model_dir: Path, use_case: str
) -> None:
    import json

    from builder.evaluate.progress import read_progress
    from builder.evaluate.runner import evaluate_run

    run = tiny_run(tmp_path, tiny_model_dir, use_case)
    old = evaluate_run(run, batch_size=3, answerer=answer_prompts_reference)
    new = evaluate_run(run, batch_size=3)
    assert new["n_examples"] >= 5 and new["few_shot"] == 2
    assert (new["answers"] == "label_scores") == (use_case == "sentiment")
    assert_same_eval(new, old)
    assert json.loads((run / "eval.json").read_text(encoding="utf-8"))["systems"] == new["systems"]
    assert read_progress(run)["phase"] == "done"


@pytest.mark.slow
def test_the_sentiment_samples_eval_json_numbers_are_those_of_the_full_computation(tmp_path: Path) -> None:
    """The bundled model, two training steps on sample_data/sentiment, 3-shot, a dev split of 25% (about 17)."""
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe
    from builder.evaluate.runner import evaluate_loaded
    from builder.models.loading import load_tuned

    repo = Path(__file__).resolve().parents[2]
    overrides = ["training.max_steps=2", "training.eval_steps=100", "training.save_steps=100", "eval.enabled=false"]
    overrides += ["data.dev_fraction=0.25"]  # kept small: the reference computation is slow
    run = train(load_recipe(repo / "recipes" / "sentiment.yaml", overrides), tmp_path / "run")
    model, tokenizer, recipe = load_tuned(run)
    new = evaluate_loaded(run, model, tokenizer, recipe)
    old = evaluate_loaded(run, model, tokenizer, recipe, answerer=answer_prompts_reference)
    print({s: (new["systems"][s]["metrics"]["macro_f1"], new["systems"][s]["label_seconds"]) for s in new["systems"]})
    assert new["n_examples"] >= 15 and new["few_shot"] == 3 and new["answers"] == "label_scores"
    assert_same_eval(new, old)
