"""The web app: one module per tab, assembled here. ``app.py`` parses the flags and launches it.

Nothing heavy is imported at module level (no torch, no transformers): the first screen
must be up in seconds; the chat engine and the exporters import them on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from builder.jobs.manager import JobManager
from builder.ui import data_tab, evaluate_tab, export_tab, playground_tab, recipe_tab, start_here, team_tab, train_tab
from builder.ui.access import protect
from builder.ui.common import AppContext, runs_label
from builder.ui.i18n import DEFAULT_LANG, LANGUAGES, language_from_header, t
from builder.ui.team import Team

CSS = """
#header-row { align-items: center; }
#lang-select { max-width: 260px; }
#logout { max-width: 140px; }
/* A command is read whole: wrapped, never cut off on the right. */
#export-gguf-result pre, #export-gguf-result code, #export-vllm-result pre, #export-vllm-result code {
  white-space: pre-wrap; word-break: break-all; }
"""


def build_app(
    runs_dir: Path, *, jobs: JobManager | None = None, team: Team | None = None
) -> tuple[gr.Blocks, AppContext]:
    """The app; with a ``team``, every handler checks the caller's role (``builder.ui.access``) and actions are
    audited; without one, anyone who reaches the page may do anything.

    Paths in the runs folder are shown in it as ``runs_dir`` names it (absolute), or as ``runs/...`` for the
    project's own runs folder; to reviewers always as ``runs/...`` (``AppContext.runs_shown_as``)."""
    label = runs_label(runs_dir)
    runs_dir = Path(runs_dir).expanduser().resolve()
    ctx = AppContext(runs_dir=runs_dir, jobs=jobs or JobManager(runs_dir), team=team, runs_label=label)
    if team is not None:
        ctx.jobs.observers.append(team.job_action)
    labels = ctx.labels
    with gr.Blocks(title="Domain assistant builder") as demo:
        with gr.Row(elem_id="header-row"):
            with gr.Column(scale=4):
                labels.add(gr.Markdown(t("title")), value="title")
                labels.add(gr.Markdown(t("subtitle")), value="subtitle")
            lang = labels.add(
                gr.Radio(LANGUAGES, value=DEFAULT_LANG, label=t("language"), elem_id="lang-select", scale=1),
                label="language",
            )
            if team is not None:
                user_line = gr.Markdown(visible=False, elem_id="user-line")
                logout = labels.add(
                    gr.Button(t("logout"), link="/logout?all_session=false", visible=False, elem_id="logout", scale=0),
                    value="logout",
                )
        data_state = gr.State(data_tab.empty_data_state())
        guide_box, _guide = start_here.build(ctx, lang, data_state)
        # The run list shows once there is a run to choose (a first visit has none: it would mean nothing yet).
        with gr.Row(visible=bool(ctx.run_choices()), elem_id="run-row") as run_row:
            run_select = labels.add(
                gr.Dropdown(ctx.run_choices(), value=None, label=t("run"), elem_id="run-select", scale=4),
                label="run",
            )
            refresh_runs = labels.add(gr.Button(t("refresh"), scale=1, elem_id="run-refresh"), value="refresh")
        recipe_path = gr.State(None)
        with gr.Tabs(elem_id="tabs"):
            with labels.add(gr.Tab(t("tab_data"), id="data", elem_id="tab-data"), label="tab_data"):
                data_tab.build(ctx, lang, data_state)
            with labels.add(gr.Tab(t("tab_recipe"), id="recipe", elem_id="tab-recipe"), label="tab_recipe"):
                recipe_tab.build(ctx, lang, data_state, recipe_path)
            with labels.add(gr.Tab(t("tab_train"), id="train", elem_id="tab-train"), label="tab_train"):
                train_tab.build(ctx, lang, run_select, recipe_path)
            play = gr.Tab(t("tab_playground"), id="playground", elem_id="tab-playground")
            with labels.add(play, label="tab_playground"):
                playground_tab.build(ctx, lang, run_select, play)
            with labels.add(gr.Tab(t("tab_evaluate"), id="evaluate", elem_id="tab-evaluate"), label="tab_evaluate"):
                evaluate_tab.build(ctx, lang, run_select)
            with labels.add(gr.Tab(t("tab_export"), id="export", elem_id="tab-export"), label="tab_export"):
                export_tab.build(ctx, lang, run_select)
            if team is not None:
                with labels.add(gr.Tab(t("tab_team"), id="team", elem_id="tab-team"), label="tab_team"):
                    team_tab.build(ctx, lang, run_select)

        lang.change(labels.updates, [lang], labels.components, show_progress="hidden")

        def refresh_choices(current: str | None) -> Any:
            choices = ctx.run_choices()
            return gr.update(choices=choices, value=current if current in choices else None)

        refresh_runs.click(refresh_choices, [run_select], [run_select])

        def first_screen(request: gr.Request) -> tuple[Any, Any]:
            """A reload re-attaches: the running (or queued) job first, else the newest run."""
            header = request.headers.get("accept-language") if request is not None else None
            active = ctx.jobs.active_job()
            choices = ctx.run_choices()
            run = active.id if active and active.id in choices else (choices[0] if choices else None)
            return language_from_header(header), gr.update(choices=choices, value=run)

        demo.load(first_screen, None, [lang, run_select])

        def run_list_shown(run_id: str | None) -> tuple[Any, Any]:
            """The run list once a run exists; the guide open while no run has an adapter."""
            return gr.update(visible=bool(run_id or ctx.run_choices())), gr.update(open=start_here.first_run(ctx))

        gr.on(
            [demo.load, run_select.change], run_list_shown, [run_select], [run_row, guide_box], show_progress="hidden"
        )
        for event, follow_up in ctx.on_load:
            loaded = demo.load(**event)
            if follow_up:
                loaded.then(**follow_up)
        if team is not None:
            team_tab.attach_screen(demo, ctx, lang, user_line, logout)
    if team is not None:
        protect(demo, team)
    return demo, ctx
