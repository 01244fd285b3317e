"""The Data tab offers every mapping key the CLI has, labelled in English and Spanish, and imports with them.

The import is driven through the app's own API with the Gradio client, against the real app served
in this process on a free loopback port.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from builder.data.cli import build_parser
from builder.importers import MAPPING_KEYS
from builder.ui.data_tab import MAPPING_ROWS
from builder.ui.i18n import STRINGS

NAMES = [key.name for key in MAPPING_KEYS]


def test_every_mapping_key_has_one_field_and_a_label_in_both_languages() -> None:
    assert {"id_field", "prompt_field", "response_field", "system_field", "header", "delimiter", "encoding"} <= set(
        NAMES
    )
    placed = [name for row in MAPPING_ROWS for name in row]
    assert sorted(placed) == sorted(NAMES)  # each key exactly once
    for name in NAMES:
        english, spanish = STRINGS["en"][name], STRINGS["es"][name]
        assert english and spanish and english != spanish, name


def test_the_cli_has_an_option_for_every_key_of_the_tab() -> None:
    options = {action.dest for action in build_parser()._subparsers._group_actions[0].choices["import"]._actions}
    assert set(NAMES) <= options


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    from builder.ui import build_app

    runs = tmp_path_factory.mktemp("runs")
    demo, _ = build_app(runs)
    _, url, _ = demo.launch(
        server_name="127.0.0.1",
        server_port=_free_port(),
        prevent_thread_lock=True,
        quiet=True,
        allowed_paths=[str(runs)],
    )
    yield url
    demo.close()


def test_a_headerless_file_imports_with_the_mapping_typed_in_the_tab(app_url: str, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    # Id, reply, question: no header, and not in the order detection would guess.
    src = tmp_path / "tickets.tsv"
    rows = [
        ("T-1", "It ships on Monday.", "Where is my order?"),
        ("T-2", "Yes, until it leaves the warehouse.", "Can I change the colour of my lamp?"),
        ("T-3", "Sí, en 5 días laborables.", "¿Enviáis a Canarias?"),
    ]
    src.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    client = Client(app_url, verbose=False)
    client.predict([handle_file(str(src))], "en", api_name="/take_uploads")
    form = dict.fromkeys(NAMES, "")
    form.update(format="auto", header="no", delimiter="tab", id_field="0", response_field="1", prompt_field="2")
    result = client.predict(*[form[name] for name in NAMES], "en", api_name="/do_import")
    files_md, report_md, _advice, _slider, preview, _quarantine = result
    assert "3 conversations ready" in report_md and "kept: 3" in report_md, report_md
    assert "prompt=2, response=1" in files_md and "no header" in files_md
    texts = [part["text"] for m in preview for part in m["content"]]  # Gradio 6 sends content as parts
    assert texts[:2] == ["Where is my order?", "It ships on Monday."]
    # A value that cannot be used names its key instead of failing silently.
    form["delimiter"] = "::"
    files_md, *_ = client.predict(*[form[name] for name in NAMES], "en", api_name="/do_import")
    assert "delimiter: delimiter must be one character" in files_md


def test_columns_read_wrong_are_flagged_in_the_tab(app_url: str, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    src = tmp_path / "chats.csv"
    rows = [f"c{i},{role},{text} {i},2026-03-0{i} 10:00" for i in range(1, 6) for role, text in
            (("cliente", "Hola: mi pedido no llegó"), ("agente", "Lo siento: sale hoy"))]  # fmt: skip
    src.write_text("id_conversacion,rol,mensaje,fecha\n" + "\n".join(rows) + "\n", encoding="utf-8")
    client = Client(app_url, verbose=False)
    files_md, *shown = client.predict([handle_file(str(src))], "es", api_name="/take_uploads")
    # The fields, then the previous import's report, advice, slider, preview and table, cleared.
    form_shown, (report, advice, _slider, preview, _table) = shown[: len(NAMES)], shown[len(NAMES) :]
    assert (report, advice, preview) == ("", "", [])
    # The page is in Spanish here, and so is the description of the format.
    assert "una fila por mensaje" in files_md and "role=rol" in files_md
    # The form starts afresh (the speaker pickers hold lists of names).
    assert form_shown == [("auto" if key.choices else [] if key.kind == "names" else "") for key in MAPPING_KEYS]
    form = dict.fromkeys(NAMES, "")
    form.update(format="auto", header="auto", prompt_field="id_conversacion", response_field="rol")
    _files, _report, advice, *_ = client.predict(*[form[name] for name in NAMES], "es", api_name="/do_import")
    # The importer's warning about the file, in the page's language too.
    assert "solo ids o palabras de rol" in advice and "probablemente se leyeron mal" in advice, advice
    assert "chats.csv" in advice and "leídas como prompt=id_conversacion, response=rol" in advice, advice
    assert "probably misread" not in advice


def test_a_sample_fills_the_form_with_its_recipes_mapping(app_url: str) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    files_md, *shown = client.predict("translation", "en", api_name="/choose_sample")
    form_shown = shown[: len(NAMES)]
    form = dict(zip(NAMES, form_shown, strict=True))
    assert (form["prompt_field"], form["response_field"], form["header"]) == ("0", "1", "no")
    assert "support_phrases_en_es.tsv" in files_md and "no header" in files_md
    _files, report_md, *_ = client.predict(*form_shown, "en", api_name="/do_import")
    assert "conversations ready" in report_md and "- quarantined: 0" in report_md
