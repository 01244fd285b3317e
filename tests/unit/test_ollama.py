"""The Modelfile's TEMPLATE, rendered by Go's text/template as Ollama renders it, equals the chat template.

Ollama itself cannot be installed here; its templates are plain Go ``text/template`` over
``.System`` and ``.Messages``, so a ten-line Go program (tests/unit/go/render_template.go) renders them.
`make test` installs Debian's golang-go first (the `go` target).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from builder.export.base import GgufExport, SamplingDefaults
from builder.export.ollama import OllamaError, chat_format, modelfile_text, read_template, reference_prompt
from builder.usecases import PromptForm

RENDERER = Path(__file__).parent / "go" / "render_template.go"
SYSTEM = "Eres el asistente de Nube Verde. Answer in the customer's language."

CONVERSATIONS = {
    "english": [{"role": "user", "content": "Where is my order NV-100200?"}],
    "spanish": [{"role": "user", "content": "¿Puedo devolver una silla? Llegó rota."}],
    "english, several turns": [
        {"role": "user", "content": "My parcel arrived damaged."},
        {"role": "assistant", "content": "I'm sorry! Could you send me a photo and the order number?"},
        {"role": "user", "content": "Order NV-555111, photo attached."},
    ],
    "spanish, own system prompt": [
        {"role": "system", "content": "Responde en una frase."},
        {"role": "user", "content": "¿Cuándo llega mi pedido?"},
        {"role": "assistant", "content": "Dime el número de pedido y lo reviso."},
        {"role": "user", "content": "Es el NV-100200 {{ no es una plantilla }}"},
    ],
}

# A Gemma-style template written for this test: system text at the top of the first user turn.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% set offset = 0 %}{% set prefix = '' %}"
    "{% if messages[0]['role'] == 'system' %}{% set prefix = messages[0]['content'] + '\n\n' %}"
    "{% set offset = 1 %}{% endif %}"
    "{% for m in messages[offset:] %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "<start_of_turn>{{ role }}\n{{ prefix if loop.first else '' }}{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def _go() -> str:
    places = ("/usr/lib/go/bin/go", "/usr/local/go/bin/go")
    found = shutil.which("go") or next((p for p in places if os.access(p, os.X_OK)), None)
    if found is None:
        pytest.fail("Go is needed to render Ollama templates: run `make go` (apt-get install golang-go)")
    return found


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory):
    build = tmp_path_factory.mktemp("go")
    binary = build / "render_template"
    env = {**os.environ, "GOCACHE": str(build / "cache"), "GOPATH": str(build / "gopath"), "GO111MODULE": "off"}
    subprocess.run([_go(), "build", "-o", str(binary), str(RENDERER)], check=True, env=env, cwd=build, timeout=600)

    def run(template: str, messages: list[dict[str, str]], system: str = "") -> str:
        payload = json.dumps({"template": template, "system": system, "messages": messages})
        done = subprocess.run([str(binary)], input=payload, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def _export(tmp_path: Path, system: str, *, add_bos: bool = False) -> GgufExport:
    return GgufExport(
        name="Nube Verde support",
        path=tmp_path / "nube-q8_0.gguf",
        quant="q8_0",
        architecture="llama",
        tensors=0,
        bytes=0,
        seconds=0.0,
        chat_template=None,
        stop_tokens=["<|im_end|>"],
        prompt=PromptForm(system),
        sampling=SamplingDefaults(),
        add_bos=add_bos,
    )


def _ollama_messages(messages: list[dict[str, str]], system: str) -> list[dict[str, str]]:
    """What Ollama hands the template: the Modelfile's SYSTEM first when the conversation has none."""
    if system and not any(m["role"] == "system" for m in messages):
        return [{"role": "system", "content": system}, *messages]
    return messages


@pytest.mark.parametrize("system", [SYSTEM, ""], ids=["with SYSTEM", "no SYSTEM"])
@pytest.mark.parametrize("conversation", list(CONVERSATIONS), ids=list(CONVERSATIONS))
def test_chatml_modelfile_template_renders_the_tokenizer_prompt(
    render, bundled_tokenizer, tmp_path: Path, conversation: str, system: str
) -> None:
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(modelfile_text(_export(tmp_path, system), bundled_tokenizer, "nube-q8_0.gguf"))
    messages = _ollama_messages(CONVERSATIONS[conversation], system)
    expected = reference_prompt(bundled_tokenizer, messages, strip_bos=False)
    assert render(read_template(modelfile), messages, system) == expected
    if not any(m["role"] == "system" for m in messages):  # SmolLM2's template writes its default system turn
        assert "You are a helpful AI assistant named SmolLM" in expected


def test_modelfile_has_system_stops_sampling_and_commands(bundled_tokenizer, tmp_path: Path) -> None:
    text = modelfile_text(_export(tmp_path, SYSTEM), bundled_tokenizer, "nube-q8_0.gguf")
    assert "FROM ./nube-q8_0.gguf\n" in text
    assert f'SYSTEM """{SYSTEM}"""' in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert "PARAMETER temperature 0.7\n" in text and "PARAMETER num_predict 128\n" in text
    assert "ollama create nube-verde-support -f Modelfile" in text and "ollama run nube-verde-support" in text


@pytest.mark.parametrize("conversation", list(CONVERSATIONS), ids=list(CONVERSATIONS))
def test_gemma_modelfile_template_renders_the_tokenizer_prompt(
    render, bundled_tokenizer, tmp_path: Path, conversation: str
) -> None:
    import copy

    tokenizer = copy.deepcopy(bundled_tokenizer)
    tokenizer.chat_template = GEMMA_TEMPLATE
    export = _export(tmp_path, SYSTEM, add_bos=True)
    assert chat_format(tokenizer, strip_bos=True).name == "gemma"
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(modelfile_text(export, tokenizer, "nube-q8_0.gguf"))
    messages = _ollama_messages(CONVERSATIONS[conversation], SYSTEM)
    # The runtime adds the BOS token (add_bos in the GGUF), so the template must not write it.
    expected = reference_prompt(tokenizer, messages, strip_bos=True)
    assert not expected.startswith(tokenizer.bos_token)
    assert render(read_template(modelfile), messages, SYSTEM) == expected


def test_an_unknown_chat_format_gets_no_modelfile(bundled_tokenizer, tmp_path: Path) -> None:
    import copy

    tokenizer = copy.deepcopy(bundled_tokenizer)
    tokenizer.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    with pytest.raises(OllamaError, match="none of the formats"):
        modelfile_text(_export(tmp_path, SYSTEM), tokenizer, "x.gguf")
