"""ShareGPT with tool turns (function_call / observation, a tools key): every record is kept; the tool turns
are counted and left out of the turns, never dropped silently."""

from __future__ import annotations

from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import detect_format, read_file

FILE = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "sharegpt_tools" / "tool_calls.json"


def items(**mapping):
    return list(read_file(FILE, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_detected_as_sharegpt() -> None:
    det = detect_format(FILE)
    assert (det.reader, det.format) == ("json", "sharegpt")


def test_tool_turns_are_counted_and_the_conversation_kept() -> None:
    found = items()
    assert [i.conversation is not None for i in found] == [True] * 4
    order = found[0]
    assert turns(order) == [
        ("system", "Eres el asistente de atención al cliente de Tienda Sol."),
        ("user", "¿Me dices el estado del pedido 7781?"),
        ("assistant", "Tu pedido 7781 está en reparto y llega hoy."),
    ]
    assert order.counts == {"messages": 2, "tool_calls": 1, "tool_results": 1}
    assert "tools" not in order.conversation.metadata
    two_orders = found[2]
    assert [r for r, _ in turns(two_orders)] == ["system", "user", "assistant", "user", "assistant"]
    assert two_orders.counts == {"messages": 4, "tool_calls": 2, "tool_results": 2}
    assert found[1].counts is None and found[3].counts is None  # no tool turns, nothing left out


def test_import_report_says_what_was_left_out() -> None:
    report = import_files([FILE], min_turns=1).report
    assert report["kept"] == 4
    assert report["quarantined"] == 0
    counts = report["files"][0]["counts"]
    assert (counts["tool_calls"], counts["tool_results"]) == (3, 3)
