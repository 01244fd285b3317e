"""A model's shape from its ``config.json``, built on the meta device (no weights read): what the
capacity estimate (``builder.models.capacity``) counts."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelShape:
    linears: tuple[tuple[str, int, int], ...]  # (name, in, out) of the body's Linear layers (not the LM head)
    other_params: int  # embeddings, norms, an untied LM head
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    tied_head: bool
    checkpoint_bytes: int  # the size of the weights on disk, mapped while loading (0: unknown)

    @property
    def linear_params(self) -> int:
        return sum(i * o for _, i, o in self.linears)

    @property
    def params(self) -> int:
        return self.linear_params + self.other_params


@functools.lru_cache(maxsize=16)
def model_shape(path: str, trust_remote_code: bool = False) -> ModelShape:
    """The shape of the model in ``path`` (a folder with config.json), built on the meta device: no weights read."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    # torch's device context is per thread; accelerate's init_empty_weights patches nn.Module for every thread,
    # so a model loading meanwhile in the app (the playground) got meta tensors.
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    if getattr(config.get_text_config(), "tie_word_embeddings", False):
        model.tie_weights()  # from_config on the meta device leaves the head untied
    head = model.get_output_embeddings()
    linears = tuple(
        (name, m.in_features, m.out_features)
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and m is not head
    )
    # The body's Linear weights are counted from their shapes; everything else (embeddings, norms, biases, an
    # untied head) here. parameters() lists a tied weight once.
    linear_weight_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head}
    other = sum(p.numel() for p in model.parameters() if id(p) not in linear_weight_ids)
    text = config.get_text_config()
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    files = list(Path(path).glob("*.safetensors")) if Path(path).is_dir() else []
    return ModelShape(
        linears=linears,
        other_params=other,
        vocab=head.weight.shape[0],
        hidden=text.hidden_size,
        layers=text.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(text, "num_key_value_heads", None) or heads,
        head_dim=head_dim,
        intermediate=getattr(text, "intermediate_size", None) or 4 * text.hidden_size,
        tied_head=head.weight is model.get_input_embeddings().weight,
        checkpoint_bytes=sum(f.stat().st_size for f in files),
    )


@functools.lru_cache(maxsize=16)
def turn_token_rows(path: str, trust_remote_code: bool = False) -> int:
    """How many embedding rows a run on this base trains beside LoRA (``builder.train.trainer.lora_config``)."""
    from builder.models.loading import load_tokenizer
    from builder.models.templates import given_turn_token_ids

    return len(given_turn_token_ids(load_tokenizer(path, trust_remote_code=trust_remote_code)))
