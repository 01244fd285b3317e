"""Signal chats as text: signal-export's Markdown and signalbackup-tools' plain text (fixtures written from
the exporters' public descriptions)."""

from __future__ import annotations

from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import Note, detect_format, read_file
from builder.importers.encoding import sniff_encoding
from builder.importers.registry import FITS, NOT_JSON, candidates, sample_of
from builder.importers.types import SNIFF_BYTES
from builder.ui.i18n import message_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "signal"
MARKDOWN = FIXTURES / "signal_export_chat.md"
BACKUP_TXT = FIXTURES / "Pablo Méndez (_id7).txt"


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


def test_both_exporters_files_are_detected_as_signal_and_not_json_or_csv() -> None:
    md, txt = detect_format(MARKDOWN), detect_format(BACKUP_TXT)
    assert (md.reader, txt.reader) == ("signal", "signal")
    assert (md.fields["style"], txt.fields["style"]) == ("markdown", "backup_txt")
    for path in (MARKDOWN, BACKUP_TXT):
        found = sample(path)
        assert found.text.startswith("[") and found.document is NOT_JSON
        assert all(c.score < FITS for c in candidates(found) if c.reader.name in ("json", "csv", "transcript"))
    # "[2024-03-02 10:15:30] Ana Torres: ..." has the chat-log and WhatsApp iOS line shapes too: both leave it to
    # Signal (below FITS), so no other reader is sure of either file.
    scores = {c.reader.name: c.score for c in candidates(sample(MARKDOWN))}
    assert scores["signal"] == 0.9 and scores["chat_log"] == 0.4 and scores["whatsapp"] == 0.4
    assert not [n for n in md.notes + txt.notes if n.key == "also_fits"]


def test_markdown_quotes_reactions_attachments_stickers_and_calls() -> None:
    first, second = convs(MARKDOWN)
    assert turns(first) == [
        ("user", "Hola! Compré una cafetera Moka Pro y pierde agua por la junta"),
        ("assistant", "Hola Ana, gracias por la foto. ¿La junta es la negra de goma o la metálica?"),
        ("user", "La negra, se ve un poco deformada"),  # the quoted question and the reaction left out
        (
            "assistant",
            "Entonces te mandamos una junta nueva sin coste.\nLlega en 2-3 días laborables; se cambia a mano, sin "
            "herramientas.",
        ),
        ("user", "Perfecto, muchas gracias!"),
    ]
    # The photo and the sticker are media only; the deleted message is a system line.
    assert first.counts == {"messages": 5, "system_lines": 1, "media_only": 2, "dropped": 0}
    assert first.conversation.metadata["started_at"] == "2024-03-02T10:15:30"
    # Three days later: a new conversation, opened by a missed call (a system line).
    assert second.counts == {"messages": 2, "system_lines": 1, "media_only": 0, "dropped": 0}


def test_markdown_me_is_the_agent_unless_the_user_names_another() -> None:
    det = detect_format(MARKDOWN)
    assert det.owner == "Me" and "sig_me_owner" in [n.key for n in det.notes]
    assert all(
        c.conversation.metadata["speakers"] == {"Ana Torres": "user", "Me": "assistant"} for c in convs(MARKDOWN)
    )
    named = convs(MARKDOWN, agent=["Ana Torres"])[0]
    assert named.conversation.metadata["speakers"] == {"Ana Torres": "assistant", "Me": "user"}


def test_backup_txt_reactions_files_notices_and_continuation_lines() -> None:
    first, second = convs(BACKUP_TXT)
    assert turns(first) == [
        ("user", "Buenos días, ¿tenéis la cámara de 700x28c para carretera?"),
        ("assistant", "Buenos días Pablo. Sí, la Conti Race 28 a 8,90 € y la Schwalbe a 9,50 €."),
        ("user", "¿Esta válvula vale? Es la que tengo ahora"),
        (
            "assistant",
            "Esa es Presta de 60 mm: vale la Conti con válvula de 60.\nSi la llanta es alta, mejor la de 80 mm.",
        ),
        ("user", "Me quedo dos de 60, paso esta tarde"),
    ]
    # The timer notice is a system line, the photo sent is media only.
    assert first.counts == {"messages": 5, "system_lines": 1, "media_only": 1, "dropped": 0}
    assert second.counts == {"messages": 2, "system_lines": 1, "media_only": 0, "dropped": 0}
    assert second.conversation.metadata["started_at"] == "2024-01-20T12:05:33"


