"""Retrieval: answer from a knowledge base. Each example is a question plus its top-k passages,
retrieved from a real vector store, and the grounded answer.

The knowledge base (``task.knowledge_base``: Markdown, text, JSON or JSONL files or folders) is
embedded into LanceDB at ``<run dir>/kb`` (or ``task.db_uri``) when the run starts; the playground
opens the same store and retrieves at chat time. Questions come from the data (a user turn and
the agent's answer, with the gold passages or files in ``metadata[task.gold_field]``), or, with
``task.questions: knowledge_base``, are made from the knowledge base itself: one question per
section, from its title, whose answer is the beginning of that section (for a guideline book
with no question log, such as the ABCD agent guidelines).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from builder.config.confine import LocalPath
from builder.core import metrics
from builder.run.rundir import RunDir
from builder.usecases import Example, UseCase, register
from builder.usecases.options import record_skipped, task_options, where

if TYPE_CHECKING:
    from builder.config.recipe import Recipe
    from builder.core.conversation import Conversation
    from builder.models.retrieval import KnowledgeBase, Passage, Retriever

DEFAULT_SYSTEM = "You are a support assistant. You answer from the knowledge-base passages you are given."
QUESTION_TEMPLATES = (
    "How do I handle {leaf}{context}?",
    "What are the steps for {leaf}{context}?",
    "A customer needs help with {leaf}{context}. What should I do?",
)


class RetrievalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    knowledge_base: Annotated[list[str], LocalPath()] = Field(
        min_length=1, description="files or folders, relative to the recipe"
    )
    top_k: int = Field(3, ge=1, le=20)
    chunk_chars: int = Field(800, ge=100, description="passage size in characters (sections are cut at paragraphs)")
    db_uri: Annotated[str | None, LocalPath(relative_to="cwd")] = Field(
        None, description="LanceDB URI (s3://..., db://...); default: <run dir>/kb"
    )
    gold_field: str = Field("passages", description="metadata key naming the passages/files that hold the answer")
    questions: Literal["data", "knowledge_base"] = "data"
    answer_chars: int = Field(400, ge=50, description="questions from the knowledge base: answer length")


def options(recipe: Recipe) -> RetrievalOptions:
    return task_options(recipe, RetrievalOptions)


def kb_uri(recipe: Recipe, run_dir: Path) -> str:
    """Where a run's knowledge base lives: ``task.db_uri`` or ``<run dir>/kb``."""
    return options(recipe).db_uri or str(RunDir(run_dir).knowledge_base)


def _gold(conversation: Conversation, key: str) -> list[str]:
    value = conversation.metadata.get(key)
    if value in (None, ""):
        return []
    # Importers keep scalar fields only, so several ids come as one comma-separated string.
    values = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in values if str(v).strip()]


def _question_from_title(title: str, n: int) -> str:
    parts = [p.strip() for p in title.split(">") if p.strip()]
    leaf = parts[-1] if parts else title
    context = f" ({' > '.join(parts[:-1])})" if len(parts) > 1 else ""
    return QUESTION_TEMPLATES[n % len(QUESTION_TEMPLATES)].format(leaf=leaf, context=context)


