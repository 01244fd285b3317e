"""`python -m builder.data import`: outputs, report, quarantine, exit codes; messy files lose nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.config.recipe import FieldMapping, recipe_from_dict
from builder.data import DataError, import_files, main, prepare_conversations, quarantine_path

ROOT = Path(__file__).resolve().parents[2]
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} is absent")


def chat(user: str, agent: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": agent}]}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def balanced(report: dict) -> bool:
    return report["seen"] == report["kept"] + report["quarantined"] + report["duplicates"]


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder of awkward files, each with a known number of usable and unusable records."""
    d = tmp_path / "messy"
    d.mkdir()
    good = [
        chat("Where is my order?", "It ships on Monday."),
        chat("Can I change the colour of the lamp I bought?", "Yes, until it leaves the warehouse."),
        chat("cut", "off"),
    ]
    # truncated JSON list: two complete dialogues, then the cut
    text = json.dumps(good, indent=1)
    (d / "a_truncated.json").write_text(text[: text.rindex("cut") + 2], encoding="utf-8")
    (d / "b_junk.txt").write_bytes(bytes(range(256)) * 40)  # binary junk
    (d / "c_empty.jsonl").write_text("", encoding="utf-8")
    mixed = [
        json.dumps(chat("Hi, do you ship to Lisbon?", "Yes, in 3 days.")),
        json.dumps(
            {"conversations": [{"from": "human", "value": "Hola"}, {"from": "gpt", "value": "¡Hola! ¿Qué tal?"}]}
        ),
        "{not json at all",
        json.dumps({"something": "else"}),
        json.dumps(chat("Only a question", "")),
        json.dumps(chat("A" * 5_000_000, "a 5 MB line")),
    ]
    (d / "d_mixed.jsonl").write_text("\n".join(mixed) + "\n", encoding="utf-8")
    (d / "e_bom.csv").write_bytes(b"\xef\xbb\xbfquestion,answer\nCan I pay by card?,Yes.\n")
    (d / "f_utf16.tsv").write_text("question\tanswer\n¿Puedo pagar con tarjeta?\tSí, claro.\n", encoding="utf-16")
    (d / "g_latin1.csv").write_bytes("pregunta;respuesta\n¿Envío a Canarias?;Sí, en 5 días.\n".encode("latin-1"))
    return d


