"""Evaluate tab: the run's eval report as a table, examples side by side, and evaluation on demand.

On demand, ``python -m builder.evaluate RUN`` runs as a detached subprocess writing
``eval.log``: like training, it goes on if the browser closes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from builder.rundir import RunDir, error_from_log, read_json, write_json_atomic
from builder.ui.common import AppContext
from builder.ui.i18n import t

SYSTEMS = ("base", "base_few_shot", "tuned")


def metrics_frame(result: dict[str, Any] | None) -> pd.DataFrame:
    if not result:
        return pd.DataFrame(columns=["metric", *SYSTEMS])
    systems = result.get("systems", {})
    present = [s for s in SYSTEMS if s in systems]
    names: list[str] = []
    for s in present:
        names += [k for k, v in systems[s].get("metrics", {}).items() if isinstance(v, int | float) and k not in names]
    rows = [[name] + [systems[s]["metrics"].get(name) for s in present] for name in names]
    for key in ("prompt_tokens_mean", "new_tokens_mean", "seconds"):
        rows.append([key] + [systems[s].get(key) for s in present])
    frame = pd.DataFrame(rows, columns=["metric", *present])
    return frame.round(3)


def examples_frame(result: dict[str, Any] | None, limit: int = 50) -> pd.DataFrame:
    columns = ["prompt", "reference", *SYSTEMS]
    if not result:
        return pd.DataFrame(columns=columns)
    rows = [[e.get(c, "") for c in columns] for e in result.get("examples", [])[:limit]]
    return pd.DataFrame(rows, columns=columns)


def eval_process_alive(run: RunDir) -> bool:
    info = read_json(run.eval_pid, {})
    pid = info.get("pid")
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def show(ctx: AppContext, run_id: str | None, lang: str) -> tuple[Any, ...]:
    run = ctx.run(run_id)
    if run is None:
        return t("no_run", lang), metrics_frame(None), examples_frame(None)
    result = run.eval_result()
    if result is None:
        note = t("eval_running", lang) if eval_process_alive(run) else t("no_eval", lang)
        return note, metrics_frame(None), examples_frame(None)
    header = t(
        "eval_header",
        lang,
        run=run_id,
        use_case=result.get("use_case", ""),
        n=result.get("n_examples", 0),
        metric=result.get("main_metric", ""),
    )
    return header, metrics_frame(result), examples_frame(result)


def build(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown) -> None:
    labels = ctx.labels
    labels.add(gr.Markdown(t("eval_intro")), value="eval_intro")
    with gr.Row():
        run_eval = labels.add(gr.Button(t("run_eval"), variant="primary", elem_id="eval-run"), value="run_eval")
        reload = labels.add(gr.Button(t("refresh")), value="refresh")
    status = gr.Markdown(elem_id="eval-status")
    table = labels.add(gr.Dataframe(label=t("eval_table"), elem_id="eval-table"), label="eval_table")
    examples = labels.add(
        gr.Dataframe(label=t("eval_examples"), wrap=True, elem_id="eval-examples"), label="eval_examples"
    )
    log = gr.Code(language=None, lines=8, visible=False)

    def start(run_id: str | None, language: str):
        run = ctx.run(run_id)
        if run is None or not run.has_adapter():
            yield t("no_adapter", language, run=run_id or "-"), gr.update(), gr.update(), gr.update(visible=False)
            return
        if not eval_process_alive(run):
            run.eval_json.unlink(missing_ok=True)
            with open(run.eval_log, "ab") as handle:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "builder.evaluate", str(run)],
                    cwd=ctx.repo_root,
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            write_json_atomic(run.eval_pid, {"pid": proc.pid})
        else:
            proc = None
        while (proc.poll() is None) if proc is not None else eval_process_alive(run):
            yield (
                t("eval_running", language),
                gr.update(),
                gr.update(),
                gr.update(value=run.log_tail(12, run.eval_log), visible=True),
            )
            time.sleep(2)
        if proc is not None and proc.returncode != 0:
            error = error_from_log(run.eval_log) or run.log_tail(12, run.eval_log)
            yield (
                f"**{t('eval_failed', language)}**\n```\n{error}\n```",
                gr.update(),
                gr.update(),
                gr.update(visible=False),
            )
            return
        header, frame, rows = show(ctx, run_id, language)
        yield f"{t('eval_done', language)} {header}", frame, rows, gr.update(visible=False)

    run_eval.click(start, [run_select, lang], [status, table, examples, log])
    reload.click(lambda r, lg: show(ctx, r, lg), [run_select, lang], [status, table, examples])
    run_select.change(lambda r, lg: show(ctx, r, lg), [run_select, lang], [status, table, examples])
    lang.change(lambda r, lg: show(ctx, r, lg)[0], [run_select, lang], [status])
