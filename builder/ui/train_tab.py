"""Train tab: start, stop and resume `python -m builder.sft` jobs, and watch them through their run directory.

Nothing here holds training state: a timer re-reads the run's files every two seconds, so a
reloaded page, a second browser or a restarted app all show the same thing.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from builder.run.rundir import RunDir, RunProgress
from builder.ui.common import AppContext, log_exception
from builder.ui.feedback_ui import build_next_round
from builder.ui.i18n import DEFAULT_LANG, status_text, t
from builder.ui.job_actions import Said, parse_overrides, resume_job, said_markdown, start_job, stop_job
from builder.ui.recipe_check import format_duration, time_estimate
from builder.ui.train_status import progress_html, shown_log, status_markdown

REFRESH_S = 2.0
# Fixed colours: with an empty first frame the plot would otherwise have no colour for the series.
SERIES_COLORS = {"train": "#2563eb", "dev": "#ea580c"}


def loss_figure(progress: RunProgress | None, lang: str = DEFAULT_LANG) -> Any:
    """Train and dev loss against the step, drawn with matplotlib (Gradio's native plot did not
    redraw its lines when a run's first frame was empty)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=100)
    if progress is not None and progress.train_points:
        steps, losses = zip(*progress.train_points, strict=True)
        axes.plot(steps, losses, color=SERIES_COLORS["train"], marker="o", markersize=3, label=t("series_train", lang))
    if progress is not None and progress.dev_points:
        steps, losses = zip(*progress.dev_points, strict=True)
        axes.plot(steps, losses, color=SERIES_COLORS["dev"], marker="s", markersize=5, label=t("series_dev", lang))
    axes.set_xlabel(t("step", lang))
    axes.set_ylabel(t("loss", lang))
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend(loc="best")
        locator = axes.xaxis.get_major_locator()
        if isinstance(locator, MaxNLocator):  # the default AutoLocator is one; a plain Locator takes no options
            locator.set_params(integer=True)
    figure.tight_layout()
    plt.close(figure)  # Gradio renders the figure object; pyplot must not keep it alive
    return figure


QUEUE_COLUMNS = ("col_run", "col_state", "col_device", "col_position")


def queue_table(ctx: AppContext, lang: str) -> dict[str, Any]:
    rows = []
    live = [j for j in ctx.jobs.jobs() if j.state in ("running", "queued")]
    position = 0
    for job in live:
        if job.state == "queued":
            position += 1
        rows.append(
            [job.id, status_text(job.state, lang), job.device or "-", position if job.state == "queued" else ""]
        )
    return {"headers": [t(key, lang) for key in QUEUE_COLUMNS], "data": rows}


def error_markdown(ctx: AppContext, progress: RunProgress, lang: str) -> str:
    """Why the run failed, in the trainer's words, and where its whole log is (the traceback stays there)."""
    cause = ctx.confinement.shown_text(progress.error or "")
    log = ctx.confinement.shown(RunDir(progress.run_dir).log)
    return f"**{t('error', lang)}**\n\n```\n{cause}\n```\n\n{t('full_log', lang, path=log)}"


def refresh(ctx: AppContext, run_id: str | None, lang: str, shown: Any = None) -> tuple[Any, ...]:
    with_queue = queue_table(ctx, lang)
    if not run_id or ctx.run_dir(run_id) is None:
        plot = loss_figure(None, lang) if shown != f"empty:{lang}" else gr.update()
        return t("no_run", lang), progress_html(None), plot, gr.update(visible=False), "", with_queue, f"empty:{lang}"
    progress = ctx.jobs.progress(run_id)
    if progress.status == "failed" and progress.error:
        error_update = gr.update(value=error_markdown(ctx, progress, lang), visible=True)
    else:
        error_update = gr.update(visible=False)
    # The plot is redrawn when its points or its language change.
    key = f"{run_id}:{lang}:{progress.train_points}:{progress.dev_points}"
    return (
        status_markdown(progress, lang),
        progress_html(progress),
        loss_figure(progress, lang) if key != shown else gr.update(),
        error_update,
        ctx.confinement.shown_text(shown_log(progress.log_tail)),
        with_queue,
        key,
    )


BUDGET_KEYS = {"steps": "training.max_steps", "minutes": "training.max_minutes"}


def with_budget(text: str, steps: float | None, minutes: float | None) -> str:
    """The overrides with the steps and minutes fields written in (a blank field: the recipe's own value)."""
    keys = tuple(f"{key}=" for key in BUDGET_KEYS.values())
    lines = [line for line in (text or "").splitlines() if not line.strip().startswith(keys)]
    if steps is not None and steps > 0:
        lines.append(f"{BUDGET_KEYS['steps']}={int(steps)}")
    if minutes is not None and minutes > 0:
        lines.append(f"{BUDGET_KEYS['minutes']}={minutes:g}")
    return "\n".join(lines)


def estimate_markdown(ctx: AppContext, path: str | None, extra: str, lang: str) -> str:
    """How long the chosen recipe with these overrides takes here: the Recipe tab's figure, by the same function."""
    from builder.config.recipe import load_recipe

    if not path:
        return ""
    checked, problems = ctx.checked_recipe(path, parse_overrides(extra))
    if checked is None or problems:
        return ""  # Start says why
    try:
        recipe = load_recipe(checked, parse_overrides(extra))
        _, plan, _, timing = time_estimate(recipe, ctx.runs_dir)
    except Exception as err:  # no estimate is no reason to keep a user from starting
        log_exception(err)
        return ""
    if timing.seconds_per_step is None:
        return t("estimate_steps", lang, steps=timing.steps, quantization=plan.quantization)
    key = "estimate_measured" if timing.measured_on else "estimate"
    return t(
        key,
        lang,
        steps=timing.steps,
        seconds=f"{timing.seconds_per_step:.1f}",
        total=format_duration(timing.total_s),
        quantization=plan.quantization,
        run=timing.measured_on or "",
    )


def has_feedback(ctx: AppContext, run_id: str | None) -> bool:
    """Whether a next round can start from this run: it has an adapter and some votes or corrections."""
    from builder.cli.feedback import summarize

    run = ctx.run_dir(run_id)
    if run is None or not ctx.has_adapter(run_id):
        return False
    summary = summarize(run)
    return bool(summary.votes or summary.corrections)


def build(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown, recipe_path: gr.State) -> None:
    labels = ctx.labels
    with gr.Row():
        recipe_file = labels.add(
            gr.Dropdown(
                ctx.recipe_choices(),
                value=ctx.default_recipe(),
                label=t("recipe_file"),
                allow_custom_value=True,
                elem_id="train-recipe",
                scale=3,
            ),
            label="recipe_file",
        )
        overrides = labels.add(
            gr.Textbox(
                label=t("overrides"), lines=2, placeholder="training.max_steps=20", elem_id="train-overrides", scale=2
            ),
            label="overrides",
        )
    with gr.Row():
        steps = labels.add(
            gr.Number(label=t("steps_field"), precision=0, minimum=0, elem_id="train-steps"), label="steps_field"
        )
        minutes = labels.add(
            gr.Number(label=t("minutes_field"), minimum=0, elem_id="train-minutes"), label="minutes_field"
        )
    estimate = gr.Markdown(elem_id="train-estimate")
    with gr.Row():
        start = labels.add(gr.Button(t("start"), variant="primary", elem_id="train-start"), value="start")
        stop = labels.add(gr.Button(t("stop"), variant="stop", elem_id="train-stop"), value="stop")
        resume = labels.add(gr.Button(t("resume"), elem_id="train-resume"), value="resume")
    message = gr.Markdown(elem_id="train-message")
    said = gr.State(None)  # what the message line says, to say it again when the language changes
    # The next-round panel shows once the run has votes or corrections (a first run has nothing to learn from).
    with gr.Column(visible=False, elem_id="train-round-box") as round_box:
        round_counts, round_method, show_round = build_next_round(ctx, lang, run_select, overrides, message, said)
    status = gr.Markdown(elem_id="train-status")
    bar = gr.HTML(progress_html(None))
    error = gr.Markdown(visible=False, elem_id="train-error")
    plot = labels.add(gr.Plot(label=t("loss_plot"), elem_id="train-plot"), label="loss_plot")
    plot_key = gr.State(None)  # what the plot shows now: redrawn only when the points change
    log = labels.add(gr.Code(label=t("log_tail"), language=None, lines=12, elem_id="train-log"), label="log_tail")
    queue = labels.add(
        gr.Dataframe(headers=[t(key) for key in QUEUE_COLUMNS], label=t("queue"), elem_id="train-queue"), label="queue"
    )
    timer = gr.Timer(REFRESH_S)
    watched = [status, bar, plot, error, log, queue, plot_key]

    def choose_recipe(path: str | None) -> Any:
        if not path:
            return gr.update()
        return gr.update(choices=ctx.recipe_choices(), value=path)

    def do_start(path: str | None, extra: str, language: str) -> tuple[Any, ...]:
        if not path:
            told: Said = ("pick_recipe", {})
            return said_markdown(ctx, told, language), told, gr.update()
        told, run_id = start_job(ctx, path, parse_overrides(extra))
        chosen = gr.update(choices=ctx.run_choices(), value=run_id) if run_id else gr.update()
        return said_markdown(ctx, told, language), told, chosen

    def do_stop(run_id: str | None, language: str) -> tuple[str, Said]:
        told = stop_job(ctx, run_id)
        return said_markdown(ctx, told, language), told

    def do_resume(run_id: str | None, language: str) -> tuple[str, Said]:
        told = resume_job(ctx, run_id)
        return said_markdown(ctx, told, language), told

    recipe_path.change(choose_recipe, [recipe_path], [recipe_file])
    # A fresh page lists the recipes saved since the app started (by this or another browser).
    ctx.on_load.append(
        (
            {
                "fn": lambda: gr.update(choices=ctx.recipe_choices(), value=ctx.default_recipe()),
                "outputs": [recipe_file],
            },
            None,
        )
    )
    start.click(do_start, [recipe_file, overrides, lang], [message, said, run_select], api_name="start_training").then(
        lambda r, lg: refresh(ctx, r, lg), [run_select, lang], watched
    )
    stop.click(do_stop, [run_select, lang], [message, said], concurrency_limit=None, api_name="stop_training")
    resume.click(do_resume, [run_select, lang], [message, said])
    lang.change(lambda told, language: said_markdown(ctx, told, language), [said, lang], [message])
    timer.tick(
        lambda r, lg, k: refresh(ctx, r, lg, k),
        [run_select, lang, plot_key],
        watched,
        show_progress="hidden",
        concurrency_limit=None,
    )
    run_select.change(
        lambda r, lg: refresh(ctx, r, lg), [run_select, lang], watched, show_progress="hidden", api_name="train_status"
    )
    # Votes and corrections arrive from the Playground (this or another browser) while the tab is open;
    # the panel shows once the run has some (a first run has nothing to learn a next round from).
    timer.tick(show_round, [run_select, round_method, lang], [round_counts], show_progress="hidden")
    gr.on(
        [timer.tick, run_select.change],
        lambda run_id: gr.update(visible=has_feedback(ctx, run_id)),
        [run_select],
        [round_box],
        show_progress="hidden",
    )
    # The steps and minutes fields write their overrides; the estimate follows the recipe and the overrides.
    budget = [overrides, steps, minutes]
    gr.on([steps.input, minutes.input], with_budget, budget, [overrides], show_progress="hidden")
    gr.on(
        [recipe_file.change, overrides.change, lang.change],
        lambda path, extra, language: estimate_markdown(ctx, path, extra, language),
        [recipe_file, overrides, lang],
        [estimate],
        show_progress="hidden",
    )
