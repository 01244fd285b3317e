"""Data tab: pick sample data or upload files, check the detected format and field mapping, import, preview."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from builder.config.recipe import FieldMapping
from builder.importers import (
    DATA_SUFFIXES,
    MAPPING_KEYS,
    MappingKey,
    Note,
    detect_format,
    mapping_from_values,
    mapping_values,
)
from builder.ui.common import AppContext, chat_messages, error_text, log_exception, plain_markdown
from builder.ui.data_files import (
    SPEAKER_COLUMNS,
    file_report_lines,
    files_markdown,
    format_description,
    peek_entries,
    reason_text,
    speaker_choices,
    speaker_table,
    ui_fields,
)
from builder.ui.i18n import DEFAULT_LANG, message_text, t
from builder.usecases import usecase_names

# How the mapping fields sit on the page, a row each; every key of MAPPING_KEYS appears exactly once.
MAPPING_ROWS = (
    ("format", "messages_field"),
    ("role_field", "content_field", "id_field"),
    ("prompt_field", "response_field", "system_field"),
    ("header", "delimiter", "encoding"),
    ("role_map",),
    ("agent", "drop_speakers"),
)
PLACEHOLDERS = {"role_map": "CLIENTE=user, AGENTE=assistant", "delimiter": ", ; tab |", "encoding": "utf-8, cp1252..."}
QUARANTINE_SHOWN = 50  # set-aside records listed in the page (the CLI writes them all to a file)


def empty_data_state() -> dict[str, Any]:
    return {"paths": [], "use_case": None, "mapping": {}}


def mapping_from_form(values: list[Any]) -> FieldMapping:
    """The mapping typed in the form, in ``MAPPING_KEYS`` order; raises ValueError naming a bad key."""
    return mapping_from_values({key.name: value for key, value in zip(MAPPING_KEYS, values, strict=True)})


def form_values(mapping: FieldMapping) -> list[Any]:
    """The form's values for a mapping: text for most keys, the list of names for the speaker pickers."""
    shown = mapping_values(mapping)
    return [list(getattr(mapping, key.name)) if key.kind == "names" else shown[key.name] for key in MAPPING_KEYS]


def _mapping_input(key: MappingKey) -> Any:
    elem_id = f"data-map-{key.name.replace('_', '-')}"
    if key.kind == "names":  # picked among the speakers found, or typed (a name may hold a comma)
        return gr.Dropdown([], value=[], multiselect=True, allow_custom_value=True, label=t(key.name), elem_id=elem_id)
    if key.choices:
        return gr.Dropdown(list(key.choices), value=key.choices[0], label=t(key.name), elem_id=elem_id)
    return gr.Textbox(label=t(key.name), placeholder=PLACEHOLDERS.get(key.name, ""), elem_id=elem_id)


def describe_formats(
    paths: list[str], mapping: dict[str, Any], lang: str = DEFAULT_LANG, shown: Callable[[str], str] = str
) -> str:
    field_mapping = FieldMapping(**mapping)
    lines = []
    for path in paths:
        try:
            said = format_description(detect_format(Path(path), field_mapping), lang)
            lines.append(f"- {plain_markdown(Path(path).name)}: {plain_markdown(shown(said))}")
        except Exception as err:  # one unreadable file must not hide the others
            lines.append(f"- {plain_markdown(Path(path).name)}: {shown(error_text(err))}")
    return "\n".join(lines)


REPORT_COUNTS = ("seen", "kept", "quarantined", "duplicates")
REPORT_TALLIES = ("quarantine_reasons", "languages", "redactions")
QUARANTINE_COLUMNS = ("col_file", "col_line", "col_reason", "col_message")


