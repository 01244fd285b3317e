"""Intercom: conversations with their parts (API 2.x ``source`` and 1.x ``conversation_message``), HTML bodies
read as plain text, admins and bots as the agent, notes and events counted, not turns."""

from __future__ import annotations

import json
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import detect_format, read_file
from builder.importers.helpdesk import html_to_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "intercom"
LIST = FIXTURES / "conversations.json"
V1 = FIXTURES / "conversation_v1.json"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_detection() -> None:
    assert detect_format(LIST).reader == "intercom"
    assert detect_format(V1).reader == "intercom"


def test_parts_become_turns_notes_and_events_are_counted() -> None:
    plazos, _ = items(LIST)
    assert plazos.conversation.id == "1911149811"
    assert turns(plazos) == [
        ("user", "Hola, ¿puedo pagar a plazos con la tarjeta?"),
        ("assistant", "¡Hola! Soy el asistente virtual. Un agente te atenderá enseguida."),
        ("assistant", "Hola Lucía, sí: con tu tarjeta puedes pagar en 3, 6 o 12 plazos sin intereses.\n\n"
         "Elige «Pagar a plazos» al final de la compra."),
        ("user", "Genial 🙂 ¡gracias!"),
    ]  # fmt: skip
    # The bot and the admin are both the agent side.
    assert plazos.conversation.metadata["speakers"] == {
        "Lucía Pérez": "user",
        "Operator": "assistant",
        "Marcos": "assistant",
    }
    # The note is private; the assignment and the close are system lines; the photo is media only.
    assert plazos.counts == {"messages": 4, "system_lines": 2, "media_only": 1, "dropped": 0, "private_notes": 1}
    assert "tarjeta Oro" not in json.dumps(turns(plazos), ensure_ascii=False)


def test_html_is_read_as_text_never_as_markup() -> None:
    _, invoice = items(LIST)
    assert turns(invoice)[0] == (
        "user",
        'Hi team,\nthe billing page gives me an error when I click "Download".\n\nThanks, Ravi',
    )
    # An assignment that carries a reply is the reply the customer saw; a script is left out, not run.
    assert turns(invoice)[1] == (
        "assistant",
        "Hi Ravi, sorry about that. I've passed this to billing, who'll email the invoice today.",
    )
    assert turns(invoice)[2] == ("user", "Great, thanks Grace.")
    assert invoice.conversation.metadata["subject"] == "Can't download my invoice"
    assert invoice.counts["system_lines"] == 1
    assert html_to_text("Tom &amp; Jerry &lt;b&gt;") == "Tom & Jerry <b>"
    assert html_to_text("a < b, c > d") == "a < b, c > d"


def test_api_v1_conversation_without_names() -> None:
    (item,) = items(V1)
    assert item.conversation.metadata["speakers"] == {"user 536e564f316c83104c000020": "user", "admin 25": "assistant"}
    assert [r for r, _ in turns(item)] == ["user", "assistant", "user"]


def test_the_agent_named_by_the_user() -> None:
    plazos, _ = items(LIST, agent=["Marcos"])
    assert plazos.conversation.metadata["speakers"] == {
        "Lucía Pérez": "user",
        "Operator": "user",
        "Marcos": "assistant",
    }


def test_jsonl_and_a_wrong_record(tmp_path: Path) -> None:
    conversation = json.loads(V1.read_text(encoding="utf-8"))
    path = tmp_path / "intercom.jsonl"
    path.write_text(json.dumps(conversation) + "\n" + json.dumps({"type": "admin", "id": "1"}) + "\n{broken\n")
    found = items(path)
    assert [(i.line, i.reason) for i in found] == [(1, None), (2, "unknown_shape"), (3, "invalid_json")]
    assert "not an Intercom conversation" in found[1].message


def test_import_report() -> None:
    report = import_files([LIST, V1], min_turns=1).report
    assert report["kept"] == 3
    assert report["quarantined"] == 0
    assert report["messages_by_role"]["assistant"] == 3  # the bot's greeting and Marcos' reply are merged


def test_a_truncated_list_keeps_the_conversations_before_the_cut(tmp_path: Path) -> None:
    conversation = json.loads(V1.read_text(encoding="utf-8"))
    text = json.dumps([conversation, conversation], indent=1)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2 + 300], encoding="utf-8")
    found = items(path, format="intercom")
    assert [i.reason for i in found] == [None, "truncated_json"]
    assert "the rest of the list could not be read" in found[1].message
