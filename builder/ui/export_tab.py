"""Export tab: the adapter as a zip, a merged model folder, the cleaned data as OpenAI chat JSONL."""

from __future__ import annotations

from typing import Any

import gradio as gr

from builder.confine import ConfinementError
from builder.ui.common import AppContext, error_text, log_exception
from builder.ui.i18n import t


def build(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown) -> None:
    labels = ctx.labels
    labels.add(gr.Markdown(t("export_intro")), value="export_intro")
    with gr.Row():
        zip_button = labels.add(gr.Button(t("zip_adapter"), elem_id="export-zip"), value="zip_adapter")
        data_button = labels.add(gr.Button(t("export_data"), elem_id="export-data"), value="export_data")
    with gr.Row():
        merge_dir = labels.add(gr.Textbox(label=t("merge_dir"), scale=3, elem_id="export-merge-dir"), label="merge_dir")
        merge_button = labels.add(gr.Button(t("merge"), scale=1, elem_id="export-merge"), value="merge")
    result = gr.Markdown(elem_id="export-result")
    download = labels.add(gr.File(label=t("download"), interactive=False, elem_id="export-file"), label="download")

    def default_merge_dir(run_id: str | None) -> str:
        # Relative to the runs folder: the page never shows the server's absolute paths.
        run = ctx.run(run_id)
        return str(run.merged.relative_to(run.path.parent)) if run else ""

    def do_zip(run_id: str | None, language: str) -> tuple[Any, Any]:
        from builder.export import zip_adapter

        run = ctx.run_dir(run_id)
        if run is None:
            return t("no_run", language), None
        try:
            path = zip_adapter(run)
        except Exception as err:
            return ctx.confinement.shown_text(error_text(err)), None
        return f"`{ctx.confinement.shown(path)}`", str(path)

    def do_data(run_id: str | None, language: str) -> tuple[Any, Any]:
        from builder.export import export_run_data

        run = ctx.run_dir(run_id)
        if run is None:
            return t("no_run", language), None
        try:
            path, count = export_run_data(run)
        except Exception as err:
            return ctx.confinement.shown_text(error_text(err)), None
        return t("exported", language, n=count, path=ctx.confinement.shown(path)), str(path)

    def do_merge(run_id: str | None, folder: str, language: str):
        from builder.export import ExportError, check_merge_target, merge_adapter

        run = ctx.run(run_id)
        if run is None:
            yield t("no_run", language)
            return
        confinement = ctx.confinement
        value = folder.strip() if folder and folder.strip() else str(run.merged)
        try:
            # A relative folder is read against the runs folder; merge_adapter then refuses to replace
            # any folder that is not empty and not one of its own earlier merges.
            target = confinement.target("merge_dir", value, ctx.runs_dir)
            check_merge_target(target)
        except (ConfinementError, ExportError) as err:
            yield confinement.shown_text(error_text(err))
            return
        yield "…"
        try:
            path = merge_adapter(run, target)
        except Exception as err:
            log_exception(err)
            yield confinement.shown_text(error_text(err))
            return
        yield t("merged_to", language, path=confinement.shown(path))

    run_select.change(default_merge_dir, [run_select], [merge_dir])
    zip_button.click(do_zip, [run_select, lang], [result, download])
    data_button.click(do_data, [run_select, lang], [result, download])
    merge_button.click(do_merge, [run_select, merge_dir, lang], [result], concurrency_limit=1)
