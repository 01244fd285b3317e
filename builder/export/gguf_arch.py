"""The architectures the GGUF export writes: each one's hyperparameters in llama.cpp's keys, and the
reshaping of its tensors where llama.cpp expects another layout than transformers stores.

``builder.export.gguf`` writes the file; this module only knows how one model family maps onto
llama.cpp. The llama family (``llama``, the bundled SmolLM2) and ``gemma3`` (Gemma 3 text) are
supported; any other one is refused with its name (``architecture_for``) before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from builder.export.base import ExportError

if TYPE_CHECKING:
    import gguf


def _rope(config: Any) -> tuple[float, dict[str, Any]]:
    """(rope theta, the rope parameters) from a transformers 5 config (``rope_parameters``) or an older one."""
    params = dict(getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {})
    theta = params.get("rope_theta", getattr(config, "rope_theta", 10000.0))
    return float(theta), params


def _head_dim(config: Any) -> int:
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


def _permute_for_rope(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Transformers' Llama rotates the two halves of a head; llama.cpp's ``llama`` rotates adjacent pairs.

    Reordering the rows of the Q and K projections (and biases) per head from [first half, second
    half] to interleaved pairs makes both compute the same attention.
    """
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


class Architecture:
    name: str
    arch: str  # the member of ``gguf.MODEL_ARCH``
    states_head_dim = False  # key and value length written even where they follow from the hidden size

    def __init__(self) -> None:
        import gguf  # imported where used: the web process never loads the gguf package

        self.gguf_arch: gguf.MODEL_ARCH = gguf.MODEL_ARCH[self.arch]

    def write_hparams(self, writer: gguf.GGUFWriter, config: Any) -> None:
        """The shape every supported family states alike, then the family's own keys (rope, attention layout)."""
        writer.add_context_length(int(config.max_position_embeddings))
        writer.add_embedding_length(int(config.hidden_size))
        writer.add_block_count(int(config.num_hidden_layers))
        writer.add_feed_forward_length(int(config.intermediate_size))
        writer.add_head_count(int(config.num_attention_heads))
        writer.add_head_count_kv(int(config.num_key_value_heads or config.num_attention_heads))
        writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
        writer.add_vocab_size(int(config.vocab_size))
        head_dim = _head_dim(config)
        if self.states_head_dim or head_dim != config.hidden_size // config.num_attention_heads:
            writer.add_key_length(head_dim)
            writer.add_value_length(head_dim)
        self.write_family(writer, config, *_rope(config))

    def write_family(self, writer: gguf.GGUFWriter, config: Any, theta: float, rope: dict[str, Any]) -> None:
        """The rope keys and whatever else only this family has; ``_rope``'s theta and parameters."""
        raise NotImplementedError

    def transform(self, gguf_name: str, data: np.ndarray, config: Any) -> np.ndarray:
        return data


class _Llama(Architecture):
    name = "llama"
    arch = "LLAMA"

    def write_family(self, writer: gguf.GGUFWriter, config: Any, theta: float, rope: dict[str, Any]) -> None:
        import gguf

        rope_type = rope.get("rope_type", rope.get("type", "default")) or "default"
        writer.add_rope_freq_base(theta)
        writer.add_rope_dimension_count(_head_dim(config))
        if rope_type == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(float(rope["factor"]))
        elif rope_type != "default":
            raise ExportError(
                f"rope type {rope_type!r} of this llama model is not supported by the GGUF export "
                "(supported: default, linear)"
            )

    def transform(self, gguf_name: str, data: np.ndarray, config: Any) -> np.ndarray:
        if ".attn_q." in gguf_name:
            return _permute_for_rope(data, int(config.num_attention_heads))
        if ".attn_k." in gguf_name:
            return _permute_for_rope(data, int(config.num_key_value_heads or config.num_attention_heads))
        return data


class _Gemma3(Architecture):
    name = "gemma3"
    arch = "GEMMA3"
    states_head_dim = True

    def write_family(self, writer: gguf.GGUFWriter, config: Any, theta: float, rope: dict[str, Any]) -> None:
        # Gemma 3 keeps one set of rope parameters per attention kind in transformers 5.
        if "full_attention" in rope:
            theta = float(rope["full_attention"].get("rope_theta", theta))
            kind = rope["full_attention"].get("rope_type", "default")
            if kind != "default":
                raise ExportError(f"gemma3 with rope type {kind!r} is not supported by the GGUF export")
            if "sliding_attention" in rope:
                writer.add_rope_freq_base_swa(float(rope["sliding_attention"].get("rope_theta", 10000.0)))
        elif getattr(config, "rope_local_base_freq", None):
            writer.add_rope_freq_base_swa(float(config.rope_local_base_freq))
        writer.add_rope_freq_base(theta)
        if getattr(config, "sliding_window", None):
            writer.add_sliding_window(int(config.sliding_window))
        # llama.cpp places Gemma 3's global-attention layers itself (every sixth); refuse any other layout.
        layer_types = getattr(config, "layer_types", None) or []
        expected = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(len(layer_types))]
        if layer_types != expected:
            raise ExportError("this gemma3 model does not have one global-attention layer in six, as llama.cpp assumes")

    def transform(self, gguf_name: str, data: np.ndarray, config: Any) -> np.ndarray:
        # Transformers' Gemma norms scale by (1 + weight); llama.cpp multiplies by the stored weight.
        if gguf_name.endswith("norm.weight"):
            return data + 1.0
        return data


ARCHITECTURES: dict[str, type[Architecture]] = {"llama": _Llama, "gemma3_text": _Gemma3, "gemma3": _Gemma3}


def architecture_for(config: Any) -> Architecture:
    model_type = getattr(config, "model_type", None)
    if model_type not in ARCHITECTURES:
        names = ", ".join(sorted({cls.name for cls in ARCHITECTURES.values()}))
        raise ExportError(
            f"the GGUF export does not support the architecture {model_type!r} of this base model "
            f"(supported: {names}); export the merged model folder and convert it with llama.cpp's own tools"
        )
    return ARCHITECTURES[model_type]()
