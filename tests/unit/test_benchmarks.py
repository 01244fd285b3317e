"""Benchmarks: the padding arithmetic, the shared dev loss, the GPU script's shapes and configs, and a smoke run.

The smoke run drives ``python -m benchmarks --tiny`` end to end on the tiny random Llama: real Bitext
import, real TRL training of the product and the plain-TRL baseline, the playground's fresh processes
and the import CLI, at sizes that take seconds. It checks that the JSON holds the headline keys with
sane values, not the speed itself (that is what the benchmarks are for).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gpu_qlora import (
    LLAMA3_8B,
    TINY,
    VARIANTS,
    flops_per_token,
    matmul_parameters,
    peak_tflops,
    sft_config_kwargs,
    summarize,
    synthetic_lengths,
    unavailable_reason,
)
from benchmarks.measure import (
    RecordingCollator,
    assistant_token_losses,
    batches_of,
    draw_batches,
    epoch_padding_fraction,
    padding_fraction,
    paired_noise,
)

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- padding arithmetic


def test_padding_fraction_counts_the_pad_positions_of_right_padded_batches() -> None:
    assert padding_fraction([[5, 5, 5]]) == 0.0
    # [1, 3] pads to 2 x 3 = 6 positions with 4 real tokens; [2] pads nothing.
    assert padding_fraction([[1, 3], [2]]) == pytest.approx(1 - 6 / 8)
    assert padding_fraction([]) == 0.0


def test_length_sorted_batches_waste_less_than_shuffled_ones() -> None:
    lengths = [10, 200, 15, 190, 12, 210, 11, 205]
    shuffled = list(range(len(lengths)))
    grouped = sorted(shuffled, key=lambda i: lengths[i])
    assert epoch_padding_fraction(grouped, lengths, 2) < 0.05
    assert epoch_padding_fraction(shuffled, lengths, 2) > 0.4


def test_batches_are_drawn_whole_uniformly_and_repeatably() -> None:
    batches = batches_of(list(range(21)), 4)
    assert batches[-1] == [20]  # the short last batch, as the dataloader makes it
    drawn = draw_batches(batches, 3, seed=1)
    assert drawn == draw_batches(batches, 3, seed=1)
    assert all(len(b) == 4 and b in batches for b in drawn)
    assert len({tuple(b) for b in drawn}) == 3
    with pytest.raises(ValueError, match="only 5 full"):
        draw_batches(batches, 6, seed=1)


def test_recording_collator_counts_real_and_padded_tokens() -> None:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    recorder = RecordingCollator(DataCollatorForLanguageModeling(pad_token_id=0))
    recorder([{"input_ids": [5, 6, 7]}, {"input_ids": [8]}])
    packed = RecordingCollator(DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True))
    packed([{"input_ids": [5, 6, 7]}, {"input_ids": [8]}])
    (record,) = recorder.records
    assert (record.useful, record.padded, record.lengths) == (4, 6, [3, 1])
    assert (packed.records[0].useful, packed.records[0].padded) == (4, 4)


def test_paired_noise_is_two_standard_errors_of_the_differences() -> None:
    assert paired_noise([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.0
    assert paired_noise([1.0, 2.0], [0.0, 0.0]) == pytest.approx(2 * 0.7071067811865476 / 2**0.5)


# ---------------------------------------------------------------- the dev loss every variant is judged by


def test_dev_loss_is_the_models_own_loss_on_assistant_tokens_only(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    rows = [
        {"input_ids": [5, 6, 7, 8, 9, 10], "assistant_masks": [0, 0, 0, 1, 1, 1]},
        {"input_ids": [11, 12, 13], "assistant_masks": [0, 1, 1]},
    ]
    losses = assistant_token_losses(model, rows, batch_size=2)  # padded together in one batch
    for row, loss in zip(rows, losses, strict=True):
        ids = torch.tensor([row["input_ids"]])
        labels = torch.tensor(
            [[t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True)]]
        )
        with torch.no_grad():
            expected = model(input_ids=ids, labels=labels).loss.item()
        assert loss == pytest.approx(expected, rel=1e-4)


# ---------------------------------------------------------------- the GPU script, on the CPU


def test_llama3_8b_shape_has_the_known_parameter_count() -> None:
    # Llama-3-8B: 8.03 B parameters, of which 0.53 B input embeddings (no FLOPs) and ~0.27 M norm weights.
    assert matmul_parameters(LLAMA3_8B) == pytest.approx(8.03e9 - 128256 * 4096, rel=0.005)
    per_token = flops_per_token(LLAMA3_8B, mean_context=512)
    assert per_token == pytest.approx(4 * matmul_parameters(LLAMA3_8B) + 8 * 32 * 4096 * 512)
    assert flops_per_token(LLAMA3_8B, 512, "6n") > per_token


def test_peak_flops_lookup_is_conservative_for_an_unspecified_h100() -> None:
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops("NVIDIA H200") == 989.0
    assert peak_tflops("Some Future GPU") is None
    assert peak_tflops("Some Future GPU", override=500.0) == 500.0


def test_every_gpu_variant_builds_a_valid_sft_config() -> None:
    from trl import SFTConfig

    for variant in VARIANTS.values():
        kwargs = sft_config_kwargs(variant, device="cpu", seq=256, grad_accum=2, steps=2, output_dir="/tmp/x")
        if variant.liger:  # TrainingArguments refuses use_liger_kernel without the package installed
            kwargs.pop("use_liger_kernel")
        config = SFTConfig(**kwargs)
        assert config.padding_free == variant.packing
        assert config.optim.value == variant.optim
        assert config.gradient_checkpointing == variant.gradient_checkpointing
    assert unavailable_reason(VARIANTS["packed_varlen_liger_paged8bit"], "cpu") is not None
    assert unavailable_reason(VARIANTS["packed_varlen"], "cpu") is None


def test_synthetic_lengths_stay_within_bounds_and_repeat() -> None:
    lengths = synthetic_lengths(500, 2048)
    assert lengths == synthetic_lengths(500, 2048)
    assert min(lengths) >= 16 and max(lengths) <= 2048
    assert 300 < sorted(lengths)[250] < 750  # median near a quarter of 2048


def test_gpu_summary_picks_the_fastest_variant_under_the_memory_goal() -> None:
    results = [
        {"variant": "trl_peft_baseline", "tokens_per_s": 100.0, "peak_memory_gb": 12.0},
        {"variant": "a", "tokens_per_s": 300.0, "peak_memory_gb": 11.0, "mfu": 0.5},
        {"variant": "b", "tokens_per_s": 250.0, "peak_memory_gb": 8.0, "mfu": 0.4},
        {"variant": "c", "skipped": "not installed"},
    ]
    summary = summarize(results)
    assert summary["best_variant_under_memory_goal"] == "b"
    assert summary["meets_goals"] is True
    assert results[2]["speedup_vs_baseline"] == 2.5


def test_gpu_script_runs_its_tiny_shape_on_the_cpu(tmp_path: Path) -> None:
    """``--tiny --cpu``: random model written, quantized to 4-bit, baseline and packed variants trained 1 step."""
    out = tmp_path / "gpu.json"
    command = [sys.executable, "-m", "benchmarks.gpu_qlora", "--tiny", "--cpu", "--in-process", "--steps", "1"]
    command += ["--variants", "trl_peft_baseline,packed_varlen,packed_varlen_liger_paged8bit"]
    command += ["--model-cache", str(tmp_path / "model"), "--json", str(out)]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    baseline, packed, paged = report["variants"]
    assert baseline["tokens_per_s"] > 0 and packed["tokens_per_s"] > 0
    assert packed["config"]["padding_free"] is True
    assert packed["useful_tokens"] > baseline["useful_tokens"]  # a packed row holds several examples
    assert "CUDA only" in paged["skipped"] or "not installed" in paged["skipped"]
    assert TINY.hidden_size == report["shape"]["hidden_size"]
    assert "trl_peft_baseline" in proc.stdout.splitlines()[-3]  # the table comes last


# ---------------------------------------------------------------- the runner, end to end on tiny sizes


@pytest.mark.slow  # about 3 minutes on 2 idle cores: four sections, two fresh playground processes
def test_runner_quickest_path_writes_the_headline_keys(tmp_path: Path, tiny_model_dir: Path, real_data: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "benchmarks", "--tiny", "--base-model", str(tiny_model_dir), "--json", str(out)]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(out.read_text())
    train = report["train_throughput"]
    assert train["ratio_vs_trl_baseline"] > 0
    assert 0 <= train["padding_fraction"] < 1 and 0 <= train["padding_fraction_trl_baseline"] < 1
    assert set(train["variants"]) == {"trl_baseline", "product"}
    assert train["variants"]["product"]["loss_on"] == "assistant tokens"
    assert train["variants"]["trl_baseline"]["gradient_checkpointing"] is True  # TRL's default
    assert train["dev_examples"] > 0 and train["dev_loss"] > 0
    playground = report["playground"]
    assert playground["memory_ratio_side_by_side"] > 0.5
    assert playground["first_token_s"] > 0
    assert report["import"]["conversations_per_s"] > 0
    serve = report["serve"]  # a real builder.serve.server, 1, 4 and 8 clients
    assert [serve["levels"][n]["requests"] for n in ("1", "4", "8")] == [1, 4, 8]
    assert all(serve["levels"][n]["completion_tokens"] > 0 for n in ("1", "4", "8"))
    assert serve["throughput_ratio_8_vs_1"] > 0 and serve["ttft_ratio_8_vs_1"] > 0
    assert report["import"]["conversations"] == 500
    evaluation = report["eval_speed"]  # the engine and the former computation on the same tiny run
    assert evaluation["eval_to_train_ratio"] > 0 and evaluation["speedup_vs_reference"] > 0
    assert evaluation["identical"]["max_metric_difference"] < 1e-6
    assert evaluation["identical"]["answers_or_texts_differing"] == 0
    for key in (
        "train_throughput.ratio_vs_trl_baseline",
        "train_throughput.padding_fraction",
        "playground.memory_ratio_side_by_side",
        "playground.first_token_s",
        "import.conversations_per_s",
        "eval_speed.eval_to_train_ratio",
        "serve.throughput_ratio_8_vs_1",
        "serve.ttft_ratio_8_vs_1",
    ):
        assert report["summary"][key] is not None, key


def test_feedback_rules_decide_pairs_and_revote_rewrites_only_the_winners(tmp_path: Path) -> None:
    from benchmarks.feedback_round import main, rule_vote

    brief, rambling = "Thanks! Could you send me your order number?", " ".join(["word"] * 31)
    assert rule_vote(brief, rambling, "brief") == "base"
    assert rule_vote(rambling, brief, "brief") == "tuned"
    assert rule_vote(brief, brief, "brief") == "tie"
    assert rule_vote("", rambling, "brief") == "tie"  # an empty answer follows no rule
    assert rule_vote(rambling, brief, "order-number") == "tuned"
    cut_off, finished = "We are sorry, the parcel left our warehouse and it", "It left on Monday (tracking below)."
    assert rule_vote(cut_off, finished, "complete") == "tuned"
    assert rule_vote('She said "it arrives soon."', cut_off, "complete") == "base"
    assert rule_vote(cut_off, "", "complete") == "tie"
    rows = [{"prompt": "p", "base": rambling, "tuned": brief, "winner": "tie", "sampling": {"temperature": 0.7}}]
    votes = tmp_path / "votes.jsonl"
    votes.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    assert main(["revote", str(tmp_path), "--rule", "brief"]) == 0
    (revoted,) = [json.loads(line) for line in votes.read_text(encoding="utf-8").splitlines()]
    assert revoted == {**rows[0], "winner": "tuned"}
    assert json.loads((tmp_path / "feedback-proof" / "votes-before-revote.jsonl").read_text())["winner"] == "tie"
