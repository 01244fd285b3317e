"""The vLLM check: a real PEFT adapter passes, each documented LoRA limit is caught by name, the command is right."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builder.export.files import main as export_main
from builder.export.vllm import check_adapter, check_run
from tests.unit.test_chat import make_tiny_run  # a real PEFT adapter, r=8 on q/v/o


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("vllm"))


def _edited_adapter(tiny_run: Path, tmp_path: Path, **changes) -> Path:
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_run / "adapter", adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config.update(changes)
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    return adapter


def test_a_trained_lora_adapter_passes_and_gets_the_serve_command(tiny_run: Path) -> None:
    check = check_run(tiny_run)
    assert check.ok, check.problems
    assert check.rank == 8 and check.max_lora_rank == 8
    assert check.command.startswith("vllm serve ")
    assert f"--enable-lora --lora-modules tiny-run={tiny_run.resolve() / 'adapter'} --max-lora-rank 8" in check.command


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"r": 600}, "rank 600 is above vLLM's largest --max-lora-rank (512)"),
        ({"use_dora": True}, "vLLM does not serve DoRA"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save ['lm_head']"),
        ({"bias": "all"}, "bias 'all'"),
        ({"target_modules": ["q_proj", "embed_tokens"]}, "LoRA on embed_tokens"),
        ({"target_modules": ".*proj"}, "is the pattern"),
        ({"peft_type": "IA3"}, "peft_type is 'IA3'"),
        ({"trainable_token_indices": [105, 106]}, "serve the merged folder"),
    ],
)
def test_each_vllm_limit_is_named(tiny_run: Path, tmp_path: Path, changes: dict, problem: str) -> None:
    check = check_adapter(_edited_adapter(tiny_run, tmp_path, **changes))
    assert not check.ok and any(problem in p for p in check.problems), check.problems


def test_rank_rounds_up_to_a_size_vllm_accepts(tiny_run: Path, tmp_path: Path) -> None:
    check = check_adapter(_edited_adapter(tiny_run, tmp_path, r=12, rank_pattern={"o_proj": 40}))
    assert check.ok and check.rank == 40 and check.max_lora_rank == 64


def test_the_cli_prints_the_check(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export_main([str(tiny_run), "--vllm"]) == 0
    assert "meets vLLM's LoRA limits (rank 8)" in capsys.readouterr().out
