"""A base model without a chat template gets Gemma's turn format, the same everywhere it is rendered."""

from __future__ import annotations

from pathlib import Path

from builder.models.masking import assistant_char_spans, tokenize_with_assistant_mask
from builder.models.templates import END_OF_TURN, ensure_chat_template, turn_template

CONVERSATION = [
    {"role": "system", "content": "You are a store assistant."},
    {"role": "user", "content": "¿Dónde está mi pedido?"},
    {"role": "assistant", "content": "Llega el martes."},
    {"role": "user", "content": "Gracias."},
    {"role": "assistant", "content": "¡De nada!"},
]


def without_template(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    return tokenizer


def test_gemma_turns_with_the_system_prompt_in_the_first_user_turn() -> None:
    from jinja2 import Template

    text = Template(turn_template(END_OF_TURN)).render(
        messages=CONVERSATION[:3], bos_token="<bos>", add_generation_prompt=False
    )
    assert text == (
        "<bos><start_of_turn>user\nYou are a store assistant.\n\n¿Dónde está mi pedido?<end_of_turn>\n"
        "<start_of_turn>model\nLlega el martes.<end_of_turn>\n"
    )
    prompt = Template(turn_template(END_OF_TURN)).render(
        messages=CONVERSATION[1:2], bos_token="<bos>", add_generation_prompt=True
    )
    assert prompt == "<bos><start_of_turn>user\n¿Dónde está mi pedido?<end_of_turn>\n<start_of_turn>model\n"


def test_a_template_is_given_once_and_a_present_one_is_kept(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    assert ensure_chat_template(AutoTokenizer.from_pretrained(tiny_model_dir)) is False  # SmolLM2's ChatML stays
    tokenizer = without_template(tiny_model_dir)
    assert ensure_chat_template(tokenizer) is True
    assert "<start_of_turn>" in tokenizer.chat_template
    assert ensure_chat_template(tokenizer) is False


def test_masking_finds_every_reply_in_the_turn_format(tiny_model_dir: Path) -> None:
    tokenizer = without_template(tiny_model_dir)
    ensure_chat_template(tokenizer)
    text, spans = assistant_char_spans(tokenizer, CONVERSATION)
    # Without Gemma's turn tokens in the vocabulary, a reply ends with the tokenizer's own end of sequence.
    assert [text[a:b] for a, b in spans] == [
        f"Llega el martes.{tokenizer.eos_token}",
        f"¡De nada!{tokenizer.eos_token}",
    ]
    example = tokenize_with_assistant_mask(tokenizer, CONVERSATION)
    trained = tokenizer.decode([i for i, m in zip(example.input_ids, example.assistant_masks, strict=True) if m])
    assert "Llega el martes." in trained and "¡De nada!" in trained and "pedido" not in trained


def test_a_run_tokenizer_saved_with_the_template_reads_it_back(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Exports and the playground read the run's tokenizer/ folder: the template travels with it."""
    from transformers import AutoTokenizer

    tokenizer = without_template(tiny_model_dir)
    ensure_chat_template(tokenizer)
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    again = AutoTokenizer.from_pretrained(tmp_path / "tokenizer")
    assert again.chat_template == tokenizer.chat_template
    assert again.apply_chat_template(CONVERSATION, tokenize=False) == tokenizer.apply_chat_template(
        CONVERSATION, tokenize=False
    )
