"""The feedback loop in the web app: corrections and feedback counts in the Playground, and the
"next round from feedback" panel of the Train tab (``builder.feedback`` does the work).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from builder.advisor import MIN_CORRECTIONS, MIN_PAIRS
from builder.ui.common import AppContext, error_text, log_exception
from builder.ui.i18n import message_text, t


def feedback_markdown(ctx: AppContext, run_id: str | None, lang: str, method: str | None = None) -> str:
    """Votes, the tuned win rate, usable pairs and corrections of a run; with a method, its warnings."""
    from builder.feedback import summarize

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
    from builder.feedback import record_correction

    last = state.get("last")
    run = ctx.run(run_id)
    if not last or run is None:
        return False, "vote_first", ""
    if not (text or "").strip():
        return False, "correct_empty", ""
    try:
        messages = last.get("messages") or [{"role": "user", "content": last["prompt"]}]
        redact = run.recipe().data.redact_pii
        record_correction(run.path, messages=messages, reply=text, original=last.get("tuned"), redact=redact)
    except Exception as err:
        log_exception(err)
        return False, "", error_text(err)
    return True, "correct_saved", ""


def build_next_round(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown, overrides: Any, message: Any) -> Any:
    """The Train tab's panel: the selected run's feedback, the method, and a button that queues the round."""
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
            start = labels.add(gr.Button(t("round_start"), elem_id="train-round-start"), value="round_start")

    def do_start(run_id: str | None, chosen: str, extra: str, language: str) -> tuple[Any, Any]:
        from builder.feedback import write_next_round
        from builder.recipe import load_recipe
        from builder.ui.train_tab import parse_overrides, refusal

        run = ctx.run_dir(run_id)
        if run is None or not ctx.has_adapter(run_id):
            return t("round_no_run", language), gr.update()
        given = parse_overrides(extra)
        try:
            path = write_next_round(run, chosen)
            checked, problems = ctx.checked_recipe(path, given)  # the same confinement as any started recipe
            if problems or checked is None:
                return refusal(problems, language), gr.update()
            job = ctx.jobs.submit(checked, given, name=load_recipe(checked).name)
        except Exception as err:
            log_exception(err)
            return error_text(err), gr.update()
        key = "started" if job.state == "running" else "queued_msg"
        return t(key, language, run=job.id), gr.update(choices=ctx.run_choices(), value=job.id)

    def show(run_id: str | None, chosen: str, language: str) -> str:
        return feedback_markdown(ctx, run_id, language, chosen)

    start.click(do_start, [run_select, method, overrides, lang], [message, run_select])
    for event in (run_select.change, method.change, lang.change):
        event(show, [run_select, method, lang], [counts], show_progress="hidden")
    return counts, method, show
