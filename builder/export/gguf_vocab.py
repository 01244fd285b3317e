"""A tokenizer as GGUF's ``tokenizer.ggml.*`` vocabulary: tokens, their types, BPE merges or sentencepiece
scores, and the special tokens (beginning of text, end of turn) that llama.cpp and Ollama stop on.

Read from the fast tokenizer's ``tokenizer.json``; ``builder.export.gguf`` writes what this returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from builder.export.base import ExportError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class Vocabulary:
    model: str  # gguf tokenizer.ggml.model: gpt2 (byte-level BPE) or llama (sentencepiece)
    pre: str | None
    tokens: list[str]
    types: list[int]
    merges: list[str]
    scores: list[float] | None = None
    add_space_prefix: bool | None = None  # sentencepiece only: does the text get a leading "▁"?


def _tokenizer_json(tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ExportError(f"the GGUF export needs a fast tokenizer (tokenizer.json), not {type(tokenizer).__name__}")
    return json.loads(backend.to_str())


def _pre_tokenizer_name(spec: dict[str, Any] | None) -> str:
    """llama.cpp's name for the way this tokenizer splits text before BPE."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

    if spec is None:
        raise ExportError("the tokenizer has no pre-tokenizer; the GGUF export knows byte-level BPE tokenizers only")
    parts = spec.get("pretokenizers", []) if spec.get("type") == "Sequence" else [spec]
    kinds = [p.get("type") for p in parts]
    if kinds == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits") and parts[1].get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not parts[1].get("use_regex", True):
        pattern = (parts[0].get("pattern") or {}).get("Regex")
        # The names transformers' own GGUF reader maps back to the same split (llama.cpp knows them all).
        for name in ("llama-bpe", "qwen2", "gpt-4o", "tekken"):
            if GGUF_PRE_TOKENIZER_SPLITS.get(name) == pattern:
                return name
        raise ExportError(f"the tokenizer splits text with a regex the GGUF export does not know: {pattern!r}")
    raise ExportError(f"the tokenizer's pre-tokenizer ({' + '.join(map(str, kinds))}) is not one the GGUF export knows")


def _added_token_types(data: dict[str, Any]) -> dict[int, int]:
    import gguf

    return {
        int(t["id"]): int(gguf.TokenType.CONTROL if t.get("special") else gguf.TokenType.USER_DEFINED)
        for t in data.get("added_tokens", [])
    }


def build_vocabulary(tokenizer: PreTrainedTokenizerBase, vocab_size: int) -> Vocabulary:
    """Tokens, types and merges (or scores) as llama.cpp reads them, padded to the model's embedding rows."""
    import gguf

    data = _tokenizer_json(tokenizer)
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise ExportError(f"the GGUF export knows BPE tokenizers; this one is {model.get('type')!r}")
    by_id: dict[int, str] = {int(i): t for t, i in model["vocab"].items()}
    by_id.update({int(t["id"]): t["content"] for t in data.get("added_tokens", [])})
    if max(by_id) >= vocab_size:
        raise ExportError(f"the tokenizer has {max(by_id) + 1} tokens but the model only {vocab_size} embeddings")
    added = _added_token_types(data)
    tokens, types = [], []
    for index in range(vocab_size):
        if index in by_id:
            tokens.append(by_id[index])
            types.append(added.get(index, int(gguf.TokenType.NORMAL)))
        else:  # embedding rows past the tokenizer (padding to a round size)
            tokens.append(f"[PAD{index}]")
            types.append(int(gguf.TokenType.UNUSED))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    if model.get("byte_fallback"):  # sentencepiece-style BPE (Gemma): llama.cpp's "llama" tokenizer
        vocab = _sentencepiece_vocabulary(tokens, types, model)
        vocab.add_space_prefix = _prepends_space(data)
        return vocab
    return Vocabulary("gpt2", _pre_tokenizer_name(data.get("pre_tokenizer")), tokens, types, merges)


def _sentencepiece_vocabulary(tokens: list[str], types: list[int], model: dict[str, Any]) -> Vocabulary:
    """Byte tokens typed as such; scores in vocabulary order, the order Gemma's merges follow."""
    import gguf

    types = list(types)
    for index, token in enumerate(tokens):
        if len(token) == 6 and token.startswith("<0x") and token.endswith(">") and types[index] != 5:
            types[index] = int(gguf.TokenType.BYTE)
    scores = [-float(index) for index in range(len(tokens))]
    return Vocabulary("llama", None, tokens, types, [], scores)


def _prepends_space(data: dict[str, Any]) -> bool:
    """Whether the tokenizer writes a "▁" before the text (Llama 2 does, Gemma does not); llama.cpp assumes it does."""
    text = json.dumps([data.get("normalizer"), data.get("pre_tokenizer")])
    return '"Prepend"' in text or '"prepend_scheme": "always"' in text or '"prepend_scheme": "first"' in text


def end_of_turn_token(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """The special token the chat template writes right after an assistant message (``<|im_end|>``...)."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return None
    marker = "Zq7 marker answer"
    try:
        text = cast(
            str,  # tokenize=False: the template's text
            tokenizer.apply_chat_template(
                [{"role": "user", "content": "hello"}, {"role": "assistant", "content": marker}], tokenize=False
            ),
        )
    except Exception:
        return None
    after = text[text.rfind(marker) + len(marker) :]
    specials = sorted(
        (t for t in tokenizer.all_special_tokens + list(tokenizer.get_added_vocab()) if t), key=len, reverse=True
    )
    stripped = after.lstrip()
    for token in specials:
        if stripped.startswith(token):
            return token
    return None


def adds_bos(tokenizer: PreTrainedTokenizerBase) -> bool:
    bos = tokenizer.bos_token_id
    ids = tokenizer("hello")["input_ids"]
    return bos is not None and bool(ids) and ids[0] == bos
