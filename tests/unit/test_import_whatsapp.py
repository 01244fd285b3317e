"""WhatsApp chat exports, iOS and Android, in several locales (fixtures written from the public format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import Note, detect_format, read_file
from builder.importers.encoding import sniff_encoding
from builder.importers.registry import FITS, NOT_JSON, candidates, sample_of
from builder.importers.types import SNIFF_BYTES
from builder.ui.i18n import message_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "whatsapp"
IOS_EN = FIXTURES / "ios_en.txt"
IOS_ES = FIXTURES / "ios_es.txt"
ANDROID_ES = FIXTURES / "android_es_12h.txt"
ANDROID_US = FIXTURES / "android_us_month_first.txt"
CRLF = FIXTURES / "crlf_marks.txt"
GROUP = FIXTURES / "group_chat.txt"
MULTILINE = FIXTURES / "multiline_media.txt"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def convs(path: Path, **mapping):
    return [i for i in items(path, **mapping) if i.conversation is not None]


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def sample(path: Path):
    head = path.read_bytes()[:SNIFF_BYTES]
    encoding = sniff_encoding(path, head)
    return sample_of(path, encoding, head.decode(encoding))


def note_keys(det) -> list[str]:
    return [n.key for n in det.notes]


@pytest.mark.parametrize(
    ("path", "platform", "clock", "order"),
    [
        (IOS_EN, "ios", "12", "month_first"),
        (IOS_ES, "ios", "24", "day_first"),
        (ANDROID_ES, "android", "12", "day_first"),
        (ANDROID_US, "android", "12", "month_first"),
        (CRLF, "android", "24", "day_first"),
        (GROUP, "android", "24", "day_first"),
        (MULTILINE, "android", "24", "day_first"),
    ],
)
def test_every_variant_is_detected_as_whatsapp(path: Path, platform: str, clock: str, order: str) -> None:
    det = detect_format(path)
    assert det.reader == "whatsapp" and det.format == "whatsapp"
    assert (det.fields["platform"], det.fields["date_order"]) == (platform, order)
    platform_note = next(n for n in det.notes if n.key == "wa_platform")
    assert platform_note.values["clock"] == clock
    # No generic reader is as sure: the text is never taken for JSON records, a CSV or a transcript.
    others = [c for c in candidates(sample(path)) if c.reader.name != "whatsapp"]
    assert all(c.score < FITS for c in others), others


def test_an_ios_export_starting_with_a_bracket_is_not_json() -> None:
    assert IOS_EN.read_text(encoding="utf-8").startswith("[")
    found = sample(IOS_EN)
    assert found.document is NOT_JSON and found.jsonl == []
    assert "json" not in [c.reader.name for c in candidates(found)]
    kept = convs(IOS_EN)
    assert [i.reason for i in items(IOS_EN)] == [None, None]  # nothing set aside as invalid JSON
    assert turns(kept[0])[0] == (
        "user",
        "Hi! I ordered the Tide desk lamp last week and it arrived with a cracked shade",
    )


def test_a_spanish_android_12_hour_export_is_not_a_two_column_csv() -> None:
    det = detect_format(ANDROID_ES)
    assert det.reader == "whatsapp" and det.delimiter is None and det.columns == []
    first, second, third = convs(ANDROID_ES)
    # "9:58 a. m." and "7:31 p. m." (with U+202F before them, as Android writes): morning and evening.
    assert first.conversation.metadata["started_at"] == "2023-03-21T09:58:00"
    assert second.conversation.metadata["started_at"] == "2023-04-02T19:31:00"
    assert third.conversation.metadata["started_at"] == "2023-04-03T12:05:00"  # 12:05 p. m. is noon
    assert turns(first)[:2] == [
        ("user", "Hola, buenos días. Me llegaron las gafas graduadas pero veo borroso de lejos"),
        ("assistant", "Hola, Lucía. Lo sentimos. ¿Nos dices el número de pedido que aparece en la caja?"),
    ]
    # The encryption notice and the deleted message are system lines, <Multimedia omitido> is media.
    assert first.counts == {"messages": 6, "system_lines": 2, "media_only": 1, "dropped": 0}


def test_the_issue_line_with_plain_spaces_before_a_m(tmp_path: Path) -> None:
    path = tmp_path / "Chat de WhatsApp con Ana.txt"
    path.write_text(
        "1/5/21, 9:10 a. m. - Ana: hola, ¿tenéis la talla 40?\n"
        "1/5/21, 9:12 a. m. - Zapatería Sol: Hola Ana, sí, en negro y en marrón.\n"
        "1/5/21, 1:02 p. m. - Ana: Genial, paso por la tarde\n"
        "13/5/21, 10:00 a. m. - Ana: Me quedan perfectas, gracias\n",
        encoding="utf-8",
    )
    det = detect_format(path)
    assert det.reader == "whatsapp" and det.fields["date_order"] == "day_first"
    assert "wa_day_first" in note_keys(det)  # 13/5/21 settles the order for the whole file, earlier lines too
    first, second = convs(path)
    assert first.conversation.metadata["started_at"] == "2021-05-01T09:10:00"
    assert [m.content for m in first.conversation.messages][-1] == "Genial, paso por la tarde"
    assert second.conversation.metadata["started_at"] == "2021-05-13T10:00:00"


def test_date_order_by_time_order_when_no_field_is_above_12(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text(
        "3/1/22, 10:00 - Ana: hola\n3/1/22, 10:05 - Tienda: hola Ana\n"
        "1/2/22, 10:00 - Ana: otra vez yo\n1/2/22, 10:01 - Tienda: dime\n"
        "2/2/22, 10:00 - Ana: gracias\n2/2/22, 10:02 - Tienda: a ti\n",
        encoding="utf-8",
    )
    # Day first: 3 Jan, 1 Feb, 2 Feb (forward). Month first: 1 Mar, 2 Jan, 2 Feb (goes back once).
    det = detect_format(path)
    assert det.fields["date_order"] == "day_first"
    assert "wa_day_first_by_order" in note_keys(det)
    assert [c.conversation.metadata["started_at"][:10] for c in convs(path)] == [
        "2022-01-03",
        "2022-02-01",
        "2022-02-02",
    ]


def test_multi_line_messages_captions_and_media(tmp_path: Path) -> None:
    first, second = convs(MULTILINE)
    assert turns(first)[0] == (
        "user",
        "Hello, I need help with my subscription.\nIt renews on the 20th and I want to cancel before that.\n\n"
        "Also, can I keep the data I saved?",
    )
    assert turns(first)[1][1].endswith(
        '2. Tap "Cancel plan"\n\nYour notes stay readable for 90 days after the plan ends.'
    )
    # An attachment with a caption: the caption is the turn; <Media omitted> and a location are media only;
    # "This message was deleted" and the encryption notice are system lines.
    assert turns(first)[2] == ("user", "Is this the right screen?")
    assert first.counts == {"messages": 6, "system_lines": 2, "media_only": 2, "dropped": 0}
    assert second.counts["system_lines"] == 1  # missed voice call
    assert all("omitted" not in m.content for c in (first, second) for m in c.conversation.messages)


def test_crlf_mixed_with_lf_and_the_invisible_marks() -> None:
    raw = CRLF.read_bytes()
    assert b"\r\n" in raw and b"\n" in raw.replace(b"\r\n", b"") and "\u200e".encode() in raw
    (only,) = convs(CRLF)
    speakers = only.conversation.metadata["speakers"]
    assert speakers == {"+34 600 11 22 33": "user", "Muebles Roble": "assistant"}  # U+200E gone from the name
    contents = [m.content for m in only.conversation.messages]
    assert not any("\r" in c or "\u200e" in c for c in contents)
    assert contents[3] == (
        "El envío es gratis a partir de 300 €; el Brisa cuesta 649 €, así que no pagas envío.\n"
        "Also, we can take your old sofa for 25 €."
    )
    assert "gris perla" in contents[1]  # the no-break space became a plain one
    assert only.counts == {"messages": 6, "system_lines": 1, "media_only": 1, "dropped": 0}


def test_a_group_chat_is_read_with_everyone_but_the_agent_as_customer() -> None:
    (group,) = convs(GROUP)
    assert group.conversation.metadata["speakers"] == {
        "Casa Verde Soporte": "assistant",
        "Elena Ruiz": "user",
        "Marco Rossi": "user",
        "+34 612 34 56 78": "user",
    }
    # created group, three "added", "left": notices of the app, not turns.
    assert group.counts == {"messages": 9, "system_lines": 5, "media_only": 1, "dropped": 0}


def test_a_group_with_no_known_agent_lists_its_speakers_then_takes_the_named_one(tmp_path: Path) -> None:
    path = tmp_path / "grupo.txt"
    path.write_text(GROUP.read_text(encoding="utf-8").replace("Casa Verde Soporte", "Casa Verde"), encoding="utf-8")
    (aside,) = items(path)
    assert aside.reason == "agent_unknown"
    assert aside.speakers == {"Casa Verde": 5, "Elena Ruiz": 2, "Marco Rossi": 1, "+34 612 34 56 78": 1}
    (named,) = convs(path, agent=["casa verde"])
    assert named.conversation.metadata["speakers"]["Casa Verde"] == "assistant"
    dropped = convs(path, agent=["Casa Verde"], drop_speakers=["Marco Rossi"])[0]
    assert dropped.counts["dropped"] == 1 and "Can I pay by card on delivery?" not in str(turns(dropped))


def test_the_agent_by_the_owners_deleted_message_a_guess_or_the_users_word() -> None:
    det = detect_format(IOS_EN)
    assert det.owner == "Harbor Lamps" and "wa_owner_deleted" in note_keys(det)
    assert all(c.conversation.metadata["speakers"]["Harbor Lamps"] == "assistant" for c in convs(IOS_EN))
    assert all("speakers_guessed" not in c.conversation.metadata for c in convs(IOS_EN))

    guessed = detect_format(ANDROID_ES)
    note = next(n for n in guessed.notes if n.key == "wa_agent_guessed")
    assert note.values == {"agent": "Óptica Norte", "customer": "Lucía Fernández", "starts": 3, "sessions": 3}
    assert all(c.conversation.metadata.get("speakers_guessed") for c in convs(ANDROID_ES))

    told = FieldMapping(agent=["Lucía Fernández"])
    assert "wa_agent_guessed" not in note_keys(detect_format(ANDROID_ES, told))
    first = convs(ANDROID_ES, agent=["Lucía Fernández"])[0]
    assert first.conversation.metadata["speakers"] == {"Lucía Fernández": "assistant", "Óptica Norte": "user"}
    assert "speakers_guessed" not in first.conversation.metadata


def test_the_business_across_several_chats_is_the_one_person_in_all(tmp_path: Path) -> None:
    other = tmp_path / "Chat de WhatsApp con Pedro.txt"
    other.write_text(
        ANDROID_ES.read_text(encoding="utf-8").replace("Lucía Fernández", "Pedro Gil").replace("Lucía", "Pedro"),
        encoding="utf-8",
    )
    data = import_files([ANDROID_ES, other], FieldMapping(), min_turns=1, detect_language=False)
    files = data.report["files"]
    assert [f["owner"] for f in files] == ["Óptica Norte", "Óptica Norte"]
    assert all(f["agent_guessed"] == 0 for f in files)
    assert all("wa_agent_guessed" not in [n["key"] for n in f["notes"]] for f in files)


def test_import_report_gives_format_speakers_and_counts() -> None:
    data = import_files([IOS_EN, MULTILINE], FieldMapping(), min_turns=1, detect_language=False)
    ios, multi = data.report["files"]
    assert (ios["format"], ios["reader"], ios["records"], ios["kept"]) == ("whatsapp", "whatsapp", 2, 2)
    assert ios["speakers"] == {"Maya Chen": 5, "Harbor Lamps": 4}
    assert ios["agents"] == ["Harbor Lamps"]
    # Two system lines (the encryption notice, "You deleted this message"), two attachments.
    assert ios["counts"] == {"messages": 9, "system_lines": 2, "media_only": 2, "dropped": 0, "messages_kept": 9}
    assert multi["counts"]["system_lines"] == 3 and multi["counts"]["media_only"] == 2
    assert multi["agent_guessed"] == 2  # Fieldnote Help Desk, by who starts the conversations: said per conversation
    assert data.report["kept"] == 4


def test_a_file_of_mixed_ios_and_android_lines_is_left_to_the_transcript_reader(tmp_path: Path) -> None:
    path = tmp_path / "pasted.txt"
    ios = IOS_EN.read_text(encoding="utf-8").splitlines()[:6]
    android = ANDROID_US.read_text(encoding="utf-8").splitlines()[:6]
    path.write_text("\n".join([*ios, "", *android]) + "\n", encoding="utf-8")
    assert [c.score for c in candidates(sample(path)) if c.reader.name == "whatsapp"] == [0.3]


def test_hand_cut_chats_end_at_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "varios.txt"
    path.write_text(
        "05/01/2024, 09:00 - Ana: hola, ¿abrís hoy?\n05/01/2024, 09:01 - Tienda: sí, hasta las 20\n\n"
        "05/01/2024, 09:02 - Luis: ¿tenéis pilas AA?\n05/01/2024, 09:03 - Tienda: sí, de 4 y de 8\n",
        encoding="utf-8",
    )
    det = detect_format(path)
    assert det.fields["cut_by"] == "blank_lines" and "wa_cut_at_blank" in note_keys(det)
    assert [c.conversation.metadata["speakers"] for c in convs(path, agent=["Tienda"])] == [
        {"Ana": "user", "Tienda": "assistant"},
        {"Luis": "user", "Tienda": "assistant"},
    ]


def test_notes_in_spanish() -> None:
    det = detect_format(ANDROID_ES)
    spanish = [message_text(n, "es") for n in det.notes]
    assert spanish[0] == "exportación de WhatsApp de Android, horas en formato de 12 horas"
    assert spanish[1] == "fechas leídas con el día primero: 21/3/23 tiene el primer campo mayor que 12"
    assert spanish[2].startswith("Óptica Norte se toma como el agente: de las dos personas, Lucía Fernández empieza")
    owner = message_text(Note("wa_owner_deleted", {"owner": "Harbor Lamps"}), "es")
    assert owner == 'Harbor Lamps se toma como el negocio: la exportación dice "Eliminaste este mensaje" a su nombre'
