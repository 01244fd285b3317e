"""Plain chat logs (IRC-style ``time <nick> text``), and every export fixture against the line-based readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import Note, detect_format, read_file
from builder.importers.encoding import sniff_encoding
from builder.importers.registry import FITS, bundle_sample, candidates, is_bundle_path, sample_of
from builder.importers.types import SNIFF_BYTES
from builder.ui.i18n import message_text

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
IRSSI = EXPORTS / "chat_log" / "irssi_help.log"
HAND_KEPT = EXPORTS / "chat_log" / "support_log.txt"
LINE_READERS = {"whatsapp", "signal", "chat_log"}


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def convs(path: Path, **mapping):
    return [i for i in items(path, **mapping) if i.conversation is not None]


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def sample(path: Path):
    if is_bundle_path(path):
        return bundle_sample(path)
    head = path.read_bytes()[:SNIFF_BYTES]
    encoding = sniff_encoding(path, head)
    return sample_of(path, encoding, head.decode(encoding, errors="replace"))


def test_both_logs_are_detected_as_chat_logs_and_nothing_else_fits() -> None:
    for path in (IRSSI, HAND_KEPT):
        det = detect_format(path)
        assert det.reader == "chat_log"
        assert not [n for n in det.notes if n.key == "also_fits"]
        assert all(c.score < FITS for c in candidates(sample(path)) if c.reader.name != "chat_log")
    scores = {
        p.name: next(c.score for c in candidates(sample(p)) if c.reader.name == "chat_log") for p in (IRSSI, HAND_KEPT)
    }
    assert scores == {"irssi_help.log": 0.85, "support_log.txt": 0.6}  # <nick> is the log's own mark; "name:" less so


def test_irssi_log_with_day_markers_operators_and_client_lines() -> None:
    det = detect_format(IRSSI)
    assert det.fields["operators"] == ["nova"]
    assert [n.key for n in det.notes] == ["log_ops_as_agents"]
    first, second, third = convs(IRSSI)
    assert first.conversation.metadata["started_at"] == "2024-03-05T09:00:00"  # the date from "Log opened"
    assert turns(first)[:2] == [
        ("user", "hi, the desktop app logs me out every few minutes since 4.2"),
        ("assistant", "kestrel: hi! are you on Windows or macOS?"),
    ]
    # Log opened, join, topic, the action "* kestrel waves", the quit: the client's lines, counted.
    assert first.counts == {"messages": 5, "system_lines": 5, "media_only": 0, "dropped": 0}
    # Six hours and more of silence (09:08 -> 15:30) start a new conversation.
    assert second.conversation.metadata["started_at"] == "2024-03-05T15:30:00"
    assert third.conversation.metadata["started_at"] == "2024-03-06T10:12:00"  # from "Day changed"
    assert third.conversation.metadata["speakers"] == {"quill": "user", "marten": "user", "nova": "assistant"}


def test_hand_kept_log_cut_at_blank_lines_past_midnight_and_a_line_with_no_time() -> None:
    det = detect_format(HAND_KEPT)
    assert [n.key for n in det.notes] == ["log_no_dates"]
    found = items(HAND_KEPT)
    assert (found[0].reason, found[0].line) == ("no_timestamp", 4)
    assert found[0].raw == "(pegado del correo: pedido 5581)"
    rosa, iker = (i for i in found if i.conversation is not None)
    assert rosa.conversation.metadata["speakers"] == {"Rosa": "user", "TallerBici": "assistant"}
    assert len(rosa.conversation.messages) == 4
    # 21:32 -> 00:15 is the next day, under three hours later: the same conversation, no fake date kept.
    assert len(iker.conversation.messages) == 8
    assert turns(iker)[-1] == ("assistant", "Sí, a mano; sin herramientas.")
    assert "started_at" not in iker.conversation.metadata
    assert iker.conversation.metadata["speakers_guessed"] is True  # two unknown people: the first to write asks


def test_times_without_dates_still_cut_at_six_hours_of_silence(tmp_path: Path) -> None:
    path = tmp_path / "night.log"
    path.write_text(
        "[22:00] <ana> hi, is the shop open tomorrow?\n[22:05] <shopbot> yes, from 9\n"
        "[09:30] <ana> I came and it was closed!\n[09:31] <shopbot> sorry, we opened at 10 today\n",
        encoding="utf-8",
    )
    first, second = convs(path, agent=["shopbot"])  # 22:05 -> 09:30 the next day: 11 hours
    assert [len(first.conversation.messages), len(second.conversation.messages)] == [2, 2]


def test_the_agent_named_by_the_user_wins_over_operators_and_a_group_without_one_asks(tmp_path: Path) -> None:
    named = convs(IRSSI, agent=["quill"])
    assert named[1].conversation.metadata["speakers"] == {"quill": "assistant", "nova": "user"}
    assert "log_ops_as_agents" not in [n.key for n in detect_format(IRSSI, FieldMapping(agent=["quill"])).notes]
    path = tmp_path / "channel.log"
    path.write_text(IRSSI.read_text(encoding="utf-8").replace("<@nova>", "< nova>"), encoding="utf-8")
    third = items(path)[-1]
    assert third.reason == "agent_unknown"
    assert third.speakers == {"quill": 1, "marten": 2, "nova": 1}


def test_import_report_gives_format_speakers_and_counts() -> None:
    data = import_files([IRSSI, HAND_KEPT], FieldMapping(), min_turns=1, detect_language=False)
    irssi, kept = data.report["files"]
    assert (irssi["format"], irssi["records"], irssi["kept"]) == ("chat_log", 3, 3)
    assert irssi["speakers"] == {"kestrel": 3, "nova": 4, "quill": 3, "marten": 2}
    assert irssi["agents"] == ["nova"]
    assert irssi["counts"] == {"messages": 12, "system_lines": 7, "media_only": 0, "dropped": 0, "messages_kept": 12}
    assert kept["set_aside"] == {"no_timestamp": 1}
    assert kept["counts"]["messages"] == 12 and kept["agent_guessed"] == 2
    assert data.report["kept"] == 5


def test_notes_in_spanish() -> None:
    ops = message_text(Note("log_ops_as_agents", {"nicks": "nova"}), "es")
    assert ops.startswith("nova escritos como operadores del canal (<@apodo>)")
    assert message_text(Note("log_no_dates"), "es").startswith("el registro da horas sin fechas")


# --------------------------------------------------------------------------- every fixture, every line reader

EXPECTED = {"whatsapp": "whatsapp", "signal": "signal", "chat_log": "chat_log"}


def _fixture_inputs() -> list[Path]:
    found = []
    for folder in sorted(p for p in EXPORTS.iterdir() if p.is_dir()):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not any(part in ("workspace", "export", "helpdesk") for part in path.parts[-3:-1]):
                found.append(path)
    return found


@pytest.mark.parametrize("path", _fixture_inputs(), ids=lambda p: str(p.relative_to(EXPORTS)))
def test_no_fixture_of_another_format_is_read_by_a_line_reader_without_a_warning(path: Path) -> None:
    det = detect_format(path)
    own = EXPECTED.get(path.relative_to(EXPORTS).parts[0])
    if own is not None:
        assert det.reader == own
    else:
        assert det.reader not in LINE_READERS
    # Any line reader that fits a file it does not read is named in the report's note.
    fitting = {c.reader.name for c in candidates(sample(path)) if c.score >= FITS} & LINE_READERS
    others = fitting - {det.reader}
    if others:
        also = next(n for n in det.notes if n.key == "also_fits")
        assert all(name in also.values["others"] for name in others)
