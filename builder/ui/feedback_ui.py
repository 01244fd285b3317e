"""The feedback loop in the web app: corrections and feedback counts in the Playground, and the
"next round from feedback" panel of the Train tab (``builder.cli.feedback`` does the work).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from builder.data.advisor import MIN_CORRECTIONS, MIN_PAIRS
from builder.ui.common import AppContext, error_text, log_exception
from builder.ui.i18n import message_text, t
from builder.ui.team import current_author

if TYPE_CHECKING:
    from builder.ui.job_actions import Said


def feedback_markdown(ctx: AppContext, run_id: str | None, lang: str, method: str | None = None) -> str:
    """Votes, the tuned win rate, usable pairs and corrections of a run; with a method, its warnings."""
    from builder.cli.feedback import summarize

    run = ctx.run_dir(run_id)
    if run is None:
        return ""
    summary = summarize(run)
    if not summary.votes and not summary.corrections:
        text = t("no_feedback", lang)
    else:
        rate = "-" if summary.tuned_win_rate is None else f"{summary.tuned_win_rate:.0%}"
        text = t(
            "feedback_counts",
            lang,
            n=summary.votes,
            rate=rate,
            tuned=summary.tuned,
            base=summary.base,
            tie=summary.tie,
            pairs=summary.pairs,
            corrections=summary.corrections,
        )
    if method and summary.by_author:  # who voted, for the people who start a round (not shown to voters)
        shown = (f"{author or t('anonymous', lang)} {n}" for author, n in summary.by_author.items())
        text += "\n\n" + t("votes_by_author", lang, authors=", ".join(shown))
    if method:
        text += "\n\n" + t("round_enough", lang, pairs=MIN_PAIRS, corrections=MIN_CORRECTIONS)
        text += "".join(f"\n\n⚠ {message_text(item, lang)}" for item in summary.advice.get(method, []))
    return text


def build_correction(ctx: AppContext) -> tuple[Any, Any]:
    """ "Write the right reply": a text box and its button (the Playground wires them to ``save_correction``)."""
    labels = ctx.labels
    with labels.add(gr.Accordion(t("correct_title"), open=False, elem_id="play-correct"), label="correct_title"):
        reply = labels.add(
            gr.Textbox(label=t("correct_reply"), lines=3, placeholder=t("correct_ph"), elem_id="play-correction"),
            label="correct_reply",
            placeholder="correct_ph",
        )
        save = labels.add(gr.Button(t("correct_save"), elem_id="play-save-correction"), value="correct_save")
    return reply, save


def save_correction(ctx: AppContext, text: str, run_id: str | None, state: dict[str, Any]) -> tuple[bool, str, str]:
    """Save the last message with ``text`` as the agent's reply: (saved, text key, an error's own words)."""
    from builder.data.feedback_store import record_correction

    last = state.get("last")
    run = ctx.run(run_id)
    if not last or run is None:
        return False, "vote_first", ""
    if not (text or "").strip():
        return False, "correct_empty", ""
    try:
        messages = last.get("messages") or [{"role": "user", "content": last["prompt"]}]
        # The system prompt the models were asked with is kept with the correction, even where the prompt form
        # put it into the first turn rather than a system message.
        if last.get("system") and not any(m.get("role") == "system" for m in messages):
            messages = [{"role": "system", "content": last["system"]}, *messages]
        redact = run.recipe().data.redact_pii
        record_correction(
            run.path, messages=messages, reply=text, original=last.get("tuned"), redact=redact, author=current_author()
        )
    except Exception as err:
        log_exception(err)
        return False, "", error_text(err)
    return True, "correct_saved", ""


def build_next_round(
    ctx: AppContext,
    lang: gr.Radio,
    run_select: gr.Dropdown,
    overrides: gr.Textbox,
    message: gr.Markdown,
    said: gr.State,
) -> tuple[gr.Markdown, gr.Radio, Callable[[str | None, str, str], str]]:
    """The Train tab's panel: the selected run's feedback, the method, and a button that queues the round.

    It speaks on the Train tab's message line (``said`` keeps what it said, as the tab's own buttons do).
    """
    labels = ctx.labels
    with labels.add(gr.Accordion(t("round_title"), open=True, elem_id="train-round"), label="round_title"):
        counts = gr.Markdown(elem_id="train-feedback")
        with gr.Row():
            method = labels.add(
                gr.Radio(
                    [("DPO", "dpo"), ("SFT", "sft")], value="dpo", label=t("round_method"), elem_id="train-round-method"
                ),
                label="round_method",
            )
            leave_out = labels.add(
                gr.Dropdown([], multiselect=True, label=t("round_leave_out"), elem_id="train-round-leave-out"),
                label="round_leave_out",
            )
            start = labels.add(gr.Button(t("round_start"), elem_id="train-round-start"), value="round_start")

    def do_start(
        run_id: str | None, chosen: str, extra: str, language: str, excluded: list[str] | None = None
    ) -> tuple[Any, ...]:
        from builder.feedback.rounds import write_next_round
        from builder.ui.job_actions import parse_overrides, said_markdown, start_job

        run = ctx.run_dir(run_id)
        told: Said = ("round_no_run", {})
        job_id = None
        if run is not None and ctx.has_adapter(run_id):
            try:
                # Authors left out travel in the recipe (feedback.exclude_authors), so the round's record shows it.
                leave = [f"feedback.exclude_authors={json.dumps(list(excluded))}"] if excluded else []
                path = write_next_round(run, chosen, overrides=leave)
                # The same confinement as any started recipe.
                told, job_id = start_job(ctx, str(path), parse_overrides(extra), recipe_named=True)
            except Exception as err:
                log_exception(err)
                told = ("error", err)
        chosen_run = gr.update(choices=ctx.run_choices(), value=job_id) if job_id else gr.update()
        return said_markdown(ctx, told, language), told, chosen_run

    def show(run_id: str | None, chosen: str, language: str) -> str:
        return feedback_markdown(ctx, run_id, language, chosen)

    def authors(run_id: str | None, current: list[str] | None) -> Any:
        """The named authors of the run's votes and corrections, to leave any of them out."""
        from builder.cli.feedback import summarize

        run = ctx.run_dir(run_id)
        if run is None:
            return gr.update(choices=[], value=[])
        summary = summarize(run)
        names = sorted({a for a in [*summary.by_author, *summary.corrections_by_author] if a})
        return gr.update(choices=names, value=[n for n in current or [] if n in names])

    start.click(do_start, [run_select, method, overrides, lang, leave_out], [message, said, run_select])
    for event in (run_select.change, method.change, lang.change):
        event(show, [run_select, method, lang], [counts], show_progress="hidden")
    run_select.change(authors, [run_select, leave_out], [leave_out], show_progress="hidden")
    return counts, method, show
