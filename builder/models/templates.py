"""A chat template for base models that come without one.

A pretrained base model (Gemma 3 270M, the bundled multilingual model) has no chat template,
yet training, loss masking, evaluation, the playground and every export must render a
conversation the same way. Such a tokenizer gets Gemma's turn format, once, when it is
loaded; the run's ``tokenizer/`` folder then carries it (``chat_template``) to every later
reader, exports included.

    <bos><start_of_turn>user
    {system}

    {message}<end_of_turn>
    <start_of_turn>model
    {reply}<end_of_turn>

Gemma has no system role: the system prompt opens the first user turn, as Gemma's own
instruction-tuned template does. A reply ends with ``<end_of_turn>``, which becomes the end
of sequence so that generation stops there. For a tokenizer whose vocabulary lacks the
Gemma turn tokens, a reply ends with its own end-of-sequence token instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

START_OF_TURN = "<start_of_turn>"
END_OF_TURN = "<end_of_turn>"

_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set prefix = (messages[0]['content'] | trim) ~ '\\n\\n' %}{% set turns = messages[1:] %}"
    "{% else %}{% set prefix = '' %}{% set turns = messages %}{% endif %}"
    "{% for message in turns %}"
    "{{ '" + START_OF_TURN + "' }}{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ (prefix if loop.first else '') ~ (message['content'] | trim) }}{{ END }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '" + START_OF_TURN + "' }}model\n{% endif %}"
)


def turn_template(end_of_turn: str) -> str:
    """Gemma's turn format, each turn closed by ``end_of_turn``."""
    return _TEMPLATE.replace("{{ END }}", "{{ '" + end_of_turn.replace("'", "\\'") + "' }}")


def _single_token(tokenizer: PreTrainedTokenizerBase, text: str) -> bool:
    ids = tokenizer.convert_tokens_to_ids(text)
    return isinstance(ids, int) and ids != tokenizer.unk_token_id


def ensure_chat_template(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Give a tokenizer without a chat template the turn format; True when it had to."""
    if getattr(tokenizer, "chat_template", None):
        return False
    if _single_token(tokenizer, END_OF_TURN) and _single_token(tokenizer, START_OF_TURN):
        tokenizer.chat_template = turn_template(END_OF_TURN)
        tokenizer.eos_token = END_OF_TURN  # a reply ends there: generation must stop there
    else:
        tokenizer.chat_template = turn_template(tokenizer.eos_token or "\n")
    return True


def given_turn_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The ids of ``<start_of_turn>`` and ``<end_of_turn>`` when ``ensure_chat_template`` gave the
    tokenizer its format, else none. A pretrained base never learned these two rows of its embedding
    (in Gemma 3 270M the turn end sits in a cluster of unused tokens), so a reply may end on a
    neighbour instead; training the two rows beside LoRA lets the model tell them apart.
    """
    if getattr(tokenizer, "chat_template", None) != turn_template(END_OF_TURN):
        return []
    # One token in, one id out (the stubs type the list form's result too).
    return [cast(int, tokenizer.convert_tokens_to_ids(token)) for token in (START_OF_TURN, END_OF_TURN)]


def _jinja_literal(text: str) -> str:
    """``text`` as a Jinja string literal (non-ASCII characters stay as they are)."""
    escapes = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "'" + "".join(escapes.get(c, c) for c in text) + "'"


def framed_chat_template(template: str, system: str, before: str = "", after: str = "") -> str:
    """``template`` preceded by a prelude that asks in a run's prompt form (``builder.usecases.PromptForm``):
    the run's ``system`` prompt where a conversation has no system message, and every user turn framed as
    ``before`` + its text, trimmed, + ``after``. A chat client that sends only the user's words (llama.cpp,
    LM Studio, vLLM) then prompts the model as training did.
    """
    prelude = "{%- set ns = namespace(turns=[]) -%}"
    if system:
        prelude += (
            "{%- if not messages or messages[0]['role'] != 'system' -%}"
            "{%- set ns.turns = [{'role': 'system', 'content': " + _jinja_literal(system) + "}] -%}{%- endif -%}"
        )
    content = "message['content']"
    if before or after:
        content = f"{_jinja_literal(before)} ~ (message['content'] | trim) ~ {_jinja_literal(after)}"
    prelude += (
        "{%- for message in messages -%}{%- if message['role'] == 'user' -%}"
        "{%- set ns.turns = ns.turns + [{'role': 'user', 'content': " + content + "}] -%}"
        "{%- else -%}{%- set ns.turns = ns.turns + [message] -%}{%- endif -%}{%- endfor -%}"
        "{%- set messages = ns.turns %}"
    )
    return prelude + template
