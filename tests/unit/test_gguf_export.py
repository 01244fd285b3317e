"""GGUF export: a run trained a few real steps, written by our converter, read back by transformers.

transformers' GGUF loader is an independent reader (it un-permutes the Q/K rows, rebuilds the
tokenizer from the file's vocabulary and merges): logits, tokens and greedy answers must match
the merged model. llama.cpp itself is checked by ``python -m benchmarks.export_check``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")

from builder.export.base import ExportError  # noqa: E402
from builder.export.gguf import KEY_SYSTEM, export_gguf, write_gguf  # noqa: E402
from builder.export.merge import load_merged  # noqa: E402
from tests.conftest import write_support_jsonl  # noqa: E402

TEXTS = [
    "Where is my order NV-100200? It was due on 12/03.",
    "¿Puedo devolver una silla? Llegó rota 😞",
    "  two spaces, a tab\tand\nnew lines\n\n",
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """Two real TRL steps of LoRA on the tiny Llama with the bundled tokenizer (and its chat template)."""
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe

    root = tmp_path_factory.mktemp("gguf")
    write_support_jsonl(root / "chats.jsonl")
    (root / "recipe.yaml").write_text(
        f"""
name: tiny
use_case: support
base_model: {tiny_model_dir}
quantization: none
system_prompt: You are a helpful store assistant.
data: {{train: [chats.jsonl], dedupe: false, dev_fraction: 0.0}}
lora: {{r: 8, alpha: 16, dropout: 0.0}}
training: {{max_steps: 2, batch_size: 2, learning_rate: 1.0e-2, logging_steps: 1, save_steps: 100, max_length: 64}}
eval: {{enabled: false}}
""",
        encoding="utf-8",
    )
    return train(load_recipe(root / "recipe.yaml"), root / "runs" / "tiny-support")


@pytest.fixture(scope="module")
def merged(trained_run: Path):
    model, tokenizer, _ = load_merged(trained_run)
    return model, tokenizer


@pytest.fixture(scope="module")
def f16_export(trained_run: Path):
    """The whole path once (merge, convert, Modelfile); the quantized files reuse the merged model."""
    return export_gguf(trained_run, "f16")


def _gguf_model(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def _rounded_to_f16(model):
    """The merged model as the f16 file stores it: matrices rounded to float16, vectors left in float32."""
    import copy

    copy_ = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in copy_.parameters():
            if parameter.ndim >= 2:
                parameter.copy_(parameter.to(torch.float16).to(torch.float32))
    return copy_


def _greedy(model, ids: torch.Tensor, tokenizer, steps: int = 12) -> list[int]:
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=steps, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    return out[0, ids.shape[1] :].tolist()


def test_f16_gguf_reads_back_through_transformers_as_the_merged_model(trained_run: Path, merged, f16_export) -> None:
    model, tokenizer = merged
    result = f16_export
    assert result.path == trained_run / "exports" / "gguf-f16" / "tiny-support-f16.gguf"
    assert result.architecture == "llama" and result.stop_tokens == ["<|im_end|>"]
    back, back_tokenizer = _gguf_model(result.path)

    for text in TEXTS:  # the vocabulary and merges survive: the same token ids
        assert back_tokenizer(text)["input_ids"] == tokenizer(text)["input_ids"], text

    messages = [{"role": "system", "content": result.prompt.system}, {"role": "user", "content": TEXTS[1]}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    ids = ids["input_ids"]
    reference = _rounded_to_f16(model)
    with torch.inference_mode():
        expected, got, unrounded = reference(ids).logits, back(ids).logits, model(ids).logits
    # Q/K rows permuted for llama.cpp and back again: the same numbers, to float32 rounding.
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert (got - unrounded).abs().max() < 1e-2  # and f16 itself costs little
    assert _greedy(back, ids, tokenizer) == _greedy(reference, ids, tokenizer)


def test_the_file_carries_template_stop_tokens_system_prompt_and_sampling(merged, f16_export) -> None:
    _, tokenizer = merged
    path = f16_export.path
    fields = gguf.GGUFReader(path).fields

    def value(key: str):
        return fields[key].contents()

    assert value("general.architecture") == "llama"
    # The run's template, preceded by its prompt form: the run's system prompt where a client sends none.
    assert value("tokenizer.chat_template").endswith(tokenizer.chat_template)
    assert value("tokenizer.chat_template") == f16_export.chat_template != tokenizer.chat_template
    assert value("tokenizer.ggml.model") == "gpt2" and value("tokenizer.ggml.pre") == "gpt-2"
    assert value("tokenizer.ggml.eos_token_id") == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert value("tokenizer.ggml.eot_token_id") == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert value("tokenizer.ggml.add_bos_token") is False  # SmolLM2's template writes its own turn markers
    assert value(KEY_SYSTEM) == "You are a helpful store assistant."
    assert value("general.sampling.temp") == pytest.approx(0.7)
    assert len(value("tokenizer.ggml.tokens")) == len(tokenizer)
    assert value("tokenizer.ggml.token_type")[tokenizer.convert_tokens_to_ids("<|im_start|>")] == 3  # CONTROL
    modelfile = (path.parent / "Modelfile").read_text(encoding="utf-8")
    assert f"FROM ./{path.name}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile


@pytest.mark.parametrize(("quant", "matrix_type", "tolerance"), [("q8_0", "Q8_0", 0.05), ("q4_0", "Q4_0", 0.5)])
def test_quantized_files_hold_their_types_and_stay_close(
    tmp_path: Path, merged, quant: str, matrix_type: str, tolerance: float
) -> None:
    model, tokenizer = merged
    path = write_gguf(model, tokenizer, tmp_path / f"tiny-{quant}.gguf", quant, name="tiny").path
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors}
    assert types["blk.0.attn_q.weight"] == matrix_type and types["blk.1.ffn_down.weight"] == matrix_type
    assert types["blk.0.attn_norm.weight"] == "F32"
    assert types["token_embd.weight"] == "Q8_0"  # kept at 8 bits in the 4-bit file: it is also the output layer
    back, _ = _gguf_model(path)
    ids = tokenizer(TEXTS[0], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        error = (back(ids).logits - model(ids).logits).abs().max().item()
    assert 0 < error < tolerance


def test_unknown_architecture_and_quantization_are_refused_by_name(tmp_path: Path, merged) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    _, tokenizer = merged
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=len(tokenizer)))
    with pytest.raises(ExportError, match=r"architecture 'gpt2'.*supported: gemma3, llama"):
        write_gguf(gpt2, tokenizer, tmp_path / "x.gguf", "f16")
    assert not (tmp_path / "x.gguf").exists()
    with pytest.raises(ExportError, match=r"unknown GGUF quantization 'q3_k'"):
        write_gguf(gpt2, tokenizer, tmp_path / "x.gguf", "q3_k")
    with pytest.raises(ExportError, match="has not finished training"):
        export_gguf(tmp_path, "f16")


def test_a_stop_midway_leaves_no_file_and_keeps_an_earlier_one(tmp_path: Path, merged) -> None:
    """The Stop button's SIGTERM exits through Python (``SystemExit``) while tensors are written."""
    model, tokenizer = merged
    dest = tmp_path / "run-f16.gguf"

    def stop_midway(fraction: float, message: str) -> None:
        if fraction > 0.3:
            raise SystemExit(143)

    with pytest.raises(SystemExit):
        write_gguf(model, tokenizer, dest, "f16", progress=stop_midway)
    assert list(tmp_path.iterdir()) == [], "no half-written file, hidden or not"
    dest.write_bytes(b"an earlier export")
    with pytest.raises(SystemExit):
        write_gguf(model, tokenizer, dest, "f16", progress=stop_midway)
    assert list(tmp_path.iterdir()) == [dest] and dest.read_bytes() == b"an earlier export"


