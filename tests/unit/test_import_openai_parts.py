"""OpenAI chat JSONL with content parts, tools and tool calls: the text turns are kept, tool traffic and
image-only messages are counted and left out, nothing is set aside for a tool role."""

from __future__ import annotations

import json
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import detect_format, read_file
from builder.importers.records import text_of

FILE = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "openai_parts" / "chat_parts.jsonl"


def items(path: Path = FILE, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_detected_as_openai_messages() -> None:
    det = detect_format(FILE)
    assert (det.reader, det.format, det.container) == ("json", "openai", "jsonl")


def test_tool_calls_and_results_are_counted_not_turns_and_not_set_aside() -> None:
    found = items()
    assert all(i.conversation is not None for i in found), [i.message for i in found if i.conversation is None]
    first = found[0]
    # developer is a system message; the call (content null) and the tool's answer are left out.
    assert turns(first) == [
        ("system", "You are the support assistant of Tienda Sol. Answer briefly."),
        ("user", "¿Dónde está mi pedido 4411?"),
        ("assistant", "Tu pedido 4411 ya salió y llega el 4 de junio."),
    ]
    assert first.counts == {"messages": 2, "tool_calls": 1, "tool_results": 1}
    assert "tools" not in first.conversation.metadata  # the tool schema is not metadata
    # Two parallel calls with text beside them: the text stays, both calls and both results are counted.
    cancel = found[3]
    assert [r for r, _ in turns(cancel)] == ["user", "assistant", "assistant"]
    assert turns(cancel)[1] == ("assistant", "Let me check that order first.")
    assert cancel.counts == {"messages": 3, "tool_calls": 2, "tool_results": 2}
    # The legacy function_call / role function pair.
    assert found[4].counts == {"messages": 2, "tool_calls": 1, "tool_results": 1}


def test_content_parts_keep_their_text_and_images_alone_are_media() -> None:
    found = items()
    assert turns(found[1])[1] == ("user", "The mug in this photo arrived broken.")
    assert found[1].counts is None  # nothing left out
    assert turns(found[2]) == [
        ("user", "¿Esta factura es correcta?"),
        ("assistant", "Sí, el importe coincide con tu pedido."),
    ]
    assert found[2].counts == {"messages": 2, "media_only": 1}
    assert turns(found[5]) == [("user", "Do you ship to Norway?"), ("assistant", "Yes, in 5-7 working days.")]
    # Assistants API parts hold the text under text.value.
    assert turns(found[6])[0] == ("user", "Can I change my delivery slot?")
    assert text_of([{"type": "refusal", "refusal": "I can't help with that."}]) == "I can't help with that."


def test_a_role_map_for_tool_still_wins(tmp_path: Path) -> None:
    record = {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "hello, how can I help?"}]}
    path = tmp_path / "mapped.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    (item, _) = items(path, role_map="tool=assistant")
    assert turns(item) == [("user", "hi"), ("assistant", "hello, how can I help?")]
    assert item.counts is None


def test_import_keeps_every_record() -> None:
    report = import_files([FILE], min_turns=1).report
    assert report["kept"] == 7
    assert report["quarantined"] == 0
    counts = report["files"][0]["counts"]
    assert (counts["tool_calls"], counts["tool_results"], counts["media_only"]) == (4, 4, 1)
