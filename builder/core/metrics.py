"""Scores shared by the use cases: text overlap, classification and retrieval.

Every text score is on a 0-100 scale (as sacrebleu reports it) so that one table can
hold them side by side; classification scores are fractions 0-1 and say so in their
names (``accuracy``, ``macro_f1``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sacrebleu
from rouge_score import rouge_scorer

# rouge_score's default tokenizer keeps only [a-z0-9] and so erases "ñ", "á"...: Spanish
# words would be cut in pieces. Words here are Unicode letters/digits.
_WORD = re.compile(r"\w+", re.UNICODE)


class _UnicodeTokenizer:
    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


_ROUGE = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_UnicodeTokenizer())


def _check_lengths(predictions: Sequence[object], references: Sequence[object]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")


def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (character n-gram F-score, 0-100): robust for short texts and rich morphology."""
    _check_lengths(predictions, references)
    if not predictions:
        return 0.0
    return float(sacrebleu.corpus_chrf(list(predictions), [list(references)]).score)


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) with sacrebleu's standard 13a tokenisation."""
    _check_lengths(predictions, references)
    if not predictions:
        return 0.0
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure (0-100): longest common word subsequence, per pair, averaged."""
    _check_lengths(predictions, references)
    if not predictions:
        return 0.0
    total = sum(_ROUGE.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references, strict=True))
    return 100.0 * total / len(predictions)


# --- classification -------------------------------------------------------------------

OTHER_LABEL = "(other)"


def parse_label(text: str, labels: Sequence[str]) -> str:
    """The label a generated answer names: an exact word match first, then the earliest mention.

    A model may answer "Positive." or "The sentiment is negative"; anything naming no
    label (or several at the very same position) is ``OTHER_LABEL`` and counts as wrong.
    """
    cleaned = text.strip().lower()
    by_lower = {label.lower(): label for label in labels}
    first_word = _WORD.findall(cleaned)[:1]
    if first_word and first_word[0] in by_lower:
        return by_lower[first_word[0]]
    if cleaned.strip(" .!\"'") in by_lower:
        return by_lower[cleaned.strip(" .!\"'")]
    best: tuple[int, str] | None = None
    for lower, label in by_lower.items():
        match = re.search(rf"(?<!\w){re.escape(lower)}(?!\w)", cleaned)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), label)
    return best[1] if best else OTHER_LABEL


def accuracy(predicted: Sequence[str], gold: Sequence[str]) -> float:
    _check_lengths(predicted, gold)
    if not gold:
        return 0.0
    return sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)


def confusion_matrix(predicted: Sequence[str], gold: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """``matrix[gold][predicted]`` counts; predictions outside ``labels`` land in ``OTHER_LABEL``."""
    _check_lengths(predicted, gold)
    columns = [*labels, OTHER_LABEL]
    matrix = {g: dict.fromkeys(columns, 0) for g in labels}
    for p, g in zip(predicted, gold, strict=True):
        if g not in matrix:
            raise ValueError(f"gold label {g!r} is not one of {list(labels)}")
        matrix[g][p if p in labels else OTHER_LABEL] += 1
    return matrix


def macro_f1(predicted: Sequence[str], gold: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over ``labels`` (a label never seen nor predicted scores 0)."""
    _check_lengths(predicted, gold)
    if not labels:
        return 0.0
    scores = []
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(predicted, gold, strict=True))
        fp = sum(p == label and g != label for p, g in zip(predicted, gold, strict=True))
        fn = sum(p != label and g == label for p, g in zip(predicted, gold, strict=True))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


# --- retrieval ------------------------------------------------------------------------


def passage_matches(retrieved_id: str, gold_id: str) -> bool:
    """A gold reference may name a passage (``doc.md#heading``) or a whole document (``doc.md``)."""
    return retrieved_id == gold_id or retrieved_id.startswith(gold_id + "#") or retrieved_id.startswith(gold_id + "~")


def recall_at_k(retrieved: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], k: int) -> float:
    """Fraction of queries with at least one gold passage among their first ``k`` retrieved.

    Queries without any gold reference are left out of the mean (there is nothing to find).
    """
    _check_lengths(retrieved, gold)
    hits, counted = 0, 0
    for got, wanted in zip(retrieved, gold, strict=True):
        if not wanted:
            continue
        counted += 1
        top = list(got)[:k]
        hits += any(passage_matches(r, w) for r in top for w in wanted)
    return hits / counted if counted else 0.0
