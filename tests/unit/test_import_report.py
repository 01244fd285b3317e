"""The import report per file: the format taken, speakers and counts, warnings when a reading looks wrong,
and the business found across several chats of one app.

A tiny chat format (``#minichat`` header, ``HH:MM Name: text`` lines) is registered for these tests only, so
that the report is checked apart from any real format's reader; it reads through ``chats.conversation_item``
like every chat-app reader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import pytest

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.data.plausible import looks_like_number_name, looks_like_timestamp
from builder.data.report import summary_lines
from builder.importers import registry
from builder.importers.chats import ChatMessage, conversation_item, sessions
from builder.importers.registry import Sample
from builder.importers.types import Container, DetectedFormat, ReadItem

LINE = re.compile(r"^(\d{2}):(\d{2}) ([^:]+): (.*)$")


class MiniChat:
    name: ClassVar[str] = "minichat_test"
    title: ClassVar[str] = "minichat (tests only)"
    container: ClassVar[Container] = Container.TEXT

    def sniff(self, sample: Sample) -> float:
        return 0.9 if sample.text.startswith("#minichat") else 0.0

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        # A reader's guess of the agent in one file, as WhatsApp's: it gives way to an owner found across files.
        fields = {"agent_guessed": "a guess"}
        return DetectedFormat(sample.path, self.name, self.container, sample.encoding or "utf-8", fields=fields)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        messages = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found = LINE.match(line)
            if found is None:
                continue
            hour, minute, speaker, text = found.groups()
            kind = "system" if speaker == "SYSTEM" else "media" if text == "<Media omitted>" else "text"
            time = datetime(2024, 5, 1, int(hour), int(minute))
            messages.append(ChatMessage(speaker, text, time, number, kind))  # type: ignore[arg-type]
        owners = [det.owner] if det.owner else []
        for session in sessions(messages):
            yield conversation_item(str(path), session, mapping, owners=owners, shape=self.name)


@pytest.fixture
def minichat() -> Iterator[type[MiniChat]]:
    registry.register(MiniChat)  # type: ignore[arg-type]
    yield MiniChat
    registry._READERS[:] = [r for r in registry._READERS if r.name != MiniChat.name]


def chat(path: Path, *lines: str) -> Path:
    path.write_text("#minichat\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_each_file_reports_its_reader_speakers_and_counts(minichat, tmp_path: Path) -> None:
    src = chat(
        tmp_path / "group.txt",
        "09:00 SYSTEM: Ana created the group",
        "09:01 Ana: Hola, ¿tenéis la lámpara en azul?",
        "09:02 Luis: Y yo quiero saber el envío a Canarias",
        "09:03 Tienda Sol: Sí, en azul llega el lunes.",
        "09:04 Ana: <Media omitted>",
        "09:05 Tienda Sol: A Canarias son 5 días laborables.",
        "09:06 Bot: recordatorio automático",
        "20:00 Ana: ¿Y en rojo?",
        "20:01 Luis: Gracias",
        "20:02 Marta: hola",
    )
    mapping = FieldMapping(agent=["Tienda Sol"], drop_speakers=["Bot"])
    prepared = import_files([src], mapping, min_turns=2)
    report = prepared.report
    assert report["seen"] == report["kept"] + report["quarantined"] + report["duplicates"]
    (file,) = report["files"]
    assert file["reader"] == "minichat_test"
    assert file["speakers"] == {"Ana": 2, "Tienda Sol": 2, "Luis": 2, "Bot": 1, "Marta": 1}
    assert file["speaker_roles"]["Tienda Sol"] == {"assistant": 1}
    assert file["speaker_roles"]["Bot"] == {"drop": 1}
    assert file["agents"] == ["Tienda Sol"]
    # The evening session has no agent reply: set aside (counted by reason), its messages still counted.
    assert file["counts"] == {
        "messages": 7, "system_lines": 1, "media_only": 1, "dropped": 1, "messages_kept": 4,
    }  # fmt: skip
    assert file["set_aside"] == {"no_agent_reply": 1} and file["kept"] == 1
    lines = summary_lines(report)
    assert lines[0].startswith(f"{src}: read as minichat (tests only) [minichat_test] (")
    assert lines[0].endswith("; 2 records, 1 kept")
    assert "  speakers: Ana 2, Luis 2, Tienda Sol (agent) 2, Bot (left out) 1, Marta 1" in lines
    assert (
        "  messages 7 (4 in kept conversations), system lines 1, media-only 1, left out (dropped speakers) 1" in lines
    )
    assert "  set aside: no_agent_reply 1; duplicates 0" in lines


def test_a_group_chat_without_an_agent_lists_its_speakers_and_says_how_to_name_one(minichat, tmp_path: Path) -> None:
    src = chat(tmp_path / "g.txt", "09:01 Ana: hola", "09:02 Luis: buenas", "09:03 Marta: ¿hay stock?", "09:04 Ana: ok")
    report = import_files([src]).report
    assert report["quarantine_reasons"] == {"agent_unknown": 1}
    (note,) = [n for n in report["notes"] if n["key"] == "file_agent_unknown"]
    assert note["values"]["speakers"] == "Ana 2, Luis 1, Marta 1"
    warning = next(w for w in report["warnings"] if "no speaker is known as the agent" in w)
    assert str(src) in warning and "--agent NAME" in warning and "Agent field" in warning
    # Named, the same file is read: everyone else is the customer side.
    named = import_files([src], FieldMapping(agent=["Marta"]), min_turns=1).report
    assert named["kept"] == 1 and named["files"][0]["agents"] == ["Marta"]


def test_the_speaker_in_every_chat_is_taken_for_the_business(minichat, tmp_path: Path) -> None:
    first = chat(tmp_path / "ana.txt", "09:00 Ana: Hola, ¿abrís el sábado?", "09:05 Sol Lamps: Sí, de 10 a 14.")
    second = chat(tmp_path / "bob.txt", "10:00 Sol Lamps: Your order has shipped.", "10:01 Bob: Thanks!")
    prepared = import_files([first, second], min_turns=1)
    files = prepared.report["files"]
    assert [f["owner"] for f in files] == ["Sol Lamps", "Sol Lamps"]
    assert [f["agents"] for f in files] == [["Sol Lamps"], ["Sol Lamps"]]
    assert [f["agent_guessed"] for f in files] == [0, 0]  # not guessed from who wrote first
    roles = [[m.role for m in conv.messages] for conv in prepared.conversations]
    assert roles == [["user", "assistant"], ["assistant", "user"]]
    assert any(n["key"] == "owner_across" for n in files[0]["notes"])
    assert [f["fields"] for f in files] == [{}, {}]  # the per-file guesses said no more
    # One file alone: who wrote first is taken for the customer, and the report says it was a guess.
    alone = import_files([second], min_turns=1).report["files"][0]
    assert alone["owner"] is None and alone["agents"] == ["Bob"] and alone["agent_guessed"] == 1
    assert alone["fields"] == {"agent_guessed": "a guess"}
    # Named by the user, the user's word holds.
    named = import_files([first, second], FieldMapping(agent=["Ana", "Bob"]), min_turns=1).report["files"]
    assert [f["owner"] for f in named] == [None, None] and named[1]["agents"] == ["Bob"]


def test_two_chats_of_the_same_two_people_name_no_owner(minichat, tmp_path: Path) -> None:
    first = chat(tmp_path / "a.txt", "09:00 Ana: hola", "09:05 Sol: hola Ana")
    second = chat(tmp_path / "b.txt", "10:00 Ana: gracias", "10:01 Sol: de nada")
    files = import_files([first, second], min_turns=1).report["files"]
    assert [f["owner"] for f in files] == [None, None]


def test_a_reader_that_lists_speakers_cheaply_is_asked_instead_of_read(minichat, tmp_path: Path) -> None:
    asked: list[str] = []

    def list_speakers(self, path: Path, det: DetectedFormat) -> list[str]:
        asked.append(path.name)
        return [m.group(3) for line in path.read_text().splitlines() if (m := LINE.match(line))]

    minichat.list_speakers = list_speakers  # type: ignore[attr-defined]
    try:
        first = chat(tmp_path / "a.txt", "09:00 Ana: hola", "09:05 Sol: hola Ana")
        second = chat(tmp_path / "b.txt", "10:00 Sol: hi", "10:01 Bob: hello")
        files = import_files([first, second], min_turns=1).report["files"]
    finally:
        del minichat.list_speakers  # type: ignore[attr-defined]
    assert asked == ["a.txt", "b.txt"] and [f["owner"] for f in files] == ["Sol", "Sol"]


def test_implausible_readings_are_warned_about(minichat, tmp_path: Path) -> None:
    # Every line its own conversation, a "speaker" per message, speakers that are numbers.
    lines = [f"{9 + i // 60:02d}:{i % 60:02d} {1000 + i}: hola {i}" for i in range(12)]
    src = tmp_path / "cut.txt"
    src.write_text("#minichat\n" + "\n\n".join(lines) + "\n", encoding="utf-8")
    report = import_files([src], FieldMapping(agent=["x"]), min_turns=1).report
    keys = {n["key"] for n in report["notes"]}
    assert {"file_number_speakers", "file_speaker_per_message"} <= keys, keys
    number = next(n for n in report["notes"] if n["key"] == "file_number_speakers")
    assert number["values"]["count"] == 12 and str(src) == number["values"]["path"]


def test_turns_that_are_dates_and_single_turn_conversations_are_warned_about(tmp_path: Path) -> None:
    # A chat-app export taken for a two-column CSV: every customer "turn" is the date before the comma.
    src = tmp_path / "chat.csv"
    rows = [f"1/{d}/21,9:1{d} a. m. - Ana: hola {d}" for d in range(1, 8)]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = import_files([src], FieldMapping(prompt_field=0, response_field=1, header=False), min_turns=1).report
    note = next(n for n in report["notes"] if n["key"] == "file_date_turns")
    assert note["values"]["count"] == 7 and "'1/1/21'" in note["values"]["examples"]
    # One message per conversation: lines taken for conversations.
    single = tmp_path / "single.jsonl"
    records = [json.dumps({"messages": [{"role": "user", "content": f"hola {i}"}]}) for i in range(6)]
    single.write_text("\n".join(records) + "\n", encoding="utf-8")
    notes = import_files([single], min_turns=1).report["notes"]
    assert any(n["key"] == "file_single_turn" and n["values"]["single"] == 6 for n in notes), notes


def test_what_looks_like_a_timestamp_or_a_number() -> None:
    for text in ("20.06.19, 15:58:47", "[20.06.19, 15:58:47]", "1/5/21", "9:10 a. m.", "2021-01-05T10:00:00Z",
                 "1620000000", "15:58"):  # fmt: skip
        assert looks_like_timestamp(text), text
    for text in ("Hola, ¿a qué hora abrís?", "3.5 stars", "Order 12", "12 de mayo"):
        assert not looks_like_timestamp(text), text
    assert looks_like_number_name("1042") and looks_like_number_name("2021-01-05")
    assert not looks_like_number_name("+34 600 123 456")  # WhatsApp's name for an unsaved contact
    assert not looks_like_number_name("Ana 2") and not looks_like_number_name("R2-D2")


def test_detect_prints_the_reader_the_others_that_fit_and_the_speakers(
    minichat, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from builder.data.cli import main

    first = chat(tmp_path / "ana.txt", "09:00 Ana: Hola", "09:05 Sol Lamps: Hola Ana", "09:06 Ana: <Media omitted>")
    second = chat(tmp_path / "bob.txt", "10:00 Sol Lamps: Shipped.", "10:01 Bob: Thanks!")
    assert main(["detect", str(first), str(second)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"{first}: read as minichat (tests only) [minichat_test] (text, minichat_test, encoding UTF-8; "
        # "09:00 Ana: Hola" is also a plain chat log's shape: the other reader that fits is named.
        "read as minichat_test (sure 0.90); also fits: chat_log (0.60); "
        "Sol Lamps writes in all 2 minichat_test files: taken for the agent (set agent to change))"
    )
    assert out[1].startswith("  readers that fit: minichat_test 0.90 (taken), ")  # the generic ones follow
    assert out[2:5] == [
        "  owner (the business side): Sol Lamps",
        "  speakers: Ana 1, Sol Lamps (agent) 1",
        "  messages 2, media-only 1",
    ]
    # --drop-speaker (or --drop-speakers) and --agent, each repeatable, reach the mapping.
    assert main(["detect", str(first), "--agent", "Ana", "--drop-speaker", "Sol Lamps"]) == 0
    out = capsys.readouterr().out
    assert "  speakers: Ana (agent) 1, Sol Lamps (left out) 1" in out and "owner" not in out


def test_the_data_tab_shows_speakers_and_counts_as_text_in_both_languages(minichat, tmp_path: Path) -> None:
    from builder.ui.common import plain_markdown
    from builder.ui.data_files import file_report_lines, files_markdown, speaker_choices, speaker_table

    src = chat(
        tmp_path / "[x](http:__e.co)_chat.txt",
        "09:01 <b>Ana</b>: ![a](http://e.co/a.png) hola",
        "09:02 Luis: buenas",
        "09:03 Tienda: <Media omitted>",
        "09:04 Tienda: hola a los dos",
    )
    report = import_files([src], FieldMapping(agent=["Tienda"]), min_turns=1).report
    entries = report["files"]
    table = speaker_table(entries, "es")
    assert table["headers"] == ["archivo", "formato", "hablante", "mensajes", "papel"]
    assert [row[2:] for row in table["data"]] == [["<b>Ana</b>", 1, "cliente"], ["Luis", 1, "cliente"],
                                                  ["Tienda", 1, "agente"]]  # fmt: skip
    assert speaker_choices(entries, ["Nadie"]) == ["<b>Ana</b>", "Luis", "Tienda", "Nadie"]
    (line,) = file_report_lines(report, "es")
    assert "1 conversaciones conservadas de 1 registros; mensajes 3 (3 en conversaciones conservadas)" in line
    assert "mensajes solo con adjuntos 1" in line
    # The file's name is shown as written, never as a link.
    assert line.startswith(r"- \[x\](http:\_\_e.co)\_chat.txt: "), line
    assert r"\[x\](http:\_\_e.co)\_chat.txt" in files_markdown(entries, "en")
    assert plain_markdown("![a](http://e.co/a.png) <b>x</b>") == r"\!\[a\](http:\//e.co/a.png) \<b\>x\</b\>"
    assert plain_markdown("sample_data/a.jsonl") == "sample_data/a.jsonl"  # inside a word, _ is text
