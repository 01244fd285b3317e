"""The labelled-positions LM head: the same loss and gradients as the model's own forward, and the
product's training path uses it (no logits for unlabelled positions, chunks of bounded size)."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from builder.models.lm_head import LabelledLogProbs, chunk_tokens, install_labelled_lm_head


def _reference_log_probs(hidden, weight, bias, targets, softcap, scale):
    z = (hidden @ weight.t() + bias) * scale
    if softcap:
        z = softcap * torch.tanh(z / softcap)
    return torch.log_softmax(z, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1), z


@pytest.mark.parametrize("softcap,scale", [(None, 1.0), (30.0, 0.5)])
def test_chunked_function_matches_full_logits_values_and_gradients(softcap, scale):
    torch.manual_seed(0)
    hidden = torch.randn(11, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 8, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(50, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (11,))
    expected, z = _reference_log_probs(hidden, weight, bias, targets, softcap, scale)
    upstream = torch.randn(11, dtype=torch.float64)
    expected_grads = torch.autograd.grad((expected * upstream).sum(), (hidden, weight, bias))

    got, entropy, top1 = LabelledLogProbs.apply(hidden, weight, bias, targets, 4, softcap, scale)  # 3 chunks
    grads = torch.autograd.grad((got * upstream).sum(), (hidden, weight, bias))

    torch.testing.assert_close(got.double(), expected.detach(), rtol=1e-5, atol=1e-5)
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)
    p = torch.softmax(z.detach(), -1)
    torch.testing.assert_close(entropy.double(), -(p * p.log()).sum(-1), rtol=1e-5, atol=1e-5)
    assert torch.equal(top1, z.detach().argmax(-1) == targets)


def test_trained_rows_get_their_gradient_and_the_frozen_ones_none():
    torch.manual_seed(0)
    hidden = torch.randn(9, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(40, 8, dtype=torch.float64)
    bias = torch.randn(40, dtype=torch.float64)
    row_ids = torch.tensor([3, 17])
    rows = torch.randn(2, 8, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([3, 17, 0, 5, 17, 3, 39, 1, 2])
    expected, _ = _reference_log_probs(hidden, weight.index_copy(0, row_ids, rows), bias, targets, None, 1.0)
    upstream = torch.randn(9, dtype=torch.float64)
    expected_grads = torch.autograd.grad((expected * upstream).sum(), (hidden, rows))

    got, _, _ = LabelledLogProbs.apply(hidden, weight, bias, targets, 4, None, 1.0, row_ids, rows)
    grads = torch.autograd.grad((got * upstream).sum(), (hidden, rows))

    torch.testing.assert_close(got.double(), expected.detach(), rtol=1e-5, atol=1e-5)
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def _tiny_peft(tiny_model_dir, quantization, **extra):
    from peft import LoraConfig, get_peft_model

    from builder.models.loading import load_model

    torch.manual_seed(0)
    model, used = load_model(str(tiny_model_dir), quantization, for_training=True, device="cpu")
    assert used == quantization
    # init_lora_weights=False: B is random, so every LoRA matrix gets a non-zero gradient to compare
    lora = LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", init_lora_weights=False, **extra
    )
    return get_peft_model(model, lora)


def _batch(vocab_size):
    torch.manual_seed(1)
    ids = torch.randint(3, vocab_size, (2, 12))
    attention = torch.ones_like(ids)
    attention[1, 9:] = 0  # right padding
    labels = ids.clone()
    labels[:, :5] = -100  # the prompt
    labels[attention == 0] = -100
    return {"input_ids": ids, "attention_mask": attention, "labels": labels}


def _loss_and_grads(model, batch, **kwargs):
    model.zero_grad()
    loss = model(**batch, **kwargs).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("quantization", ["4bit", "none"])
def test_same_loss_and_gradients_as_the_plain_forward(tiny_model_dir, quantization):
    model = _tiny_peft(tiny_model_dir, quantization)
    vocab = model.get_base_model().get_output_embeddings().weight.shape[0]
    # chunks of 3 tokens: the 11 labelled positions below take 4 chunks
    assert install_labelled_lm_head(model, chunk_elements=3 * vocab) == 3
    batch = _batch(vocab)
    plain_loss, plain_grads = _loss_and_grads(model, batch)  # transformers' own logits + cross-entropy
    loss, grads = _loss_and_grads(model, batch, fused_lm_head=True)

    torch.testing.assert_close(loss, plain_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == plain_grads.keys() and len(grads) > 0
    for name, grad in grads.items():
        assert plain_grads[name].abs().max() > 0, name
        torch.testing.assert_close(grad, plain_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_trained_token_rows_of_a_tied_head_get_the_same_gradients(tiny_model_dir):
    """A Gemma run trains its turn-token rows (``trainable_token_indices``): the tied head keeps the fast path."""
    model = _tiny_peft(tiny_model_dir, "none", trainable_token_indices=[5, 9])
    with torch.no_grad():  # rows unlike the frozen ones, so that swapping them in shows
        model.get_base_model().model.embed_tokens.token_adapter.trainable_tokens_delta["default"].mul_(-1.5)
    vocab = model.get_base_model().config.vocab_size
    assert install_labelled_lm_head(model, chunk_elements=3 * vocab) == 3
    batch = _batch(vocab)
    plain_loss, plain_grads = _loss_and_grads(model, batch)
    loss, grads = _loss_and_grads(model, batch, fused_lm_head=True)

    torch.testing.assert_close(loss, plain_loss, rtol=1e-5, atol=1e-6)
    rows = [name for name in grads if "trainable_tokens_delta" in name]
    assert rows, "the token rows are trained"
    for name, grad in grads.items():
        assert plain_grads[name].abs().max() > 0, name
        torch.testing.assert_close(grad, plain_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_same_loss_under_cpu_bf16_autocast(tiny_model_dir):
    model = _tiny_peft(tiny_model_dir, "none")
    install_labelled_lm_head(model)
    batch = _batch(model.get_base_model().config.vocab_size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = model(**batch).loss.item()
        fused = model(**batch, fused_lm_head=True).loss.item()
    assert fused == pytest.approx(plain, rel=1e-3)


def test_generation_and_plain_calls_are_untouched(tiny_model_dir):
    model = _tiny_peft(tiny_model_dir, "none")
    ids = torch.tensor([[5, 6, 7]])
    before = model(input_ids=ids).logits
    install_labelled_lm_head(model)
    torch.testing.assert_close(model(input_ids=ids).logits, before)
    assert model.generate(input_ids=ids, max_new_tokens=2, do_sample=False).shape == (1, 5)


def test_chunk_size_follows_the_vocabulary():
    assert chunk_tokens(49_152) == 170
    assert chunk_tokens(262_144) == 32
    assert chunk_tokens(10**9) == 1


class _WideMatmuls(TorchDispatchMode):
    """Notes the shape of every matrix product wider than ``min_width`` columns (the LM head's tiles)."""

    def __init__(self, min_width: int) -> None:
        super().__init__()
        self.min_width = min_width
        self.shapes: list[tuple[int, ...]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        matmul = func.overloadpacket in (torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.bmm)
        if matmul and out.shape[-1] >= self.min_width:
            self.shapes.append(tuple(out.shape))
        return out


def test_training_through_the_product_scores_only_labelled_positions(support_recipe, tmp_path):
    """Two real training steps of builder.cli.sft's trainer: the vocabulary-wide matmuls cover the labelled
    tokens only (once forward, once in the backward's recomputation), a chunk at a time."""
    from builder.config.recipe import load_recipe
    from builder.data.dataset import prepare_splits, tokenize_examples
    from builder.models.loading import load_tokenizer
    from builder.train.run import resolved_recipe
    from builder.train.trainer import build_trainer

    recipe = resolved_recipe(load_recipe(support_recipe, ["training.max_steps=2", "training.batch_size=4"]))
    splits = prepare_splits(recipe, tmp_path)
    tokenizer = load_tokenizer(recipe.base_model)
    rows, _ = tokenize_examples(splits.train, tokenizer, recipe.training.max_length)
    trainer, _, _ = build_trainer(recipe, tmp_path / "run", rows, [], [])
    vocab = trainer.model.get_base_model().get_output_embeddings().weight.shape[0]
    chunk = trainer.lm_head_chunk_tokens
    assert chunk == chunk_tokens(vocab)

    labelled, positions = [], []
    collate = trainer.data_collator

    def counting(examples):
        batch = collate(examples)
        labelled.append(int((batch["labels"][:, 1:] != -100).sum()))
        positions.append(batch["labels"][:, 1:].numel())
        return batch

    trainer.data_collator = counting
    watch = _WideMatmuls(min_width=1024)  # the tiny model's layers are 64 and 128 wide
    with watch:
        trainer.train()

    assert len(labelled) == 2 and sum(labelled) < sum(positions)
    assert watch.shapes, "no LM head matmul seen"
    assert all(shape[-1] == vocab and len(shape) == 2 and shape[0] <= chunk for shape in watch.shapes)
    assert sum(shape[0] for shape in watch.shapes) == 2 * sum(labelled)


@pytest.mark.parametrize("softcap", [None, 30.0])
def test_gemma3_shape_same_loss_and_gradients(softcap):
    """Gemma 3 (the second bundled model: 262,144 words) scales its embeddings and may soft-cap its logits."""
    from peft import LoraConfig, get_peft_model
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=1000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        final_logit_softcapping=softcap,
        layer_types=["sliding_attention", "full_attention"],
    )
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", init_lora_weights=False)
    model = get_peft_model(Gemma3ForCausalLM(config), lora)
    assert install_labelled_lm_head(model, chunk_elements=4 * 1000) == 4
    batch = _batch(1000)
    plain_loss, plain_grads = _loss_and_grads(model, batch)
    loss, grads = _loss_and_grads(model, batch, fused_lm_head=True)
    torch.testing.assert_close(loss, plain_loss, rtol=1e-5, atol=1e-6)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, plain_grads[name], rtol=1e-4, atol=1e-6, msg=name)
