"""The team's feedback on a run, as its run directory stores it: votes and corrections.

- ``votes.jsonl`` (``record_vote``): the prompt as the models saw it, both answers, the sampling
  settings, which model was shown first, the winner (base, tuned or tie) and who voted;
- ``corrections.jsonl`` (``record_correction``): "Write the right reply": the conversation with
  the agent's own reply, PII-redacted, one OpenAI chat record a line (a training conversation).

Written under a file lock (several browsers may vote at once); read one vote per author per pair
(``builder.core.authors``). A next round learns from them (``builder.feedback.rounds``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from builder.core.authors import latest_votes
from builder.run import rundir
from builder.run.rundir import RunDir

WINNERS = ("base", "tuned", "tie")


# ---------------------------------------------------------------- votes


def record_vote(
    run_dir: Path | str,
    *,
    prompt: str,
    winner: str,
    base: str,
    tuned: str,
    blind: bool = True,
    messages: list[dict[str, str]] | None = None,
    sampling: Any = None,
    shown_first: str | None = None,
    author: str | None = None,
) -> None:
    """Append one vote to ``votes.jsonl``; a file lock keeps lines whole when two browsers vote at once.

    A vote keeps what a next training round needs (``builder.cli.feedback``): the prompt as the
    models saw it (``messages``), both answers, the sampling settings, which model was shown
    first (on the left, side A), the winner and who voted (``author``: the account, or None without logins;
    ``builder.core.authors`` keeps one vote per author per pair when reading).
    """
    if winner not in WINNERS:
        raise ValueError(f"winner must be one of {', '.join(WINNERS)}, not {winner!r}")
    if shown_first not in (None, "base", "tuned"):
        raise ValueError(f"shown_first must be base or tuned, not {shown_first!r}")
    # The chat engine's Sampling (a dataclass) or its fields as a mapping.
    is_instance = dataclasses.is_dataclass(sampling) and not isinstance(sampling, type)
    settings = dataclasses.asdict(sampling) if is_instance else sampling
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "prompt": prompt,
        "messages": messages or [{"role": "user", "content": prompt}],
        "winner": winner,
        "base": base,
        "tuned": tuned,
        "blind": blind,
        "shown_first": shown_first,
        "sampling": dict(settings) if settings else None,
        "author": author,
    }
    append_locked(RunDir(run_dir).votes, record)


def append_locked(path: Path, record: dict[str, Any]) -> None:
    """One JSON line appended under an exclusive lock (several browsers may write at once)."""
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        fcntl.flock(handle, fcntl.LOCK_UN)


def vote_summary(run_dir: Path | str | RunDir) -> dict[str, Any]:
    """Counts and the tuned model's win rate (a tie counts half), over the run's votes (one per author per pair)."""
    counts = dict.fromkeys(WINNERS, 0)
    path = RunDir(run_dir).votes
    votes = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                vote = json.loads(line)
                if isinstance(vote, dict):
                    votes.append(vote)
    for vote in latest_votes(votes):
        if vote.get("winner") in counts:
            counts[vote["winner"]] += 1
    total = sum(counts.values())
    rate = (counts["tuned"] + 0.5 * counts["tie"]) / total if total else None
    return {"votes": total, **counts, "tuned_win_rate": rate}


# ---------------------------------------------------------------- corrections


def redact_text(text: str, counts: Counter[str]) -> str:
    from builder.data.cleaning import redact_pii

    return redact_pii(text, counts)


def record_correction(
    run_dir: Path | str,
    *,
    messages: list[dict[str, str]],
    reply: str,
    original: str | None = None,
    corrected: str | None = None,
    redact: bool = True,
    author: str | None = None,
) -> dict[str, Any]:
    """Save the conversation with the agent's reply as a new training conversation (``author``: who wrote it).

    ``messages`` is the prompt the model answered (system turns are kept in the metadata, not
    in the conversation: training puts the recipe's own system prompt first). PII is redacted
    as in the importer, so a correction can never put an email or a card number into training.
    """
    reply = (reply or "").strip()
    if not reply:
        raise ValueError("a correction needs the reply the agent would have written")
    turns = [m for m in messages if m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("a correction answers a customer message: the conversation must end with a user turn")
    counts: Counter[str] = Counter()
    clean = (lambda text: redact_text(text, counts)) if redact else (lambda text: text)
    conversation = [{"role": m["role"], "content": clean(m["content"])} for m in turns]
    conversation.append({"role": "assistant", "content": clean(reply)})
    system = [m["content"] for m in messages if m.get("role") == "system"]
    record = {
        "messages": conversation,
        "metadata": {
            "source": "playground correction",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "corrects": corrected,
            "original": clean(original) if original else original,
            "system_prompt": system[0] if system else None,
            "redactions": dict(counts),
            "author": author,
        },
    }
    append_locked(RunDir(run_dir).corrections, record)
    return record


def read_corrections(paths: list[Path]) -> list[dict[str, Any]]:
    """Correction records with a conversation that ends on the agent's reply; anything else is skipped."""
    found = []
    for path in paths:
        for record in rundir.read_jsonl(path):
            messages = record.get("messages") if isinstance(record, dict) else None
            if isinstance(messages, list) and messages and messages[-1].get("role") == "assistant":
                found.append(record)
    return found


# ---------------------------------------------------------------- reading votes as pairs


def read_votes(paths: list[Path]) -> list[dict[str, Any]]:
    """The votes in ``paths``, one per author per pair (the latest); anonymous votes are all kept."""
    return latest_votes(v for path in paths for v in rundir.read_jsonl(path) if isinstance(v, dict) and v.get("winner"))


def vote_prompt(vote: dict[str, Any]) -> list[dict[str, str]]:
    """The prompt the answers were given to; votes saved before it was kept have only the message."""
    messages = vote.get("messages")
    if isinstance(messages, list) and messages:
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    return [{"role": "user", "content": str(vote.get("prompt", ""))}]


def vote_pairs(votes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Preference pairs in TRL's conversational format: the winner's answer chosen over the loser's.

    Ties, empty answers and two identical answers say nothing about which reply is better: left out.
    """
    pairs = []
    for vote in votes:
        winner = vote.get("winner")
        if winner not in ("base", "tuned"):
            continue
        loser = "base" if winner == "tuned" else "tuned"
        chosen, rejected = str(vote.get(winner) or "").strip(), str(vote.get(loser) or "").strip()
        if not chosen or not rejected or chosen == rejected:
            continue
        pairs.append(
            {
                "prompt": vote_prompt(vote),
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }
        )
    return pairs
