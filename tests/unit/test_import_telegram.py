"""Telegram Desktop JSON exports: one chat and the whole account (fixtures written from the public format)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import detect_format, read_file
from builder.importers.jsonstream import JsonStream

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "telegram"
SINGLE = FIXTURES / "single_chat_result.json"
ACCOUNT = FIXTURES / "account_result.json"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_both_exports_are_detected_as_telegram() -> None:
    single, account = detect_format(SINGLE), detect_format(ACCOUNT)
    assert (single.reader, account.reader) == ("telegram", "telegram")
    assert account.owner == "Sam Carter"
    assert account.fields["owner_id"] == "user4440001"


def test_entities_are_joined_and_links_keep_their_address() -> None:
    first = items(SINGLE)[0]
    assert turns(first)[1] == ("user", "¡Gracias! ¿Cuándo llega? Necesito el cargador antes del viernes.")
    assert turns(first)[2] == ("assistant", "Llega el jueves. Puedes seguirlo aquí: https://envios.example/4512")
    john = items(ACCOUNT)[0]
    assert turns(john)[3] == (
        "assistant",
        "A replacement is on its way. Tracking: here (https://track.example/NW-88231).",
    )


def test_personal_chat_owner_is_the_agent_even_when_writing_first() -> None:
    # Marta writes first: the order rule alone would make her the customer; the chat's id names Lucía as the peer.
    first, second = (i for i in items(SINGLE) if i.conversation is not None)
    assert first.conversation.metadata["speakers"] == {"Marta Ruiz": "assistant", "Lucía Gómez": "user"}
    assert "speakers_guessed" not in first.conversation.metadata
    assert turns(first)[0] == ("assistant", "Hola Lucía, tu pedido #4512 ya salió del almacén.")
    # Two days of silence: a second conversation.
    assert turns(second)[0] == ("user", "Ya llegó el cargador, pero no carga el móvil.")


def test_agent_named_by_the_user_wins_over_the_owner() -> None:
    first = items(SINGLE, agent=["lucía gómez"])[0]
    assert first.conversation.metadata["speakers"] == {"Marta Ruiz": "user", "Lucía Gómez": "assistant"}


def test_counts_of_system_lines_and_media() -> None:
    first, second = items(SINGLE)
    assert first.speakers == {"Marta Ruiz": 3, "Lucía Gómez": 2}
    assert first.counts == {"messages": 5, "system_lines": 1, "media_only": 1, "dropped": 0}  # pin, photo
    assert second.counts == {"messages": 4, "system_lines": 0, "media_only": 1, "dropped": 0}  # sticker


def test_account_export_reads_every_chat_and_left_chats_with_the_account_as_agent() -> None:
    found = items(ACCOUNT)
    chats = [i.conversation.metadata["chat"] for i in found]
    assert chats == ["John Miller", "Returns desk", "Saved Messages", "Old supplier chat"]
    group = found[1]
    assert group.conversation.metadata["speakers"] == {
        "Kate Brown": "user",
        "Priya Shah": "user",
        "Sam Carter": "assistant",
    }
    assert group.counts == {"messages": 5, "system_lines": 1, "media_only": 1, "dropped": 0}
    assert found[0].counts["media_only"] == 2  # a photo and a voice message


def test_group_exported_alone_without_an_owner_asks_for_the_agent(tmp_path: Path) -> None:
    chat = json.loads(ACCOUNT.read_text(encoding="utf-8"))["chats"]["list"][1]  # the group, as a one-chat export
    path = tmp_path / "result.json"
    path.write_text(json.dumps(chat), encoding="utf-8")
    (item,) = items(path)
    assert item.reason == "agent_unknown"
    assert item.speakers == {"Kate Brown": 2, "Priya Shah": 1, "Sam Carter": 2}
    (named,) = items(path, agent=["Sam Carter"])
    assert named.conversation is not None


def test_import_report_keeps_and_sets_aside(tmp_path: Path) -> None:
    data = import_files([ACCOUNT], FieldMapping(), min_turns=1, detect_language=False)
    # Saved Messages has no customer: set aside by the cleaner; the three others are kept.
    assert data.report["kept"] == 3
    assert data.report["quarantine_reasons"] == {"no_customer_turn": 1}
    assert data.report["files"][0]["reader"] == "telegram"


def test_truncated_export_gives_what_came_before_the_cut(tmp_path: Path) -> None:
    text = ACCOUNT.read_text(encoding="utf-8")
    cut = text.index('"name": "Saved Messages"')
    path = tmp_path / "result.json"
    path.write_text(text[:cut], encoding="utf-8")
    found = items(path)
    assert [i.conversation.metadata["chat"] for i in found if i.conversation] == ["John Miller", "Returns desk"]
    assert found[-1].reason == "truncated_json"


def test_large_account_export_is_detected_from_its_head_and_streamed(tmp_path: Path) -> None:
    owner = {"from": "Sam Carter", "from_id": "user1"}
    customer = {"from": "Ana", "from_id": "user2"}
    messages = []
    start = datetime(2024, 1, 1, 10)
    for n in range(1200):  # one conversation a day, 8 KB a message: about 10 MB, too large to parse for a look
        day = (start + timedelta(days=n // 2, hours=n % 2)).isoformat()
        who = customer if n % 2 == 0 else owner
        messages.append({"id": n, "type": "message", "date": day, **who, "text": f"m{n} " + "x" * 8000})
    doc = {"personal_information": {"user_id": 1, "first_name": "Sam", "last_name": "Carter"}}
    doc["chats"] = {"list": [{"name": "Ana", "type": "personal_chat", "id": 2, "messages": messages}]}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    assert path.stat().st_size > 8 * 1024 * 1024
    det = detect_format(path)
    assert det.reader == "telegram"
    assert det.fields["owner_id"] == "user1"
    found = items(path)
    assert all(i.conversation is not None for i in found)
    assert len(found) == 600
    assert sum(i.counts["messages"] for i in found) == 1200
    assert found[0].conversation.metadata["speakers"] == {"Ana": "user", "Sam Carter": "assistant"}


def test_stream_reads_a_value_cut_across_chunks() -> None:
    import io

    text = json.dumps({"a": [1.25, "é" * 50, {"b": True}], "c": 12345678})
    stream = JsonStream(io.StringIO(text), chunk=3)
    stream.enter("{")
    got = {key: stream.value() for key in stream.members()}
    assert got == {"a": [1.25, "é" * 50, {"b": True}], "c": 12345678}
    assert stream.rest_is_empty()
