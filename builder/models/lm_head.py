"""The LM head and the cross-entropy at labelled positions only, in chunks of tokens.

The loss covers the assistant tokens, yet a causal LM's forward projects every position onto the
whole vocabulary. TRL 1.16 already replaces the model's forward during training with a "fused LM
head" that returns per-token log-probabilities, but off CUDA/XPU it still scores every position
(``compact`` is Triton-only in ``trl.trainer.utils.add_fused_lm_head``) in tiles of up to 4,096 tokens
by 32,768 vocabulary entries: on the CPU the LM head runs over prompts and padding, and a 262,144-word
vocabulary (Gemma 3) costs gigabytes of tiles.

``install_labelled_lm_head`` puts a forward in front of TRL's: with ``fused_lm_head=True`` (what
``SFTTrainer.compute_loss`` passes) it runs the backbone, keeps the hidden states whose next-token label
is not -100, and projects them through the LM head ``chunk`` tokens at a time; the backward recomputes
each chunk's logits instead of keeping them. A ``[batch, seq, vocab]`` logits tensor never exists, and
the work of the head scales with the labelled tokens, not with the sequence. The outputs are those TRL's
``compute_loss`` reads (log-probabilities for the loss, entropy and top-1 hits for its metrics), so the
trainer itself is unchanged. Every other call (generation, ``fused_lm_head=False``) goes to the
original forward.
"""

from __future__ import annotations

import functools
import types
from typing import Any, cast

import torch

# Logits per chunk: 2**23 float32 values are 32 MB; the forward and the backward hold about three such
# buffers at once. 170 tokens a chunk for SmolLM2's 49,152 words, 32 for Gemma 3's 262,144.
CHUNK_ELEMENTS = 1 << 23
# Config attributes that rescale the logits in ways this head does not reproduce: leave such models to TRL.
_UNSUPPORTED_SCALES = ("output_multiplier", "lm_head_multiplier", "logits_scaling")


