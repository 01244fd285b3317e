"""Where base models come from, and the errors a user sees when one cannot be had."""

import sys
from pathlib import Path

import pytest

from builder.models.loading import (
    ModelNotAvailableError,
    load_model,
    load_tokenizer,
    release_freed_heap,
    resolve_base_model,
)


def test_a_hub_id_that_cannot_be_fetched_names_the_model_and_the_way_out(monkeypatch):
    # No model hub exists here; offline mode makes huggingface_hub say so without a network try.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as err:
        resolve_base_model("acme-support/assistant-7b")
    text = str(err.value)
    assert "acme-support/assistant-7b" in text
    assert "base_model: ./models/assistant-7b" in text


def test_a_hub_id_with_dots_reaches_the_hub_not_the_folder_check(monkeypatch):
    # The shipped recipes suggest such ids; ".5B-Instruct" is part of the name, not a file extension.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for repo_id in ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "gpt2.small"):
        with pytest.raises(ModelNotAvailableError) as err:
            resolve_base_model(repo_id)
        assert "cannot be fetched from the model hub" in str(err.value), str(err.value)
        assert "no such folder" not in str(err.value)


def test_a_missing_folder_or_one_without_a_model_is_refused(tmp_path):
    for missing in (tmp_path / "nothing-here", tmp_path / "weights.v2", "./models/Qwen2.5-0.5B"):
        with pytest.raises(ModelNotAvailableError, match="no such folder"):
            resolve_base_model(str(missing))
    with pytest.raises(ModelNotAvailableError, match=r"this folder holds no model \(no config\.json\)"):
        resolve_base_model(str(tmp_path))


def test_a_folder_without_a_model_is_named_as_such_when_the_tokenizer_loads(tmp_path):
    # `base_model: /etc` reached the tokenizer backend and failed there with an error about backends.
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    with pytest.raises(ModelNotAvailableError, match="this folder holds no model"):
        load_tokenizer(str(tmp_path))


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


def _anonymous_mb() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no Anonymous line in smaps_rollup")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim and smaps_rollup are glibc/Linux")
def test_release_freed_heap_returns_memory_that_glibc_kept():
    """Model loading frees many blocks in the middle of glibc's heaps; without a trim they stay resident."""
    blocks = [bytes(4096) for _ in range(40_000)]  # about 160 MB of malloc'd blocks
    keep = bytes(4096)  # allocated last, it pins the top of the heap so free() cannot shrink it by itself
    del blocks
    held = _anonymous_mb()
    release_freed_heap()
    assert _anonymous_mb() < held - 100, "the freed blocks should have gone back to the system"
    del keep
