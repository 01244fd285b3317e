"""A tuned run as one GGUF file: what llama.cpp, Ollama and LM Studio run.

The adapter is merged into the full-precision base (as ``builder.export.merge.merge_adapter`` does),
then every tensor is renamed to llama.cpp's names with the ``gguf`` package's tables, reshaped
where llama.cpp expects another layout, quantized with ``gguf.quants`` and written with
``gguf.GGUFWriter`` together with the tokenizer, the chat template the run trained with, its
end-of-turn token and the run's system prompt and sampling defaults.

The chat template is the run's, preceded by the run's prompt form (``UseCase.prompt_form``,
``builder.models.templates.framed_chat_template``): where a client sends no system message the run's
system prompt is used, and every user turn is framed as in training (a translation run's
"Translate to Spanish:"), so that llama.cpp (``--jinja``) and LM Studio ask what training asked.

Architectures: the llama family (``llama``, the bundled SmolLM2) and ``gemma3`` (Gemma 3 text),
each described in ``builder.export.gguf_arch``; any other one is refused with its name, before
anything is written.

Quantizations: ``f32`` and ``f16`` (no loss beyond rounding), ``q8_0``, and the 4-bit ``q4_1``
and ``q4_0``. The k-quants (``Q4_K_M`` and friends) have no writer in ``gguf.quants``; llama.cpp's
``llama-quantize`` makes them from the f16 file. In the 4-bit files the token embedding (which
is also the output layer when the two are tied) stays at 8 bits, as llama.cpp's own 4-bit
presets keep that tensor at a higher precision: it costs little and decides every token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from builder.export.base import ExportError, GgufExport, SamplingDefaults
from builder.export.gguf_arch import Architecture, architecture_for
from builder.export.gguf_vocab import Vocabulary, adds_bos, build_vocabulary, end_of_turn_token
from builder.export.merge import load_merged
from builder.models.templates import framed_chat_template
from builder.run.rundir import atomic_path
from builder.usecases import PromptForm, get_usecase

if TYPE_CHECKING:
    import gguf
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


Progress = Callable[[float, str], None]

QUANTS = ("f16", "q8_0", "q4_1", "q4_0", "f32")
DEFAULT_QUANT = "q8_0"
FOUR_BIT = ("q4_0", "q4_1")
# Our metadata keys: llama.cpp ignores keys it does not know, and the Modelfile reads them back.
KEY_SYSTEM = "domain_assistant.system_prompt"
KEY_BEFORE = "domain_assistant.user_turn_before"  # the frame of a user turn: text before the user's own
KEY_AFTER = "domain_assistant.user_turn_after"
KEY_RUN = "domain_assistant.run"
KEY_BASE = "domain_assistant.base_model"
KEY_USE_CASE = "domain_assistant.use_case"


# ---------------------------------------------------------------- tensors


def _qtypes() -> dict[str, gguf.GGMLQuantizationType]:
    import gguf

    q = gguf.GGMLQuantizationType
    return {"f32": q.F32, "f16": q.F16, "q8_0": q.Q8_0, "q4_1": q.Q4_1, "q4_0": q.Q4_0}


def _file_type(quant: str) -> int:
    import gguf

    f = gguf.LlamaFileType
    return int(
        {
            "f32": f.ALL_F32,
            "f16": f.MOSTLY_F16,
            "q8_0": f.MOSTLY_Q8_0,
            "q4_1": f.MOSTLY_Q4_1,
            "q4_0": f.MOSTLY_Q4_0,
        }[quant]
    )


def tensor_type(gguf_name: str, data: np.ndarray, quant: str) -> gguf.GGMLQuantizationType:
    """Vectors (norms, biases) stay float32; matrices get the requested type where their rows fit its blocks."""
    import gguf

    qtypes = _qtypes()
    if data.ndim < 2 or quant == "f32":
        return qtypes["f32"]
    wanted = qtypes[quant]
    if quant in FOUR_BIT and gguf_name in ("token_embd.weight", "output.weight"):
        wanted = qtypes["q8_0"]
    block = gguf.GGML_QUANT_SIZES[wanted][0]
    if data.shape[-1] % block:
        return qtypes["f16"]  # rows that do not divide into blocks: f16, as llama-quantize falls back too
    return wanted


def _encode(data: np.ndarray, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    import gguf

    if qtype == gguf.GGMLQuantizationType.F32:
        return data.astype(np.float32)
    if qtype == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float16)
    return gguf.quants.quantize(data.astype(np.float32), qtype)


# ---------------------------------------------------------------- writing


def write_gguf(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dest: Path | str,
    quant: str = DEFAULT_QUANT,
    *,
    name: str = "model",
    prompt: PromptForm | None = None,
    sampling: SamplingDefaults | None = None,
    extra: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> GgufExport:
    """Write ``model`` (plain transformers weights) and ``tokenizer`` as one GGUF file at ``dest``; its chat
    template asks in the ``prompt`` form (default: the conversation as the client sends it)."""
    import gguf

    if quant not in QUANTS:
        raise ExportError(f"unknown GGUF quantization {quant!r}; choose one of {', '.join(QUANTS)}")
    started = time.perf_counter()
    progress = progress or (lambda fraction, message: None)
    config = model.config
    arch = architecture_for(config)  # refuse an unknown architecture before any work
    sampling = sampling or SamplingDefaults()
    prompt = prompt or PromptForm()
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and template:
        template = framed_chat_template(template, prompt.system, prompt.before, prompt.after)
    vocab = build_vocabulary(tokenizer, int(config.vocab_size))
    dest = Path(dest)
    # A hidden file beside ``dest``, renamed over it once complete: a stopped export (the Stop button's
    # SIGTERM exits through Python) or a failed one leaves no half-written file, and an earlier file stays.
    with atomic_path(dest) as tmp:
        writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[arch.gguf_arch], use_temp_file=True)
        try:
            writer.add_type(gguf.GGUFType.MODEL)
            writer.add_name(name)
            writer.add_file_type(_file_type(quant))
            if quant not in ("f32", "f16"):
                writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
            arch.write_hparams(writer, config)
            eot, add_bos = _write_tokenizer(writer, tokenizer, vocab, template)
            writer.add_sampling_temp(float(sampling.temperature))
            writer.add_sampling_top_p(float(sampling.top_p))
            writer.add_sampling_penalty_repeat(float(sampling.repeat_penalty))
            writer.add_string(KEY_SYSTEM, prompt.system)
            writer.add_string(KEY_BEFORE, prompt.before)
            writer.add_string(KEY_AFTER, prompt.after)
            for key, value in (extra or {}).items():
                writer.add_string(key, value)
            count = _add_tensors(writer, model, arch, quant, progress)
            progress(0.95, "writing the file")
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
    stops = [t for t in dict.fromkeys([eot, tokenizer.eos_token]) if t]
    progress(1.0, "done")
    return GgufExport(
        name=name,
        path=dest,
        quant=quant,
        architecture=arch.name,
        tensors=count,
        bytes=dest.stat().st_size,
        seconds=time.perf_counter() - started,
        chat_template=template,
        stop_tokens=stops,
        prompt=prompt,
        sampling=sampling,
        bos_token=tokenizer.bos_token,
        add_bos=add_bos,
    )


def _write_tokenizer(
    writer: gguf.GGUFWriter, tokenizer: PreTrainedTokenizerBase, vocab: Vocabulary, template: str | None
) -> tuple[str | None, bool]:
    """Tokenizer metadata; returns the end-of-turn token and whether a BOS token starts every prompt."""
    writer.add_tokenizer_model(vocab.model)
    if vocab.pre:
        writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    if vocab.scores is not None:
        writer.add_token_scores(vocab.scores)
    if vocab.add_space_prefix is not None:
        writer.add_add_space_prefix(vocab.add_space_prefix)
    if vocab.merges:
        writer.add_token_merges(vocab.merges)
    ids = {
        writer.add_bos_token_id: tokenizer.bos_token_id,
        writer.add_eos_token_id: tokenizer.eos_token_id,
        writer.add_unk_token_id: tokenizer.unk_token_id,
        writer.add_pad_token_id: tokenizer.pad_token_id,
    }
    for add, token_id in ids.items():
        if token_id is not None:
            add(int(token_id))
    add_bos = adds_bos(tokenizer)
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(False)
    eot = end_of_turn_token(tokenizer)
    if eot is not None:
        writer.add_eot_token_id(cast(int, tokenizer.convert_tokens_to_ids(eot)))  # one token in, one id out
    if isinstance(template, str) and template:
        writer.add_chat_template(template)
    return eot, add_bos


def _add_tensors(
    writer: gguf.GGUFWriter, model: PreTrainedModel, arch: Architecture, quant: str, progress: Progress
) -> int:
    import gguf
    import torch

    config = model.config
    names = gguf.get_tensor_name_map(arch.gguf_arch, int(config.num_hidden_layers))
    state = model.state_dict()
    tied = bool(getattr(config, "tie_word_embeddings", False))
    items = [(k, v) for k, v in state.items() if not (tied and k == "lm_head.weight")]
    for done, (hf_name, tensor) in enumerate(items):
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportError(f"no GGUF name for the tensor {hf_name!r} of this {arch.name} model")
        data = tensor.detach().to(torch.float32).cpu().numpy()
        data = arch.transform(gguf_name, data, config)
        qtype = tensor_type(gguf_name, data, quant)
        encoded = _encode(data, qtype)
        writer.add_tensor(gguf_name, encoded, raw_shape=encoded.shape, raw_dtype=qtype)
        progress(0.9 * (done + 1) / len(items), f"{gguf_name} → {qtype.name}")
    return len(items)


# ---------------------------------------------------------------- a run


def default_out_dir(run_dir: Path | str, quant: str) -> Path:
    return Path(run_dir) / "exports" / f"gguf-{quant}"


def gguf_file(run_dir: Path | str, quant: str, out_dir: Path | str | None = None) -> Path:
    """Where ``export_gguf`` writes a run's file: ``<out>/<run>-<quant>.gguf``, its Modelfile beside it."""
    return (Path(out_dir) if out_dir else default_out_dir(run_dir, quant)) / f"{Path(run_dir).name}-{quant}.gguf"


