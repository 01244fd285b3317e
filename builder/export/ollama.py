"""An Ollama ``Modelfile`` for an exported GGUF: the chat template in Ollama's own template language.

Ollama does not run the Jinja chat template stored in a GGUF; it runs the Go ``text/template``
of the Modelfile's TEMPLATE. A template that differs from the one the run trained with by one
newline is how a tuned model "never stops" or answers in the wrong format, so the Go template is
not guessed from the model's name: each known chat format is written once in Python (the same
text the Go template produces) and checked against the tokenizer's own Jinja template on probe
conversations. Only a format that renders them all identically gets a Modelfile; tests render
the Go template itself with Go and compare again.

Ollama puts the Modelfile's SYSTEM (the run's system prompt) in front of any conversation that has
no system message, and its runtime adds the BOS token when the GGUF says to, so neither is written
in the template. The template writes every user turn in the run's frame (``UseCase.prompt_form``:
a translation run's "Translate to Spanish:" before the text), so ``ollama run`` asks what training
asked. Go templates cannot trim text: a message with white space around it is framed as it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from builder.export.base import GgufExport

Messages = list[dict[str, str]]


class OllamaError(RuntimeError):
    """No Modelfile can be written for this chat template; the message says why."""


# Conversations on which a format must render exactly as the tokenizer's template does.
PROBES: list[Messages] = [
    [{"role": "user", "content": "Where is my order NV-100200?"}],
    [
        {"role": "system", "content": "You are a helpful store assistant."},
        {"role": "user", "content": "¿Puedo devolver una silla?"},
    ],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My parcel arrived damaged."},
        {"role": "assistant", "content": "I'm sorry! Could you send me a photo?"},
        {"role": "user", "content": "Sent.\nOrder NV-555111."},
    ],
    [
        {"role": "user", "content": "Hola"},
        {"role": "assistant", "content": "¡Hola! ¿En qué te ayudo?"},
        {"role": "user", "content": "Mi pedido no llega."},
    ],
]


def _go_literal(text: str) -> str:
    """Text placed verbatim in a Go template: only ``{{`` means something there."""
    return text.replace("{{", '{{ "{{" }}')


CONTENT = "@CONTENT@"  # where a Go template writes a message's text


@dataclass
class ChatFormat:
    name: str
    render: Callable[[Messages], str]  # the prompt for a conversation ending where the assistant speaks
    go: str  # the Go template, with CONTENT where a message's text goes
    message: str  # how the Go template names the message being written: "$m." or "."
    stops: list[str]

    def go_template(self, before: str = "", after: str = "") -> str:
        """The Go template, each user turn framed as ``before`` + its text + ``after``."""
        text = f"{{{{ {self.message}Content }}}}"
        if before or after:
            framed = f"{_go_literal(before)}{text}{_go_literal(after)}"
            text = f'{{{{ if eq {self.message}Role "user" }}}}{framed}{{{{ else }}}}{text}{{{{ end }}}}'
        return self.go.replace(CONTENT, text)


def _chatml(default_system: str | None) -> ChatFormat:
    """``<|im_start|>role\\ncontent<|im_end|>\\n`` turns (SmolLM2, Qwen); some add a default system turn."""

    def render(messages: Messages) -> str:
        text = ""
        if default_system is not None and messages and messages[0]["role"] != "system":
            text += f"<|im_start|>system\n{default_system}<|im_end|>\n"
        for m in messages:
            text += f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
        if messages and messages[-1]["role"] != "assistant":
            text += "<|im_start|>assistant\n"
        return text

    default = ""
    if default_system is not None:
        default = (
            '{{ if and (eq $i 0) (ne $m.Role "system") }}<|im_start|>system\n'
            f"{_go_literal(default_system)}<|im_end|>\n{{{{ end }}}}"
        )
    go = (
        '{{- $last := "" }}{{ range $i, $m := .Messages }}'
        + default
        + "<|im_start|>{{ $m.Role }}\n"
        + CONTENT
        + "<|im_end|>\n{{ $last = $m.Role }}{{ end }}"
        + '{{ if ne $last "assistant" }}<|im_start|>assistant\n{{ end }}'
    )
    return ChatFormat("chatml", render, go, "$m.", ["<|im_end|>"])


def _gemma() -> ChatFormat:
    """``<start_of_turn>user|model`` turns; a system message is written at the top of the first user turn."""

    def render(messages: Messages) -> str:
        prefix = ""
        if messages and messages[0]["role"] == "system":
            prefix, messages = messages[0]["content"] + "\n\n", messages[1:]
        text = ""
        for i, m in enumerate(messages):
            role = "model" if m["role"] == "assistant" else m["role"]
            text += f"<start_of_turn>{role}\n{prefix if i == 0 else ''}{m['content']}<end_of_turn>\n"
        if not messages or messages[-1]["role"] != "assistant":
            text += "<start_of_turn>model\n"
        return text

    go = (
        '{{- $system := "" }}{{ $last := "" }}{{ $first := true }}{{ range .Messages }}'
        '{{ if eq .Role "system" }}{{ $system = .Content }}{{ else }}'
        '<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}{{ .Role }}{{ end }}\n'
        "{{ if and $first $system }}{{ $system }}\n\n{{ end }}" + CONTENT + "<end_of_turn>\n"
        "{{ $first = false }}{{ $last = .Role }}{{ end }}{{ end }}"
        '{{ if ne $last "assistant" }}<start_of_turn>model\n{{ end }}'
    )
    return ChatFormat("gemma", render, go, ".", ["<end_of_turn>"])


def reference_prompt(tokenizer: PreTrainedTokenizerBase, messages: Messages, *, strip_bos: bool) -> str:
    """The tokenizer's template output, less the BOS token that the runtime adds by itself."""
    text = cast(str, tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    bos = tokenizer.bos_token
    if strip_bos and bos and text.startswith(bos):
        text = text[len(bos) :]
    return text


def _default_system(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """The system turn a ChatML template writes when the conversation has none (SmolLM2 does)."""
    text = cast(str, tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False))
    match = re.match(r"<\|im_start\|>system\n(.*?)<\|im_end\|>\n", text, flags=re.S)
    return match.group(1) if match else None


def chat_format(tokenizer: PreTrainedTokenizerBase, *, strip_bos: bool) -> ChatFormat:
    """The known format that renders every probe exactly as the tokenizer's template, or OllamaError."""
    if not getattr(tokenizer, "chat_template", None):
        raise OllamaError("the tokenizer has no chat template, so there is no TEMPLATE to write for Ollama")
    candidates = [_chatml(_default_system(tokenizer)), _gemma()]
    for candidate in candidates:
        try:
            if all(candidate.render(p) == reference_prompt(tokenizer, p, strip_bos=strip_bos) for p in PROBES):
                return candidate
        except Exception:  # a template that refuses a probe (say, no system role) is not this format
            continue
    raise OllamaError(
        "the run's chat template is none of the formats the Modelfile writer knows "
        f"({', '.join(c.name for c in candidates)}); the GGUF still carries the template for llama.cpp"
    )


def ollama_name(run_name: str) -> str:
    """A model name Ollama accepts: lower case letters, digits, dots, dashes, underscores."""
    name = re.sub(r"[^a-z0-9._-]+", "-", run_name.lower()).strip("-.")
    return name or "assistant"


def _quoted(text: str, what: str) -> str:
    if '"""' in text:
        raise OllamaError(f'the {what} contains """, which a Modelfile cannot quote')
    return f'"""{text}"""'


def modelfile_text(export: GgufExport, tokenizer: PreTrainedTokenizerBase, gguf_name: str) -> str:
    fmt = chat_format(tokenizer, strip_bos=export.add_bos)
    name = ollama_name(export.name)
    stops = list(dict.fromkeys(fmt.stops + export.stop_tokens))
    lines = [
        f"# Ollama model for the tuned run {export.name}, {export.quant} (chat format: {fmt.name}).",
        f"#   ollama create {name} -f Modelfile",
        f"#   ollama run {name}",
        f"FROM ./{gguf_name}",
        f"TEMPLATE {_quoted(fmt.go_template(export.prompt.before, export.prompt.after), 'chat template')}",
    ]
    if export.prompt.system:
        lines.append(f"SYSTEM {_quoted(export.prompt.system, 'system prompt')}")
    lines += [f"PARAMETER stop {_go_string(stop)}" for stop in stops]
    s = export.sampling
    lines += [
        f"PARAMETER temperature {s.temperature:g}",
        f"PARAMETER top_p {s.top_p:g}",
        f"PARAMETER repeat_penalty {s.repeat_penalty:g}",
        f"PARAMETER num_predict {int(s.max_new_tokens)}",
    ]
    return "\n".join(lines) + "\n"


def _go_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_modelfile(export: GgufExport, tokenizer: PreTrainedTokenizerBase, dest: Path | str) -> Path:
    from builder.run.rundir import write_text_atomic

    dest = Path(dest)
    write_text_atomic(dest, modelfile_text(export, tokenizer, export.path.name))
    return dest


def commands(run_name: str) -> list[str]:
    """What a user types, in the folder of the Modelfile."""
    name = ollama_name(run_name)
    return [f"ollama create {name} -f Modelfile", f"ollama run {name}"]


def read_template(modelfile: Path | str) -> str:
    """The TEMPLATE of a Modelfile we wrote (tests render it with Go)."""
    text = Path(modelfile).read_text(encoding="utf-8")
    match = re.search(r'^TEMPLATE """(.*?)"""$', text, flags=re.S | re.M)
    if not match:
        raise OllamaError(f"{modelfile}: no TEMPLATE")
    return match.group(1)
