"""Evaluation: few-shot prompts, generation with the adapter on and off, and a short real run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.evaluate.runner import SYSTEMS, few_shot_prompt, pick_shots, render_markdown
from builder.usecases import Example

REPO = Path(__file__).resolve().parents[2]


def ex(text: str, label: str) -> Example:
    return Example(
        messages=[
            {"role": "system", "content": "Label it."},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label},
        ],
        reference=label,
    )


def test_pick_shots_prefers_different_references() -> None:
    train = [ex(f"good {i}", "positive") for i in range(10)] + [ex("bad", "negative")]
    shots = pick_shots(train, 2, seed=1)
    assert sorted(s.reference for s in shots) == ["negative", "positive"]
    assert pick_shots(train, 0, seed=1) == []
    assert len(pick_shots(train[:3], 5, seed=1)) == 3


def test_few_shot_prompt_puts_shots_after_system_before_question() -> None:
    prompt = few_shot_prompt(ex("the question", "?"), [ex("shot one", "positive"), ex("shot two", "negative")])
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert prompt[1]["content"] == "shot one" and prompt[2]["content"] == "positive"
    assert prompt[-1]["content"] == "the question"


def test_generate_switches_the_adapter_and_counts_prompt_tokens(tiny_model_dir: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from builder.models.generation import count_prompt_tokens, generate

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompts = [
        [{"role": "user", "content": "Hi"}],
        [{"role": "user", "content": "A much longer question about a parcel"}],
    ]
    plain = generate(base, tokenizer, prompts, max_new_tokens=6, adapter=True)
    # A random (not zero) LoRA init makes the tuned side differ from the base side.
    config = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    model = get_peft_model(base, config)
    off = generate(model, tokenizer, prompts, max_new_tokens=6, adapter=False)
    on = generate(model, tokenizer, prompts, max_new_tokens=6, adapter=True)
    assert off.texts == plain.texts  # adapter off is exactly the base model
    assert on.texts != off.texts
    assert off.prompt_tokens == [count_prompt_tokens(tokenizer, p) for p in prompts]
    assert off.prompt_tokens[1] > off.prompt_tokens[0]
    assert tokenizer.padding_side == AutoTokenizer.from_pretrained(tiny_model_dir).padding_side  # restored
    with pytest.raises(ValueError, match="PEFT model"):
        generate(base.get_base_model() if hasattr(base, "get_base_model") else base, tokenizer, prompts, adapter=False)


def test_render_markdown_lists_every_system() -> None:
    metrics = {"accuracy": 0.5, "macro_f1": 0.4, "confusion": {"negative": {"negative": 1, "(other)": 1}}}
    result = {
        "use_case": "sentiment",
        "main_metric": "accuracy",
        "n_examples": 2,
        "few_shot": 2,
        "max_new_tokens": 4,
        "systems": {
            s: {"metrics": metrics, "prompt_tokens_mean": 50.0 + i, "new_tokens_mean": 1.0, "seconds": 0.1}
            for i, s in enumerate(SYSTEMS)
        },
        "examples": [
            {"prompt": "p|q", "reference": "negative", "base": "x", "base_few_shot": "y", "tuned": "negative"}
        ],
    }
    md = render_markdown(result)
    assert "| metric | base | base + few-shot | tuned |" in md
    assert "| **accuracy** | 0.500 | 0.500 | 0.500 |" in md
    assert "| prompt tokens / request | 50.0 | 51.0 | 52.0 |" in md
    assert "p\\|q" in md and "Confusion matrices" in md


@pytest.mark.slow
def test_short_sentiment_run_writes_eval_with_three_systems(tmp_path: Path) -> None:
    """A few real training steps on the bundled model (full-precision LoRA), then the real evaluation."""
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe
    from builder.evaluate.runner import main as evaluate_main

    recipe = load_recipe(
        REPO / "recipes" / "sentiment.yaml",
        [
            "training.max_steps=2",
            "training.batch_size=4",
            "training.eval_steps=100",
            "training.save_steps=100",
            "eval.max_examples=4",
            "eval.few_shot=2",
        ],
    )
    run_dir = train(recipe, tmp_path / "run")
    result = json.loads((run_dir / "eval.json").read_text())
    assert set(result["systems"]) == set(SYSTEMS)
    assert result["n_examples"] == 4 and len(result["examples"]) == 4
    tokens = {s: result["systems"][s]["prompt_tokens_mean"] for s in SYSTEMS}
    assert tokens["base_few_shot"] > tokens["base"] == tokens["tuned"]  # the shots cost prompt tokens
    for s in SYSTEMS:
        scores = result["systems"][s]["metrics"]
        assert 0.0 <= scores["accuracy"] <= 1.0
        assert sum(sum(row.values()) for row in scores["confusion"].values()) == 4
    md = (run_dir / "eval.md").read_text()
    assert "| metric | base | base + few-shot | tuned |" in md and "## Examples side by side" in md
    # The CLI evaluates a finished run again.
    assert evaluate_main([str(run_dir), "--max-examples", "2"]) == 0
    assert json.loads((run_dir / "eval.json").read_text())["n_examples"] == 2