def _cut(text: str, limit: int) -> str:
    """The beginning of ``text``, at most ``limit`` characters, ending at a line end where possible."""
    if len(text) <= limit:
        return text.strip()
    head = text[:limit]
    end = head.rfind("\n")
    return (head[:end] if end > limit // 2 else head).strip()


class RetrievalUseCase(UseCase):
    name = "retrieval"
    options_model = RetrievalOptions
    main_metric = "chrf"

    default_system = DEFAULT_SYSTEM

    def grounded_messages(self, question: str, passages: list[Passage], recipe: Recipe) -> list[dict[str, str]]:
        """The prompt for one question and its passages: the grounded question is the user's text."""
        from builder.models.retrieval import grounded_prompt

        return self.prompt_messages(grounded_prompt(question, passages), recipe)

    def open_knowledge_base(self, recipe: Recipe, run_dir: Path) -> KnowledgeBase:
        from builder.models.retrieval import KnowledgeBase

        return KnowledgeBase.open(kb_uri(recipe, run_dir))

    def needs_conversations(self, recipe: Recipe) -> bool:
        return options(recipe).questions != "knowledge_base"  # else questions are made from the knowledge base

    def retriever(self, recipe: Recipe, run_dir: Path) -> Retriever:
        """Passages come from the run's knowledge base at chat time, as they did in training."""
        from builder.models.retrieval import Retriever

        return Retriever(self.open_knowledge_base(recipe, run_dir), options(recipe).top_k)

    def _questions(
        self, conversations: list[Conversation], opts: RetrievalOptions, kb_passages: list[Passage]
    ) -> tuple[list[tuple[str, str, list[str], str]], list[dict[str, Any]]]:
        """(question, answer, gold ids, where) for every example, and the conversations that gave none."""
        if opts.questions == "knowledge_base":
            sections = itertools.groupby(kb_passages, key=lambda p: p.id.split("~")[0])
            items = []
            for n, (section_id, grouped) in enumerate(sections):
                pieces = list(grouped)
                answer = _cut("\n".join(p.text for p in pieces), opts.answer_chars)
                items.append((_question_from_title(pieces[0].title, n), answer, [section_id], section_id))
            return items, []
        items, skipped = [], []
        for conversation in conversations:
            turns = [m for m in conversation.messages if m.role != "system"]
            pairs = [
                (a.content, b.content)
                for a, b in itertools.pairwise(turns)
                if a.role == "user" and b.role == "assistant"
            ]
            if not pairs:
                skipped.append({"where": where(conversation), "reason": "no question followed by an answer"})
            gold = _gold(conversation, opts.gold_field)
            items += [(q, a, gold, where(conversation)) for q, a in pairs if q.strip() and a.strip()]
        return items, skipped

    def build_examples(self, conversations: list[Conversation], recipe: Recipe, workdir: Path) -> list[Example]:
        from builder.models.retrieval import KnowledgeBase, read_documents

        opts = options(recipe)
        sources = [recipe.resolve_path(p) for p in opts.knowledge_base]
        kb = KnowledgeBase.build(sources, kb_uri(recipe, workdir), chunk_chars=opts.chunk_chars)
        items, skipped = self._questions(conversations, opts, read_documents(sources, opts.chunk_chars))
        retrieved = kb.search_many([q for q, _, _, _ in items], opts.top_k)
        examples = []
        for (question, answer, gold, origin), passages in zip(items, retrieved, strict=True):
            messages = [*self.grounded_messages(question, passages, recipe), {"role": "assistant", "content": answer}]
            meta = {
                "source": origin,
                "question": question,
                "gold_ids": gold,
                "retrieved_ids": [p.id for p in passages],
                "retrieved_scores": [round(p.score, 4) for p in passages],
            }
            examples.append(Example(messages=messages, reference=answer, meta=meta))
        record_skipped(workdir, self.name, skipped, kept=len(examples))
        return examples

    def score(self, predictions: list[str], examples: list[Example], recipe: Recipe) -> dict[str, Any]:
        k = options(recipe).top_k
        references = [e.reference for e in examples]
        retrieved = [e.meta.get("retrieved_ids", []) for e in examples]
        gold = [e.meta.get("gold_ids", []) for e in examples]
        scores: dict[str, Any] = {
            "chrf": metrics.chrf(predictions, references),
            "rouge_l": metrics.rouge_l(predictions, references),
        }
        if any(gold):
            # The same retrieval feeds every system: recall@k is a property of the knowledge base.
            scores[f"recall@{k}"] = metrics.recall_at_k(retrieved, gold, k)
            scores["recall@1"] = metrics.recall_at_k(retrieved, gold, 1)
        return scores


register(RetrievalUseCase())