def report_markdown(report: dict[str, Any], lang: str) -> str:
    kept = report.get("kept", 0)
    summary = t(
        "imported_one" if kept == 1 else "imported",
        lang,
        kept=report.get("kept", 0),
        quarantined=report.get("quarantined", 0) + report.get("duplicates", 0),
        files=len(report.get("files", [])),
    )
    lines = [f"**{summary}**", ""]
    for key in REPORT_COUNTS:
        lines.append(f"- {t(f'rk_{key}', lang)}: {report.get(key, 0)}")
    for key in REPORT_TALLIES:
        values = report.get(key) or {}
        if values:
            lines.append(f"- {t(f'rk_{key}', lang)}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    per_file = file_report_lines(report, lang)
    return "\n".join([*lines, *([""] if per_file else []), *per_file])


def advice_markdown(report: dict[str, Any], lang: str, shown: Callable[[str], str] = str) -> str:
    """The advisor's warnings, then the importer's notes about single files, in ``lang``.

    A warning with no key (a bad mapping's error, in its own words) follows as it is.
    """
    from builder.data.advisor import advice

    items = advice(report)
    notes = [Note(n["key"], n.get("values") or {}) for n in report.get("notes") or []]
    english = {item.text() for item in [*items, *notes]}
    lines = [message_text(item, lang) for item in items]
    # The importer's notes quote files: names, speakers, a turn's text. Shown as written, never as markup.
    lines += [plain_markdown(shown(message_text(note, lang))) for note in notes]
    lines += [plain_markdown(shown(w)) for w in report.get("warnings") or [] if w not in english]
    return "\n".join(f"- ⚠ {w}" for w in lines) if lines else f"- ✔ {t('no_warnings', lang)}"


def quarantine_table(
    quarantine: list[dict[str, Any]], lang: str, shown: Callable[[str], str] = str, limit: int = QUARANTINE_SHOWN
) -> dict[str, Any]:
    """The set-aside records for the table: file names, the reason in ``lang`` with what to do on this page, and
    the importer's own detail (naming the page's fields, not the command line's flags), without the server's
    folders."""
    rows = [
        [
            Path(str(q.get("file", ""))).name,
            q.get("line"),
            reason_text(str(q.get("reason") or ""), lang),
            ui_fields(shown(str(q.get("message") or "")), lang),
        ]
        for q in quarantine[:limit]
    ]
    return {"headers": [t(key, lang) for key in QUARANTINE_COLUMNS], "data": rows}


def build(ctx: AppContext, lang: gr.Radio, data_state: gr.State) -> None:
    labels = ctx.labels
    labels.add(gr.Markdown(t("data_intro")), value="data_intro")
    samples = ctx.sample_sets()
    with gr.Row():
        with gr.Column(scale=1):
            sample = labels.add(
                gr.Dropdown(
                    choices=samples, value=samples[0] if samples else None, label=t("sample"), elem_id="data-sample"
                ),
                label="sample",
            )
            use_sample = labels.add(gr.Button(t("use_sample"), elem_id="data-use-sample"), value="use_sample")
            upload = labels.add(
                gr.File(
                    label=t("upload"),
                    file_count="multiple",
                    file_types=list(DATA_SUFFIXES),
                    elem_id="data-upload",
                ),
                label="upload",
            )
        with gr.Column(scale=1):
            labels.add(gr.Markdown(f"### {t('mapping')}"), "### {}", value="mapping")
            inputs: dict[str, Any] = {}
            for row in MAPPING_ROWS:
                with gr.Row():
                    for name in row:
                        inputs[name] = labels.add(
                            _mapping_input(next(k for k in MAPPING_KEYS if k.name == name)), label=name
                        )
            mapping_inputs = [inputs[key.name] for key in MAPPING_KEYS]
            run_import = labels.add(gr.Button(t("import"), variant="primary", elem_id="data-import"), value="import")
    files_md = gr.Markdown(elem_id="data-files")
    labels.add(gr.Markdown(f"### {t('speakers')}"), "### {}", value="speakers")
    labels.add(gr.Markdown(t("agent_hint")), value="agent_hint")
    # Plain text cells: speaker names come from the transcripts.
    speakers = gr.Dataframe(
        headers=[t(key) for key in SPEAKER_COLUMNS],
        datatype=["str", "str", "str", "number", "str"],
        interactive=False,
        wrap=True,
        elem_id="data-speakers",
    )
    with gr.Row():
        with gr.Column():
            labels.add(gr.Markdown(f"### {t('report')}"), "### {}", value="report")
            report_md = gr.Markdown(elem_id="data-report")
        with gr.Column():
            labels.add(gr.Markdown(f"### {t('advice')}"), "### {}", value="advice")
            advice_md = gr.Markdown(elem_id="data-advice")
    labels.add(gr.Markdown(f"### {t('preview')}"), "### {}", value="preview")
    conversations = gr.State([])
    # Labelled "of N" after an import; relabelled on a language switch below.
    pick = gr.Slider(1, 2, value=1, step=1, label=t("conversation_n"), elem_id="data-pick")
    # Transcript text as written (escaped: Gradio parses a message as HTML even without Markdown); opened at
    # the conversation's start.
    preview = gr.Chatbot(height=320, elem_id="data-preview", show_label=False, render_markdown=False, autoscroll=False)
    quarantine = labels.add(
        gr.Dataframe(
            headers=[t(key) for key in QUARANTINE_COLUMNS], label=t("quarantine"), wrap=True, elem_id="data-quarantine"
        ),
        label="quarantine",
    )
    # The last import, kept to show it again in another language; ``looked``: each file's entry (format,
    # speakers, counts) from the last look or import.
    imported = gr.State({"report": None, "quarantine": []})
    looked = gr.State([])
    shown = ctx.confinement.shown_text
    pickers = [inputs["agent"], inputs["drop_speakers"]]

    def look(paths: list[str], mapping: FieldMapping, language: str) -> tuple[str, list[dict[str, Any]]]:
        """Each file's format and its speakers (the first records read): the page's text and the entries."""
        from builder.data.peek import peek_files

        entries = peek_entries(peek_files([Path(p) for p in paths], mapping))
        return files_markdown(entries, language, shown), entries

    def choose_sample(name: str | None, state: dict[str, Any], language: str) -> tuple[Any, ...]:
        if not name or name not in ctx.sample_sets():
            return state, t("no_files", language), *[gr.update()] * len(mapping_inputs), gr.update(), *kept_import()
        paths = [str(p) for p in ctx.sample_files(name)]
        # A use case's own sample is read with its recipe's mapping; an export folder is detected file by file.
        raw, _ = ctx.template_recipe(name) if name in usecase_names() else ({}, None)
        data = raw.get("data") or {}
        mapping = FieldMapping(**{k: v for k, v in data.items() if k in FieldMapping.model_fields})
        state = {
            "paths": paths,
            "use_case": ctx.sample_use_case(name),
            "mapping": mapping.model_dump(exclude_defaults=True),
        }
        files, entries = look(paths, mapping, language)
        return state, files, *form_values(mapping), entries, *cleared_import()

    def kept_import() -> tuple[Any, ...]:
        return (gr.update(),) * len(import_outputs)

    def cleared_import() -> tuple[Any, ...]:
        """The previous import's report, advice, preview and set-aside table: gone once other files are chosen."""
        slider = gr.update(minimum=1, maximum=2, value=1)
        empty = quarantine_table([], DEFAULT_LANG)
        return "", "", [], slider, [], gr.update(value=empty), {"report": None, "quarantine": []}

    def take_uploads(files: list[Any] | None, state: dict[str, Any], language: str) -> tuple[Any, ...]:
        if not files:  # the last file removed from the box: nothing of it is imported any more
            if not state.get("uploaded"):
                return state, gr.update(), *[gr.update()] * len(mapping_inputs), gr.update(), *kept_import()
            state = {"paths": [], "use_case": state.get("use_case"), "mapping": {}}
            return state, "", *form_values(FieldMapping()), [], *cleared_import()
        # Gradio's upload cache is temporary; the run that trains on these files may start much later.
        target = ctx.uploads_dir / time.strftime("%Y%m%d-%H%M%S")
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for item in files:
            source = Path(item if isinstance(item, str) else item.name)
            dest = target / source.name
            shutil.copyfile(source, dest)
            paths.append(str(dest))
        state = {"paths": paths, "use_case": state.get("use_case"), "mapping": {}, "uploaded": True}
        shown, entries = look(paths, FieldMapping(), language)
        return state, shown, *form_values(FieldMapping()), entries, *cleared_import()

    def do_import(state: dict[str, Any], *values: Any) -> tuple[Any, ...]:
        *mapping_form, language = values
        paths = state.get("paths") or []
        if not paths:
            return state, t("no_files", language), "", "", [], gr.update(), [], [], gr.update(), gr.update()
        try:
            from builder.data import import_files

            mapping = mapping_from_form(mapping_form)
            prepared = import_files([Path(p) for p in paths], mapping)
        except Exception as err:
            log_exception(err)
            return state, ctx.error_message(err, language), "", "", [], gr.update(), [], [], gr.update(), gr.update()
        # The recipe tab recommends a base model for these languages.
        languages = prepared.report.get("languages") or {}
        state = {**state, "mapping": mapping.model_dump(exclude_defaults=True), "languages": languages}
        # Every conversation for the slider (the state stays on the server; one is sent at a time).
        kept = [c.to_openai()["messages"] for c in prepared.conversations]
        entries = prepared.report.get("files") or []
        # A file that could not be read at all is not among the report's files: its own words say why.
        files = "\n".join([files_markdown(entries, language, shown), *unread_lines(paths, entries, language)])
        slider = gr.update(minimum=1, maximum=max(2, len(kept)), value=1, label=slider_label(len(kept), language))
        first = show(1, kept)
        return (
            state,
            files,
            report_markdown(prepared.report, language),
            advice_markdown(prepared.report, language, shown),
            kept,
            slider,
            first,
            quarantine_table(prepared.quarantine, language, shown),
            {"report": prepared.report, "quarantine": prepared.quarantine[:QUARANTINE_SHOWN]},
            entries,
        )

    def unread_lines(paths: list[str], entries: list[dict[str, Any]], language: str) -> list[str]:
        read = {Path(str(e["path"])) for e in entries}
        missing = [p for p in paths if Path(p) not in read and not any(Path(p) in r.parents for r in read)]
        return [f"- {plain_markdown(Path(p).name)}: {t('not_read', language)}" for p in missing]

    def show_speakers(entries: list[dict[str, Any]], agent: Any, drop: Any, language: str) -> tuple[Any, ...]:
        """The speakers table, and the pickers offering every speaker found (what was picked stays picked)."""
        agent, drop = _names(agent), _names(drop)
        return (
            speaker_table(entries or [], language),
            gr.update(choices=speaker_choices(entries or [], agent), value=agent),
            gr.update(choices=speaker_choices(entries or [], drop), value=drop),
        )

    def relabel(
        state: dict[str, Any], last: dict[str, Any], entries: list[dict[str, Any]], language: str
    ) -> tuple[Any, ...]:
        """The import's texts again in the language just chosen (they were written in the previous one)."""
        paths = state.get("paths") or []
        files = files_markdown(entries, language, shown) if entries else gr.update()
        report = last.get("report")
        return (
            files if paths else gr.update(),
            report_markdown(report, language) if report else gr.update(),
            advice_markdown(report, language, shown) if report else gr.update(),
            quarantine_table(last.get("quarantine") or [], language, shown),
            speaker_table(entries or [], language),
        )

    def show(index: float, kept: list[list[dict[str, str]]]) -> list[dict[str, str]]:
        i = int(index) - 1
        if not kept or not 0 <= i < len(kept):
            return []
        # The preview shows system turns as user-side notes: Chatbot has no system bubble.
        return chat_messages(
            [m if m["role"] != "system" else {"role": "user", "content": f"[system] {m['content']}"} for m in kept[i]]
        )

    speaker_inputs = [looked, *pickers, lang]
    speaker_outputs = [speakers, *pickers]
    import_outputs = [report_md, advice_md, conversations, pick, preview, quarantine, imported]
    chosen_outputs = [data_state, files_md, *mapping_inputs, looked, *import_outputs]
    use_sample.click(choose_sample, [sample, data_state, lang], chosen_outputs).then(
        show_speakers, speaker_inputs, speaker_outputs
    )
    # A file removed from the box (or all of them) is no longer in use: the files follow the box.
    for event in (upload.upload, upload.delete, upload.clear):
        event(take_uploads, [upload, data_state, lang], chosen_outputs).then(
            show_speakers, speaker_inputs, speaker_outputs
        )
    run_import.click(
        do_import,
        [data_state, *mapping_inputs, lang],
        [data_state, files_md, report_md, advice_md, conversations, pick, preview, quarantine, imported, looked],
    ).then(show_speakers, speaker_inputs, speaker_outputs)
    pick.change(show, [pick, conversations], [preview])
    lang.change(relabel, [data_state, imported, looked, lang], [files_md, report_md, advice_md, quarantine, speakers])
    lang.change(
        lambda kept, language: gr.update(label=slider_label(len(kept), language)), [conversations, lang], [pick]
    )


def slider_label(count: int, lang: str) -> str:
    """The preview slider's label: which conversation of how many."""
    return t("conversation_of", lang, n=count) if count else t("conversation_n", lang)


def _names(value: Any) -> list[str]:
    """A picker's value as a list of names (the API may send one name, or none as an empty text)."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [str(v) for v in value or [] if str(v).strip()]
