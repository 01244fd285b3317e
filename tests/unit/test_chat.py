"""The chat engine: one base model, the adapter on for the tuned side only, safe under concurrency.

A tiny random Llama with a character tokenizer and a random (non-zero) LoRA adapter make
a real run directory in a second; it is loaded through the real ``builder.models.loading.load_tuned``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from builder.data.feedback_store import record_vote, vote_summary  # noqa: E402
from builder.serve.chat import ChatEngine, Sampling  # noqa: E402

CHARS = list(" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'¿¡áéíóúñ:\n")
SPECIALS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
GREEDY = Sampling(max_new_tokens=12, temperature=0, repetition_penalty=1.0)


def char_tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIALS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<|im_start|>", eos_token="<|im_end|>"
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def make_tiny_run(root: Path) -> Path:
    """A run directory as `builder.cli.sft` leaves it, around a tiny random model and a random adapter."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    from tests.conftest import save_tiny_llama

    tokenizer = char_tokenizer()
    base_dir = save_tiny_llama(root / "tiny-base", tokenizer, width=32, max_positions=512)

    run = root / "runs" / "tiny-run"
    base = LlamaForCausalLM.from_pretrained(base_dir)
    # init_lora_weights=False: a random, non-zero adapter, so that tuned answers differ from base ones.
    lora = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(run / "adapter")
    tokenizer.save_pretrained(run / "tokenizer")
    (run / "recipe.yaml").write_text(
        f"name: tiny\nbase_model: {base_dir}\nquantization: none\nsystem_prompt: Be brief.\n", encoding="utf-8"
    )
    (run / "run.json").write_text(json.dumps({"status": "completed", "quantization": "none"}))
    return run


POLICIES = (
    "# Returns\n\nYou can return any item within 30 days for a full refund.\n\n"
    "# Shipping\n\nParcels to the Canary Islands take 5 to 7 working days.\n"
)


def make_tiny_retrieval_run(root: Path) -> Path:
    """A tiny run of the retrieval use case over a two-section policy file, its knowledge base built."""
    from builder.models.retrieval import KnowledgeBase

    run = make_tiny_run(root)
    kb_file = root / "policies.md"
    kb_file.write_text(POLICIES, encoding="utf-8")
    recipe = (run / "recipe.yaml").read_text(encoding="utf-8")
    recipe += f"use_case: retrieval\ntask:\n  knowledge_base: [{kb_file}]\n  top_k: 1\n"
    (run / "recipe.yaml").write_text(recipe, encoding="utf-8")
    KnowledgeBase.build([kb_file], run / "kb")
    return run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("chat"))


@pytest.fixture(scope="module")
def engine() -> ChatEngine:
    return ChatEngine()


