"""One prompt from training to every place the model answers (issue 27, part 1).

For each of the five use cases, a run is prepared from its shipped recipe and sample data by the real data
pipeline (``builder.data.dataset.prepare_splits``) around the tiny random Llama with the bundled tokenizer and a
random adapter. One dev example's text is then "typed" as a user types it (the text alone, no instruction),
and the token ids the model is fed are recorded where they reach it:

- evaluation: the rows ``builder.models.prompt_batches.continue_prompts`` gets for the tuned system;
- the playground: ``ChatEngine.stream_pair`` with the system box as the tab fills it (``generate``'s
  ``input_ids``, or the label rows of a label task);
- the API server: one user message, raw, through ``/v1/chat/completions``;
- the GGUF: its chat template and tokenizer read back by transformers (``gguf_file=``);
- the Ollama Modelfile: its TEMPLATE rendered with Go as Ollama renders it (SYSTEM put first), tokenized.

All must be the ids evaluation scores. A retrieval run grounds the question in its knowledge base; an
exported file cannot search one, so its client sends the grounded question (the passages and the question
as ``builder.models.retrieval.grounded_prompt`` writes them), which the files must then ask exactly as training did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

from builder.serve.chat import ChatEngine, Sampling, run_system_prompt  # noqa: E402
from builder.usecases import Example, get_usecase  # noqa: E402
from tests.unit.test_ollama import _ollama_messages, render  # noqa: E402,F401  (the Go renderer fixture)

REPO = Path(__file__).resolve().parents[2]
USE_CASES = ["support", "translation", "sentiment", "content", "retrieval"]


def _typed_input(example: Example, recipe: Any) -> tuple[list[dict[str, str]], str]:
    """What a user types for this example: the earlier turns of the conversation (a support example's), and
    the last user turn without the use case's frame (a retrieval run's question without its passages)."""
    history = [m for m in example.prompt_messages[:-1] if m["role"] != "system"]
    if recipe.use_case == "retrieval":
        return history, str(example.meta["question"])
    text = example.prompt_messages[-1]["content"]
    form = get_usecase(recipe.use_case).prompt_form(recipe)
    assert text.startswith(form.before) and text.endswith(form.after), text
    return history, text[len(form.before) : len(text) - len(form.after)]


def _pick(examples: list[Example], recipe: Any) -> Example:
    """An example in the form a user's input is asked in (content: the default kind; support: the shortest)."""
    default_kind = (recipe.task or {}).get("default_kind")
    chosen = [e for e in examples if not default_kind or e.meta.get("kind") == default_kind]
    assert chosen, f"{recipe.use_case}: no example of the kind a user's input gets"
    return min(chosen, key=lambda e: len(e.prompt_messages))


def make_run(root: Path, use_case: str, base_model: Path, tokenizer: Any) -> tuple[Path, list[dict[str, str]], str]:
    """A run directory as ``builder.cli.sft`` leaves it (examples from the real pipeline, a random adapter),
    with one dev example; returns it and the text a user types for that example."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from builder.config.recipe import load_recipe
    from builder.data.dataset import example_to_record, prepare_splits
    from builder.run import rundir
    from builder.run.rundir import RunDir
    from builder.train.run import resolved_recipe

    overrides = [f"base_model={base_model}", "quantization=none", "data.redact_pii=false"]
    recipe = resolved_recipe(load_recipe(REPO / "recipes" / f"{use_case}.yaml", overrides))
    run = root / "runs" / f"tiny-{use_case}"
    splits = prepare_splits(recipe, run)
    example = _pick([*splits.dev, *splits.train], recipe)
    rundir.write_text_atomic(run / "recipe.yaml", recipe.to_yaml())
    rundir.write_jsonl(RunDir(run).examples("dev"), [example_to_record(example)])
    base = AutoModelForCausalLM.from_pretrained(base_model)
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(run / "adapter")
    tokenizer.save_pretrained(run / "tokenizer")
    (run / "run.json").write_text(json.dumps({"status": "completed", "quantization": "none"}), encoding="utf-8")
    return run, *_typed_input(example, recipe)


class Fed:
    """Records the token ids the model is fed: the chat engine's encoded prompts and ``continue_prompts``' rows
    (the evaluation's, and the label scoring's)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, engine: ChatEngine) -> None:
        import builder.evaluate.answers
        import builder.models.prompt_batches

        self.ids: list[list[int]] = []
        original = builder.models.prompt_batches.continue_prompts

        def continue_prompts(model: Any, rows: list[list[int]], *args: Any, **kwargs: Any) -> Any:
            self.ids += [list(row) for row in rows]
            return original(model, rows, *args, **kwargs)

        monkeypatch.setattr(builder.models.prompt_batches, "continue_prompts", continue_prompts)
        monkeypatch.setattr(builder.evaluate.answers, "continue_prompts", continue_prompts)
        encode = engine._encode  # the chat engine's prompt ids, whatever then decodes them (generate, a batch)

        def recording_encode(loaded: Any, messages: Any) -> Any:
            encoded = encode(loaded, messages)
            self.ids += [row.tolist() for row in encoded["input_ids"]]
            return encoded

        monkeypatch.setattr(engine, "_encode", recording_encode)

    def take(self) -> list[list[int]]:
        taken, self.ids = self.ids, []
        return taken


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, bundled_tokenizer) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("one-prompt")
    yield {uc: make_run(root, uc, tiny_model_dir, bundled_tokenizer) for uc in USE_CASES}


