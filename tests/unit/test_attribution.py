"""Attributed feedback: one vote per author per pair (the latest), votes per author in the summary and the advisor,
a round that leaves an author out, old anonymous votes still read, and concurrent voters losing nothing."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from builder.cli import feedback
from builder.core.authors import latest_votes, leave_out, votes_by_author
from builder.data import feedback_store
from builder.data.advisor import feedback_advice, one_author
from builder.data.feedback_store import record_vote, vote_summary
from builder.feedback import rounds
from builder.run.rundir import RunDir

PROMPT = [{"role": "user", "content": "Where is my order?"}]


def cast(run: Path, author: str | None, winner: str, base: str = "On its way.", tuned: str = "Your order number?"):
    record_vote(run, prompt=PROMPT[0]["content"], winner=winner, base=base, tuned=tuned, messages=PROMPT, author=author)


def test_a_later_vote_by_the_same_author_on_the_same_pair_replaces_the_earlier(tmp_path: Path) -> None:
    cast(tmp_path, "ana", "base")
    cast(tmp_path, "bo", "tuned")
    cast(tmp_path, "ana", "tuned")  # ana changed her mind
    cast(tmp_path, "ana", "base", tuned="Another answer.")  # another pair: a vote of its own
    raw = (tmp_path / "votes.jsonl").read_text().splitlines()
    assert len(raw) == 4  # the file only grows; replacing happens when it is read
    votes = feedback_store.read_votes([tmp_path / "votes.jsonl"])
    assert [(v["author"], v["winner"]) for v in votes] == [("bo", "tuned"), ("ana", "tuned"), ("ana", "base")]
    assert vote_summary(tmp_path) == {"votes": 3, "base": 1, "tuned": 2, "tie": 0, "tuned_win_rate": 2 / 3}


def test_anonymous_votes_from_before_accounts_stay_readable_and_are_all_counted(tmp_path: Path) -> None:
    old = {"time": "2025-01-01T10:00:00", "prompt": "Where is my order?", "winner": "tuned", "base": "a", "tuned": "b"}
    (tmp_path / "votes.jsonl").write_text(json.dumps(old) + "\n" + json.dumps(old) + "\n")
    cast(tmp_path, "ana", "base")
    votes = feedback_store.read_votes([tmp_path / "votes.jsonl"])
    assert len(votes) == 3 and votes_by_author(votes) == {"": 2, "ana": 1}
    summary = feedback.summarize(tmp_path)
    assert summary.votes == 3 and summary.by_author == {"": 2, "ana": 1}


def test_the_summary_and_the_advisor_name_the_author_who_cast_most_votes(tmp_path: Path) -> None:
    for n in range(3):
        cast(tmp_path, "ana", "tuned", base=f"Base answer {n}.")
    cast(tmp_path, "bo", "base")
    summary = feedback.summarize(tmp_path)
    assert summary.by_author == {"ana": 3, "bo": 1}
    warnings = " ".join(summary.warnings["dpo"])
    assert "ana cast 3 of the 4 votes (75%)" in warnings
    votes = feedback_store.read_votes([tmp_path / "votes.jsonl"])
    assert one_author(leave_out(votes, ["ana"], votes=True)) is None  # bo's one vote alone says nothing
    cast(tmp_path, "cy", "tuned")
    cast(tmp_path, "dee", "tuned")
    balanced = feedback_store.read_votes([tmp_path / "votes.jsonl"])
    assert one_author(balanced) is None  # ana 3 of 6: not most
    assert all(a.key != "one_author" for a in feedback_advice(balanced, [], method="dpo"))


def test_a_round_can_leave_an_author_out(tmp_path: Path) -> None:
    run = tmp_path / "parent"
    run.mkdir()
    (run / "recipe.yaml").write_text("name: parent\nuse_case: support\nbase_model: some/model\n")
    cast(run, "ana", "tuned")
    cast(run, "bo", "base", tuned="Something else.")
    feedback_store.record_correction(run, messages=PROMPT, reply="Could you give me the order number?", author="ana")
    feedback_store.record_correction(run, messages=PROMPT, reply="It ships today.", author="bo")
    recipe = rounds.next_round_recipe(run, "sft", ["feedback.exclude_authors=[ana]"])
    assert recipe.feedback.exclude_authors == ["ana"]
    votes, corrections = rounds.round_feedback(recipe, RunDir(run))
    assert [v["author"] for v in votes] == ["bo"]
    assert [c["metadata"]["author"] for c in corrections] == ["bo"]
    everyone = rounds.round_feedback(rounds.next_round_recipe(run, "sft"), RunDir(run))
    assert [len(x) for x in everyone] == [2, 2]


def _vote_many(args: tuple[str, str, int]) -> None:
    run, author, count = args
    for n in range(count):
        record_vote(run, prompt=f"question {n}", winner="tuned", base="b" * 2000, tuned=f"{author} {n}", author=author)


def test_two_voters_at_the_same_time_lose_no_vote(tmp_path: Path) -> None:
    count = 200
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_vote_many, [(str(tmp_path), "ana", count), (str(tmp_path), "bo", count)])
    lines = (tmp_path / "votes.jsonl").read_text().splitlines()
    assert len(lines) == 2 * count
    votes = [json.loads(line) for line in lines]  # every line whole
    assert votes_by_author(latest_votes(votes)) == {"ana": count, "bo": count}
