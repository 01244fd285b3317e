"""Where base models come from, and the errors a user sees when one cannot be had."""

import pytest

from builder.models import ModelNotAvailableError, load_model, resolve_base_model


def test_a_hub_id_that_cannot_be_fetched_names_the_model_and_the_way_out(monkeypatch):
    # No model hub exists here; offline mode makes huggingface_hub say so without a network try.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as err:
        resolve_base_model("acme-support/assistant-7b")
    text = str(err.value)
    assert "acme-support/assistant-7b" in text
    assert "base_model: ./models/assistant-7b" in text


def test_a_missing_folder_or_one_without_a_model_is_refused(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="no such folder"):
        resolve_base_model(str(tmp_path / "nothing-here"))
    with pytest.raises(ModelNotAvailableError, match=r"config\.json"):
        resolve_base_model(str(tmp_path))


def test_pickled_weights_are_refused(tiny_model_dir, tmp_path):
    import shutil

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelNotAvailableError, match="safetensors only"):
        load_model(str(folder), "none")


def test_unknown_bundled_name_lists_the_bundled_ones():
    with pytest.raises(ModelNotAvailableError, match="smollm2-135m-instruct"):
        resolve_base_model("bundled:llama-70b")


def test_auto_quantization_keeps_a_small_model_in_full_precision_on_the_cpu(tiny_model_dir):
    model, used = load_model(str(tiny_model_dir), "auto", device="cpu")
    assert used == "none"
    assert not getattr(model, "is_quantized", False)