def test_backup_txt_owner_from_the_thread_file_name_or_a_guess(tmp_path: Path) -> None:
    det = detect_format(BACKUP_TXT)
    assert det.owner == "Bicis Norte"
    note = next(n for n in det.notes if n.key == "sig_owner_by_file_name")
    assert note.values == {"customer": "Pablo Méndez", "owner": "Bicis Norte"}
    assert all("speakers_guessed" not in c.conversation.metadata for c in convs(BACKUP_TXT))
    # Renamed: no owner from the name; of two unknown people, the first to write is taken as the customer.
    renamed = tmp_path / "chat.txt"
    renamed.write_bytes(BACKUP_TXT.read_bytes())
    assert detect_format(renamed).owner is None
    guessed = convs(renamed)[0]
    assert guessed.conversation.metadata["speakers_guessed"] is True
    assert guessed.conversation.metadata["speakers"] == {"Pablo Méndez": "user", "Bicis Norte": "assistant"}


def test_a_group_without_a_known_agent_is_set_aside_with_its_speakers(tmp_path: Path) -> None:
    path = tmp_path / "Vecinos (_id9).txt"
    path.write_text(
        "[Feb 01, 2024 10:00:00] <Lola> ¿Alguien sabe si el taller abre hoy?\n"
        "[Feb 01, 2024 10:02:00] <Taller Ruiz> Sí, hasta las 14 h.\n"
        "[Feb 01, 2024 10:03:00] <Quique> ¿Y mañana?\n"
        "[Feb 01, 2024 10:04:00] <Javi> Yo también quería saberlo\n",
        encoding="utf-8",
    )
    (aside,) = items(path)
    assert aside.reason == "agent_unknown"
    assert aside.speakers == {"Lola": 1, "Taller Ruiz": 1, "Quique": 1, "Javi": 1}
    (named,) = convs(path, agent=["Taller Ruiz"])
    assert [role for role, _ in turns(named)] == ["user", "assistant", "user", "user"]


def test_import_report_gives_format_speakers_and_counts() -> None:
    data = import_files([MARKDOWN, BACKUP_TXT], FieldMapping(), min_turns=1, detect_language=False)
    md, txt = data.report["files"]
    assert (md["format"], md["records"], md["kept"], md["owner"]) == ("signal", 2, 2, "Me")
    assert md["speakers"] == {"Ana Torres": 4, "Me": 3}
    assert md["counts"] == {"messages": 7, "system_lines": 2, "media_only": 2, "dropped": 0, "messages_kept": 7}
    assert txt["speakers"] == {"Pablo Méndez": 4, "Bicis Norte": 3}
    assert txt["agents"] == ["Bicis Norte"]
    assert txt["counts"] == {"messages": 7, "system_lines": 2, "media_only": 1, "dropped": 0, "messages_kept": 7}
    assert data.report["kept"] == 4


def test_notes_in_spanish() -> None:
    spanish = [message_text(n, "es") for n in detect_format(BACKUP_TXT).notes]
    assert spanish == [
        "chat de Signal tal como lo escribe signalbackup-tools (texto plano)",
        "el archivo lleva el nombre de Pablo Méndez: la otra persona, Bicis Norte, se toma como la cuenta que lo "
        "exportó y como el agente (indica el agente para cambiarlo)",
    ]
    assert message_text(Note("sig_me_owner"), "es").startswith('"Me" es la cuenta que exportó el chat')
