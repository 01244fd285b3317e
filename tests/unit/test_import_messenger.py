"""Facebook Messenger and Instagram JSON exports: a thread in two files, an inbox of threads, mojibake, the owner
(fixtures written from the public format of "Download your information")."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import collect_files, detect_format, read_file
from builder.importers.formats.messenger import repair
from builder.importers.registry import bundle_sample, candidates

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "messenger"
FACEBOOK = FIXTURES / "facebook"
INBOX = FACEBOOK / "your_activity_across_facebook" / "messages" / "inbox"
ANA = INBOX / "anabuzas_10158"
INSTAGRAM = FIXTURES / "instagram"
CARLA = INSTAGRAM / "your_instagram_activity" / "messages" / "inbox" / "carlamendez_177" / "message_1.json"
OWNER = "Lúcia Nóbrega"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def by_id(path: Path, **mapping):
    return {i.conversation.id: i for i in items(path, **mapping) if i.conversation is not None}


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_mojibake_is_repaired_and_good_text_is_left_alone() -> None:
    assert repair("Buz\u00c3\u00a1s") == "Buzás"
    assert repair("\u00f0\u009f\u0099\u008f") == "🙏"
    assert repair("Buzás") == "Buzás"  # already text: not valid as UTF-8 bytes, kept
    assert repair("plain") == "plain"
    assert repair("Ωmega") == "Ωmega"  # beyond latin-1: not a mis-encoding
    raw = (ANA / "message_1.json").read_text(encoding="utf-8")
    assert "Buz\\u00c3\\u00a1s" in raw  # the fixture is written as Facebook writes it


def test_an_inbox_folder_is_one_export_whose_owner_is_in_every_thread() -> None:
    assert collect_files([FACEBOOK]) == [FACEBOOK]
    det = detect_format(FACEBOOK)
    assert det.reader == "messenger"
    assert det.owner == OWNER
    assert det.fields == {"threads": 3, "files": 4}
    assert {c.reader.name: c.score for c in candidates(bundle_sample(FACEBOOK))} == {"messenger": 0.9}


def test_a_thread_in_two_files_is_one_stream_cut_by_silence() -> None:
    found = by_id(FACEBOOK)
    # The first conversation starts in message_2.json (older) and ends in message_1.json.
    first = found["anabuzas_10158:1714989480000"]
    assert turns(first) == [
        ("user", "Hola, ¿hacéis envíos a Évora? Quiero la lámpara de cerámica."),
        ("assistant", "¡Hola Ana! Sí, enviamos a Évora en 3 días laborables; el envío cuesta 4,90 €."),
        ("user", "Perfecto, la pido ahora. ¡Gracias! 🙏"),
    ]
    # The photo ("Ana Buzás sent a photo.") and the sticker are media-only; one reaction is counted.
    assert first.counts == {"messages": 3, "system_lines": 0, "media_only": 2, "dropped": 0, "reactions": 1}
    assert first.speakers == {"Ana Buzás": 2, OWNER: 1}
    # Two days later: a link alone is media-only; a reaction notice and an unsent message are system lines.
    second = found["anabuzas_10158:1715191200000"]
    assert second.counts == {"messages": 2, "system_lines": 2, "media_only": 1, "dropped": 0, "reactions": 0}
    assert second.conversation.metadata["thread"] == "anabuzas_10158"


def test_the_owner_answers_even_when_writing_first_and_groups_are_read() -> None:
    found = by_id(FACEBOOK)
    jorge = found["jorgeperez_20233:1715079600000"]
    assert jorge.conversation.metadata["speakers"] == {OWNER: "assistant", "Jorge Pérez": "user"}
    assert "speakers_guessed" not in jorge.conversation.metadata
    assert jorge.counts["system_lines"] == 1  # the call
    group = found["entregamadrid_30344:1715245200000"]
    roles = group.conversation.metadata["speakers"]
    assert roles == {"Pedro Gómez": "user", "Sofía Núñez": "user", OWNER: "assistant"}
    assert group.counts == {"messages": 3, "system_lines": 1, "media_only": 1, "dropped": 0, "reactions": 0}


def test_the_agent_named_by_the_user_wins_over_the_owner() -> None:
    jorge = by_id(FACEBOOK, agent=["Jorge Pérez"])["jorgeperez_20233:1715079600000"]
    assert jorge.conversation.metadata["speakers"] == {OWNER: "user", "Jorge Pérez": "assistant"}


def test_instagram_thread_alone_guesses_the_first_writer_as_customer() -> None:
    det = detect_format(CARLA)
    assert (det.reader, det.owner, det.fields) == ("messenger", None, {"participants": 2})
    (carla,) = items(CARLA)
    assert carla.conversation.metadata["speakers"] == {"Carla Méndez": "user", "acme.ceramica": "assistant"}
    assert carla.conversation.metadata["speakers_guessed"] is True
    assert turns(carla)[0] == ("user", "Hola! ¿Tenéis la taza azul en stock? 😍")
    assert carla.counts == {"messages": 3, "system_lines": 1, "media_only": 1, "dropped": 0, "reactions": 0}


def test_message_1_brings_its_thread_along_and_message_2_is_not_a_second_input() -> None:
    first, second = ANA / "message_1.json", ANA / "message_2.json"
    assert collect_files([first, second]) == [first]
    assert len([i for i in items(first) if i.conversation]) == 2
    assert [i.reason for i in items(first)] == [None, None]  # the older file read along, no break
    assert len(items(second)) == 1  # message_2.json alone: only its own messages


def test_threads_given_as_files_share_the_owner_across_files() -> None:
    files = [ANA / "message_1.json", INBOX / "jorgeperez_20233" / "message_1.json"]
    data = import_files(files, FieldMapping(), min_turns=1, detect_language=False)
    jorge = next(f for f in data.report["files"] if "jorgeperez" in f["path"])
    assert jorge["owner"] == OWNER
    assert jorge["speaker_roles"][OWNER] == {"assistant": 1}
    assert any(note["key"] == "owner_across" for note in jorge["notes"])


def test_import_report_gives_format_speakers_and_counts(tmp_path: Path) -> None:
    archive = tmp_path / "facebook-lucia.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(FACEBOOK.rglob("*.json")):
            zf.write(path, path.relative_to(FACEBOOK).as_posix())
    data = import_files([archive], FieldMapping(), min_turns=1, detect_language=False)
    (file,) = data.report["files"]
    assert (file["reader"], file["owner"]) == ("messenger", OWNER)
    assert file["speakers"] == {OWNER: 5, "Ana Buzás": 3, "Jorge Pérez": 2, "Pedro Gómez": 1, "Sofía Núñez": 1}
    assert file["agents"] == [OWNER]
    counts = file["counts"]
    assert (counts["system_lines"], counts["media_only"], counts["reactions"]) == (4, 4, 1)
    assert data.report["kept"] == 4 and data.report["quarantine_reasons"] == {}


def _big_thread(folder: Path, files: int, per_file: int) -> int:
    """A thread of ``files`` files, newest first, a conversation every 40 messages (a day apart)."""
    folder.mkdir(parents=True)
    size = 0
    for number in range(1, files + 1):
        messages = []
        for n in range(per_file):
            k = (files - number) * per_file + (per_file - 1 - n)  # message index in time order
            stamp = 1_600_000_000_000 + (k // 40) * 86_400_000 + (k % 40) * 60_000
            who = "Cliente Núñez" if k % 2 == 0 else "Tienda Acme"
            messages.append({"sender_name": repair_back(who), "timestamp_ms": stamp, "content": f"{k} " + "z" * 900})
        doc = {"participants": [{"name": repair_back("Cliente Núñez")}, {"name": "Tienda Acme"}], "messages": messages}
        text = json.dumps(doc, indent=2)
        size += len(text)
        (folder / f"message_{number}.json").write_text(text, encoding="utf-8")
    return size


def repair_back(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def test_a_large_thread_streams_one_conversation_at_a_time(tmp_path: Path) -> None:
    size = _big_thread(tmp_path / "inbox" / "big_1", files=3, per_file=4000)
    det = detect_format(tmp_path / "inbox")
    assert det.reader == "messenger"
    tracemalloc.start()
    try:
        messages = conversations = 0
        for item in read_file(tmp_path / "inbox", FieldMapping(), det):
            messages += item.counts["messages"] if item.counts else 0
            conversations += item.conversation is not None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (messages, conversations) == (12_000, 300)
    assert size > 10_000_000
    assert peak < size / 8  # one conversation and one chunk held, never a whole file
