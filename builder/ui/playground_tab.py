"""Playground tab: the same message to the base and the tuned model, answers streamed side by side.

Both sides come from ONE model in memory (``builder.serve.chat.ChatEngine``). In blind mode each
conversation puts the two models on shuffled sides, labelled A and B; a vote is saved in
the run's ``votes.jsonl`` with which model was which, and the tuned win rate is shown.
"""

from __future__ import annotations

import random
from typing import Any

import gradio as gr

from builder.ui.common import AppContext, chat_messages, log_exception
from builder.ui.feedback_ui import build_correction, feedback_markdown, save_correction
from builder.ui.i18n import t
from builder.ui.model_load import load_in_steps, loading_said
from builder.ui.team import current_author

CHAT_CONCURRENCY = 8  # the engine serialises generation itself; this only bounds waiting requests


def new_session(blind: bool) -> dict[str, Any]:
    left = random.choice(["base", "tuned"]) if blind else "base"
    return {"left": left, "blind": blind, "base": [], "tuned": [], "last": None}


def sides(session: dict[str, Any]) -> tuple[str, str]:
    left = session.get("left", "base")
    return left, "tuned" if left == "base" else "base"


def pane_labels(session: dict[str, Any], lang: str) -> tuple[str, str]:
    """A/B in blind mode, Base/Tuned otherwise."""
    names = ("side_a", "side_b") if session.get("blind") else ("base", "tuned")
    return t(names[0], lang), t(names[1], lang)


def empty_panes(session: dict[str, Any], lang: str) -> tuple[Any, Any]:
    """Both chat panes emptied and labelled."""
    left, right = pane_labels(session, lang)
    return gr.update(value=[], label=left), gr.update(value=[], label=right)


def said(key: str = "", **values: Any) -> list[Any]:
    """What the status line says, kept as a text key and its values so a language switch can say it again.

    ``said(raw=text)`` keeps a text that has no key (an error's own words).
    """
    return [key, values]


def status_line(spec: list[Any] | None, lang: str) -> str:
    if not spec:
        return ""
    key, values = spec
    if not key:
        return values.get("raw", "")
    if key == "vote_saved":  # the values name models: base or tuned, shown in the page's language
        values = {side: t(model, lang) for side, model in values.items()}
    return t(key, lang, **values)


