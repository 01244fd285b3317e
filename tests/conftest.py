"""Shared fixtures: a tiny random Llama for fast tests, the bundled model's tokenizer, the real data folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"the real data folder {REAL_DATA} is absent on this machine")
    return REAL_DATA


@pytest.fixture(scope="session")
def bundled_tokenizer():
    from builder.config.recipe import BUNDLED_MODEL
    from builder.models.loading import load_tokenizer

    return load_tokenizer(BUNDLED_MODEL)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, bundled_tokenizer) -> Path:
    """A randomly initialised 2-layer Llama with the bundled tokenizer: trains in a fraction of a second."""
    # 64 wide: bitsandbytes' CPU 4-bit inference needs layers of at least one quantization block.
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), bundled_tokenizer, width=64, tie=True)


def save_tiny_llama(folder: Path, tokenizer, *, width: int, max_positions: int = 1024, tie: bool = False) -> Path:
    """A randomly initialised (seed 0) 2-layer Llama around ``tokenizer``, saved with it in ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=tie,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_turn_token_base(folder: Path, tokenizer) -> Path:
    """Gemma's case in small: a pretrained base without a chat template whose vocabulary has the turn tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    tokenizer.chat_template = None
    return save_tiny_llama(folder, tokenizer, width=64, tie=True)


SUPPORT_CONVERSATIONS = [
    [("user", "Where is my order NV-100200?"), ("assistant", "It left our warehouse today and arrives Friday.")],
    [("user", "¿Puedo devolver una silla?"), ("assistant", "Sí, tienes 30 días para devolverla sin coste.")],
    [
        ("user", "My parcel arrived damaged."),
        ("assistant", "I'm sorry! Could you send me a photo and the order number?"),
        ("user", "Order NV-555111, photo attached."),
        ("assistant", "Thank you, a replacement ships tomorrow at no cost."),
    ],
    [("user", "Do you ship to the Canary Islands?"), ("assistant", "Yes, in 5 to 7 working days.")],
    [("user", "¿Cuándo llega mi pedido?"), ("assistant", "Dime el número de pedido y lo reviso.")],
    [("user", "I was charged twice."), ("assistant", "I see it; the duplicate charge is refunded within 5 days.")],
    [("user", "¿Tenéis la lámpara Luna en blanco?"), ("assistant", "Vuelve a estar disponible la semana que viene.")],
    [("user", "How do I use my gift card?"), ("assistant", "Enter its code at checkout, under Payment.")],
]


def write_support_jsonl(path: Path, conversations=SUPPORT_CONVERSATIONS, copies: int = 1) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for copy in range(copies):
            for i, turns in enumerate(conversations):
                messages = [{"role": r, "content": c + ("" if copy == 0 else f" (#{copy})")} for r, c in turns]
                handle.write(json.dumps({"messages": messages, "metadata": {"id": f"c{copy}-{i}"}}) + "\n")
    return path


def train_tiny_run_in(runs: Path, tiny_model_dir: Path, name: str) -> Path:
    """A runs folder as the web app serves it: the tiny model and support chats inside it, and one finished
    2-step run ``name`` trained on them (system prompt "Be a helpful store assistant.")."""
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe

    model = shutil.copytree(tiny_model_dir, runs / "models" / "tiny")
    (runs / "data").mkdir()
    write_support_jsonl(runs / "data" / "chats.jsonl")
    recipe = runs / "data" / "tiny.yaml"
    recipe.write_text(
        f"name: tiny\nbase_model: {model}\nquantization: none\nsystem_prompt: Be a helpful store assistant.\n"
        "data: {train: [chats.jsonl], dedupe: false, dev_fraction: 0}\n"
        "training: {max_steps: 2, batch_size: 2, max_length: 128, save_steps: 10}\neval: {enabled: false}\n"
    )
    return train(load_recipe(recipe), runs / name)


@pytest.fixture
def support_recipe(tmp_path, tiny_model_dir) -> Path:
    """A recipe on the tiny model and a handful of conversations: trains 3 steps in seconds."""
    write_support_jsonl(tmp_path / "chats.jsonl")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"""
name: tiny
use_case: support
base_model: {tiny_model_dir}
quantization: 4bit
system_prompt: You are a helpful store assistant.
data:
  train: [chats.jsonl]
  dedupe: false
  dev_fraction: 0.0
training:
  max_steps: 3
  batch_size: 2
  learning_rate: 1.0e-3
  logging_steps: 1
  save_steps: 2
  eval_steps: 2
  max_length: 128
eval:
  enabled: false
""",
        encoding="utf-8",
    )
    return recipe
