"""Data tab: pick sample data or upload files, check the detected format and field mapping, import, preview."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import gradio as gr

from builder.ui.common import AppContext, error_text, log_exception
from builder.ui.i18n import t

FORMATS = ["auto", "openai", "sharegpt", "dialogues", "csv_messages", "csv_pairs", "text"]
PREVIEW_LIMIT = 200  # conversations kept in the page for the preview slider


def empty_data_state() -> dict[str, Any]:
    return {"paths": [], "use_case": None, "mapping": {}}


def _mapping(fmt: str, messages_field: str, role_field: str, content_field: str, role_map: str) -> dict[str, Any]:
    mapping: dict[str, Any] = {"format": fmt or "auto"}
    for key, value in (
        ("messages_field", messages_field),
        ("role_field", role_field),
        ("content_field", content_field),
    ):
        if value and value.strip():
            mapping[key] = value.strip()
    if role_map and role_map.strip():
        mapping["role_map"] = role_map.strip()
    return mapping


def describe_formats(paths: list[str], mapping: dict[str, Any]) -> str:
    from builder.importers import detect_format
    from builder.recipe import FieldMapping

    field_mapping = FieldMapping(**mapping)
    lines = []
    for path in paths:
        try:
            lines.append(f"- `{Path(path).name}`: {detect_format(Path(path), field_mapping).description}")
        except Exception as err:  # one unreadable file must not hide the others
            lines.append(f"- `{Path(path).name}`: {error_text(err)}")
    return "\n".join(lines)


def report_markdown(report: dict[str, Any], lang: str) -> str:
    summary = t(
        "imported",
        lang,
        kept=report.get("kept", 0),
        quarantined=report.get("quarantined", 0) + report.get("duplicates", 0),
        files=len(report.get("files", [])),
    )
    lines = [f"**{summary}**", ""]
    for key in ("seen", "kept", "quarantined", "duplicates"):
        lines.append(f"- {key}: {report.get(key, 0)}")
    for key in ("quarantine_reasons", "languages", "redactions"):
        values = report.get(key) or {}
        if values:
            lines.append(f"- {key}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    return "\n".join(lines)


def advice_markdown(report: dict[str, Any], lang: str) -> str:
    warnings = report.get("warnings") or []
    return "\n".join(f"- ⚠ {w}" for w in warnings) if warnings else f"- ✔ {t('no_warnings', lang)}"


def quarantine_rows(quarantine: list[dict[str, Any]], limit: int = 50) -> list[list[Any]]:
    return [
        [Path(str(q.get("file", ""))).name, q.get("line"), q.get("reason"), q.get("message")]
        for q in quarantine[:limit]
    ]


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
                    file_types=[".jsonl", ".json", ".csv", ".tsv", ".txt"],
                    elem_id="data-upload",
                ),
                label="upload",
            )
        with gr.Column(scale=1):
            labels.add(gr.Markdown(f"### {t('mapping')}"), "### {}", value="mapping")
            fmt = labels.add(gr.Dropdown(FORMATS, value="auto", label=t("format")), label="format")
            messages_field = labels.add(gr.Textbox(label=t("messages_field")), label="messages_field")
            with gr.Row():
                role_field = labels.add(gr.Textbox(label=t("role_field")), label="role_field")
                content_field = labels.add(gr.Textbox(label=t("content_field")), label="content_field")
            role_map = labels.add(
                gr.Textbox(label=t("role_map"), placeholder="CLIENTE=user, AGENTE=assistant"), label="role_map"
            )
            run_import = labels.add(gr.Button(t("import"), variant="primary", elem_id="data-import"), value="import")
    files_md = gr.Markdown(elem_id="data-files")
    with gr.Row():
        with gr.Column():
            labels.add(gr.Markdown(f"### {t('report')}"), "### {}", value="report")
            report_md = gr.Markdown(elem_id="data-report")
        with gr.Column():
            labels.add(gr.Markdown(f"### {t('advice')}"), "### {}", value="advice")
            advice_md = gr.Markdown(elem_id="data-advice")
    labels.add(gr.Markdown(f"### {t('preview')}"), "### {}", value="preview")
    conversations = gr.State([])
    pick = labels.add(gr.Slider(1, 2, value=1, step=1, label=t("conversation_n")), label="conversation_n")
    preview = gr.Chatbot(height=320, elem_id="data-preview", show_label=False)
    quarantine = labels.add(
        gr.Dataframe(headers=["file", "line", "reason", "message"], label=t("quarantine"), wrap=True),
        label="quarantine",
    )

    def choose_sample(name: str | None, state: dict[str, Any], language: str) -> tuple[Any, ...]:
        if not name:
            return state, t("no_files", language)
        paths = [str(p) for p in ctx.sample_files(name)]
        raw, _ = ctx.template_recipe(name)
        mapping = {k: v for k, v in (raw.get("data") or {}).items() if k in ("format", "messages_field")}
        state = {
            "paths": paths,
            "use_case": name if name in ("support", "translation", "sentiment", "content", "retrieval") else None,
            "mapping": mapping,
        }
        return state, f"**{t('files', language)}:**\n" + describe_formats(paths, {"format": "auto"})

    def take_uploads(files: list[Any] | None, state: dict[str, Any], language: str) -> tuple[Any, ...]:
        if not files:
            return state, ""
        # Gradio's upload cache is temporary; the run that trains on these files may start much later.
        target = ctx.uploads_dir / time.strftime("%Y%m%d-%H%M%S")
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for item in files:
            source = Path(item if isinstance(item, str) else item.name)
            dest = target / source.name
            shutil.copyfile(source, dest)
            paths.append(str(dest))
        state = {"paths": paths, "use_case": state.get("use_case"), "mapping": {}}
        return state, f"**{t('files', language)}:**\n" + describe_formats(paths, {"format": "auto"})

    def do_import(state: dict[str, Any], f: str, mf: str, rf: str, cf: str, rm: str, language: str) -> tuple[Any, ...]:
        paths = state.get("paths") or []
        if not paths:
            return state, t("no_files", language), "", "", [], gr.update(), [], []
        try:
            from builder.data import import_files
            from builder.recipe import FieldMapping

            mapping = _mapping(f, mf, rf, cf, rm)
            prepared = import_files([Path(p) for p in paths], FieldMapping(**mapping))
        except Exception as err:
            log_exception(err)
            return state, error_text(err), "", "", [], gr.update(), [], []
        state = {**state, "mapping": mapping}
        kept = [c.to_openai()["messages"] for c in prepared.conversations[:PREVIEW_LIMIT]]
        files = f"**{t('files', language)}:**\n" + describe_formats(paths, mapping)
        slider = gr.update(minimum=1, maximum=max(2, len(kept)), value=1)
        first = kept[0] if kept else []
        return (
            state,
            files,
            report_markdown(prepared.report, language),
            advice_markdown(prepared.report, language),
            kept,
            slider,
            first,
            quarantine_rows(prepared.quarantine),
        )

    def show(index: float, kept: list[list[dict[str, str]]]) -> list[dict[str, str]]:
        i = int(index) - 1
        if not kept or not 0 <= i < len(kept):
            return []
        # The preview shows system turns as user-side notes: Chatbot has no system bubble.
        return [
            m if m["role"] != "system" else {"role": "user", "content": f"[system] {m['content']}"} for m in kept[i]
        ]

    use_sample.click(choose_sample, [sample, data_state, lang], [data_state, files_md])
    upload.upload(take_uploads, [upload, data_state, lang], [data_state, files_md])
    run_import.click(
        do_import,
        [data_state, fmt, messages_field, role_field, content_field, role_map, lang],
        [data_state, files_md, report_md, advice_md, conversations, pick, preview, quarantine],
    )
    pick.change(show, [pick, conversations], [preview])
