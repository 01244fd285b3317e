"""Format detection and readers, on files written here in each shape, and on the real data beside the project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.importers import DataError, detect_format, read_file
from builder.recipe import FieldMapping

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} is absent")


def read(path: Path, **mapping):
    m = FieldMapping(**mapping)
    items = list(read_file(path, m))
    convs = [i.conversation for i in items if i.conversation is not None]
    problems = [i for i in items if i.conversation is None]
    return convs, problems


def roles(conv) -> list[str]:
    return [m.role for m in conv.messages]


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- JSON shapes


def test_openai_jsonl_with_content_parts(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "chats.jsonl",
        [
            {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "Where is"}, {"type": "text", "text": "it?"}],
                    },
                    {"role": "assistant", "content": "On its way."},
                ],
                "id": "c2",
                "topic": "shipping",
            },
        ],
    )
    det = detect_format(path)
    assert (det.format, det.container) == ("openai", "jsonl")
    assert "JSONL, OpenAI chat messages" in det.description
    convs, problems = read(path)
    assert not problems
    assert roles(convs[1]) == ["system", "user", "assistant"]
    assert convs[1].messages[1].content == "Where is\nit?"
    assert convs[1].id == "c2" and convs[1].metadata["topic"] == "shipping"
    assert (convs[0].source, convs[0].line, convs[1].line) == (str(path), 1, 2)


def test_our_own_output_reimports_with_its_metadata(tmp_path: Path) -> None:
    record = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        "metadata": {"id": "en-0001", "source": "old.csv", "line": 4, "language": "en", "satisfaction": 5},
    }
    convs, _ = read(write_jsonl(tmp_path / "clean.jsonl", [record]))
    assert convs[0].id == "en-0001"
    assert convs[0].metadata == {"language": "en", "satisfaction": 5}


def test_sharegpt_json_and_jsonl(tmp_path: Path) -> None:
    record = {
        "id": "s1",
        "conversations": [
            {"from": "system", "value": "You help customers."},
            {"from": "human", "value": "¿Tenéis envío a Portugal?"},
            {"from": "gpt", "value": "Sí, en 3-5 días."},
        ],
    }
    as_json = tmp_path / "share.json"
    as_json.write_text(json.dumps([record, record], indent=2, ensure_ascii=False), encoding="utf-8")
    as_jsonl = write_jsonl(tmp_path / "share.jsonl", [record])
    for path, container in ((as_json, "json"), (as_jsonl, "jsonl")):
        det = detect_format(path)
        assert (det.format, det.container) == ("sharegpt", container)
        convs, problems = read(path)
        assert not problems
        assert roles(convs[0]) == ["system", "user", "assistant"]
        assert convs[0].messages[1].content == "¿Tenéis envío a Portugal?"
    assert [c.line for c in read(as_json)[0]] == [2, 19]  # each item of the list reports where it starts


def test_json_dialogues_with_nested_turns_are_found_without_options(tmp_path: Path) -> None:
    doc = {
        "dialogues": [
            {"dialog_id": "d1", "turns": [{"speaker": "customer", "text": "Hi"}, {"speaker": "agent", "text": "Hey"}]},
            {
                "dialog_id": "d2",
                "turns": [{"speaker": "cliente", "text": "Hola"}, {"speaker": "agente", "text": "¡Hola!"}],
            },
        ]
    }
    path = tmp_path / "dialogues.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    det = detect_format(path)
    assert det.format == "dialogues"
    assert det.fields["messages"] == "turns" and det.fields["role"] == "speaker"
    convs, problems = read(path)
    assert not problems and [c.id for c in convs] == ["d1", "d2"]
    assert roles(convs[1]) == ["user", "assistant"]


def test_unknown_role_is_reported_with_the_fix(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "tool.jsonl", [{"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]}]
    )
    convs, problems = read(path)
    assert not convs and problems[0].reason == "unknown_role"
    assert "--role-map robot=" in problems[0].message
    convs, problems = read(path, role_map="robot=assistant")
    assert roles(convs[0]) == ["user", "assistant"]


# --------------------------------------------------------------------------- public dataset shapes via mapping only


def test_multiwoz_22_style_via_role_map(tmp_path: Path) -> None:
    dialogues = [
        {
            "dialogue_id": f"PMUL{i:04d}.json",
            "services": ["hotel"],
            "turns": [
                {
                    "turn_id": "0",
                    "speaker": "USER",
                    "utterance": f"I need a hotel in the north, {i} nights.",
                    "frames": [],
                },
                {"turn_id": "1", "speaker": "SYSTEM", "utterance": "I have 3 options. Any price range?", "frames": []},
            ],
        }
        for i in range(40)
    ]
    path = tmp_path / "dialogues_001.json"
    path.write_text(json.dumps(dialogues), encoding="utf-8")
    convs, problems = read(path, role_map="USER=user,SYSTEM=assistant")
    assert len(convs) == 40 and not problems
    assert roles(convs[0]) == ["user", "assistant"] and convs[0].id == "PMUL0000.json"


def test_multiwoz_21_style_dict_of_dialogues_with_alternating_log(tmp_path: Path) -> None:
    data = {
        f"SNG{i:05d}.json": {
            "goal": {"taxi": {}},
            "log": [{"text": "I need a taxi at 5.", "metadata": {}}, {"text": "Where to?", "metadata": {"taxi": {}}}],
        }
        for i in range(30)
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    convs, problems = read(path, messages_field="log", content_field="text")
    assert len(convs) == 30 and not problems
    assert roles(convs[0]) == ["user", "assistant"] and convs[0].id == "SNG00000.json"


def test_taskmaster_style_utterances(tmp_path: Path) -> None:
    data = [
        {
            "conversation_id": f"dlg-{i}",
            "instruction_id": "restaurant-table-1",
            "utterances": [
                {"index": 0, "speaker": "USER", "text": "Book a table for two."},
                {"index": 1, "speaker": "ASSISTANT", "text": "For what time?", "segments": []},
                {"index": 2, "speaker": "USER", "text": "Eight pm."},
                {"index": 3, "speaker": "ASSISTANT", "text": "Done."},
            ],
        }
        for i in range(25)
    ]
    path = tmp_path / "self-dialogs.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    convs, problems = read(path, messages_field="utterances", role_field="speaker", content_field="text")
    assert len(convs) == 25 and not problems
    assert roles(convs[0]) == ["user", "assistant", "user", "assistant"]
    assert convs[0].metadata["instruction_id"] == "restaurant-table-1"


def test_dailydialog_style_lists_of_strings(tmp_path: Path) -> None:
    rows = [{"dialog": ["Can I help you?", "Yes, I want a refund.", "Sure."], "act": [3, 2, 1]} for _ in range(10)]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    convs, problems = read(path, messages_field="dialog", role_map={})
    assert len(convs) == 10 and not problems
    assert roles(convs[0]) == ["user", "assistant", "user"]


def test_dotted_messages_path(tmp_path: Path) -> None:
    rows = [{"session": {"id": 7, "chat": [{"who": "client", "msg": "hi"}, {"who": "staff", "msg": "hello"}]}}]
    path = write_jsonl(tmp_path / "nested.jsonl", rows)
    convs, problems = read(path, messages_field="session.chat", role_field="who", content_field="msg")
    assert not problems and roles(convs[0]) == ["user", "assistant"]


# --------------------------------------------------------------------------- CSV / TSV


def test_csv_one_row_per_message_with_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "conversation_id,timestamp,role,text\n"
        'T1,2026-10-06T09:12,customer,"Hello,\nmy order has not arrived."\n'
        "T1,2026-10-06T09:20,agent,It ships today.\n"
        "T2,2026-10-07T10:00,customer,Hola\n"
        "T2,2026-10-07T10:01,agent,¡Hola!\n",
        encoding="utf-8",
    )
    det = detect_format(path)
    assert det.format == "csv_messages" and det.delimiter == "," and det.header
    convs, problems = read(path)
    assert not problems and [c.id for c in convs] == ["T1", "T2"]
    assert convs[0].messages[0].content == "Hello,\nmy order has not arrived."
    assert convs[1].line == 5  # the quoted newline makes T2 start on line 5
    assert convs[0].metadata["started_at"] == "2026-10-06T09:12"


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""), ("cp1252", b"")]
)
def test_csv_pairs_in_common_encodings_and_delimiters(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = "pregunta;respuesta;categoría\n¿Cuánto tarda el envío?;Entre 2 y 4 días, señora Núñez.;envíos\n"
    path = tmp_path / "faq.csv"
    path.write_bytes(bom + text.encode(encoding))
    det = detect_format(path)
    assert det.format == "csv_pairs" and det.delimiter == ";" and det.header
    assert det.encoding in {"utf-8": ("utf-8",), "utf-16": ("utf-16",), "cp1252": ("cp1252",)}.get(
        encoding, ("utf-8-sig",)
    ) or (bom and det.encoding == "utf-8-sig")
    convs, problems = read(path)
    assert not problems
    assert convs[0].messages[1].content == "Entre 2 y 4 días, señora Núñez."
    assert convs[0].metadata == {"categoría": "envíos"}
    if encoding == "cp1252":
        assert "latin-1" in det.description


def test_headerless_tsv_by_column_index(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("Good morning.\tBuenos días.\tCC-BY\nThank you.\tGracias.\tCC-BY\n", encoding="utf-8")
    convs, problems = read(path, header=False, prompt_field=0, response_field=1)
    assert not problems and len(convs) == 2
    assert [m.content for m in convs[0].messages] == ["Good morning.", "Buenos días."]
    assert convs[0].metadata == {"column_2": "CC-BY"}


def test_missing_column_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("question,answer\nq,a\n", encoding="utf-8")
    with pytest.raises(DataError, match="no such column; the columns are question, answer"):
        detect_format(path, FieldMapping(prompt_field="pregunta"))


def test_stray_quotes_in_tsv_do_not_swallow_rows(tmp_path: Path) -> None:
    lines = ["sentence\tscore"] + [
        f'" Quoted start {i} is fine.\t1' if i % 7 == 0 else f"Row {i}.\t0" for i in range(50)
    ]
    path = tmp_path / "reviews.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    convs, problems = read(path)
    assert len(convs) == 50 and not problems


# --------------------------------------------------------------------------- text transcripts


def test_text_transcripts_with_speaker_prefixes(tmp_path: Path) -> None:
    path = tmp_path / "chats.txt"
    path.write_text(
        "Customer: Hi, my lamp flickers.\nIt started yesterday.\nAgent: Sorry! Try another bulb.\n\n"
        "Cliente: Hola, ¿hacéis envíos a México?\nAgente: Sí, en 7-10 días.\n",
        encoding="utf-8",
    )
    assert detect_format(path).format == "text"
    convs, problems = read(path)
    assert not problems and len(convs) == 2
    assert convs[0].messages[0].content == "Hi, my lamp flickers.\nIt started yesterday."
    assert roles(convs[1]) == ["user", "assistant"] and convs[1].line == 5


def test_chat_app_export_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "whatsapp.txt"
    path.write_text(
        "21/11/26, 10:14 - Los mensajes están cifrados de extremo a extremo.\n"
        "21/11/26, 10:15 - Laura Gómez: Hola! Mi pedido llegó con una mancha\n"
        "21/11/26, 10:17 - Tienda Soporte: ¡Vaya! ¿Nos mandas una foto?\n"
        "21/11/26, 10:19 - Laura Gómez: Claro\n\n"
        "[03/12/2026, 09:01:12] Pedro: Hi, is the shop open on Sunday?\n"
        "[03/12/2026, 09:02:40] Ana: No, Monday to Saturday.\n",
        encoding="utf-8",
    )
    det = detect_format(path)
    assert det.format == "text" and "chat-app export" in det.description
    convs, problems = read(path)
    assert not problems and len(convs) == 2
    assert roles(convs[0]) == ["user", "assistant", "user"]  # "Soporte" in the name marks the agent
    assert convs[0].metadata["notices_skipped"] == 1
    assert convs[1].metadata["speakers_guessed"] is True  # first unknown speaker is taken as the customer
    convs, _ = read(path, role_map="ana=user,pedro=assistant")
    assert roles(convs[1]) == ["assistant", "user"]


# --------------------------------------------------------------------------- real data


@needs_real
def test_real_bitext_support_csv() -> None:
    path = REAL / "support" / "bitext_customer_support.csv"
    det = detect_format(path)
    assert det.format == "csv_pairs" and det.fields["prompt"] == "instruction" and det.fields["response"] == "response"
    convs, problems = read(path)
    assert len(convs) == 4514 and not problems
    first = convs[0]
    assert roles(first) == ["user", "assistant"]
    assert first.metadata["intent"] == "cancel_order" and first.metadata["category"] == "ORDER"
    assert "{{" in first.messages[1].content  # the dataset's placeholders survive import


@needs_real
def test_real_headerless_tatoeba_and_headed_sentiment_files() -> None:
    convs, problems = read(REAL / "translation" / "tatoeba_en_es.tsv", header=False, prompt_field=0, response_field=1)
    assert len(convs) == 20000 and not problems
    assert [m.content for m in convs[0].messages] == ["Come on down.", "Baje."]
    for name in ("amazon_cells", "imdb", "yelp"):
        convs, problems = read(REAL / "sentiment" / f"{name}_labelled.txt")
        assert len(convs) == 1000 and not problems, name
        assert {c.messages[1].content for c in convs} == {"0", "1"}