def build(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown, tab: gr.Tab) -> None:
    labels = ctx.labels
    labels.add(gr.Markdown(t("play_intro")), value="play_intro")
    session = gr.State(new_session(False))
    with gr.Row():
        system_prompt = labels.add(
            gr.Textbox(label=t("system_prompt"), lines=2, scale=3, elem_id="play-system"), label="system_prompt"
        )
        blind = labels.add(gr.Checkbox(label=t("blind"), value=False, scale=1, elem_id="play-blind"), label="blind")
    with labels.add(gr.Accordion(t("sampling"), open=False), label="sampling"), gr.Row():
        temperature = labels.add(gr.Slider(0, 1.5, value=0.7, step=0.05, label=t("temperature")), label="temperature")
        top_p = labels.add(gr.Slider(0.1, 1.0, value=0.9, step=0.05, label=t("top_p")), label="top_p")
        max_new_tokens = labels.add(
            gr.Slider(8, 512, value=128, step=8, label=t("max_new_tokens"), elem_id="play-max-new"),
            label="max_new_tokens",
        )
        repetition = labels.add(
            gr.Slider(1.0, 2.0, value=1.1, step=0.05, label=t("repetition_penalty")), label="repetition_penalty"
        )
        seed = labels.add(gr.Number(value=-1, precision=0, label=t("seed")), label="seed")
    with gr.Row():  # messages and answers shown as written (escaped: a model may echo markup from its data)
        left = gr.Chatbot(label=t("base"), height=380, elem_id="play-left", render_markdown=False)
        right = gr.Chatbot(label=t("tuned"), height=380, elem_id="play-right", render_markdown=False)
    context_box = labels.add(gr.Markdown(visible=False, elem_id="play-context"), value="context")
    with gr.Row():
        message = labels.add(
            gr.Textbox(label=t("message"), placeholder=t("message_ph"), scale=4, elem_id="play-message"),
            label="message",
            placeholder="message_ph",
        )
        send = labels.add(gr.Button(t("send"), variant="primary", scale=1, elem_id="play-send"), value="send")
        clear = labels.add(gr.Button(t("clear"), scale=1, elem_id="play-clear"), value="clear")
    status = gr.Markdown(elem_id="play-status")
    status_said = gr.State(None)  # what the status line says, to say it again in another language
    with gr.Row():  # votes in either mode; the advisor warns when most were not blind
        vote_a = labels.add(gr.Button(t("vote_a"), elem_id="play-vote-a"), value="vote_a")
        vote_tie = labels.add(gr.Button(t("vote_tie"), elem_id="play-vote-tie"), value="vote_tie")
        vote_b = labels.add(gr.Button(t("vote_b"), elem_id="play-vote-b"), value="vote_b")
    win_rate = gr.Markdown(elem_id="play-win-rate")
    correction, save = build_correction(ctx)

    def on_run(run_id: str | None, is_blind: bool, language: str) -> tuple[Any, ...]:
        from builder.serve.chat import run_system_prompt

        run = ctx.run(run_id)
        prompt = run_system_prompt(run.path) if run is not None else ""
        note = said() if not run_id or ctx.has_adapter(run_id) else said("no_adapter", run=run_id)
        fresh = new_session(is_blind)
        return (
            prompt,
            fresh,
            *empty_panes(fresh, language),
            status_line(note, language),
            feedback_markdown(ctx, run_id, language),
            note,
        )

    def on_blind(is_blind: bool, language: str) -> tuple[Any, ...]:
        fresh = new_session(is_blind)
        return (fresh, *empty_panes(fresh, language))

    def chat(
        text: str,
        run_id: str | None,
        state: dict[str, Any],
        system: str,
        temp: float,
        p: float,
        max_new: float,
        rep: float,
        seed_value: float | None,
        language: str,
    ):
        """A generator: every step yields both chat panes, so the answers stream in (and, while the model
        loads, the seconds so far and the estimate)."""
        from builder.serve.chat import Sampling

        text = (text or "").strip()
        left_side, right_side = sides(state)
        panes = {"base": list(state["base"]), "tuned": list(state["tuned"])}

        def frame(session: dict[str, Any], note: list[Any] | None, box: Any = None, context: Any = None) -> tuple:
            """One update of every output: message box, session, both panes, status line, passages, what was said."""
            keep = gr.update()
            line, spec = (keep, keep) if note is None else (status_line(note, language), note)
            shown = (chat_messages(panes[left_side]), chat_messages(panes[right_side]))
            return (keep if box is None else box, session, *shown, line, context or keep, spec)

        if not text:
            yield frame(state, None)
            return
        if not ctx.has_adapter(run_id):
            yield frame(state, said("no_adapter", run=run_id) if run_id else said("no_run"))
            return
        for side in ("base", "tuned"):
            panes[side] = [*panes[side], {"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        engine = ctx.engine
        run_dir = ctx.run_dir(run_id)
        assert run_dir is not None  # has_adapter found the run
        if engine.loaded is None or engine.loaded.run_dir != run_dir:
            try:
                for elapsed, estimate in load_in_steps(engine.load, ctx.runs_dir, run_dir):
                    # The status line, not gr.Progress: each streamed step clears Gradio's bar (a generating
                    # message carries no progress), so a bar between steps would only flicker.
                    key, values = loading_said(str(run_id), elapsed, estimate)
                    yield frame(state, said(key, **values), box="")
            except Exception as err:
                log_exception(err)
                yield frame(state, said(raw=ctx.error_message(err)), box="")
                return
        yield frame(state, said("generating"), box="")
        sampling = Sampling(
            max_new_tokens=int(max_new),
            temperature=float(temp),
            top_p=float(p),
            repetition_penalty=float(rep),
            seed=None if seed_value is None or seed_value < 0 else int(seed_value),
        )
        turn = None
        try:
            for turn in engine.stream_pair(run_dir, text, state["base"], state["tuned"], system or "", sampling):
                panes["base"][-1] = {"role": "assistant", "content": turn.base}
                panes["tuned"][-1] = {"role": "assistant", "content": turn.tuned}
                context = (
                    gr.update(value=f"**{t('context', language)}**\n\n{turn.context}", visible=True)
                    if turn.context
                    else gr.update()
                )
                yield frame(state, said("generating"), context=context)
        except Exception as err:
            log_exception(err)
            yield frame(state, said(raw=ctx.error_message(err)))
            return
        new_state = {
            **state,
            "base": panes["base"],
            "tuned": panes["tuned"],
            "last": {
                "prompt": text,
                "base": turn.base if turn else "",
                "tuned": turn.tuned if turn else "",
                "messages": turn.messages if turn else [],  # the prompt as the models saw it, kept with a vote
                "system": system or "",  # the system prompt it was asked with, kept with a correction
                "sampling": dict(sampling.__dict__),
            },
        }
        yield frame(new_state, said("answered"))

    def vote(choice: str, run_id: str | None, state: dict[str, Any], language: str) -> tuple[str, str, list[Any]]:
        from builder.data.feedback_store import record_vote

        last = state.get("last")
        run = ctx.run_dir(run_id)
        if not last or run is None:
            note = said("vote_first")
            return status_line(note, language), feedback_markdown(ctx, run_id, language), note
        left_side, right_side = sides(state)
        winner = {"a": left_side, "b": right_side, "tie": "tie"}[choice]
        record_vote(
            run,
            prompt=last["prompt"],
            winner=winner,
            base=last["base"],
            tuned=last["tuned"],
            blind=state["blind"],
            messages=last.get("messages"),
            sampling=last.get("sampling"),
            shown_first=left_side,
            author=current_author(),
        )
        note = said("vote_saved", a=left_side, b=right_side)
        return status_line(note, language), feedback_markdown(ctx, run_id, language), note

    def fill_system_prompt(run_id: str | None, current: str, state: dict[str, Any]) -> Any:
        """On opening the tab: the run's system prompt, unless the user has typed one or is chatting."""
        from builder.serve.chat import run_system_prompt

        if (current or "").strip() or state.get("base"):
            return gr.update()
        run = ctx.run(run_id)
        if run is None or not run.recipe_file.is_file():
            return gr.update()
        return run_system_prompt(run.path)

    tab.select(fill_system_prompt, [run_select, system_prompt, session], [system_prompt])

    def recheck(run_id: str | None, spec: list[Any] | None, language: str) -> tuple[Any, Any]:
        """On opening the tab: a run announced without an adapter that has finished since is announced no more."""
        if spec and spec[0] == "no_adapter" and ctx.has_adapter(run_id):
            return "", None
        return gr.update(), gr.update()

    tab.select(recheck, [run_select, status_said, lang], [status, status_said])
    run_select.change(
        on_run, [run_select, blind, lang], [system_prompt, session, left, right, status, win_rate, status_said]
    )
    blind.change(on_blind, [blind, lang], [session, left, right])
    inputs = [message, run_select, session, system_prompt, temperature, top_p, max_new_tokens, repetition, seed, lang]
    outputs = [message, session, left, right, status, context_box, status_said]
    send.click(chat, inputs, outputs, concurrency_limit=CHAT_CONCURRENCY, concurrency_id="chat")
    message.submit(chat, inputs, outputs, concurrency_limit=CHAT_CONCURRENCY, concurrency_id="chat")

    def do_clear(is_blind: bool, language: str) -> tuple[Any, ...]:
        fresh = new_session(is_blind)
        return (fresh, *empty_panes(fresh, language))

    clear.click(do_clear, [blind, lang], [session, left, right])
    for button, choice in ((vote_a, "a"), (vote_b, "b"), (vote_tie, "tie")):
        button.click(
            lambda r, s, lg, c=choice: vote(c, r, s, lg), [run_select, session, lang], [status, win_rate, status_said]
        )

    def correct(text: str, run_id: str | None, state: dict[str, Any], language: str) -> tuple[Any, ...]:
        saved, key, error = save_correction(ctx, text, run_id, state)
        note = said(key) if key else said(raw=error)
        return "" if saved else gr.update(), status_line(note, language), feedback_markdown(ctx, run_id, language), note

    save.click(correct, [correction, run_select, session, lang], [correction, status, win_rate, status_said])

    def relabel(state: dict[str, Any], run_id: str | None, spec: list[Any] | None, language: str) -> tuple[Any, ...]:
        """The panes' names, the status line and the win rate again, in the language just chosen."""
        left_label, right_label = pane_labels(state, language)
        return (
            gr.update(label=left_label),
            gr.update(label=right_label),
            status_line(spec, language),
            feedback_markdown(ctx, run_id, language),
        )

    lang.change(relabel, [session, run_select, status_said, lang], [left, right, status, win_rate])