def _sentencepiece_style_tokenizer():
    """A small byte-fallback BPE tokenizer shaped like Gemma's (``▁`` for spaces, no leading one)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    pieces = [f"<0x{b:02X}>" for b in range(256)] + ["▁", *"abcdehlmnorstuwy", "▁h", "he", "▁he", "ll", "llo"]
    vocab = {t: i for i, t in enumerate(specials + pieces)}
    merges = [("▁", "h"), ("h", "e"), ("▁h", "e"), ("l", "l"), ("ll", "o")]
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True, unk_token="<unk>"))
    backend.normalizer = normalizers.Replace(" ", "▁")
    backend.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    backend.add_special_tokens(specials)
    backend.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>"
    )
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}"
        "\n{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    )
    return tokenizer


def test_gemma3_reads_back_through_transformers(tmp_path: Path) -> None:
    """Gemma 3: llama.cpp's tensor names, norms stored as 1 + weight, sentencepiece words without a leading space."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = _sentencepiece_style_tokenizer()
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=6,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        layer_types=["sliding_attention"] * 5 + ["full_attention"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Gemma3ForCausalLM(config).eval()
    with torch.no_grad():  # non-zero norm weights, so that the +1 shift matters
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.uniform_(-0.5, 0.5)
    result = write_gguf(model, tokenizer, tmp_path / "gemma.gguf", "f32", name="gemma")
    assert result.architecture == "gemma3" and result.add_bos and result.stop_tokens == ["<end_of_turn>", "<eos>"]
    fields = gguf.GGUFReader(result.path).fields
    assert fields["tokenizer.ggml.model"].contents() == "llama"
    assert fields["tokenizer.ggml.add_space_prefix"].contents() is False
    assert fields["tokenizer.ggml.token_type"].contents()[tokenizer.convert_tokens_to_ids("<0x41>")] == 6  # BYTE
    back, _ = _gguf_model(result.path)
    ids = torch.tensor([[2, 4, 270, 271, 280, 5, 8, 9, 10]])
    with torch.inference_mode():
        torch.testing.assert_close(back(ids).logits, model(ids).logits, atol=1e-4, rtol=1e-4)
    config.layer_types = ["full_attention"] * 6
    with pytest.raises(ExportError, match="one global-attention layer in six"):
        write_gguf(Gemma3ForCausalLM(config), tokenizer, tmp_path / "other.gguf", "f32")
