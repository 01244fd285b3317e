"""Evaluate tab: the run's eval report as a table, examples side by side, and evaluation on demand.

On demand, ``python -m builder.evaluate RUN`` is queued as a job (``JobManager.evaluate``): it waits
for its device behind any training, goes on if the browser closes, and a timer follows it from
its files as the Train tab follows a training. While it runs, the status says which system is answering,
how many dev examples it has answered and about how long is left (``builder.evaluate.progress``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from builder.evaluate.progress import read_progress
from builder.jobs.process import job_id
from builder.ui.common import AppContext, log_exception
from builder.ui.i18n import DEFAULT_LANG, status_text, t, t_known
from builder.ui.recipe_check import format_duration

SYSTEMS = ("base", "base_few_shot", "tuned")
REFRESH_S = 2.0


def metrics_frame(result: dict[str, Any] | None, lang: str = DEFAULT_LANG) -> pd.DataFrame:
    if not result:
        return pd.DataFrame(columns=[t("col_metric", lang), *SYSTEMS])
    systems = result.get("systems", {})
    present = [s for s in SYSTEMS if s in systems]
    names: list[str] = []
    for s in present:
        names += [k for k, v in systems[s].get("metrics", {}).items() if isinstance(v, int | float) and k not in names]
    rows = [[name] + [systems[s]["metrics"].get(name) for s in present] for name in names]
    for key in ("prompt_tokens_mean", "new_tokens_mean", "seconds"):
        rows.append([key] + [systems[s].get(key) for s in present])
    frame = pd.DataFrame(rows, columns=[t("col_metric", lang), *present])
    return frame.round(3)


def examples_frame(result: dict[str, Any] | None, lang: str = DEFAULT_LANG, limit: int = 50) -> pd.DataFrame:
    columns = ["prompt", "reference", *SYSTEMS]
    headers = [t("col_prompt", lang), t("col_reference", lang), *SYSTEMS]
    if not result:
        return pd.DataFrame(columns=headers)
    rows = [[e.get(c, "") for c in columns] for e in result.get("examples", [])[:limit]]
    return pd.DataFrame(rows, columns=headers)


def progress_text(record: dict[str, Any] | None, lang: str) -> str:
    """Where the evaluation is (``builder.evaluate.progress``): the system, the examples answered, the time left."""
    if not record:
        return ""
    if record.get("phase") == "loading":
        return t("eval_loading", lang)
    if record.get("phase") != "answering":
        return ""
    system = str(record.get("system", ""))
    text = t(
        "eval_progress",
        lang,
        system=t_known(f"eval_sys_{system}", lang, system),
        number=record.get("system_number", "?"),
        systems=record.get("systems", len(SYSTEMS)),
        answered=record.get("answered", 0),
        n=record.get("n_examples", "?"),
        percent=round(100 * float(record.get("fraction") or 0.0)),
    )
    eta = record.get("eta_s")
    if isinstance(eta, int | float):
        text += " · " + t("eval_time_left", lang, time=format_duration(eta))
    return text


def eval_status(ctx: AppContext, run_id: str, lang: str) -> tuple[str, str | None]:
    """The evaluation job's state in words, and its log while it runs or when it failed."""
    job = ctx.jobs.get(job_id(run_id, "evaluate"))
    if job is None:
        return "", None
    shown = ctx.confinement.shown_text
    progress = ctx.jobs.progress(job.id)
    if progress.status == "queued":
        return t("queued_at", lang, pos=progress.queue_position or "?"), None
    if progress.status in ("running", "stopping"):
        where = progress_text(read_progress(job.run_dir), lang)
        note = f"{t('eval_running', lang)} ({status_text(progress.status, lang)})"
        return (f"{note}\n\n{where}" if where else note), shown(progress.log_tail)
    if progress.status == "failed":
        return f"**{t('eval_failed', lang)}**\n```\n{shown(progress.error or '')}\n```", None
    if progress.status == "stopped":
        return status_text("stopped", lang), None
    return t("eval_done", lang), None