def chunk_tokens(vocab_size: int, chunk_elements: int = CHUNK_ELEMENTS) -> int:
    """Tokens per chunk so that one chunk's logits hold at most ``chunk_elements`` values."""
    return max(1, chunk_elements // vocab_size)


def _logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """One chunk's logits in float32, the matmul in ``dtype`` as the model's own head would run it."""
    z = torch.mm(hidden.to(dtype), weight.t())
    if bias is not None:
        z = z + bias.to(dtype)
    return z.float()


class LabelledLogProbs(torch.autograd.Function):
    """log p(target) of ``hidden @ weight.T`` per row, chunk by chunk; entropy and top-1 hits for the metrics.

    ``row_ids``/``rows``: trained rows that replace those of the frozen ``weight`` (PEFT's trainable token
    rows). Their gradient is computed for those rows alone: a [V, H] gradient never exists.
    """

    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,  # [N, H]
        weight: torch.Tensor,  # [V, H]
        bias: torch.Tensor | None,  # [V]
        targets: torch.Tensor,  # [N]
        chunk: int,
        softcap: float | None,
        scale: float,
        row_ids: torch.Tensor | None = None,  # [R]
        rows: torch.Tensor | None = None,  # [R, H]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        device = hidden.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
        w = _with_rows(weight, row_ids, rows, dtype)
        n = hidden.shape[0]
        log_probs = hidden.new_empty(n, dtype=torch.float32)
        entropy = torch.empty_like(log_probs)
        top1 = torch.empty(n, dtype=torch.bool, device=hidden.device)
        log_z = torch.empty_like(log_probs)
        with torch.autocast(device, enabled=False):
            for start in range(0, n, chunk):
                end = min(start + chunk, n)
                z = _transform(_logits(hidden[start:end], w, bias, dtype), softcap, scale)
                peak = z.amax(-1, keepdim=True)
                e = torch.exp(z - peak)
                total = e.sum(-1)
                lz = peak.squeeze(-1) + torch.log(total)
                t = targets[start:end]
                log_z[start:end] = lz
                log_probs[start:end] = z.gather(-1, t.unsqueeze(-1)).squeeze(-1) - lz
                entropy[start:end] = lz - (e * z).sum(-1) / total
                top1[start:end] = z.argmax(-1) == t
        ctx.save_for_backward(hidden, weight, bias, targets, log_z, row_ids, rows)
        ctx.options = (chunk, softcap, scale, dtype)
        ctx.mark_non_differentiable(entropy, top1)
        return log_probs, entropy, top1

    @staticmethod
    def backward(ctx: Any, grad_log_probs: torch.Tensor | None, *_: Any) -> tuple[Any, ...]:
        hidden, weight, bias, targets, log_z, row_ids, rows = ctx.saved_tensors
        chunk, softcap, scale, dtype = ctx.options
        needs_hidden, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        inputs = len(ctx.needs_input_grad)  # 7, or 9 with trained rows
        needs_rows = inputs == 9 and ctx.needs_input_grad[8]
        if grad_log_probs is None:
            return (None,) * inputs
        w = _with_rows(weight, row_ids, rows, dtype)
        grad_hidden = torch.zeros_like(hidden, dtype=torch.float32) if needs_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if needs_weight else None
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if needs_bias else None
        grad_rows = torch.zeros_like(rows, dtype=torch.float32) if needs_rows else None
        with torch.autocast(hidden.device.type, enabled=False):
            for start in range(0, hidden.shape[0], chunk):
                end = min(start + chunk, hidden.shape[0])
                raw = _logits(hidden[start:end], w, bias, dtype)
                z = _transform(raw, softcap, scale)
                g = grad_log_probs[start:end].float().unsqueeze(-1)
                # d log p_t / dz_j = 1[j = t] - p_j
                grad = torch.exp(z - log_z[start:end].unsqueeze(-1)).mul_(-g)
                grad.scatter_add_(-1, targets[start:end].unsqueeze(-1), g)
                grad = _transform_backward(grad, raw, softcap, scale).to(dtype)
                if grad_hidden is not None:
                    grad_hidden[start:end] = torch.mm(grad, w).float()
                if grad_weight is not None:
                    grad_weight += torch.mm(grad.t(), hidden[start:end].to(dtype)).float()
                if grad_bias is not None:
                    grad_bias += grad.float().sum(0)
                if grad_rows is not None:
                    grad_rows += torch.mm(grad[:, row_ids].t(), hidden[start:end].to(dtype)).float()
        if grad_weight is not None and row_ids is not None:
            grad_weight[row_ids] = 0  # those rows of the frozen matrix are not the ones used
        return (
            grad_hidden.to(hidden.dtype) if grad_hidden is not None else None,
            grad_weight.to(weight.dtype) if grad_weight is not None else None,
            grad_bias.to(bias.dtype) if grad_bias is not None else None,
            None,
            None,
            None,
            None,
            None,
            grad_rows.to(rows.dtype) if grad_rows is not None else None,
        )[:inputs]


def _with_rows(
    weight: torch.Tensor, row_ids: torch.Tensor | None, rows: torch.Tensor | None, dtype: torch.dtype
) -> torch.Tensor:
    """``weight`` in ``dtype`` with the trained rows swapped in (a copy only when there are rows)."""
    w = weight.to(dtype)
    if row_ids is None:
        return w
    assert rows is not None, "trained row ids come with their rows (head_parts)"
    return (w if w is not weight else w.clone()).index_copy_(0, row_ids, rows.to(dtype))


def _transform(raw: torch.Tensor, softcap: float | None, scale: float) -> torch.Tensor:
    z = raw * scale if scale != 1.0 else raw
    return softcap * torch.tanh(z / softcap) if softcap else z


def _transform_backward(grad: torch.Tensor, raw: torch.Tensor, softcap: float | None, scale: float) -> torch.Tensor:
    if softcap:
        grad = grad * (1 - torch.tanh(raw * scale / softcap) ** 2)
    return grad * scale if scale != 1.0 else grad


def labelled_log_probs(
    hidden: torch.Tensor,
    head: torch.nn.Linear,
    labels: torch.Tensor,
    *,
    chunk: int | None = None,
    softcap: float | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Next-token log-probabilities at the labelled positions of ``hidden`` [B, S, H] for ``labels`` [B, S].

    Returns (log_probs, entropy, is_top1, label_mask), each [B, S - 1] and zero where the label is -100.
    """
    hidden = hidden[:, :-1]
    labels = labels[:, 1:].to(hidden.device)
    mask = labels != -100
    weight, bias, row_ids, rows = head_parts(head)
    chunk = chunk or chunk_tokens(weight.shape[0])
    log_probs, entropy, top1 = LabelledLogProbs.apply(
        hidden[mask], weight, bias, labels[mask], chunk, softcap, scale, row_ids, rows
    )

    def spread(values: torch.Tensor) -> torch.Tensor:
        # masked_scatter keeps a batch without labels connected to the graph (a zero loss, not a failed backward)
        return values.new_zeros(mask.shape).masked_scatter(mask, values)

    return spread(log_probs), spread(entropy), spread(top1), mask


def head_parts(
    head: torch.nn.Module,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """(weight, bias, row_ids, rows) of the output layer: for a head with trained token rows (PEFT's
    ``trainable_token_indices`` on a tied head), the frozen matrix and the trained rows that replace
    ``row_ids`` of it; the rows' gradient then flows to the shared embedding rows."""
    weight, bias = _weight_and_bias(_base_head(head))
    adapter = getattr(head, "token_adapter", None)
    if adapter is None or adapter.disable_adapters or not adapter.active_adapters:
        return weight, bias, None, None
    if len(adapter.active_adapters) > 1:  # several row sets: PEFT merges them; autograd takes [V, H] grads
        return adapter.get_merged_weights(adapter.active_adapters), bias, None, None
    name = adapter.active_adapters[0]
    row_ids = torch.tensor(adapter.token_indices[name], device=weight.device)
    return weight, bias, row_ids, adapter.trainable_tokens_delta[name]


def _weight_and_bias(layer: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A linear layer's parameters (torch's stubs type any Module attribute as Tensor | Module)."""
    return cast(torch.Tensor, layer.weight), cast("torch.Tensor | None", layer.bias)


def _base_head(head: torch.nn.Module) -> torch.nn.Module:
    """The layer under PEFT's trained token rows, or the head itself."""
    rows = getattr(head, "token_adapter", None)
    return rows.base_layer if rows is not None else head


def _head_options(model: Any) -> tuple[float | None, float] | None:
    """(softcap, scale) of a text model whose logits this head reproduces; None for any other model."""
    config = model.config
    text_config = config.get_text_config()
    if text_config is not config or getattr(text_config, "output_router_logits", False):
        return None  # vision-language wrappers and MoE auxiliary losses: TRL's head handles them
    if any(getattr(text_config, name, None) not in (None, 1.0) for name in _UNSUPPORTED_SCALES):
        return None
    # A LoRA- or bitsandbytes-wrapped head has more than a weight; trained token rows are handled.
    if type(_base_head(model.get_output_embeddings())) is not torch.nn.Linear:
        return None
    return getattr(text_config, "final_logit_softcapping", None), float(
        getattr(text_config, "logit_scale", None) or 1.0
    )


def install_labelled_lm_head(model: Any, chunk_elements: int = CHUNK_ELEMENTS) -> int | None:
    """Route ``model(..., labels=..., fused_lm_head=True)`` through the labelled-positions head.

    ``model`` is the trainer's model (a PEFT model or a plain one); call it after ``SFTTrainer`` is built,
    since TRL patches the same forward in its constructor. Returns the chunk size in tokens, or None when
    the model is left to TRL's head (see ``_head_options``).
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    options = _head_options(base)
    if options is None:
        return None
    softcap, scale = options
    previous = base.forward
    weight, _ = _weight_and_bias(_base_head(base.get_output_embeddings()))
    chunk = chunk_tokens(weight.shape[0], chunk_elements)

    @functools.wraps(type(base).forward)
    def forward(self: Any, *args: Any, fused_lm_head: bool = False, labels: Any = None, **kwargs: Any) -> Any:
        if not fused_lm_head or labels is None or kwargs.get("shift_labels") is not None:
            extra = {"fused_lm_head": True} if fused_lm_head else {}
            return previous(*args, labels=labels, **extra, **kwargs)
        from trl.trainer.utils import FusedCausalLMOutput

        num_items = kwargs.pop("num_items_in_batch", None)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state
        log_probs, entropy, top1, mask = labelled_log_probs(
            hidden, self.get_output_embeddings(), labels, chunk=chunk, softcap=softcap, scale=scale
        )
        loss = -log_probs.sum() / (mask.sum().clamp(min=1) if num_items is None else num_items)
        return FusedCausalLMOutput(loss=loss, log_probs=log_probs, entropy=entropy, is_top1=top1, label_mask=mask)

    base.forward = types.MethodType(forward, base)
    return chunk
