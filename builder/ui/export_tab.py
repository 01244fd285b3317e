"""Export tab: the adapter as a zip, a merged model folder, the cleaned data as OpenAI chat JSONL,
a GGUF file with its Ollama Modelfile (progress bar), and the checked ``vllm serve`` command.

A merge loads the whole base model for minutes, so it is a queued job (``JobManager.merge``) like a
training, and a timer follows it; the zip and the data export take a moment and run in the handler.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from builder.config.confine import ConfinementError
from builder.jobs.manager import job_id
from builder.ui.common import AppContext, log_exception
from builder.ui.i18n import status_text, t

REFRESH_S = 2.0


def merge_status(ctx: AppContext, run_id: str | None, lang: str) -> str:
    """Where the run's merge job stands: queued, running, where it wrote, or why it failed."""
    job = ctx.jobs.get(job_id(run_id, "export")) if run_id else None
    if job is None:
        return ""
    progress = ctx.jobs.progress(job.id)
    if progress.status == "queued":
        return t("queued_at", lang, pos=progress.queue_position or "?")
    if progress.status == "completed":
        return t("merged_to", lang, path=ctx.confinement.shown(job.target or ""))
    if progress.status == "failed":
        return ctx.confinement.shown_text(f"**{status_text('failed', lang)}**\n```\n{progress.error or ''}\n```")
    return f"{status_text(progress.status, lang)} …"


def stop_merge(ctx: AppContext, run_id: str | None, lang: str) -> str:
    """Take the run's merge out of the queue, or end it; the half-written folder is removed, the target untouched."""
    job = ctx.jobs.get(job_id(run_id, "export")) if run_id else None
    if job is None or job.state not in ("queued", "running"):
        return t("no_merge", lang)
    try:
        ctx.jobs.stop(job.id)
    except Exception as err:
        return ctx.error_message(err, lang)
    return t("merge_stopping", lang, run=run_id)


def build(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown) -> None:
    labels = ctx.labels
    labels.add(gr.Markdown(t("export_intro")), value="export_intro")
    with gr.Row():
        zip_button = labels.add(gr.Button(t("zip_adapter"), elem_id="export-zip"), value="zip_adapter")
        data_button = labels.add(gr.Button(t("export_data"), elem_id="export-data"), value="export_data")
    with gr.Row():
        merge_dir = labels.add(gr.Textbox(label=t("merge_dir"), scale=3, elem_id="export-merge-dir"), label="merge_dir")
        merge_button = labels.add(gr.Button(t("merge"), scale=1, elem_id="export-merge"), value="merge")
        merge_stop = labels.add(
            gr.Button(t("stop"), scale=0, variant="stop", elem_id="export-merge-stop"), value="stop"
        )
    result = gr.Markdown(elem_id="export-result")
    merge_state = gr.Markdown(elem_id="export-merge-status")
    # A refused merge's reason, kept on screen until the user acts (the timer would otherwise wipe it).
    merge_refused = gr.State("")
    timer = gr.Timer(REFRESH_S)
    download = labels.add(gr.File(label=t("download"), interactive=False, elem_id="export-file"), label="download")
    _build_gguf(ctx, lang, run_select)

    def default_merge_dir(run_id: str | None) -> str:
        # Relative to the runs folder: the page never shows the server's absolute paths.
        run = ctx.run(run_id)
        return str(run.merged.relative_to(run.path.parent)) if run else ""

    def do_zip(run_id: str | None, language: str) -> tuple[Any, Any]:
        from builder.export.files import zip_adapter

        run = ctx.run_dir(run_id)
        if run is None:
            return t("no_run", language), None
        try:
            path = zip_adapter(run)
        except Exception as err:
            return ctx.error_message(err, language), None
        ctx.audit("exported", run_id, f"adapter zip {ctx.confinement.shown(path)}")
        return f"`{ctx.confinement.shown(path)}`", str(path)

    def do_data(run_id: str | None, language: str) -> tuple[Any, Any]:
        from builder.export.files import export_run_data

        run = ctx.run_dir(run_id)
        if run is None:
            return t("no_run", language), None
        try:
            path, count = export_run_data(run)
        except Exception as err:
            return ctx.error_message(err, language), None
        ctx.audit("exported", run_id, f"data {ctx.confinement.shown(path)}")
        return t("exported", language, n=count, path=ctx.confinement.shown(path)), str(path)

    def do_merge(run_id: str | None, folder: str, language: str) -> tuple[str, str]:
        said = merge(run_id, folder, language)
        refused = "" if said == merge_status(ctx, run_id, language) else said
        return said, refused

    def merge(run_id: str | None, folder: str, language: str) -> str:
        from builder.export.base import ExportError
        from builder.export.merge import check_merge_target

        run = ctx.run(run_id)
        if run is None or run_id is None:
            return t("no_run", language)
        confinement = ctx.confinement
        value = folder.strip() if folder and folder.strip() else str(run.merged)
        try:
            # A relative folder is read against the runs folder; the merge then refuses to replace
            # any folder that is not empty and not one of its own earlier merges.
            target = confinement.target("merge_dir", value, ctx.runs_dir)
            check_merge_target(target)
            ctx.jobs.merge(run_id, target)
        except (ConfinementError, ExportError) as err:
            return ctx.error_message(err, language)
        except Exception as err:
            log_exception(err)
            return ctx.error_message(err, language)
        return merge_status(ctx, run_id, language)

    run_select.change(default_merge_dir, [run_select], [merge_dir])
    zip_button.click(do_zip, [run_select, lang], [result, download])
    data_button.click(do_data, [run_select, lang], [result, download])
    merge_button.click(do_merge, [run_select, merge_dir, lang], [merge_state, merge_refused])
    merge_stop.click(lambda r, lg: stop_merge(ctx, r, lg), [run_select, lang], [merge_state], concurrency_limit=None)
    # The refusal goes once the user changes the folder or the run.
    gr.on([merge_dir.input, run_select.change], lambda: "", None, [merge_refused], show_progress="hidden")
    timer.tick(
        lambda r, lg, refused: gr.update() if refused else merge_status(ctx, r, lg),
        [run_select, lang, merge_refused],
        [merge_state],
        show_progress="hidden",
        concurrency_limit=None,
    )


