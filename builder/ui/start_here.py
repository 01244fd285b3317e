"""The first-run guide ("start here"): import, recipe, train, try it, with the step the user is at marked.

It reads where the user is from the page's state and the runs folder: data imported in this page, a recipe
saved, a run with an adapter, feedback given in the Playground. Open while no run has an adapter; after that it
stays as a closed reminder.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from builder.ui.common import AppContext
from builder.ui.i18n import t

STEPS = ("start_data", "start_recipe", "start_train", "start_try")
REFRESH_S = 5.0


def steps_done(ctx: AppContext, data_state: dict[str, Any] | None) -> list[bool]:
    """Whether each step is done: data imported, a recipe saved (or a run started), a run trained, a run tried."""
    found = [ctx.run(r) for r in ctx.run_choices()]
    runs = [r for r in found if r is not None]
    trained = [r for r in runs if r.has_adapter()]
    tried = any(r.path.joinpath("votes.jsonl").is_file() or r.corrections.is_file() for r in trained)
    saved = ctx.user_recipes_dir.is_dir() and any(ctx.user_recipes_dir.glob("*.yaml"))
    imported = "languages" in (data_state or {})
    return [imported or bool(runs), saved or bool(runs), bool(trained), tried]


def guide_markdown(done: list[bool], lang: str) -> str:
    lines = [t("start_title", lang), ""]
    current = next((i for i, d in enumerate(done) if not d), None)
    for i, key in enumerate(STEPS):
        mark = "✔" if done[i] else f"{i + 1}\\."  # escaped: one paragraph of lines, not a list that skips a ✔
        text = t(key, lang)
        if i == current:
            text = f"**{text}** {t('start_here_mark', lang)}"
        lines.append(f"{mark} {text}  ")
    return "\n".join(lines)


def build(ctx: AppContext, lang: gr.Radio, data_state: gr.State) -> tuple[Any, Any]:
    """The guide (an accordion open during the first run) and the function that says it again."""
    labels = ctx.labels
    with labels.add(gr.Accordion(t("start_label"), open=True, elem_id="start-here"), label="start_label") as box:
        guide = gr.Markdown(guide_markdown([False] * len(STEPS), "en"), elem_id="start-guide")

    def show(state: dict[str, Any] | None, language: str) -> str:
        return guide_markdown(steps_done(ctx, state), language)

    timer = gr.Timer(REFRESH_S)
    gr.on([timer.tick, data_state.change, lang.change], show, [data_state, lang], [guide], show_progress="hidden")
    return box, guide


def first_run(ctx: AppContext) -> bool:
    """No run has an adapter yet: the guide opens, the run list stays hidden until a run exists."""
    return not any(ctx.has_adapter(r) for r in ctx.run_choices())
