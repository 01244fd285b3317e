"""Export tab: the adapter as a zip, a merged model folder, the cleaned data as OpenAI chat JSONL,
a GGUF file with its Ollama Modelfile, and the checked ``vllm serve`` command.

A merge and a GGUF export load the whole base model for minutes, so each is a queued job
(``JobManager.merge``, ``JobManager.export_gguf``) like a training: the web process never loads a model,
a timer follows the job, and its Stop button ends it without leaving a half-written model at the
target. The zip and the data export take a moment and run in the handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from builder.config.confine import ConfinementError
from builder.jobs.process import Job, JobKind, job_id
from builder.ui.common import AppContext, log_exception
from builder.ui.i18n import status_text, t

REFRESH_S = 2.0
# Per export job kind: (nothing to stop, stopping).
STOP_TEXTS: dict[JobKind, tuple[str, str]] = {
    "export": ("no_merge", "merge_stopping"),
    "gguf": ("no_gguf", "gguf_stopping"),
}


def _export_job(ctx: AppContext, run_id: str | None, kind: JobKind) -> Job | None:
    return ctx.jobs.get(job_id(run_id, kind)) if run_id else None


def job_status(ctx: AppContext, run_id: str | None, kind: JobKind, lang: str, done: Callable[[Job], str]) -> str:
    """Where the run's export job stands: queued, running, ``done`` once it completed, or why it failed."""
    job = _export_job(ctx, run_id, kind)
    if job is None:
        return ""
    progress = ctx.jobs.progress(job.id)
    if progress.status == "queued":
        return t("queued_at", lang, pos=progress.queue_position or "?")
    if progress.status == "completed":
        return done(job)
    if progress.status == "failed":
        return ctx.confinement.shown_text(f"**{status_text('failed', lang)}**\n```\n{progress.error or ''}\n```")
    return f"{status_text(progress.status, lang)} …"


def merge_status(ctx: AppContext, run_id: str | None, lang: str) -> str:
    """Where the run's merge job stands, and where it wrote once done."""
    return job_status(
        ctx, run_id, "export", lang, lambda job: t("merged_to", lang, path=ctx.confinement.shown(job.target or ""))
    )


def stop_export(ctx: AppContext, run_id: str | None, kind: JobKind, lang: str) -> str:
    """Take the run's merge or GGUF export out of the queue, or end it: the half-written hidden folder or
    file is removed, the target keeps what it had."""
    job = _export_job(ctx, run_id, kind)
    nothing, stopping = STOP_TEXTS[kind]
    if job is None or job.state not in ("queued", "running"):
        return t(nothing, lang)
    try:
        ctx.jobs.stop(job.id)
    except Exception as err:
        return ctx.error_message(err, lang)
    return t(stopping, lang, run=run_id)


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
    _build_gguf(ctx, lang, run_select, timer)

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
    merge_stop.click(
        lambda r, lg: stop_export(ctx, r, "export", lg), [run_select, lang], [merge_state], concurrency_limit=None
    )
    # The refusal goes once the user changes the folder or the run.
    gr.on([merge_dir.input, run_select.change], lambda: "", None, [merge_refused], show_progress="hidden")
    timer.tick(
        lambda r, lg, refused: gr.update() if refused else merge_status(ctx, r, lg),
        [run_select, lang, merge_refused],
        [merge_state],
        show_progress="hidden",
        concurrency_limit=None,
    )


def gguf_written(ctx: AppContext, job: Job, lang: str) -> str:
    """A completed GGUF job: its file, the Ollama commands where its Modelfile was written, and llama.cpp's."""
    from builder.export.gguf import DEFAULT_QUANT, gguf_file
    from builder.export.ollama import commands

    quant = job.quant or DEFAULT_QUANT
    path = gguf_file(job.run_dir, quant, job.target)
    shown = ctx.confinement.shown
    size = f"{path.stat().st_size / 1e6:.0f}" if path.is_file() else "?"
    lines = [t("gguf_done", lang, path=shown(path), mb=size, quant=quant)]
    if (path.parent / "Modelfile").is_file():
        lines += ["", t("gguf_ollama", lang, folder=shown(path.parent)), "```", *commands(job.run_id), "```"]
    lines += ["", t("gguf_llamacpp", lang), "```", f"llama-server -m {shown(path)}", "```"]
    return "\n".join(lines)


