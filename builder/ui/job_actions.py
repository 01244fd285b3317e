"""Start, stop and resume jobs from the web app, and the message line that says what happened.

Shared by the Train tab and its next-round panel (``feedback_ui``), which both start recipes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from builder.core.messages import Message
from builder.ui.common import AppContext, log_exception
from builder.ui.i18n import message_text, t


def parse_overrides(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip() and not line.strip().startswith("#")]


def refusal(problems: list[Message | str], lang: str, shown: Callable[[str], str] = str) -> str:
    """Why a recipe was not started, in ``lang``: one problem (naming its key) a line."""
    said = (shown(message_text(problem, lang)) for problem in problems)
    lines = "\n".join(f"- `{p.strip()}`" for text in said for p in text.splitlines() if p.strip())
    return f"**{t('refused', lang)}**\n\n{lines}"


# What the message line under the buttons said last, kept to say it again in another language:
# (a text key, its values), ("refused", the problems) or ("error", the exception).
Said = tuple[str, Any]


def said_markdown(ctx: AppContext, said: Said | None, lang: str) -> str:
    """The message line in ``lang``."""
    if not said:
        return ""
    kind, value = said
    if kind == "refused":
        return refusal(value, lang, ctx.confinement.shown_text)
    if kind == "error":
        return ctx.error_message(value, lang)
    return t(kind, lang, **value)


def start_job(ctx: AppContext, path: str, given: list[str], *, recipe_named: bool = False) -> tuple[Said, str | None]:
    """Check a recipe with its overrides, as the trainer will read it, and queue it: what to say, and the run.

    ``recipe_named``: the run is named after the recipe's ``name:`` rather than its file.
    """
    from builder.config.recipe import load_recipe

    checked, problems = ctx.checked_recipe(path, given)
    if problems or checked is None:
        return ("refused", problems), None
    try:
        job = ctx.jobs.submit(checked, given, name=load_recipe(checked).name if recipe_named else None)
    except Exception as err:
        log_exception(err)
        return ("error", err), None
    return ("started" if job.state == "running" else "queued_msg", {"run": job.id}), job.id


def stop_job(ctx: AppContext, run_id: str | None) -> Said:
    """Ask a run to stop (it ends after its current step): what to say."""
    if not run_id or ctx.jobs.get(run_id) is None:
        return "no_run", {}
    try:
        ctx.jobs.stop(run_id)
    except Exception as err:
        return "error", err
    return "stopped_msg", {"run": run_id}


def resume_job(ctx: AppContext, run_id: str | None) -> Said:
    """Continue a stopped run from its last checkpoint, its recipe checked again first: what to say."""
    job = ctx.jobs.get(run_id) if run_id else None
    if job is None:
        return "no_run", {}
    # The recipe file may have changed since the run started: check it again before the trainer reads it.
    _, problems = ctx.checked_recipe(job.recipe_path, job.overrides)
    if problems:
        return "refused", problems
    try:
        ctx.jobs.resume(job.id)
    except Exception as err:
        return "error", err
    return "resumed_msg", {"run": job.id}
