"""Label tasks answer by scoring the label set: never off-label, whatever the model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from builder.models.labels import format_probabilities, score_labels

LABELS = ["negative", "neutral", "positive"]
TEXTS = [
    "The chair arrived broken and nobody answers my emails.",
    "Fine.",
    "¡Me encanta la lámpara, llegó antes de lo previsto!",
    "Order NV-100200 was delivered on Tuesday, as planned, to the neighbour on the second floor.",
]


def prompts() -> list[list[dict[str, str]]]:
    return [
        [
            {"role": "system", "content": "You label the sentiment of customer messages."},
            {"role": "user", "content": f"Answer with one word: {', '.join(LABELS)}.\n\n{text}"},
        ]
        for text in TEXTS
    ]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    """The untrained tiny model: its free generation is noise, so off-label answers are the norm."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir)


def test_an_untrained_model_is_never_off_label_when_labels_are_scored(tiny) -> None:
    from builder.core import metrics
    from builder.models.generation import generate

    model, tokenizer = tiny
    free = generate(model, tokenizer, prompts(), max_new_tokens=4, adapter=True)
    # The contrast that makes scoring necessary: free generation of this model answers off the label set.
    assert any(metrics.parse_label(text, LABELS) == metrics.OTHER_LABEL for text in free.texts), free.texts

    scored = score_labels(model, tokenizer, prompts(), LABELS, adapter=True, batch_size=3)
    assert len(scored.answers) == len(TEXTS)
    assert set(scored.answers) <= set(LABELS)
    for probabilities in scored.probabilities:
        assert list(probabilities) == LABELS
        assert math.isclose(sum(probabilities.values()), 1.0, rel_tol=1e-6)
        assert all(0.0 < p < 1.0 for p in probabilities.values())


def test_batched_left_padded_scores_equal_one_prompt_at_a_time(tiny) -> None:
    model, tokenizer = tiny
    together = score_labels(model, tokenizer, prompts(), LABELS, batch_size=4)
    for i, prompt in enumerate(prompts()):
        alone = score_labels(model, tokenizer, [prompt], LABELS, batch_size=1)
        for label in LABELS:
            assert together.probabilities[i][label] == pytest.approx(alone.probabilities[0][label], abs=1e-4)


def test_scores_are_the_log_likelihood_of_the_reply_as_trained(tiny) -> None:
    """Against a direct computation: the summed log-probabilities of the masked (trained) reply tokens."""
    import torch

    from builder.models.masking import tokenize_with_assistant_mask

    model, tokenizer = tiny
    prompt = prompts()[0]
    sums = []
    for label in LABELS:
        example = tokenize_with_assistant_mask(tokenizer, [*prompt, {"role": "assistant", "content": label}])
        ids = torch.tensor([example.input_ids])
        with torch.no_grad():
            log_probs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
        targets = ids[0, 1:]
        mask = torch.tensor(example.assistant_masks[1:], dtype=torch.bool)
        sums.append(float(log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)[mask].sum()))
    expected = torch.softmax(torch.tensor(sums), dim=0).tolist()
    scored = score_labels(model, tokenizer, [prompt], LABELS)
    assert [scored.probabilities[0][label] for label in LABELS] == pytest.approx(expected, abs=1e-4)


def test_format_probabilities_lists_the_most_likely_first() -> None:
    assert format_probabilities({"negative": 0.1, "positive": 0.7, "neutral": 0.2}) == (
        "positive 70% · neutral 20% · negative 10%"
    )