def test_messy_folder_imports_with_clear_reasons_and_loses_nothing(messy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "clean.jsonl"
    report_path = tmp_path / "out" / "report.json"
    code = main(["import", str(messy), "--out", str(out), "--report", str(report_path)])
    assert code == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    kept, aside = read_jsonl(out), read_jsonl(quarantine_path(out))
    assert balanced(report)
    assert report["kept"] == len(kept) == 2 + 2 + 3  # truncated JSON 2, mixed 2, one per CSV/TSV
    assert len(aside) == report["quarantined"] + report["duplicates"]
    reasons = report["quarantine_reasons"]
    assert reasons == {
        "truncated_json": 1,
        "binary_file": 1,
        "invalid_json": 1,
        "unknown_shape": 1,
        "no_agent_reply": 1,
        "too_long": 1,
    }
    by_reason = {e["reason"]: e for e in aside}
    assert by_reason["invalid_json"]["file"].endswith("d_mixed.jsonl") and by_reason["invalid_json"]["line"] == 3
    assert by_reason["too_long"]["line"] == 6 and len(by_reason["too_long"]["record"]) < 2000
    assert "messages_field" in by_reason["unknown_shape"]["message"]
    assert any("empty" in w for w in report["warnings"])
    assert any("several shapes" in w for w in report["warnings"])
    encodings = {Path(f["path"]).name: f["encoding"] for f in report["files"]}
    assert encodings["e_bom.csv"] == "utf-8-sig" and encodings["f_utf16.tsv"] == "utf-16"
    assert encodings["g_latin1.csv"] == "cp1252"
    texts = {m["content"] for r in kept for m in r["messages"]}
    assert {"¿Puedo pagar con tarjeta?", "¿Envío a Canarias?", "¡Hola! ¿Qué tal?"} <= texts
    assert all(r["metadata"]["source"] and r["metadata"]["line"] and r["metadata"]["language"] for r in kept)


def test_cli_runs_as_a_module_without_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\x00\x01\x02garbage" * 100)
    proc = subprocess.run(
        [sys.executable, "-m", "builder.data", "import", str(junk), "--out", str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 1  # nothing could be kept
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "kept 0" in proc.stdout and "binary" in (tmp_path / "o.quarantine.jsonl").read_text()


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "a.jsonl"
    good.write_text(json.dumps(chat("q", "a")) + "\n", encoding="utf-8")
    assert main(["import", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert main(["import", str(good), "--out", str(tmp_path / "o.jsonl"), "--role-map", "USER"]) == 2
    assert "should look like SOURCE=user" in capsys.readouterr().err
    assert main(["import", str(good)]) == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["import", str(good), "--format", "xml", "--out", "o.jsonl"])
    assert exit_info.value.code == 2


def test_dry_run_writes_nothing_and_prints_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "chats.jsonl"
    src.write_text(json.dumps(chat("Where is my parcel?", "It arrives tomorrow.")) + "\n", encoding="utf-8")
    assert main(["import", str(src), "--out", str(tmp_path / "o.jsonl"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "kept 1" in printed and "retrieval recipe" in printed
    assert not (tmp_path / "o.jsonl").exists()


def test_mapping_options_import_an_unknown_dialogue_shape(tmp_path: Path) -> None:
    rows = [
        {
            "session": f"s{i}",
            "events": [{"actor": "CLIENT", "says": "Hola, ¿y mi pedido?"}, {"actor": "REP", "says": "Llega hoy."}],
        }
        for i in range(50)
    ]
    src = tmp_path / "exotic.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    args = ["import", str(src), "--out", str(out), "--no-dedupe", "--messages-field", "events"]
    args += [
        "--role-field",
        "actor",
        "--content-field",
        "says",
        "--id-field",
        "session",
        "--role-map",
        "CLIENT=user,REP=assistant",
    ]
    assert main(args) == 0
    kept = read_jsonl(out)
    assert len(kept) == 50 and kept[0]["metadata"]["id"] == "s0" and kept[0]["metadata"]["language"] == "es"


def test_dedupe_and_redaction_switches(tmp_path: Path) -> None:
    src = tmp_path / "dupes.jsonl"
    line = json.dumps(chat("My email is ana@example.com", "Thanks, noted.")) + "\n"
    src.write_text(line * 3, encoding="utf-8")
    on = import_files([src], FieldMapping())
    assert (on.report["kept"], on.report["duplicates"], on.report["redactions"]) == (1, 2, {"EMAIL": 1})
    assert on.quarantine[0]["reason"] == "duplicate" and on.quarantine[0]["duplicate_of"].endswith(":1")
    off = import_files([src], FieldMapping(), dedupe=False, redact_pii=False)
    assert off.report["kept"] == 3 and "ana@example.com" in off.conversations[0].messages[0].content
    assert balanced(on.report) and balanced(off.report)


def test_results_repeat(messy: Path) -> None:
    first = import_files([messy], FieldMapping())
    second = import_files([messy], FieldMapping())
    assert [c.to_openai() for c in first.conversations] == [c.to_openai() for c in second.conversations]
    assert first.report == second.report


def test_prepare_conversations_from_a_recipe(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "b.csv").write_text("question,answer\nHow long is shipping?,Two days.\n", encoding="utf-8")
    (data / "a.jsonl").write_text(json.dumps(chat("Do you ship to Mexico?", "Yes.")) + "\n", encoding="utf-8")
    recipe = recipe_from_dict({"data": {"train": "data", "max_conversations": 5}}, base_dir=tmp_path)
    prepared = prepare_conversations(recipe)
    assert [c.source.endswith(n) for c, n in zip(prepared.conversations, ("a.jsonl", "b.csv"), strict=True)]
    assert prepared.report["kept"] == 2 and "warnings" in prepared.report
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(DataError, match="no supported data file"):
        prepare_conversations(recipe_from_dict({"data": {"train": "nothing"}}, base_dir=tmp_path))
    with pytest.raises(DataError, match="not found"):
        prepare_conversations(recipe_from_dict({"data": {"train": "nope.jsonl"}}, base_dir=tmp_path))


@needs_real
def test_real_bitext_import_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "bitext.jsonl"
    assert main(["import", str(REAL / "support" / "bitext_customer_support.csv"), "--out", str(out)]) == 0
    report = json.loads(out.with_name("bitext.report.json").read_text(encoding="utf-8"))
    assert balanced(report) and report["seen"] == 4514
    assert report["kept"] >= 4450 and report["quarantined"] == 0
    assert report["languages"].get("en", 0) >= 0.97 * report["kept"]
    first = read_jsonl(out)[0]
    assert first["metadata"]["intent"] == "cancel_order" and first["messages"][0]["role"] == "user"
    assert "113542617735902" in first["messages"][0]["content"]  # an order number is not a card number


def test_a_valid_line_after_an_over_long_first_line_is_kept(tmp_path: Path) -> None:
    src = tmp_path / "long_first.jsonl"
    lines = [
        json.dumps(chat("A" * 5_000_000, "a 5 MB line")),
        json.dumps(chat("Where is my order?", "It ships today.")),
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepared = import_files([src], FieldMapping())
    assert balanced(prepared.report) and prepared.report["kept"] == 1
    assert prepared.report["quarantine_reasons"] == {"too_long": 1}
    assert prepared.conversations[0].line == 2 and prepared.quarantine[0]["line"] == 1


def test_one_binary_line_among_conversations_is_quarantined_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "two_and_junk.jsonl"
    good = [
        json.dumps(chat("¿Dónde está mi pedido?", "Llega mañana.")).encode(),
        json.dumps(chat("Hi", "Hello!")).encode(),
    ]
    src.write_bytes(good[0] + b"\n" + bytes(range(10)) + bytes(range(14, 256)) + b"\n" + good[1] + b"\n")
    out = tmp_path / "o.jsonl"
    assert main(["import", str(src), "--out", str(out)]) == 0
    report = json.loads(out.with_name("o.report.json").read_text(encoding="utf-8"))
    assert balanced(report) and (report["seen"], report["kept"]) == (3, 2)
    assert report["quarantine_reasons"] == {"binary_line": 1}
    (aside,) = read_jsonl(quarantine_path(out))
    assert aside["line"] == 2 and "line 2" in aside["message"] and aside["file"] == str(src)
    assert read_jsonl(out)[0]["messages"][0]["content"] == "¿Dónde está mi pedido?"


SPANISH_MESSAGES = "id_conversacion,rol,mensaje,fecha\n" + "".join(
    f"c{i},cliente,Hola: mi pedido {i} no ha llegado,2026-03-0{i} 10:00\n"
    f"c{i},agente,Lo siento: el pedido {i} sale hoy,2026-03-0{i} 10:05\n"
    for i in range(1, 6)
)


def test_columns_read_wrong_give_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "chats.csv"
    src.write_text(SPANISH_MESSAGES, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["import", str(src), "--out", str(out), "--no-dedupe"]) == 0  # detected as one row per message
    report = json.loads(out.with_name("o.report.json").read_text(encoding="utf-8"))
    assert report["kept"] == 5 and report["files"][0]["format"] == "csv_messages"
    assert not any("ids or role words" in w for w in report["warnings"])
    capsys.readouterr()
    # Read as one row per exchange, the turns are ids and role words: said on the terminal and in the report.
    for wrong in (["--prompt-field", "id_conversacion", "--response-field", "rol"], ["--format", "csv_pairs"]):
        main(["import", str(src), "--out", str(out), "--no-dedupe", *wrong])
        printed = capsys.readouterr().out
        assert "warning:" in printed and "ids or role words" in printed and "chats.csv" in printed
        report = json.loads(out.with_name("o.report.json").read_text(encoding="utf-8"))
        assert any("probably misread" in w for w in report["warnings"])


def test_labels_and_short_replies_are_not_taken_for_misread_columns(tmp_path: Path) -> None:
    src = tmp_path / "reviews.csv"
    rows = [f"The lamp number {i} is {'great' if i % 2 else 'awful'},{i % 2}" for i in range(30)]
    src.write_text("sentence,score\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = import_files([src], FieldMapping(), dedupe=False).report
    assert report["kept"] == 30 and not any("misread" in w for w in report["warnings"])


@pytest.mark.parametrize("target", ["/proc/unwritable.jsonl", "a_file.txt/out.jsonl", "report"])
def test_an_output_that_cannot_be_written_is_one_line_exit_2(tmp_path: Path, target: str) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps(chat("Where is my parcel?", "It arrives tomorrow.")) + "\n", encoding="utf-8")
    (tmp_path / "a_file.txt").write_text("not a folder", encoding="utf-8")
    out = tmp_path / "o.jsonl" if target == "report" else Path(target if target.startswith("/") else tmp_path / target)
    extra = ["--report", "/proc/report.json"] if target == "report" else []
    proc = subprocess.run(
        [sys.executable, "-m", "builder.data", "import", str(src), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    named = "/proc/report.json" if target == "report" else str(out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: cannot write {named}: ") and proc.stderr.count("\n") == 1
    assert not list(tmp_path.glob(".o.jsonl.*"))  # no temporary file left behind
