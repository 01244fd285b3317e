"""Slack workspace exports: a folder, a zip built from it, one day file; threads, bots, system lines, streaming."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import collect_files, detect_format, read_file
from builder.importers.registry import bundle_sample, candidates, sample_of

WORKSPACE = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "slack" / "workspace"


def zip_of(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return target


def by_id(path: Path, **mapping) -> dict[str, object]:
    return {
        i.conversation.id if i.conversation else f"aside:{i.line}": i for i in read_file(path, FieldMapping(**mapping))
    }


def test_folder_and_zip_are_claimed_whole_as_slack(tmp_path: Path) -> None:
    archive = zip_of(WORKSPACE, tmp_path / "Acme Slack export.zip", prefix="Acme Slack export Mar 1 2023/")
    assert collect_files([WORKSPACE]) == [WORKSPACE]
    assert collect_files([tmp_path]) == [archive]
    for path in (WORKSPACE, archive):
        det = detect_format(path)
        assert det.reader == "slack"
        assert (det.fields["channels"], det.fields["day_files"]) == (3, 4)


def test_zip_reads_as_the_folder_does(tmp_path: Path) -> None:
    archive = zip_of(WORKSPACE, tmp_path / "export.zip")
    folder = [
        (i.reason, i.counts, i.conversation and i.conversation.messages) for i in read_file(WORKSPACE, FieldMapping())
    ]
    zipped = [
        (i.reason, i.counts, i.conversation and i.conversation.messages) for i in read_file(archive, FieldMapping())
    ]
    assert folder == zipped
    assert len(folder) == 7


def test_a_thread_across_two_days_is_one_conversation_with_names_and_links() -> None:
    thread = by_id(WORKSPACE)["general:1677661200.000100"]
    assert [(m.role, m.content) for m in thread.conversation.messages] == [
        ("user", "How do I export my invoices as CSV? The button is greyed out & nothing happens."),
        (
            "assistant",
            "Hi @Bob Lee! Exports need the Admin role: see the roles page (https://acme.example/docs/roles).",
        ),
        ("user", "Got the role, the export works now. Thanks!"),
    ]
    assert thread.conversation.metadata["thread"] is True
    assert thread.conversation.metadata["channel"] == "#general"


def test_channel_messages_outside_threads_are_cut_by_silence_with_system_and_media_counted() -> None:
    found = by_id(WORKSPACE)
    morning = found["general:1677660900.000000"]  # the join, a screenshot, a question and its answer
    assert morning.counts == {"messages": 2, "system_lines": 1, "media_only": 1, "dropped": 0}
    assert morning.speakers == {"Ana Torres": 1, "Diego Ramos": 1}
    status = found["general:1677708000.000000"]  # 10 hours later: a bot post whose text is in its attachments
    assert status.conversation.messages[0].content == (
        "Scheduled maintenance\nSaturday 02:00-03:00 UTC, exports will be paused."
    )
    assert found["general:1677772800.000000"].counts["system_lines"] == 1  # a pin


def test_bot_answering_a_thread_is_the_agent_by_its_name() -> None:
    thread = by_id(WORKSPACE)["soporte:1677682800.000300"]
    assert thread.conversation.metadata["speakers"] == {"Ana Torres": "user", "Acme Help Bot": "assistant"}
    assert thread.conversation.messages[1].content == (
        "Respuesta automática\nVe a Ajustes → Seguridad → Cambiar contraseña."
    )


def test_three_people_in_a_thread_need_the_agent_named() -> None:
    aside = [i for i in read_file(WORKSPACE, FieldMapping()) if i.conversation is None]
    assert [i.reason for i in aside] == ["agent_unknown"]
    assert aside[0].speakers == {"Luis Vega": 2, "Ana Torres": 1, "Diego Ramos": 1}
    named = by_id(WORKSPACE, agent=["Diego Ramos"])["soporte:1677691800.000400"]
    roles = named.conversation.metadata["speakers"]
    assert roles == {"Luis Vega": "user", "Ana Torres": "user", "Diego Ramos": "assistant"}


def test_direct_messages_of_two_people_guess_the_asker_as_customer() -> None:
    dm = by_id(WORKSPACE)["D0BOBDIEGO:1677841200.000000"]
    assert dm.conversation.metadata["speakers"] == {"Bob Lee": "user", "Diego Ramos": "assistant"}
    assert dm.conversation.metadata["speakers_guessed"] is True
    assert dm.conversation.metadata["channel"] == "DM: Bob Lee, Diego Ramos"


def test_slack_wins_over_the_generic_json_reader_for_a_day_file() -> None:
    day = WORKSPACE / "general" / "2023-03-01.json"
    text = day.read_text(encoding="utf-8")
    scores = {c.reader.name: c.score for c in candidates(sample_of(day, "utf-8", text))}
    assert scores["slack"] > scores["json"]
    det = detect_format(day)
    assert det.reader == "slack"
    found = list(read_file(day, FieldMapping()))
    # users.json two folders up gives the names; the thread's last reply is in the next day's file.
    thread = next(i for i in found if i.conversation and i.conversation.metadata["thread"])
    assert thread.speakers == {"Bob Lee": 1, "Diego Ramos": 1}


def test_import_report(tmp_path: Path) -> None:
    data = import_files(
        [zip_of(WORKSPACE, tmp_path / "export.zip")], FieldMapping(), min_turns=1, detect_language=False
    )
    # 6 conversations; the status bot alone has no agent reply; the three-person thread has no known agent.
    assert data.report["kept"] == 5
    assert data.report["quarantine_reasons"] == {"agent_unknown": 1, "no_agent_reply": 1}


def test_other_bundles_are_not_slack(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.json").write_text("[]", encoding="utf-8")
    assert all(c.reader.name != "slack" for c in candidates(bundle_sample(tmp_path)))


def test_a_large_zip_streams_one_member_at_a_time(tmp_path: Path) -> None:
    archive = tmp_path / "big.zip"
    users = [{"id": f"U{n}", "name": f"user{n}", "real_name": f"User {n}"} for n in range(2)]
    day_bytes = 0
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.json", json.dumps(users))
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "help"}]))
        for day in range(150):
            base = 1_600_000_000 + day * 86_400
            messages = [
                {
                    "type": "message",
                    "user": f"U{n % 2}",
                    "ts": f"{base + n * 60}.000000",
                    "text": f"{day}/{n} " + "y" * 900,
                }
                for n in range(40)
            ]
            data = json.dumps(messages, indent=4)
            day_bytes += len(data)
            zf.writestr(f"help/{2020 + day // 365}-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}.json", data)
    det = detect_format(archive)
    tracemalloc.start()
    try:
        messages = 0
        for item in read_file(archive, FieldMapping(), det):
            messages += item.counts["messages"] if item.counts else 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert messages == 150 * 40
    assert day_bytes > 5_000_000
    assert peak < day_bytes / 8  # one day file (and one conversation) at a time, never the whole export