def reference_answers(run: Path, messages: list[dict[str, str]]) -> tuple[str, str]:
    """What a separate plain base model, and base+adapter, answer greedily: the truth to compare with."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from builder.config.recipe import load_recipe

    tokenizer = char_tokenizer()
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    base = AutoModelForCausalLM.from_pretrained(load_recipe(run / "recipe.yaml").base_model)
    kwargs = dict(**inputs, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.inference_mode():
        plain = base.generate(**kwargs)
        tuned = PeftModel.from_pretrained(base, run / "adapter").generate(**kwargs)
    n = inputs["input_ids"].shape[1]
    return (
        tokenizer.decode(plain[0, n:], skip_special_tokens=True),
        tokenizer.decode(tuned[0, n:], skip_special_tokens=True),
    )


def final(turns) -> tuple[str, str]:
    last = None
    for step in turns:
        last = step
    assert last is not None and last.done
    return last.base, last.tuned


def test_base_side_is_the_plain_model_and_tuned_side_has_the_adapter(engine: ChatEngine, tiny_run: Path) -> None:
    steps = list(engine.stream_pair(tiny_run, "hola", [], [], "Be brief.", GREEDY))
    # Streamed: the base answer grows first, then the tuned one, token by token.
    assert len(steps) > 3
    base, tuned = steps[-1].base, steps[-1].tuned
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hola"}]
    assert engine.load(tiny_run).prompt("hola", [], "Be brief.") == messages
    expected_base, expected_tuned = reference_answers(tiny_run, messages)
    assert (base, tuned) == (expected_base, expected_tuned)
    assert base != tuned, "the random adapter must change the answer"


def test_one_model_in_memory_shared_by_both_sides(engine: ChatEngine, tiny_run: Path) -> None:
    from peft import PeftModel

    loaded = engine.load(tiny_run)
    assert isinstance(loaded.model, PeftModel)
    assert engine.load(tiny_run) is loaded, "a second load of the same run reuses the model"
    # The parameters are the base's plus the small LoRA matrices: no second copy of the base.
    total = sum(p.numel() for p in loaded.model.parameters())
    lora = sum(p.numel() for n, p in loaded.model.named_parameters() if "lora_" in n)
    base_dir = Path(loaded.recipe.base_model)
    from transformers import AutoModelForCausalLM

    assert total - lora == sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(base_dir).parameters())


def test_two_conversations_at_once_both_get_their_own_answers(engine: ChatEngine, tiny_run: Path) -> None:
    alone = {msg: final(engine.stream_pair(tiny_run, msg, [], [], "", GREEDY)) for msg in ("hello", "buenas")}
    results: dict[str, tuple[str, str]] = {}
    errors: list[BaseException] = []

    def chat(msg: str) -> None:
        try:
            results[msg] = final(engine.stream_pair(tiny_run, msg, [], [], "", GREEDY))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=chat, args=(m,)) for m in alone]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    # Interleaved requests never see the adapter in the wrong state.
    assert results == alone


def test_a_reader_that_leaves_early_frees_the_model_for_others(engine: ChatEngine, tiny_run: Path) -> None:
    long = Sampling(max_new_tokens=400, temperature=0, repetition_penalty=1.0)
    stream = engine.stream(tiny_run, "tuned", engine.load(tiny_run).prompt("hi"), long)
    next(stream)
    stream.close()  # a closed tab: the generation stops at its next token
    acquired = engine._generate_lock.acquire(timeout=10)
    assert acquired
    engine._generate_lock.release()


def test_history_and_system_prompt_reach_the_prompt(engine: ChatEngine, tiny_run: Path) -> None:
    history = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "tool", "content": "x"},
    ]
    loaded = engine.load(tiny_run)
    messages = loaded.prompt("c", history, "Sé breve.")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == "Sé breve." and messages[-1]["content"] == "c"
    # An empty box asks with the run's own system prompt, as the server does for a client that sends none.
    assert loaded.prompt("c")[0] == {"role": "system", "content": "Be brief."}


def test_a_retrieval_run_grounds_the_message_in_its_knowledge_base(tmp_path: Path) -> None:
    """The real vector store and embedding model: passages are searched at chat time, as in training."""
    run = make_tiny_retrieval_run(tmp_path)
    engine = ChatEngine()
    seen: list[list[dict[str, str]]] = []
    real_stream = engine.stream

    def spy(run_dir, side, messages, sampling=None):
        seen.append(messages)
        return real_stream(run_dir, side, messages, sampling)

    engine.stream = spy  # records the prompts; generation itself is real
    turn = list(engine.stream_pair(run, "How long does shipping to the Canary Islands take?", [], [], "", GREEDY))[-1]
    assert turn.done and "Shipping" in turn.context and "Returns" not in turn.context
    prompt = seen[0][-1]["content"]
    assert "5 to 7 working days" in prompt and prompt.endswith(
        "Question: How long does shipping to the Canary Islands take?"
    )
    assert seen[0] == seen[1], "both sides get the same grounded prompt"


def test_a_run_without_adapter_says_so(engine: ChatEngine, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no adapter"):
        engine.load(tmp_path)


def test_votes_are_saved_in_the_run_and_give_a_win_rate(tmp_path: Path) -> None:
    assert vote_summary(tmp_path)["tuned_win_rate"] is None
    for winner in ("tuned", "tuned", "base", "tie"):
        record_vote(tmp_path, prompt="¿Dónde está mi pedido?", winner=winner, base="b", tuned="t")
    summary = vote_summary(tmp_path)
    assert summary == {"votes": 4, "base": 1, "tuned": 2, "tie": 1, "tuned_win_rate": pytest.approx(0.625)}
    line = json.loads((tmp_path / "votes.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert line["prompt"] == "¿Dónde está mi pedido?" and line["blind"] is True
    with pytest.raises(ValueError, match="winner must be one of"):
        record_vote(tmp_path, prompt="x", winner="left", base="b", tuned="t")
