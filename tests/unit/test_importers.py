"""Format detection and readers, on files written here in each shape, and on the real data beside the project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.config.recipe import FieldMapping
from builder.importers import DataError, detect_format, read_file

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
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


# --------------------------------------------------------------------------- lines that must not sink a file


def test_jsonl_whose_first_line_is_longer_than_the_sample_is_still_jsonl(tmp_path: Path) -> None:
    huge = {"messages": [{"role": "user", "content": "A" * 5_000_000}, {"role": "assistant", "content": "ok"}]}
    fine = {"messages": [{"role": "user", "content": "Where is my order?"}, {"role": "assistant", "content": "Here."}]}
    path = write_jsonl(tmp_path / "long_first.jsonl", [huge, fine])
    det = detect_format(path)
    assert (det.format, det.container) == ("openai", "jsonl")
    convs, problems = read(path)
    assert not problems and [c.line for c in convs] == [1, 2]
    assert convs[1].messages[0].content == "Where is my order?"


JUNK_LINE = bytes(b for b in range(256) if b not in b"\r\n")  # every byte but the line ends


@pytest.mark.parametrize(
    ("name", "before", "after", "junk_line"),
    [
        (
            "two.jsonl",
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": "¿Dónde está mi pedido?"},
                        {"role": "assistant", "content": "Llega hoy."},
                    ]
                },
                ensure_ascii=False,
            ),
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": "Can I pay by card?"},
                        {"role": "assistant", "content": "Yes."},
                    ]
                }
            ),
            2,
        ),
        ("two.csv", "pregunta,respuesta\n¿Dónde está mi pedido?,Llega hoy.", "Can I pay by card?,Yes.", 3),
        (
            "two.txt",
            "Cliente: ¿Dónde está mi pedido?\nAgente: Llega hoy.",
            "\nCustomer: Can I pay by card?\nAgent: Yes.",
            3,
        ),
    ],
    ids=["jsonl", "csv", "text"],
)
def test_one_binary_line_is_set_aside_alone(tmp_path: Path, name: str, before: str, after: str, junk_line: int) -> None:
    path = tmp_path / name
    path.write_bytes(before.encode() + b"\n" + JUNK_LINE + b"\n" + after.encode() + b"\n")
    det = detect_format(path)
    assert det.format != "binary" and det.encoding == "utf-8"
    convs, problems = read(path)
    assert [c.messages[0].content for c in convs] == ["¿Dónde está mi pedido?", "Can I pay by card?"]
    assert [(p.reason, p.line) for p in problems] == [("binary_line", junk_line)]
    assert f"line {junk_line}" in problems[0].message and "binary" in problems[0].message


def test_a_line_in_another_encoding_is_set_aside_when_the_encoding_is_given(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = '{"messages": [{"role": "user", "content": "Hola"}, {"role": "assistant", "content": "¿Qué tal?"}]}'
    path.write_bytes(good.encode() + b"\n" + good.encode("cp1252") + b"\n" + good.encode() + b"\n")
    convs, problems = read(path, encoding="utf-8")
    assert len(convs) == 2 and [(p.reason, p.line) for p in problems] == [("bad_encoding", 2)]
    assert "set encoding" in problems[0].message


# --------------------------------------------------------------------------- per-message CSV in any language


SPANISH_MESSAGES = "id_conversacion,rol,mensaje,fecha\n" + "".join(
    f'c{i},cliente,"Hola, mi pedido {i} no ha llegado todavía",2026-03-0{i} 10:00\n'
    f'c{i},agente,"Lo siento, el pedido {i} sale hoy mismo",2026-03-0{i} 10:05\n'
    for i in range(1, 6)
)


def test_spanish_per_message_csv_is_read_one_row_per_message(tmp_path: Path) -> None:
    path = tmp_path / "chats.csv"
    path.write_text(SPANISH_MESSAGES, encoding="utf-8")
    det = detect_format(path)
    assert det.format == "csv_messages" and det.header
    assert det.fields == {"role": "rol", "content": "mensaje", "id": "id_conversacion", "timestamp": "fecha"}
    convs, problems = read(path)
    assert not problems and [c.id for c in convs] == ["c1", "c2", "c3", "c4", "c5"]
    assert all(roles(c) == ["user", "assistant"] for c in convs)
    assert convs[2].messages[1].content == "Lo siento, el pedido 3 sale hoy mismo"


@pytest.mark.parametrize(
    ("header", "role_words", "role_map"),
    [
        ("hilo,quien,dijo,cuando", ("cliente", "agente"), {}),  # Spanish names no list holds
        ("konverzace,mluvčí,zpráva,čas", ("zákazník", "operátor"), {"zákazník": "user", "operátor": "assistant"}),
    ],
    ids=["spanish", "czech"],
)
def test_per_message_columns_are_recognised_by_their_values(
    tmp_path: Path, header: str, role_words: tuple[str, str], role_map: dict[str, str]
) -> None:
    customer, agent = role_words
    rows = [header] + [
        line
        for i in range(1, 7)
        for line in (
            f"t-{i:03d},{customer},Mi pedido número {i} llegó roto y quiero otro,2026-03-0{i} 10:00",
            f"t-{i:03d},{agent},Le enviamos uno nuevo sin coste hoy mismo,2026-03-0{i} 10:02",
            f"t-{i:03d},{customer},Gracias,2026-03-0{i} 10:03",
        )
    ]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    det = detect_format(path, FieldMapping(role_map=role_map))
    names = header.split(",")
    assert det.format == "csv_messages" and det.header
    assert det.fields == {"role": names[1], "content": names[2], "id": names[0], "timestamp": names[3]}
    convs, problems = read(path, role_map=role_map)
    assert not problems and len(convs) == 6 and convs[0].id == "t-001"
    assert roles(convs[0]) == ["user", "assistant", "user"]