PROGRESS = gr.Progress()


def _build_gguf(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown) -> None:
    """GGUF (with a progress bar), its Modelfile, and the vLLM command after the adapter check."""
    from builder.export.gguf import DEFAULT_QUANT, QUANTS

    labels = ctx.labels
    labels.add(gr.Markdown(t("gguf_intro")), value="gguf_intro")
    with gr.Row():
        quant = labels.add(
            gr.Dropdown(list(QUANTS), value=DEFAULT_QUANT, label=t("gguf_quant"), scale=1, elem_id="export-quant"),
            label="gguf_quant",
        )
        gguf_button = labels.add(gr.Button(t("gguf_export"), scale=2, elem_id="export-gguf"), value="gguf_export")
        vllm_button = labels.add(gr.Button(t("vllm_check"), scale=2, elem_id="export-vllm"), value="vllm_check")
    gguf_result = gr.Markdown(elem_id="export-gguf-result")
    modelfile = labels.add(
        gr.Code(label=t("modelfile"), interactive=False, visible=False, elem_id="export-modelfile"), label="modelfile"
    )

    # Gradio fills a gr.Progress default with the bar of this event (its documented pattern).
    def do_gguf(run_id: str | None, kind: str, language: str, progress: Any = PROGRESS) -> tuple[Any, Any]:
        from builder.export.gguf import export_gguf
        from builder.export.ollama import commands

        run = ctx.run_dir(run_id)
        if run is None:
            return t("no_run", language), gr.update(visible=False)
        try:
            done = export_gguf(run, kind, progress=lambda fraction, message: progress(fraction, desc=message))
        except Exception as err:
            log_exception(err)
            return ctx.error_message(err, language), gr.update(visible=False)
        ctx.audit("exported", run_id, f"gguf {kind} {ctx.confinement.shown(done.path)}")
        shown = ctx.confinement.shown
        folder = done.path.parent
        size = f"{done.bytes / 1e6:.0f}"
        lines = [t("gguf_done", language, path=shown(done.path), mb=size, arch=done.architecture, quant=kind)]
        text_file = folder / "Modelfile"
        if text_file.is_file():
            lines += ["", t("gguf_ollama", language, folder=shown(folder)), "```", *commands(done.name), "```"]
        for note in done.notes:
            lines.append(t("gguf_no_modelfile", language, why=note))
        lines += ["", t("gguf_llamacpp", language), "```", f"llama-server -m {shown(done.path)}", "```"]
        text = text_file.read_text(encoding="utf-8") if text_file.is_file() else ""
        return "\n".join(lines), gr.update(value=text, visible=bool(text))

    def do_vllm(run_id: str | None, language: str) -> str:
        from builder.export.vllm import check_run

        run = ctx.run_dir(run_id)
        if run is None:
            return t("no_run", language)
        try:
            check = check_run(run)
        except Exception as err:
            return ctx.error_message(err, language)
        if check.ok:
            # The paths as they are on this machine: the command is run here, from any folder.
            command = check.command
            return "\n".join([t("vllm_ok", language, rank=check.rank), "```", command, "```"])
        problems = (f"- {ctx.confinement.shown_text(p)}" for p in check.problems)
        return "\n".join([t("vllm_bad", language), *problems])

    gguf_button.click(do_gguf, [run_select, quant, lang], [gguf_result, modelfile], concurrency_limit=1)
    vllm_button.click(do_vllm, [run_select, lang], [gguf_result])
