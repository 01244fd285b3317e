"""Knowledge base: real passages, the bundled embedding model and a real LanceDB store on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.config.recipe import recipe_from_dict
from builder.core.conversation import Conversation, Message
from builder.models.retrieval import KnowledgeBase, KnowledgeBaseError, grounded_prompt, read_documents
from builder.usecases import get_usecase

KB_TEXT = """# Shipping

## Costs
Standard shipping to mainland Spain costs 4.95 EUR and is free from 50 EUR.

## Countries
We ship to Spain, Portugal, the EU and Mexico. We do not ship to the United Kingdom.

# Devoluciones
Tienes 30 días desde la entrega para devolver un artículo sin usar.
"""


@pytest.fixture(scope="module")
def kb_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kb-src")
    (folder / "policies.md").write_text(KB_TEXT, encoding="utf-8")
    guide = {"Payments": {"subflows": {"Card declined": {"type": "x", "instructions": ["Ask the customer to retry."]}}}}
    (folder / "guide.json").write_text(json.dumps(guide), encoding="utf-8")
    return folder


def test_documents_become_passages_with_stable_ids(kb_files: Path) -> None:
    passages = {p.id: p for p in read_documents([kb_files], chunk_chars=800)}
    assert set(passages) == {
        "policies.md#costs",
        "policies.md#countries",
        "policies.md#devoluciones",
        "guide.json#payments-card-declined",
    }
    assert passages["guide.json#payments-card-declined"].title == "Payments > Card declined"
    assert passages["guide.json#payments-card-declined"].text == "Ask the customer to retry."  # "type" is left out


def test_long_sections_are_cut_and_bad_files_named(tmp_path: Path) -> None:
    (tmp_path / "long.md").write_text("# A\n" + "\n\n".join(f"Paragraph {i} " + "x" * 80 for i in range(10)))
    ids = [p.id for p in read_documents([tmp_path / "long.md"], chunk_chars=200)]
    assert ids[:3] == ["long.md#a", "long.md#a~2", "long.md#a~3"] and len(ids) == 5
    (tmp_path / "bad.json").write_text('{"a": ')
    with pytest.raises(KnowledgeBaseError, match=r"bad\.json:1: not valid JSON"):
        read_documents([tmp_path / "bad.json"])
    with pytest.raises(KnowledgeBaseError, match="no such knowledge-base file"):
        read_documents([tmp_path / "missing.md"])


def test_build_open_search_in_lancedb(kb_files: Path, tmp_path: Path) -> None:
    KnowledgeBase.build([kb_files], tmp_path / "kb")
    kb = KnowledgeBase.open(tmp_path / "kb")  # reopened from disk, as the playground does
    assert len(kb) == 4
    assert kb.search("Do you deliver to London in the UK?", k=1)[0].id == "policies.md#countries"
    assert kb.search("¿Cuántos días tengo para devolver algo?", k=1)[0].id == "policies.md#devoluciones"
    top = kb.search("how much is delivery", k=2)
    assert top[0].id == "policies.md#costs" and top[0].score > top[1].score
    assert json.loads((tmp_path / "kb" / "kb.json").read_text())["passages"] == 4
    with pytest.raises(KnowledgeBaseError, match="no knowledge base here"):
        KnowledgeBase.open(tmp_path / "nothing")


def test_retrieval_use_case_examples_and_recall(kb_files: Path, tmp_path: Path) -> None:
    recipe = recipe_from_dict(
        {"use_case": "retrieval", "task": {"knowledge_base": [str(kb_files)], "top_k": 2}}, base_dir=tmp_path
    )
    uc = get_usecase("retrieval")
    data = [
        Conversation(
            [Message("user", "Is shipping free?"), Message("assistant", "Yes, from 50 EUR.")],
            metadata={"passages": "policies.md#costs"},
        ),
        Conversation(
            [Message("user", "Can I ship to the UK?"), Message("assistant", "No.")],
            metadata={"passages": "policies.md"},  # a whole file also counts
        ),
    ]
    examples = uc.build_examples(data, recipe, tmp_path / "run")
    assert (tmp_path / "run" / "kb" / "kb.json").is_file()
    first = examples[0]
    assert first.meta["retrieved_ids"][0] == "policies.md#costs"
    assert first.messages[1]["content"] == grounded_prompt("Is shipping free?", uc_passages(tmp_path, first))
    scores = uc.score(["Yes, from 50 EUR.", "Yes."], examples, recipe)
    assert scores["recall@2"] == pytest.approx(1.0)
    assert 0 < scores["chrf"] < 100
    # The playground opens the same store and gets the same passages.
    assert [
        p.id for p in uc.open_knowledge_base(recipe, tmp_path / "run").search("Is shipping free?", 2)
    ] == first.meta["retrieved_ids"]


def uc_passages(tmp_path: Path, example):
    kb = KnowledgeBase.open(tmp_path / "run" / "kb")
    return kb.search(example.meta["question"], len(example.meta["retrieved_ids"]))


def test_questions_from_the_knowledge_base(kb_files: Path, tmp_path: Path) -> None:
    recipe = recipe_from_dict(
        {
            "use_case": "retrieval",
            "task": {"knowledge_base": [str(kb_files / "guide.json")], "questions": "knowledge_base"},
        }
    )
    (example,) = get_usecase("retrieval").build_examples([], recipe, tmp_path)
    assert example.meta["question"] == "How do I handle Card declined (Payments)?"
    assert example.reference == "Ask the customer to retry."
    assert example.meta["gold_ids"] == ["guide.json#payments-card-declined"]


@pytest.mark.slow
def test_real_abcd_guidelines_recall(real_data: Path, tmp_path: Path) -> None:
    recipe = recipe_from_dict(
        {
            "use_case": "retrieval",
            "task": {
                "knowledge_base": [str(real_data / "retrieval" / "abcd_guidelines.json")],
                "questions": "knowledge_base",
                "chunk_chars": 700,
            },
        }
    )
    examples = get_usecase("retrieval").build_examples([], recipe, tmp_path)
    assert len(examples) == 55  # one per ABCD subflow
    scores = get_usecase("retrieval").score([e.reference for e in examples], examples, recipe)
    assert scores["chrf"] == pytest.approx(100.0)
    assert scores["recall@3"] > 0.8  # questions name the flow; MiniLM should find its section
