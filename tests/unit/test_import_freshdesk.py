"""Freshdesk: tickets joined with their conversations file (a folder, a zip, or a tickets file finding its
sibling), tickets with embedded conversations, and a conversations file given alone."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import collect_files, detect_format, read_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "freshdesk"
FOLDER = FIXTURES / "helpdesk"
TICKETS = FOLDER / "tickets.json"
REPLIES = FOLDER / "conversations.json"
EMBEDDED = FIXTURES / "tickets_with_conversations.json"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_detection_of_files_and_of_the_folder() -> None:
    for path in (FOLDER, TICKETS, REPLIES, EMBEDDED):
        assert detect_format(path).reader == "freshdesk", path
    det = detect_format(TICKETS)
    assert det.fields == {"holds": "tickets", "conversations": "conversations.json"}
    assert detect_format(FOLDER).fields == {"tickets": "tickets.json", "conversations": "conversations.json"}


def test_the_folder_joins_replies_to_their_tickets() -> None:
    found = items(FOLDER)
    convs = {i.conversation.id: i for i in found if i.conversation is not None}
    assert list(convs) == ["201", "202", "203"]
    sms = convs["201"]
    # The opening message is the description; the private note is counted, not a turn.
    assert turns(sms) == [
        ("user", "Hola,\nno me llega el SMS con el código para entrar en la app."),
        ("assistant", "Hola Javier, hay una incidencia con los SMS. Mientras tanto puedes recibir el código por "
         "correo: pulsa «Otro método»."),
        ("user", "Perfecto, así sí he podido entrar."),
    ]  # fmt: skip
    assert sms.speakers == {"Javier Ruiz": 2, "agent 43000900": 1}
    assert sms.counts["private_notes"] == 1
    # An HTML-only description and reply become plain text: tags stripped, entities unescaped.
    invoice = convs["202"]
    assert turns(invoice)[0] == (
        "user",
        "Hello, the invoice for order A-7781 shows my old address & postcode.\n\nCan you fix it?",
    )
    assert turns(invoice)[1][1] == "Done! I re-issued the invoice with your new address; you'll find it under Orders."
    assert invoice.counts["media_only"] == 1
    # Replies whose ticket is not in the export are set aside with a reason, not dropped.
    lost = [i for i in found if i.conversation is None]
    assert [(i.reason, i.counts) for i in lost] == [("ticket_not_found", {"ticket_not_found": 1})]
    assert "ticket 299" in lost[0].message


def test_a_tickets_file_alone_finds_its_conversations_and_a_zip_reads_like_the_folder(tmp_path: Path) -> None:
    def summary(path: Path) -> list:
        return [(i.conversation.id, turns(i)) if i.conversation else i.reason for i in items(path)]

    archive = tmp_path / "freshdesk.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in FOLDER.iterdir():
            zf.write(path, f"export/{path.name}")
    assert detect_format(archive).reader == "freshdesk"
    assert summary(TICKETS) == summary(FOLDER) == summary(archive)


def test_a_conversations_file_alone_is_set_aside_and_left_out_beside_its_tickets() -> None:
    found = items(REPLIES)
    assert [i.reason for i in found] == ["conversations_without_tickets"]
    assert "import it with its tickets file" in found[0].message
    assert collect_files([TICKETS, REPLIES]) == [TICKETS]
    assert collect_files([REPLIES]) == [REPLIES]


def test_embedded_conversations() -> None:
    found = items(EMBEDDED)
    assert [i.conversation.id for i in found] == ["310", "311"]
    assert [r for r, _ in turns(found[0])] == ["user", "assistant", "user"]
    assert found[0].counts["private_notes"] == 1
    assert turns(found[1])[1] == (
        "assistant",
        "Links last 30 minutes. I've sent you a new one — please use it right away.",
    )


def test_tickets_without_any_replies_say_the_conversations_file_is_missing(tmp_path: Path) -> None:
    tickets = json.loads(TICKETS.read_text(encoding="utf-8"))
    path = tmp_path / "tickets.json"
    path.write_text(json.dumps(tickets), encoding="utf-8")
    found = items(path)
    assert [i.reason for i in found] == ["no_conversations_file"] * 3
    assert "no Freshdesk conversations file beside" in found[0].message


def test_agent_choice_by_the_user() -> None:
    found = items(TICKETS, agent=["Javier Ruiz"])
    assert found[0].conversation.metadata["speakers"] == {"Javier Ruiz": "assistant", "agent 43000900": "user"}
    assert found[1].conversation.metadata["speakers"] == {"requester 43000222": "user", "agent 43000901": "assistant"}


def test_import_of_the_folder_and_of_both_files() -> None:
    for inputs in ([FOLDER], [TICKETS, REPLIES], [FIXTURES]):
        report = import_files(inputs, min_turns=1).report
        embedded = 2 if inputs == [FIXTURES] else 0
        assert report["kept"] == 2 + embedded, inputs
        assert report["quarantine_reasons"] == {"no_agent_reply": 1, "ticket_not_found": 1}, inputs
