"""Exports: the adapter zip, a merged model that answers like base+adapter, the data as OpenAI JSONL."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from builder.core.conversation import Conversation, Message  # noqa: E402
from builder.export.base import ExportError  # noqa: E402
from builder.export.files import export_conversations, export_run_data, zip_adapter  # noqa: E402
from builder.export.merge import merge_adapter  # noqa: E402
from tests.unit.test_chat import make_tiny_run  # noqa: E402  (same tiny run directory as the chat tests)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("export"))


def test_adapter_zip_holds_what_from_pretrained_needs(tiny_run: Path) -> None:
    path = zip_adapter(tiny_run)
    names = set(zipfile.ZipFile(path).namelist())
    assert {"tiny-run/adapter/adapter_config.json", "tiny-run/adapter/adapter_model.safetensors"} <= names
    assert {"tiny-run/recipe.yaml", "tiny-run/run.json", "tiny-run/tokenizer/tokenizer.json"} <= names


def test_merged_model_answers_like_base_plus_adapter(tiny_run: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from builder.config.recipe import load_recipe

    out = merge_adapter(tiny_run, tmp_path / "merged")
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(load_recipe(tiny_run / "recipe.yaml").base_model)
    reference = PeftModel.from_pretrained(base, tiny_run / "adapter")
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    with torch.inference_mode():
        expected = reference(ids).logits
        got = merged(ids).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    with reference.disable_adapter(), torch.inference_mode():
        plain = reference(ids).logits
    assert not torch.allclose(got, plain, atol=1e-3), "the merge must change the base weights"


def test_run_data_as_openai_jsonl_with_its_split(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"no train\.jsonl"):
        export_run_data(tiny_run, tmp_path / "x.jsonl")
    example = {"messages": [{"role": "user", "content": "¿Hola?"}, {"role": "assistant", "content": "¡Hola!"}]}
    (tiny_run / "train.jsonl").write_text(json.dumps({**example, "reference": "¡Hola!", "meta": {"id": "a"}}) + "\n")
    (tiny_run / "dev.jsonl").write_text(json.dumps({**example, "reference": "¡Hola!", "meta": {}}) + "\n{broken\n")
    with pytest.raises(ExportError, match=r"dev\.jsonl:2"):
        export_run_data(tiny_run, tmp_path / "x.jsonl")
    (tiny_run / "dev.jsonl").write_text(json.dumps({**example, "meta": {}}) + "\n")
    path, count = export_run_data(tiny_run, tmp_path / "data.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert count == 2 and [r["metadata"]["split"] for r in rows] == ["train", "dev"]
    assert rows[0]["messages"] == example["messages"] and rows[0]["metadata"]["id"] == "a"


def test_conversations_as_openai_jsonl(tmp_path: Path) -> None:
    conversation = Conversation(
        [Message("user", "Mi pedido <ORDER>"), Message("assistant", "Lo miro.")], id="c1", language="es"
    )
    path, count = export_conversations([conversation], tmp_path / "clean.jsonl")
    row = json.loads(path.read_text(encoding="utf-8"))
    assert count == 1 and row["messages"][1] == {"role": "assistant", "content": "Lo miro."}
    assert row["metadata"]["language"] == "es"


def test_export_of_an_unfinished_run_names_the_run(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="has not finished training"):
        zip_adapter(tmp_path)
