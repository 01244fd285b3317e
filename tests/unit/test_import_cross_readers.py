"""Every fixture export against every registered reader: only its own reader is sure of it, the detector takes that
reader, and any other reader that fits is named in the file's notes (issue 26: no file of another format is read as
one of these without a warning). Fixtures: every file and folder under tests/fixtures/exports/."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import collect_files, detect_format, registry
from builder.importers.encoding import sniff_encoding
from builder.importers.registry import FITS, bundle_sample, candidates, is_bundle_path, readers, sample_of
from builder.importers.types import SNIFF_BYTES

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
# The fixture folder of each format -> the reader that must take its files (the generic JSON reader for datasets).
OWN_READER = {
    "chat_log": "chat_log",
    "chatgpt_export": "chatgpt_export",
    "discord": "discord",
    "freshdesk": "freshdesk",
    "intercom": "intercom",
    "messenger": "messenger",
    "openai_parts": "json",
    "sharegpt_tools": "json",
    "signal": "signal",
    "slack": "slack",
    "telegram": "telegram",
    "whatsapp": "whatsapp",
    "zendesk": "zendesk",
}
# Files of an export that are not conversations on their own (a workspace's user list, a page of the export):
# no format reader may be sure of them.
COMPANIONS = {
    "chatgpt_export/export/chat.html",
    "chatgpt_export/export/user.json",
    "slack/workspace/users.json",
    "slack/workspace/channels.json",
    "slack/workspace/groups.json",
    "slack/workspace/dms.json",
    "slack/workspace/mpims.json",
}
GENERIC = {"json", "csv", "transcript"}
# Known overlaps, to be narrowed by the readers' owners (none now: signal-export's Markdown lines
# ``[2024-03-02 10:15:30] Me: text`` are left to Signal by the chat-log and WhatsApp readers, which stay below FITS).
ALSO_SURE: dict[str, set[str]] = {}


def _sample(path: Path):
    if is_bundle_path(path):
        return bundle_sample(path)
    head = path.read_bytes()[:SNIFF_BYTES]
    encoding = sniff_encoding(path, head) or "utf-8"
    return sample_of(path, encoding, head.decode(encoding, errors="replace"))


def _scores(path: Path) -> dict[str, float]:
    return {c.reader.name: c.score for c in candidates(_sample(path))}


def _format_of(path: Path) -> str:
    return path.relative_to(EXPORTS).parts[0]


FILES = sorted(p for p in EXPORTS.rglob("*") if p.is_file())
INPUTS = [i for folder in sorted(p for p in EXPORTS.iterdir() if p.is_dir()) for i in collect_files([folder])]


def test_every_fixture_folder_has_its_reader_registered() -> None:
    names = {r.name for r in readers()}
    folders = {p.name for p in EXPORTS.iterdir() if p.is_dir()}
    assert folders <= set(OWN_READER)
    assert {OWN_READER[folder] for folder in folders} <= names


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.relative_to(EXPORTS).as_posix())
def test_each_export_is_taken_by_its_own_reader_and_no_other_is_sure(path: Path) -> None:
    own = OWN_READER[_format_of(path)]
    scores = _scores(path)
    det = detect_format(path)
    assert det.reader == own
    sure = {name for name, score in scores.items() if score >= FITS}
    rel = path.relative_to(EXPORTS).as_posix()
    assert sure - {own} == ALSO_SURE.get(rel, set()), f"{rel}: also sure {sorted(sure - {own})} ({scores})"
    assert own in sure or own in GENERIC, scores
    # Whatever else fits is said in the notes (and the report's file entry carries the notes).
    named = " ".join(str(note) for note in det.notes if note.key in ("also_fits", "reader_fell_back"))
    assert all(name in named for name in sure - {own})


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(EXPORTS).as_posix())
def test_each_file_alone_is_sure_only_for_its_own_reader(path: Path) -> None:
    """A file given alone (a day file of Slack, a thread file of Discord, one message_N.json)."""
    rel = path.relative_to(EXPORTS).as_posix()
    scores = _scores(path)
    sure = {name for name, score in scores.items() if score >= FITS}
    if rel in COMPANIONS:
        assert not sure - GENERIC, f"{rel}: a companion file claimed by {sure}"
        return
    own = OWN_READER[_format_of(path)]
    det = detect_format(path)
    assert det.reader == own
    assert sure - {own} == ALSO_SURE.get(rel, set()), f"{rel}: also sure {sorted(sure - {own})} ({scores})"
    named = " ".join(str(note) for note in det.notes if note.key in ("also_fits", "reader_fell_back"))
    assert all(name in named for name in sure - {own}), f"{rel}: {sure - {own}} fit and are not named: {named!r}"


def test_a_folder_of_every_export_gives_each_export_to_its_own_reader(tmp_path: Path) -> None:
    """Exports side by side in one folder: none is claimed whole by the reader of another (a Slack or Messenger folder
    must not swallow a WhatsApp chat beside it)."""
    mixed = tmp_path / "exports"
    shutil.copytree(EXPORTS, mixed)
    found = collect_files([mixed])
    assert [p.relative_to(mixed) for p in found] == [p.relative_to(EXPORTS) for p in INPUTS]
    for path in found:
        assert detect_format(path).reader == OWN_READER[path.relative_to(mixed).parts[0]]


@pytest.mark.parametrize("name", ["discord", "messenger", "slack"])
def test_a_bundle_with_a_foreign_data_file_is_not_claimed_whole(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    shutil.copytree(EXPORTS / name, folder)
    shutil.copy(EXPORTS / "whatsapp" / "ios_en.txt", folder / "chat.txt")
    assert all(score < FITS for score in _scores(folder).values())
    inputs = collect_files([folder])
    assert folder / "chat.txt" in inputs and folder not in inputs
    assert detect_format(folder / "chat.txt").reader == "whatsapp"


def test_two_fitting_readers_are_named_in_the_report(tmp_path: Path) -> None:
    """A zip holding a Slack workspace and a Messenger inbox: Slack is sure, Messenger sees threads there too; the
    report says which was taken and names the other."""
    archive = tmp_path / "both.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("slack", "messenger"):
            for path in sorted((EXPORTS / name).rglob("*.json")):
                zf.write(path, path.relative_to(EXPORTS).as_posix())
    scores = _scores(archive)
    assert scores["slack"] >= FITS and 0 < scores["messenger"] < FITS
    data = import_files([archive], FieldMapping(), min_turns=1, detect_language=False)
    (file,) = data.report["files"]
    notes = [note for note in file["notes"] if note["key"] == "also_fits"]
    assert file["reader"] == "slack" and notes and "messenger" in notes[0]["values"]["others"]


def test_on_a_tie_a_format_specific_reader_wins_over_a_generic_one(monkeypatch) -> None:
    class Generic:
        name, title, generic = "any_text", "Any text", True

        def sniff(self, sample) -> float:
            return 0.6

    class Specific:
        name, title = "some_app", "Some app"

        def sniff(self, sample) -> float:
            return 0.6

    # The generic one registered first: registration order alone would pick it.
    monkeypatch.setattr(registry, "_READERS", [Generic(), Specific()])
    assert [c.reader.name for c in registry.candidates(object())] == ["some_app", "any_text"]
