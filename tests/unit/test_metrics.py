"""The metrics module: each score on cases whose answer is known by hand."""

from __future__ import annotations

import pytest

from builder.core import metrics


def test_chrf_and_bleu_perfect_and_disjoint() -> None:
    refs = ["El pedido llegará el martes.", "Gracias por tu paciencia."]
    assert metrics.chrf(refs, refs) == pytest.approx(100.0)
    assert metrics.bleu(refs, refs) == pytest.approx(100.0)
    assert metrics.chrf(["xyz qqq", "kkk"], refs) < 10
    assert metrics.bleu(["xyz qqq", "kkk"], refs) == pytest.approx(0.0)


def test_chrf_orders_closer_translations_higher() -> None:
    ref = ["¿Dónde está mi pedido?"]
    assert metrics.chrf(["¿Dónde está el pedido?"], ref) > metrics.chrf(["Mi paquete no llega"], ref)


def test_rouge_l_keeps_spanish_words_whole() -> None:
    # With an ASCII-only tokenizer "devolución" and "devolucion" would share pieces; here they differ.
    assert metrics.rouge_l(["la devolución tarda"], ["la devolución tarda"]) == pytest.approx(100.0)
    partial = metrics.rouge_l(["la devolucion tarda"], ["la devolución tarda"])
    assert partial == pytest.approx(100 * 2 / 3)


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        metrics.chrf(["a", "b"], ["a"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("positive", "positive"),
        ("Negative.", "negative"),
        ("  NEUTRAL\n", "neutral"),
        ("The sentiment is negative, not positive", "negative"),
        ("I think it's great", metrics.OTHER_LABEL),
        ("positively", metrics.OTHER_LABEL),
    ],
)
def test_parse_label(text: str, expected: str) -> None:
    assert metrics.parse_label(text, ["negative", "neutral", "positive"]) == expected


def test_accuracy_macro_f1_confusion() -> None:
    labels = ["neg", "pos"]
    gold = ["neg", "neg", "pos", "pos"]
    pred = ["neg", "pos", "pos", metrics.OTHER_LABEL]
    assert metrics.accuracy(pred, gold) == pytest.approx(0.5)
    # neg: tp1 fp0 fn1 -> 2/3 ; pos: tp1 fp1 fn1 -> 1/2
    assert metrics.macro_f1(pred, gold, labels) == pytest.approx((2 / 3 + 1 / 2) / 2)
    matrix = metrics.confusion_matrix(pred, gold, labels)
    assert matrix == {
        "neg": {"neg": 1, "pos": 1, metrics.OTHER_LABEL: 0},
        "pos": {"neg": 0, "pos": 1, metrics.OTHER_LABEL: 1},
    }


def test_confusion_rejects_unknown_gold() -> None:
    with pytest.raises(ValueError, match="'meh'"):
        metrics.confusion_matrix(["neg"], ["meh"], ["neg", "pos"])


def test_recall_at_k_document_and_passage_ids() -> None:
    retrieved = [["faq.md#returns", "shipping.md#costs"], ["faq.md#payment", "faq.md#returns"], ["x.md#a"]]
    gold = [["shipping.md"], ["faq.md#returns"], []]
    assert metrics.recall_at_k(retrieved, gold, 1) == pytest.approx(0.0)
    assert metrics.recall_at_k(retrieved, gold, 2) == pytest.approx(1.0)
    # A passage id is not a prefix match of a longer heading.
    assert not metrics.passage_matches("faq.md#returns-policy", "faq.md#returns")
    assert metrics.passage_matches("faq.md#returns~2", "faq.md#returns")