def test_a_sentiment_run_evaluates_by_label_scores_beside_free_generation(tmp_path: Path, tiny_model_dir) -> None:
    """Two training steps on the tiny model, then the evaluation: every system answers on-label."""
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe
    from builder.evaluate.runner import evaluate_run

    rows = ["text\tlabel"] + [f"{t} {i}\t{LABELS[i % 3]}" for i, t in enumerate(TEXTS * 4)]
    (tmp_path / "reviews.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    recipe = tmp_path / "sentiment.yaml"
    recipe.write_text(
        f"""
name: tiny-sentiment
use_case: sentiment
base_model: {tiny_model_dir}
quantization: none
data: {{train: [reviews.tsv], prompt_field: text, response_field: label, dedupe: false, dev_fraction: 0.25}}
training: {{max_steps: 2, batch_size: 4, max_length: 96, eval_steps: 2, save_steps: 2}}
eval: {{enabled: false, few_shot: 2, max_new_tokens: 4}}
""",
        encoding="utf-8",
    )
    run = train(load_recipe(recipe), tmp_path / "run")
    result = evaluate_run(run, batch_size=2)
    assert result["answers"] == "label_scores" and result["labels"] == LABELS
    for name, system in result["systems"].items():
        assert system["metrics"]["off_label"] == 0, name
        assert "generated_metrics" in system and "off_label" in system["generated_metrics"]
    example = result["examples"][0]
    assert example["tuned"] in LABELS and set(example["tuned_probabilities"]) == set(LABELS)
    assert "tuned_generated" in example
    saved = json.loads((run / "eval.json").read_text(encoding="utf-8"))
    assert saved["systems"]["tuned"]["metrics"]["off_label"] == 0
    markdown = (run / "eval.md").read_text(encoding="utf-8")
    assert "(free generation)" in markdown and "never off-label" in markdown


def test_paired_bootstrap_of_two_runs_label_answers() -> None:
    from benchmarks.compare_eval import paired_bootstrap

    gold = ["negative", "neutral", "positive"] * 20
    good = {"labels": LABELS, "examples": [{"reference": g, "tuned": g} for g in gold]}
    noisy = {"labels": LABELS, "examples": [{"reference": g, "tuned": "neutral"} for g in gold]}
    result = paired_bootstrap(good, noisy, resamples=300)
    assert result["a"] == 1.0 and result["difference"] > 0.5
    low, high = result["interval_95"]
    assert 0 < low <= result["difference"] <= high and result["share_a_better"] == 1.0
    same = paired_bootstrap(good, good, resamples=50)
    assert same["interval_95"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="same dev examples"):
        paired_bootstrap(good, {"labels": LABELS, "examples": good["examples"][::-1]}, resamples=10)


def test_paired_bootstrap_of_two_runs_text_answers_on_chrf() -> None:
    from benchmarks.compare_eval import paired_bootstrap

    references = [f"el pedido {n} llega el lunes por la mañana" for n in range(30)]
    close = {
        "use_case": "support",
        "examples": [{"reference": r, "tuned": r.replace("lunes", "martes")} for r in references],
    }
    far = {
        "use_case": "support",
        "examples": [{"reference": r, "tuned": "gracias por escribirnos"} for r in references],
    }
    result = paired_bootstrap(close, far, metric="chrf", resamples=200)
    low, high = result["interval_95"]
    assert result["a"] > result["b"] and 0 < low <= result["difference"] <= high
    # Two systems of one run: the tuned replies against the same run's few-shot base.
    one_run = {
        "use_case": "support",
        "examples": [
            {**c, "base_few_shot": f["tuned"]} for c, f in zip(close["examples"], far["examples"], strict=True)
        ],
    }
    within = paired_bootstrap(one_run, one_run, system_b="base_few_shot", metric="chrf", resamples=50)
    assert within["difference"] == result["difference"] and within["system_b"] == "base_few_shot"
    # A translation's extra lines are not scored, as in the evaluation: a second line costs nothing.
    chatty = {
        "use_case": "translation",
        "examples": [{"reference": r, "tuned": r + "\nNote: literal."} for r in references],
    }
    exact = {"use_case": "translation", "examples": [{"reference": r, "tuned": r} for r in references]}
    assert paired_bootstrap(chatty, exact, metric="chrf", resamples=20)["difference"] == 0.0
    with pytest.raises(ValueError, match="label task"):
        paired_bootstrap(close, far, metric="macro_f1", resamples=10)
    with pytest.raises(ValueError, match="compares text answers"):
        labelled = {"labels": LABELS, "examples": [{"reference": "neutral", "tuned": "neutral"}]}
        paired_bootstrap(labelled, labelled, metric="chrf", resamples=10)
