"""Zendesk: tickets with comments (side-loaded users or not), JSONL exports, and ticket audits grouped by ticket."""

from __future__ import annotations

import json
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import detect_format, read_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "zendesk"
TICKETS = FIXTURES / "tickets_with_comments.json"
AUDITS = FIXTURES / "audits.json"
EXPORT = FIXTURES / "tickets_export.jsonl"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_each_shape_is_detected_as_zendesk() -> None:
    for path in (TICKETS, AUDITS, EXPORT):
        det = detect_format(path)
        assert det.reader == "zendesk", path
    assert detect_format(EXPORT).container == "jsonl"
    assert detect_format(AUDITS).fields["holds"] == "audits"


def test_tickets_with_side_loaded_users_take_their_names_and_roles() -> None:
    found = items(TICKETS)
    assert [i.conversation.id for i in found] == ["5102", "5107"]
    spanish, english = found
    assert turns(spanish) == [
        ("user", "Hola, hice el pedido 88231 hace diez días y todavía no llegó."),
        ("assistant", "Hola Marta, lo siento mucho.\n\nEl paquete quedó retenido en Sevilla; sale hoy y te llega el "
         "jueves."),
        ("user", "¡Gracias! Os mando la captura del seguimiento por si acaso."),
    ]  # fmt: skip
    assert spanish.speakers == {"Marta Gil": 2, "Lucía (Tienda Sol)": 1}
    # The internal note is counted, not a turn; the comment that is only a screenshot is media.
    assert spanish.counts == {"messages": 3, "system_lines": 0, "media_only": 1, "dropped": 0, "private_notes": 1}
    assert "Revisar con el almacén" not in json.dumps(turns(spanish), ensure_ascii=False)
    assert spanish.conversation.metadata["subject"] == "Pedido sin llegar"
    # A second end-user (cc'd) is on the customer side; the agent is the one with role agent.
    assert english.conversation.metadata["speakers"] == {"Tom Baker": "user", "Sue Baker": "user", "Dan": "assistant"}
    assert english.counts["private_notes"] == 1


def test_without_users_the_requester_is_the_customer_and_other_authors_agents() -> None:
    found = items(EXPORT)
    convs = [i for i in found if i.conversation is not None]
    assert [c.conversation.id for c in convs] == ["7301", "7302", "7303"]
    assert convs[0].conversation.metadata["speakers"] == {"requester 92001": "user", "agent 72001": "assistant"}
    assert [r for r, _ in turns(convs[0])] == ["user", "assistant", "user"]
    assert convs[1].counts["private_notes"] == 1
    # A ticket with no comments gives its description as the requester's message.
    assert turns(convs[2]) == [("user", "¿Tenéis la talla 42 en azul?")]
    assert "speakers_guessed" not in convs[2].conversation.metadata  # the requester is known, not guessed
    problems = [i for i in found if i.conversation is None]
    assert [(p.line, p.reason) for p in problems] == [(4, "invalid_json")]
    assert "line 4" in problems[0].message


def test_audits_are_grouped_by_ticket_in_time_order() -> None:
    found = items(AUDITS)
    assert [i.conversation.id for i in found] == ["6001", "6002"]
    account, address = found
    assert turns(account) == [
        ("user", 'Hola, me sale "contraseña incorrecta" aunque la acabo de cambiar.'),
        ("assistant", "Hola Ana, tu cuenta se bloqueó tras varios intentos. Ya la he desbloqueado: prueba de nuevo, "
         "por favor."),
        ("user", "Ya funciona, ¡gracias!"),
    ]  # fmt: skip
    # The requester comes from the Create event; the status-only update is a system line; the note is counted.
    assert account.counts == {"messages": 3, "system_lines": 1, "media_only": 0, "dropped": 0, "private_notes": 1}
    assert [r for r, _ in turns(address)] == ["user", "assistant"]


def test_the_agent_named_by_the_user_wins_and_names_for_other_files_do_not_flip_roles() -> None:
    found = items(TICKETS, agent=["Sue Baker"])
    assert found[1].conversation.metadata["speakers"] == {"Tom Baker": "user", "Sue Baker": "assistant", "Dan": "user"}
    # Agent names that appear nowhere in a ticket leave the ticket's own roles alone.
    assert found[0].conversation.metadata["speakers"] == {"Marta Gil": "user", "Lucía (Tienda Sol)": "assistant"}


def test_import_reports_kept_and_set_aside() -> None:
    prepared = import_files([TICKETS, AUDITS, EXPORT], min_turns=1)
    report = prepared.report
    # 7 tickets; 7303 has no agent reply and the broken line is set aside.
    assert report["kept"] == 6
    assert report["quarantine_reasons"] == {"no_agent_reply": 1, "invalid_json": 1}
    assert {f["reader"] for f in report["files"]} == {"zendesk"}


def test_an_empty_page_and_a_wrong_record(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"tickets": [], "next_page": None}), encoding="utf-8")
    assert items(path, format="zendesk") == []
    odd = tmp_path / "odd.jsonl"
    lines = [{"id": 1, "requester_id": 5, "submitter_id": 5, "comments": []}, {"hello": "world"}]
    odd.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    found = items(odd)
    assert [(i.line, i.reason) for i in found] == [(1, "no_text"), (2, "unknown_shape")]
    assert "not a Zendesk ticket" in found[1].message and "hello" in found[1].message
