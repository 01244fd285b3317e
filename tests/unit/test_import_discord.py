"""DiscordChatExporter JSON: a channel file, a thread file, a folder with ``_threads/`` (fixtures written from the
public format: guild, channel, messages with author objects)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import collect_files, detect_format, read_file
from builder.importers.registry import bundle_sample, candidates

SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "discord" / "acme_server"
CHANNEL = SERVER / "Acme Community - Support - help [905000000000000011].json"
THREAD = SERVER / "_threads" / "Acme Community - help - Login broken [905000000000000021].json"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_a_folder_with_threads_is_one_discord_export() -> None:
    assert collect_files([SERVER]) == [SERVER]
    det = detect_format(SERVER)
    assert det.reader == "discord"
    assert det.fields == {"files": 2}
    scores = {c.reader.name: c.score for c in candidates(bundle_sample(SERVER))}
    assert scores == {"discord": 0.9}  # no other reader claims the folder


def test_a_channel_file_alone_is_discord_with_its_guild_and_channel() -> None:
    det = detect_format(CHANNEL)
    assert det.reader == "discord"
    assert det.fields == {"guild": "Acme Community", "channel": "help"}
    assert det.description.startswith("JSON, Discord export")


def test_channel_is_cut_by_silence_with_system_and_media_counted() -> None:
    first, second = items(CHANNEL)
    # The join is a system line; the screenshot and the sticker are media-only; the reply is a message.
    assert first.counts == {"messages": 3, "system_lines": 1, "media_only": 2, "dropped": 0}
    assert first.speakers == {"Bob": 2, "Diego (Acme)": 1}
    assert turns(first) == [
        ("user", "Hi! Sync fails with error E42 since this morning, screenshot above."),
        ("assistant", "Hi Bob, E42 means the token expired: sign out and in again under Settings → Account."),
        ("user", "That fixed it, thanks!"),
    ]
    assert first.conversation.metadata["speakers_guessed"] is True  # two people: the first to write asks
    assert first.conversation.metadata["channel"] == "help"
    # Seven hours later: three people and no agent known, set aside with the speakers listed.
    assert second.conversation is None and second.reason == "agent_unknown"
    assert second.speakers == {"Luis": 2, "anatorres": 1, "Diego (Acme)": 1}
    assert second.counts["system_lines"] == 1  # the pin


def test_the_agent_named_by_user_name_or_nickname() -> None:
    for name in ("diego.r", "Diego (Acme)"):
        second = items(CHANNEL, agent=[name])[1]
        roles = second.conversation.metadata["speakers"]
        assert set(roles.values()) == {"user", "assistant"}
        assert [s for s, role in roles.items() if role == "assistant"] == [name]
        assert turns(second)[0] == ("user", "Is the <b>desktop app</b> down for anyone else?")  # text kept as written


def test_a_thread_is_one_conversation_and_a_bot_answering_one_person_is_the_agent() -> None:
    (thread,) = items(THREAD)
    meta = thread.conversation.metadata
    assert meta["thread"] is True and meta["parent"] == "help" and meta["channel"] == "Login broken"
    assert meta["speakers"] == {"anatorres": "user", "AcmeBot": "assistant"}
    assert "speakers_guessed" not in meta
    # A reply made of an embed: its title, description and fields are the text; the next day stays in the thread.
    assert turns(thread)[2] == (
        "assistant",
        "Password reset\nCheck the spam folder; resets come from no-reply@acme.example.\n"
        "Still nothing?: Type /ticket and a person will follow up.",
    )
    assert len(thread.conversation.messages) == 5


def test_a_zip_of_the_folder_reads_as_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "discord.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(SERVER.rglob("*.json")):
            zf.write(path, "export/" + path.relative_to(SERVER).as_posix())
    assert detect_format(archive).reader == "discord"
    as_folder = [(i.reason, i.counts, i.conversation and i.conversation.messages) for i in items(SERVER)]
    as_zip = [(i.reason, i.counts, i.conversation and i.conversation.messages) for i in items(archive)]
    assert as_zip == as_folder and len(as_folder) == 3


def test_import_report_gives_format_speakers_and_counts() -> None:
    data = import_files([SERVER], FieldMapping(), min_turns=1, detect_language=False)
    (file,) = data.report["files"]
    assert file["reader"] == "discord"
    assert file["speakers"] == {"anatorres": 4, "Bob": 2, "Diego (Acme)": 2, "Luis": 2, "AcmeBot": 2}
    assert file["counts"]["system_lines"] == 2 and file["counts"]["media_only"] == 2
    assert data.report["kept"] == 2
    assert data.report["quarantine_reasons"] == {"agent_unknown": 1}


def test_a_cut_file_keeps_what_came_before_and_sets_the_break_aside(tmp_path: Path) -> None:
    text = CHANNEL.read_text(encoding="utf-8")
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.index("Works again.")], encoding="utf-8")
    found = items(cut, format="discord")
    assert found[0].conversation is not None
    assert found[-1].reason == "truncated_json" and "cut.json" in found[-1].message


def test_a_message_without_an_author_is_set_aside_with_its_line(tmp_path: Path) -> None:
    doc = json.loads(CHANNEL.read_text(encoding="utf-8"))
    doc["messages"][2] = {"id": "1", "type": "Default", "content": "who?"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    aside = [i for i in items(bad) if i.reason == "bad_turn"]
    assert len(aside) == 1 and aside[0].line is not None and "author" in aside[0].message
