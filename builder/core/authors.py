"""Who gave a piece of feedback: one vote per author per prompt pair, counts per author, leaving an author out.

A vote (``votes.jsonl``) keeps its author in ``author``, a correction (``corrections.jsonl``) in
``metadata.author``. Feedback saved before accounts existed has no author: it stays readable and
counts as anonymous. The files are only ever appended to (under a lock, so concurrent voters lose
nothing); a later vote by the same author on the same pair replaces the earlier one when read.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

ANONYMOUS = ""  # the author of feedback saved without a login


def vote_author(vote: dict[str, Any]) -> str:
    return str(vote.get("author") or ANONYMOUS)


def correction_author(record: dict[str, Any]) -> str:
    metadata = record.get("metadata")
    return str((metadata.get("author") if isinstance(metadata, dict) else None) or ANONYMOUS)


def pair_key(vote: dict[str, Any]) -> str:
    """The prompt as the models saw it and both answers: what one vote is about."""
    prompt = vote.get("messages") or [{"role": "user", "content": str(vote.get("prompt", ""))}]
    text = json.dumps([prompt, vote.get("base"), vote.get("tuned")], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def latest_votes(votes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One vote per author per pair, the latest (file order is time order); anonymous votes are all kept."""
    kept: dict[tuple[str, str] | int, dict[str, Any]] = {}
    for number, vote in enumerate(votes):
        author = vote_author(vote)
        key: tuple[str, str] | int = (author, pair_key(vote)) if author else number
        kept.pop(key, None)  # re-inserted last: the replaced vote takes the later one's place in the order
        kept[key] = vote
    return list(kept.values())


def votes_by_author(votes: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Votes per author, most first (anonymous under ``ANONYMOUS``)."""
    return dict(Counter(vote_author(v) for v in votes).most_common())


def corrections_by_author(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(correction_author(r) for r in records).most_common())


def leave_out(records: list[dict[str, Any]], authors: Iterable[str], *, votes: bool) -> list[dict[str, Any]]:
    """``records`` without those of ``authors`` (votes when ``votes``, else corrections)."""
    excluded = set(authors)
    if not excluded:
        return records
    author_of = vote_author if votes else correction_author
    return [r for r in records if author_of(r) not in excluded]
