"""Playground feedback into a next round: votes and corrections saved, a DPO and an SFT round trained
from them on the tiny model (real TRL training, 2 steps), lineage, export and the advisor's guard rails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.cli import feedback
from builder.cli.sft import train
from builder.config.recipe import RecipeError, load_recipe, recipe_from_dict
from builder.data import feedback_store
from builder.data.advisor import MIN_PAIRS, advise_feedback, contradicting_corrections, lopsided_votes
from builder.data.feedback_store import record_vote
from builder.serve.chat import Sampling
from tests.conftest import write_support_jsonl

# Early stopping on, as in the shipped support recipe: a DPO round has no dev loss to stop on and must train anyway.
STEPS = [f"--set=training.{key}" for key in ("max_steps=2", "save_steps=2", "early_stopping_patience=3")]
PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my order?"}]


def vote(run: Path, winner: str, base: str = "It is on its way.", tuned: str = "Could you give me your order number?"):
    record_vote(
        run,
        prompt=PROMPT[-1]["content"],
        winner=winner,
        base=base,
        tuned=tuned,
        blind=True,
        messages=PROMPT,
        sampling=Sampling(temperature=0.7, seed=3),
        shown_first="tuned",
    )


def test_a_vote_keeps_prompt_answers_sampling_and_side_shown_first(tmp_path):
    vote(tmp_path, "tuned")
    line = json.loads((tmp_path / "votes.jsonl").read_text(encoding="utf-8"))
    assert line["messages"] == PROMPT
    assert line["sampling"]["temperature"] == 0.7 and line["sampling"]["seed"] == 3
    assert line["shown_first"] == "tuned" and line["winner"] == "tuned" and line["blind"] is True
    with pytest.raises(ValueError, match="shown_first"):
        record_vote(tmp_path, prompt="x", winner="tie", base="a", tuned="b", shown_first="left")


def test_a_correction_is_a_redacted_training_conversation(tmp_path):
    messages = [*PROMPT[:-1], {"role": "user", "content": "Where is my order? Write to ana@example.com"}]
    feedback_store.record_correction(
        tmp_path,
        messages=messages,
        reply="Sure, I'll write to ana@example.com once I have the number.",
        corrected="tuned",
    )
    record = json.loads((tmp_path / "corrections.jsonl").read_text(encoding="utf-8"))
    assert [m["role"] for m in record["messages"]] == ["user", "assistant"]  # the system prompt goes to metadata
    assert "ana@example.com" not in json.dumps(record)
    assert "<EMAIL>" in record["messages"][0]["content"] and "<EMAIL>" in record["messages"][1]["content"]
    assert record["metadata"]["system_prompt"] == "Be brief." and record["metadata"]["corrects"] == "tuned"
    with pytest.raises(ValueError, match="needs the reply"):
        feedback_store.record_correction(tmp_path, messages=PROMPT, reply="  ")


def test_pairs_put_the_winner_first_and_leave_ties_and_identical_answers_out(tmp_path):
    vote(tmp_path, "tuned")
    vote(tmp_path, "base")
    vote(tmp_path, "tie")
    vote(tmp_path, "tuned", base="Same.", tuned="Same.")
    pairs = feedback_store.vote_pairs(feedback_store.read_votes([tmp_path / "votes.jsonl"]))
    assert len(pairs) == 2
    assert pairs[0]["chosen"][0]["content"].startswith("Could you") and pairs[0]["prompt"] == PROMPT
    assert pairs[1]["chosen"][0]["content"] == "It is on its way."
    summary = feedback.summarize(tmp_path)
    assert (summary.votes, summary.pairs, summary.tie, summary.corrections) == (4, 2, 1, 0)
    assert summary.tuned_win_rate == pytest.approx((2 + 0.5) / 4)


def test_advisor_guards_lopsided_votes_contradictions_and_too_few_pairs():
    open_votes = [{"winner": "base", "blind": False, "shown_first": "base", "base": "a", "tuned": "b"}] * 12
    assert "blind mode" in lopsided_votes(open_votes).text()
    assert lopsided_votes([{**v, "blind": True} for v in open_votes]) is None
    asked = {"messages": [{"role": "user", "content": "Can I return a lamp?"}]}
    clash = [
        {"messages": [*asked["messages"], {"role": "assistant", "content": "Yes, within 30 days, free of charge."}]},
        {"messages": [*asked["messages"], {"role": "assistant", "content": "No, lamps are final sale."}]},
    ]
    assert "disagree" in contradicting_corrections(clash).text()
    assert contradicting_corrections(clash[:1] * 2) is None  # the same correction twice is no contradiction
    warnings = advise_feedback(open_votes, clash, method="dpo")
    assert any(f"about {MIN_PAIRS}" in w for w in warnings) and len(warnings) == 3


def test_dpo_needs_a_parent_run_and_names_the_key():
    with pytest.raises(RecipeError, match=r"feedback\.parent_run"):
        recipe_from_dict({"method": "dpo"})


@pytest.fixture
def parent_run(tmp_path, support_recipe) -> Path:
    """A finished tiny run with a dev split, and votes and corrections as the playground saves them."""
    write_support_jsonl(support_recipe.parent / "chats.jsonl", copies=3)  # enough conversations for a dev split
    run = train(load_recipe(support_recipe, ["quantization=none", "data.dev_fraction=0.25"]), tmp_path / "parent")
    for i in range(6):
        vote(run, "tuned" if i % 3 else "base", base=f"It ships soon ({i}).", tuned=f"Your order number, please ({i})?")
    vote(run, "tie")
    feedback_store.record_correction(run, messages=PROMPT, reply="Could you give me your order number (NV-...)?")
    return run


def adapter_weights(run: Path):
    from safetensors.torch import load_file

    return load_file(run / "adapter" / "adapter_model.safetensors")


def test_a_dpo_round_and_an_sft_round_continue_the_parent_adapter(parent_run, tmp_path, capsys):
    import torch

    from builder.models.loading import load_tuned

    for method in ("dpo", "sft"):
        out = tmp_path / f"round-{method}"
        code = feedback.main([str(parent_run), "--method", method, "--train", "--output-dir", str(out), *STEPS])
        assert code == 0
        info = json.loads((out / "run.json").read_text())
        assert info["status"] == "completed" and info["method"] == method
        lineage = info["lineage"]
        assert lineage["parent_run"] == str(parent_run.resolve()) and lineage["pairs"] == 6
        hashed = {Path(f["path"]).name: f for f in lineage["feedback_files"]}
        assert hashed["votes.jsonl"]["lines"] == 7 and len(hashed["corrections.jsonl"]["sha256"]) == 64
        assert (parent_run / f"next-{method}.yaml").is_file()
        # One adapter saved (no leftover reference copy), continued from the parent's: moved, not re-initialised.
        assert not (out / "adapter" / "ref").exists()
        before, after = adapter_weights(parent_run), adapter_weights(out)
        assert before.keys() == after.keys()
        moved = max((after[k] - before[k]).abs().max().item() for k in before)
        assert 0 < moved < 0.5, moved
        # The same dev split as the parent, so evaluations compare; the playground loads the round unchanged.
        assert (out / "dev.jsonl").read_text() == (parent_run / "dev.jsonl").read_text()
        model, _, recipe = load_tuned(out)
        assert recipe.method == method and isinstance(next(model.parameters()), torch.Tensor)
    dpo_pairs = (tmp_path / "round-dpo" / "pairs.jsonl").read_text().splitlines()
    assert len(dpo_pairs) == 6
    sft_train = (tmp_path / "round-sft" / "train.jsonl").read_text()
    assert sft_train.count('"correction-1"') == 2  # correction_repeats: 2
    assert "Feedback warning: Only 6 vote pairs" in capsys.readouterr().out


def test_sft_weight_adds_the_preferred_answers_likelihood_to_the_dpo_loss(parent_run, tmp_path):
    """feedback.sft_weight reaches TRL's loss: at the first step the policy is its reference, so plain DPO's
    loss is exactly ln 2, and the supervised term adds the preferred answers' negative log-likelihood."""
    import math

    import torch

    from builder.feedback.dpo import build_dpo_trainer

    assert feedback.main([str(parent_run), "--method", "dpo"]) == 0
    losses = {}
    for weight in (0.0, 1.0):
        recipe = load_recipe(parent_run / "next-dpo.yaml", [f"feedback.sft_weight={weight}"])
        trainer, _, _ = build_dpo_trainer(recipe, tmp_path / f"w{weight}", [], [], [])
        torch.manual_seed(0)
        batch = next(iter(trainer.get_train_dataloader()))
        with torch.no_grad():
            losses[weight] = trainer.compute_loss(trainer.model, batch).item()
    assert losses[0.0] == pytest.approx(math.log(2), abs=1e-4)
    assert losses[1.0] > losses[0.0] + 0.1, losses


def test_feedback_cli_summary_export_and_errors(parent_run, tmp_path, capsys):
    assert feedback.main([str(parent_run), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "votes 7" in out and "vote pairs 6" in out and "corrections 1" in out
    assert feedback.main([str(parent_run), "--export"]) == 0
    exports = parent_run / "exports"
    corrections = [json.loads(x) for x in (exports / f"{parent_run.name}-corrections.jsonl").read_text().splitlines()]
    assert corrections[0]["messages"][-1]["role"] == "assistant"
    assert len((exports / f"{parent_run.name}-pairs.jsonl").read_text().splitlines()) == 6
    assert feedback.main([str(tmp_path / "nowhere"), "--summary"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "run.json").write_text("{}")
    assert feedback.main([str(empty), "--export"]) == 1
    assert "no corrections and no vote pairs" in capsys.readouterr().err
