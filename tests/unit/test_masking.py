import pytest

from builder.models.masking import TemplateError, tokenize_with_assistant_mask

MESSAGES = [
    {"role": "system", "content": "You are Nube Verde's assistant."},
    {"role": "user", "content": "Hola, ¿dónde está mi pedido?"},
    {"role": "assistant", "content": "¡Hola! ¿Me das el número de pedido?"},
    {"role": "user", "content": "NV-123456"},
    {"role": "assistant", "content": "Gracias: llega mañana por la tarde."},
]


def masked_text(tokenizer, example) -> str:
    return tokenizer.decode([t for t, m in zip(example.input_ids, example.assistant_masks, strict=True) if m])


def test_mask_covers_exactly_the_assistant_replies_and_their_end_of_turn(bundled_tokenizer):
    example = tokenize_with_assistant_mask(bundled_tokenizer, MESSAGES)
    end = bundled_tokenizer.eos_token  # <|im_end|> closes a turn in ChatML
    expected = "".join(m["content"] + end for m in MESSAGES if m["role"] == "assistant")
    assert masked_text(bundled_tokenizer, example) == expected
    unmasked = bundled_tokenizer.decode(
        [t for t, m in zip(example.input_ids, example.assistant_masks, strict=True) if not m]
    )
    assert "dónde está mi pedido" in unmasked and "NV-123456" in unmasked and "Nube Verde" in unmasked
    assert "Gracias" not in unmasked


def test_whole_sequence_is_the_chat_template_rendering(bundled_tokenizer):
    example = tokenize_with_assistant_mask(bundled_tokenizer, MESSAGES)
    rendered = bundled_tokenizer.apply_chat_template(MESSAGES, tokenize=False)
    assert bundled_tokenizer.decode(example.input_ids) == rendered


def test_truncation_keeps_the_start_and_reports_it(bundled_tokenizer):
    full = tokenize_with_assistant_mask(bundled_tokenizer, MESSAGES)
    cut = tokenize_with_assistant_mask(bundled_tokenizer, MESSAGES, max_length=len(full.input_ids) - 5)
    assert cut.truncated and not full.truncated
    assert cut.input_ids == full.input_ids[: len(cut.input_ids)]
    assert cut.trained_tokens < full.trained_tokens


def test_inconsistent_template_fails_loudly(bundled_tokenizer):
    tokenizer = bundled_tokenizer.__class__.from_pretrained(bundled_tokenizer.name_or_path)
    # A template that renders only the last message cannot be split into turns.
    tokenizer.chat_template = "{{ messages[-1]['content'] }}"
    with pytest.raises(TemplateError):
        tokenize_with_assistant_mask(tokenizer, MESSAGES)
