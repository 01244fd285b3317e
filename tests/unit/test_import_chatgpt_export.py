"""ChatGPT data export: the path to current_node (not the abandoned branch), hidden and tool messages counted
and left out, image parts as media, the export's folder and zip read through their conversations.json."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from builder.config.recipe import FieldMapping
from builder.data import import_files
from builder.importers import collect_files, detect_format, read_file
from builder.importers.formats.chatgpt_export import path_to

EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "exports" / "chatgpt_export" / "export"
CONVERSATIONS = EXPORT / "conversations.json"


def items(path: Path, **mapping):
    return list(read_file(path, FieldMapping(**mapping)))


def turns(item) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in item.conversation.messages]


def test_detection_of_the_file_the_folder_and_the_zip(tmp_path: Path) -> None:
    assert detect_format(CONVERSATIONS).reader == "chatgpt_export"
    assert detect_format(EXPORT).reader == "chatgpt_export"
    assert collect_files([EXPORT]) == [EXPORT]  # the export folder is one input
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in EXPORT.iterdir():
            zf.write(path, path.name)
    assert detect_format(archive).reader == "chatgpt_export"
    assert [turns(i) for i in items(archive)] == [turns(i) for i in items(CONVERSATIONS)]


def test_the_path_to_current_node_is_read_not_the_abandoned_branch() -> None:
    claim = items(CONVERSATIONS)[0]
    assert claim.conversation.id == "6650aa01-0001"
    assert turns(claim) == [
        ("user", "¿Cómo escribo una carta de reclamación por un vuelo retrasado?"),
        ("assistant", "Indica el número de vuelo, la fecha, el retraso sufrido y la compensación que pides según el "
         "Reglamento 261/2004."),
        ("user", "Esta es la tarjeta de embarque: ¿qué datos pongo?"),
        ("assistant", "Pon el código de reserva (ABC123), el número de vuelo IB3456 y la fecha del 2 de junio."),
    ]  # fmt: skip
    assert "rama abandonada" not in json.dumps(turns(claim), ensure_ascii=False)
    # The hidden empty system message is a system line; the image beside text leaves the text.
    assert claim.counts == {"messages": 4, "system_lines": 1, "media_only": 0, "dropped": 0}
    assert claim.conversation.metadata["title"] == "Carta de reclamación"


def test_tool_traffic_reasoning_and_images_are_counted_not_turns() -> None:
    maths = items(CONVERSATIONS)[1]
    assert turns(maths) == [
        ("user", "What is 17.5% of 2,340 euros?"),
        ("assistant", "17.5% of 2,340 euros is **409.50 euros**."),
        ("assistant", "That receipt shows the same total, 2,340 euros."),
    ]
    assert maths.counts == {
        "messages": 3, "system_lines": 2, "media_only": 1, "dropped": 0, "tool_calls": 1, "tool_results": 1,
    }  # fmt: skip


def test_without_current_node_the_last_branch_is_read() -> None:
    greeting = items(CONVERSATIONS)[2]
    assert turns(greeting) == [("user", "Hola"), ("assistant", "¡Hola! ¿En qué te ayudo?")]
    assert greeting.conversation.metadata["current_node"].startswith("missing")
    tree = {
        "mapping": {
            "r": {"id": "r", "parent": None, "children": ["a", "b"], "message": None},
            "a": {"id": "a", "parent": "r", "children": [], "message": None},
            "b": {"id": "b", "parent": "r", "children": [], "message": None},
        },
        "current_node": "a",
    }
    assert [n["id"] for n in path_to(tree)] == ["r", "a"]
    tree["current_node"] = None
    assert [n["id"] for n in path_to(tree)] == ["r", "b"]


def test_names_of_agents_for_other_files_do_not_change_the_roles() -> None:
    found = items(CONVERSATIONS, agent=["Tienda Sol"])
    assert [m.role for m in found[0].conversation.messages] == ["user", "assistant", "user", "assistant"]


def test_a_truncated_export_keeps_what_came_before_the_cut(tmp_path: Path) -> None:
    text = CONVERSATIONS.read_text(encoding="utf-8")
    cut = tmp_path / "conversations.json"
    cut.write_text(text[: text.index('{"title": "Saludo"') + 40], encoding="utf-8")
    found = items(cut, format="chatgpt_export")
    assert [i.conversation.id if i.conversation else i.reason for i in found] == [
        "6650aa01-0001", "6650aa01-0002", "truncated_json",
    ]  # fmt: skip


def test_import_report() -> None:
    report = import_files([EXPORT], min_turns=1).report
    assert report["kept"] == 3
    assert report["quarantined"] == 0
    assert report["files"][0]["reader"] == "chatgpt_export"