def _modelfile_system(modelfile: Path) -> str:
    match = re.search(r'^SYSTEM """(.*?)"""$', modelfile.read_text(encoding="utf-8"), flags=re.S | re.M)
    return match.group(1) if match else ""


@pytest.mark.parametrize("use_case", USE_CASES)
def test_every_place_feeds_the_model_the_ids_evaluation_scores(
    runs: dict,
    use_case: str,
    render,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient
    from transformers import AutoTokenizer

    from builder.evaluate.runner import evaluate_loaded
    from builder.export.gguf import export_gguf
    from builder.export.ollama import read_template
    from builder.serve.server import ChatService, create_app

    run, history, typed = runs[use_case]
    engine = ChatEngine()
    loaded = engine.load(run)
    fed = Fed(monkeypatch, engine)

    # Evaluation: the tuned system's rows (the base systems run with the adapter off, before it).
    def answerer(*args: Any, **kwargs: Any) -> Any:
        from builder.evaluate.answers import answer_prompts

        fed.take()
        return answer_prompts(*args, **kwargs)

    result = evaluate_loaded(run, loaded.model, loaded.tokenizer, loaded.recipe, answerer=answerer)
    evaluated = fed.take()
    assert evaluated and result["n_examples"] == 1
    scored = evaluated[0]
    assert all(ids == scored for ids in evaluated)

    # The playground, its system box filled as the tab fills it.
    short = Sampling(max_new_tokens=2, temperature=0, repetition_penalty=1.0)
    for _ in engine.stream_pair(run, typed, history, history, run_system_prompt(run), short):
        pass
    played = fed.take()
    assert played == [scored, scored], "the playground (base, then tuned side)"

    # The API server, the user's words alone.
    client = TestClient(create_app(ChatService(run, engine)))
    asked = [*history, {"role": "user", "content": typed}]
    body = {"model": run.name, "messages": asked, "max_tokens": 2, "temperature": 0}
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    assert fed.take() == [scored], "the server"
    choice = reply.json()["choices"][0]
    if loaded.labels:  # a label task answers with a label and every label's probability
        assert choice["message"]["content"] in loaded.labels
        assert set(choice["label_probabilities"]) == set(loaded.labels)
        assert abs(sum(choice["label_probabilities"].values()) - 1) < 1e-3

    # The exports: what a plain chat client sends them (a retrieval client: the grounded question).
    sent = loaded.ground(typed)[0]
    export = export_gguf(run, "f16")
    back = AutoTokenizer.from_pretrained(export.path.parent, gguf_file=export.path.name)
    user = [*history, {"role": "user", "content": sent}]
    text = back.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    bos = [back.bos_token_id] if export.add_bos else []
    assert bos + back(text, add_special_tokens=False)["input_ids"] == scored, "the GGUF's chat template"

    modelfile = export.path.parent / "Modelfile"
    system = _modelfile_system(modelfile)
    rendered = render(read_template(modelfile), _ollama_messages(user, system), system)
    ids = loaded.tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert bos + ids == scored, "the Ollama Modelfile"