def gguf_view(ctx: AppContext, run_id: str | None, lang: str) -> tuple[str, str, str | None]:
    """The GGUF job in words; its Modelfile once written; its log while it runs, or when it failed or wrote
    no Modelfile (the log says why)."""
    from builder.export.gguf import DEFAULT_QUANT, gguf_file
    from builder.run.rundir import tail

    said = job_status(ctx, run_id, "gguf", lang, lambda job: gguf_written(ctx, job, lang))
    job = _export_job(ctx, run_id, "gguf")
    if job is None:
        return said, "", None
    modelfile = gguf_file(job.run_dir, job.quant or DEFAULT_QUANT, job.target).parent / "Modelfile"
    text = modelfile.read_text(encoding="utf-8") if job.outcome == "completed" and modelfile.is_file() else ""
    if job.outcome in ("completed", "stopped") and (text or job.outcome == "stopped"):
        return said, text, None
    return said, text, ctx.confinement.shown_text(tail(ctx.jobs.log_path(job), 12))


def start_gguf(ctx: AppContext, run_id: str | None, quant: str, lang: str) -> str | None:
    """Queue the run's GGUF export into its exports folder; why not, or None once queued (or already queued)."""
    from builder.export.gguf import QUANTS, default_out_dir

    run = ctx.run(run_id)
    if run is None or run_id is None:
        return t("no_run", lang)
    try:
        if quant not in QUANTS:
            raise ValueError(f"unknown GGUF quantization {quant!r}; choose one of {', '.join(QUANTS)}")
        ctx.jobs.export_gguf(run_id, quant, default_out_dir(run.path, quant))
    except Exception as err:
        log_exception(err)
        return ctx.error_message(err, lang)
    return None


def _build_gguf(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown, timer: gr.Timer) -> None:
    """The GGUF job (queued, followed, stoppable), its Modelfile, and the vLLM command after the adapter check."""
    from builder.export.gguf import DEFAULT_QUANT, QUANTS

    labels = ctx.labels
    labels.add(gr.Markdown(t("gguf_intro")), value="gguf_intro")
    with gr.Row():
        quant = labels.add(
            gr.Dropdown(list(QUANTS), value=DEFAULT_QUANT, label=t("gguf_quant"), scale=1, elem_id="export-quant"),
            label="gguf_quant",
        )
        gguf_button = labels.add(gr.Button(t("gguf_export"), scale=2, elem_id="export-gguf"), value="gguf_export")
        gguf_stop = labels.add(gr.Button(t("stop"), scale=0, variant="stop", elem_id="export-gguf-stop"), value="stop")
        vllm_button = labels.add(gr.Button(t("vllm_check"), scale=2, elem_id="export-vllm"), value="vllm_check")
    gguf_result = gr.Markdown(elem_id="export-gguf-result")
    gguf_log = gr.Code(language=None, lines=8, interactive=False, visible=False, elem_id="export-gguf-log")
    vllm_result = gr.Markdown(elem_id="export-vllm-result")
    modelfile = labels.add(
        gr.Code(label=t("modelfile"), interactive=False, visible=False, elem_id="export-modelfile"), label="modelfile"
    )
    refused = gr.State("")  # a refused export's reason, kept on screen until the user acts

    def view(run_id: str | None, language: str, refusal: str = "") -> tuple[Any, Any, Any]:
        said, text, log = gguf_view(ctx, run_id, language)
        return (
            refusal or said,
            gr.update(value=text, visible=bool(text)),
            gr.update(value=log or "", visible=log is not None and not refusal),
        )

    def start(run_id: str | None, kind: str, language: str) -> tuple[Any, ...]:
        refusal = start_gguf(ctx, run_id, kind, language) or ""
        return *view(run_id, language, refusal), refusal

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

    gguf_button.click(start, [run_select, quant, lang], [gguf_result, modelfile, gguf_log, refused])
    gguf_stop.click(
        lambda r, lg: (stop_export(ctx, r, "gguf", lg), ""),
        [run_select, lang],
        [gguf_result, refused],
        concurrency_limit=None,
    )
    vllm_button.click(do_vllm, [run_select, lang], [vllm_result])
    gr.on([run_select.change], lambda: "", None, [refused], show_progress="hidden")
    timer.tick(
        view,
        [run_select, lang, refused],
        [gguf_result, modelfile, gguf_log],
        show_progress="hidden",
        concurrency_limit=None,
    )