def eval_estimate(ctx: AppContext, run_id: str, lang: str) -> str:
    """Before an evaluation: how many dev examples it answers with the three systems, and how long that takes
    here, by the pace of the newest evaluation in this runs folder (none yet: the time shows once it runs)."""
    from builder.run.rundir import read_jsonl

    run = ctx.run(run_id)
    if run is None or not run.examples("dev").is_file():
        return ""
    try:
        n = min(len(read_jsonl(run.examples("dev"))), run.recipe().eval.max_examples)
    except Exception as err:  # no estimate is no reason to hide the rest
        log_exception(err)
        return ""
    pace = None
    evaluated = sorted(ctx.runs_dir.glob("*/eval.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in evaluated:
        evaluated_run = ctx.run(path.parent.name)
        result = evaluated_run.eval_result() if evaluated_run else None
        systems = (result or {}).get("systems") or {}
        seconds = [s.get("seconds") for s in systems.values() if isinstance(s.get("seconds"), int | float)]
        if seconds and result and result.get("n_examples"):
            pace = (sum(seconds) / result["n_examples"], path.parent.name)
            break
    if pace is None:
        return t("eval_estimate", lang, n=n, systems=len(SYSTEMS))
    return t("eval_estimate_time", lang, n=n, systems=len(SYSTEMS), time=format_duration(pace[0] * n), run=pace[1])


def show(ctx: AppContext, run_id: str | None, lang: str, shown: Any = None) -> tuple[Any, ...]:
    """Status, metrics, examples, log and what is shown (the tables are re-sent only when it changes)."""
    run = ctx.run(run_id)
    if run is None or run_id is None:
        return t("no_run", lang), metrics_frame(None, lang), examples_frame(None, lang), gr.update(visible=False), None
    note, log = eval_status(ctx, run_id, lang)
    log_update = gr.update(value=log, visible=True) if log is not None else gr.update(visible=False)
    result = run.eval_result()
    if result is None:
        said = note or "\n\n".join(filter(None, [t("no_eval", lang), eval_estimate(ctx, run_id, lang)]))
        return said, metrics_frame(None, lang), examples_frame(None, lang), log_update, None
    header = t(
        "eval_header",
        lang,
        run=run_id,
        use_case=result.get("use_case", ""),
        n=result.get("n_examples", 0),
        metric=result.get("main_metric", ""),
    )
    key = f"{run_id}:{lang}:{result.get('evaluated_at')}"  # the tables follow the language too
    tables = (metrics_frame(result, lang), examples_frame(result, lang)) if key != shown else (gr.update(),) * 2
    return (f"{note}\n\n{header}" if note else header), *tables, log_update, key


def start_evaluation(ctx: AppContext, run_id: str | None, lang: str) -> str:
    """Queue an evaluation of the run; it waits for the device like any training does."""
    if not run_id or not ctx.has_adapter(run_id):
        return t("no_adapter", lang, run=run_id or "-")
    try:
        job = ctx.jobs.evaluate(run_id)
    except Exception as err:
        log_exception(err)
        return ctx.error_message(err)
    if job.state == "queued":
        return t("queued_at", lang, pos=ctx.jobs.progress(job.id).queue_position or "?")
    return t("eval_running", lang)


def stop_evaluation(ctx: AppContext, run_id: str | None, lang: str) -> str:
    job = ctx.jobs.get(job_id(run_id, "evaluate")) if run_id else None
    if job is None:
        return t("no_eval", lang)
    try:
        ctx.jobs.stop(job.id)
    except Exception as err:
        return ctx.error_message(err)
    return t("eval_stopping", lang, run=run_id)


def build(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown) -> None:
    labels = ctx.labels
    labels.add(gr.Markdown(t("eval_intro")), value="eval_intro")
    with gr.Row():
        run_eval = labels.add(gr.Button(t("run_eval"), variant="primary", elem_id="eval-run"), value="run_eval")
        stop = labels.add(gr.Button(t("stop"), variant="stop", elem_id="eval-stop"), value="stop")
        reload = labels.add(gr.Button(t("refresh")), value="refresh")
    message = gr.Markdown(elem_id="eval-message")
    status = gr.Markdown(elem_id="eval-status")
    table = labels.add(gr.Dataframe(label=t("eval_table"), elem_id="eval-table"), label="eval_table")
    examples = labels.add(
        gr.Dataframe(label=t("eval_examples"), wrap=True, elem_id="eval-examples"), label="eval_examples"
    )
    log = gr.Code(language=None, lines=8, visible=False, elem_id="eval-log")
    shown = gr.State(None)  # which result the tables show: re-sent only when it changes
    timer = gr.Timer(REFRESH_S)
    watched = [status, table, examples, log, shown]

    def refresh(run_id: str | None, language: str, current: Any = None) -> tuple[Any, ...]:
        return show(ctx, run_id, language, current)

    run_eval.click(lambda r, lg: start_evaluation(ctx, r, lg), [run_select, lang], [message]).then(
        refresh, [run_select, lang], watched
    )
    stop.click(lambda r, lg: stop_evaluation(ctx, r, lg), [run_select, lang], [message], concurrency_limit=None)
    reload.click(refresh, [run_select, lang], watched)
    run_select.change(refresh, [run_select, lang], watched)
    timer.tick(refresh, [run_select, lang, shown], watched, show_progress="hidden", concurrency_limit=None)