def export_gguf(
    run_dir: Path | str,
    quant: str = DEFAULT_QUANT,
    out_dir: Path | str | None = None,
    *,
    progress: Progress | None = None,
    modelfile: bool = True,
) -> GgufExport:
    """``<out>/<run>-<quant>.gguf`` from a finished run, and an Ollama ``Modelfile`` beside it."""
    if quant not in QUANTS:
        raise ExportError(f"unknown GGUF quantization {quant!r}; choose one of {', '.join(QUANTS)}")
    run_dir = Path(run_dir)
    progress = progress or (lambda fraction, message: None)
    progress(0.0, "merging the adapter into the base model")
    model, tokenizer, recipe = load_merged(run_dir)
    architecture_for(model.config)
    dest = gguf_file(run_dir, quant, out_dir)
    sampling = SamplingDefaults(max_new_tokens=recipe.eval.max_new_tokens)
    result = write_gguf(
        model,
        tokenizer,
        dest,
        quant,
        name=run_dir.name,
        prompt=get_usecase(recipe.use_case).prompt_form(recipe),
        sampling=sampling,
        extra={KEY_RUN: run_dir.name, KEY_BASE: recipe.base_model, KEY_USE_CASE: recipe.use_case},
        progress=lambda fraction, message: progress(0.05 + 0.9 * fraction, message),
    )
    if modelfile:
        from builder.export.ollama import OllamaError, write_modelfile

        try:
            write_modelfile(result, tokenizer, dest.parent / "Modelfile")
        except OllamaError as err:  # the GGUF stands on its own; say why Ollama gets no Modelfile
            result.notes.append(str(err))
    progress(1.0, "done")
    return result
