"""Roles, checked on the server for every event handler of the web app, in one place.

``protect(demo, team)`` runs once the Blocks are built: it wraps the function of every registered
event (Gradio keeps them in ``demo.fns``) with a check of the caller's role against ``RULES``, a
table from a handler's key to the role it needs. A handler missing from the table needs ``admin``,
so that a new handler cannot slip past: it must be added here to reach trainers or reviewers.

A handler's key is its module and qualified name (``playground_tab:build.chat``); a lambda's adds the
names it uses (``train_tab:build.<lambda>(ctx, refresh)``), which tells lambdas of one function apart
without depending on line numbers. ``module:*`` gives every handler of a module one role.

A reviewer may only touch the runs shared with them: a handler that reads the run selector is
refused for a run that is not. A refused click says which role it needs, in the page's language; a
refused background event (a timer, a change) is refused as well but shows nothing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from builder.ui.i18n import language_from_header, t
from builder.ui.team import Caller, Team, reset_caller, set_caller
from builder.users import ROLE_LEVEL

if TYPE_CHECKING:
    import gradio as gr
    from gradio.block_function import BlockFunction

RUN_SELECT_ID = "run-select"
LANG_SELECT_ID = "lang-select"
EXPLICIT_EVENTS = ("click", "submit")  # a person asked for it: a refusal is shown

# handler key -> the least role that may call it (admin > trainer > reviewer).
RULES: dict[str, str] = {
    # the page itself: language, the run list (filtered per caller), the first screen
    "i18n:Labels.updates": "reviewer",
    "ui:build_app.refresh_choices": "reviewer",
    "ui:build_app.first_screen": "reviewer",
    "ui:build_app.run_list_shown": "reviewer",  # the run row shown once a run exists (the caller's runs)
    # the start-here guide: its steps read the data folder and every run
    "start_here:build.show": "trainer",
    # the playground: chat, blind votes, corrections (on shared runs only, see ``check``)
    "playground_tab:build.fill_system_prompt": "reviewer",
    "playground_tab:build.on_run": "reviewer",
    "playground_tab:build.recheck": "reviewer",
    "playground_tab:build.on_blind": "reviewer",
    "playground_tab:build.chat": "reviewer",
    "playground_tab:build.do_clear": "reviewer",
    "playground_tab:build.<lambda>(vote)": "reviewer",
    "playground_tab:build.correct": "reviewer",
    "playground_tab:build.relabel": "reviewer",
    # the team tab: what each role sees; sharing runs; users and the audit trail
    "team_tab:attach_screen.screen": "reviewer",
    "team_tab:attach_screen.who": "reviewer",
    "team_tab:build.show_shares": "trainer",
    "team_tab:build.share": "trainer",
    "team_tab:build.unshare": "trainer",
    "team_tab:build.add_user": "admin",
    "team_tab:build.change_role": "admin",
    "team_tab:build.change_password": "admin",
    "team_tab:build.remove_user": "admin",
    "team_tab:build.show_users": "admin",
    "team_tab:build.show_audit": "admin",
    # the trainer's tabs: every handler they have
    "data_tab:*": "trainer",
    "recipe_tab:*": "trainer",
    "train_tab:*": "trainer",
    "feedback_ui:*": "trainer",
    "evaluate_tab:*": "trainer",
    "export_tab:*": "trainer",
}


class Refused(Exception):
    """Why a call was refused, as a text key and its values (said in the caller's language)."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def handler_key(fn: Callable[..., Any]) -> str:
    fn = inspect.unwrap(fn)
    module = fn.__module__.removeprefix("builder.ui.").removeprefix("builder.")
    name = fn.__qualname__.replace(".<locals>", "")
    if fn.__name__ == "<lambda>":
        code = fn.__code__
        name += "(" + ", ".join(sorted(set(code.co_names) | set(code.co_freevars))) + ")"
    return f"{module}:{name}"


def required_role(key: str) -> str:
    """The table's role for a handler: its own entry, else its module's, else admin."""
    return RULES.get(key) or RULES.get(key.split(":", 1)[0] + ":*") or "admin"


def handler_roles(demo: gr.Blocks) -> list[tuple[str, str, str]]:
    """(key, role, trigger) of every registered handler with a server-side function, in registration order."""
    rows = []
    for block_fn in demo.fns.values():
        if block_fn.fn is None:
            continue
        key = handler_key(block_fn.fn)
        rows.append((key, required_role(key), _trigger_text(demo, block_fn)))
    return rows


def _trigger_text(demo: gr.Blocks, block_fn: BlockFunction) -> str:
    names = []
    for block_id, event in block_fn.targets:
        block = demo.blocks.get(block_id) if block_id is not None else None
        if block is None:  # the page's own event (load), or a step that follows another (then, success)
            names.append("page.load" if event == "load" else f"after the previous.{event}")
            continue
        names.append(f"{getattr(block, 'elem_id', None) or type(block).__name__}.{event}")
    return ", ".join(dict.fromkeys(names))


def protect(demo: gr.Blocks, team: Team) -> None:
    """Wrap every registered handler of ``demo`` with the role check (once)."""
    for block_fn in demo.fns.values():
        if block_fn.fn is None or getattr(block_fn.fn, "__role__", None):
            continue
        block_fn.fn = _guarded(block_fn, team)


def _guarded(block_fn: BlockFunction, team: Team) -> Callable[..., Any]:
    fn = block_fn.fn
    assert fn is not None
    role = required_role(handler_key(fn))
    positions = _input_positions(fn, len(block_fn.inputs))
    index = {getattr(c, "elem_id", None): i for i, c in enumerate(block_fn.inputs)}
    explicit = any(event in EXPLICIT_EVENTS for _, event in block_fn.targets)

    def value(args: tuple[Any, ...], elem_id: str) -> Any:
        i = index.get(elem_id)
        if i is None or positions is None or positions[i] >= len(args):
            return None
        return args[positions[i]]

    def admit(args: tuple[Any, ...]) -> Caller:
        caller = _request_caller(team)
        try:
            check(team, caller, role, block_fn, positions, value(args, RUN_SELECT_ID))
        except Refused as refused:
            raise _error(refused, _language(value(args, LANG_SELECT_ID)), explicit) from None
        return caller  # type: ignore[return-value]  # check() refuses None

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def guarded_asyncgen(*args: Any, **kwargs: Any) -> Any:
            caller = admit(args)
            async for item in _each_step(fn(*args, **kwargs), caller):
                yield item

        wrapper: Callable[..., Any] = guarded_asyncgen
    elif inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def guarded_gen(*args: Any, **kwargs: Any) -> Any:
            caller = admit(args)
            iterator = fn(*args, **kwargs)
            while True:  # each step may run in another thread: the caller is set for each one
                token = set_caller(caller)
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    reset_caller(token)
                yield item

        wrapper = guarded_gen
    elif inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            token = set_caller(admit(args))
            try:
                return await fn(*args, **kwargs)
            finally:
                reset_caller(token)

        wrapper = guarded_async
    else:

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            token = set_caller(admit(args))
            try:
                return fn(*args, **kwargs)
            finally:
                reset_caller(token)

        wrapper = guarded
    wrapper.__role__ = role  # type: ignore[attr-defined]
    return wrapper


async def _each_step(iterator: Any, caller: Caller) -> Any:
    while True:
        token = set_caller(caller)
        try:
            item = await iterator.__anext__()
        except StopAsyncIteration:
            return
        finally:
            reset_caller(token)
        yield item


def check(
    team: Team,
    caller: Caller | None,
    role: str,
    block_fn: BlockFunction,
    positions: list[int] | None,
    run: Any,
) -> None:
    """Refuse unless ``caller`` has ``role`` (or more) and, for a reviewer, the run is shared with them."""
    if caller is None:
        raise Refused("refused_login")
    if ROLE_LEVEL[caller.role] < ROLE_LEVEL[role]:
        raise Refused("refused_role", role=role, name=caller.name or "-", own=caller.role)
    if caller.role != "reviewer":
        return
    reads_run = any(getattr(c, "elem_id", None) == RUN_SELECT_ID for c in block_fn.inputs)
    if reads_run and positions is None:
        raise Refused("refused_role", role="trainer", name=caller.name or "-", own=caller.role)  # cannot tell
    if reads_run and run and not team.may_open_run(caller, str(run)):
        raise Refused("refused_run", run=str(run))


def _request_caller(team: Team) -> Caller | None:
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    return team.caller_for(getattr(request, "username", None))


def _language(chosen: Any) -> str:
    """The page's language: the selector's value when the handler reads it, else the browser's."""
    if chosen in ("en", "es"):
        return str(chosen)
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    headers = getattr(request, "headers", None)
    return language_from_header(headers.get("accept-language") if headers is not None else None)


def _error(refused: Refused, lang: str, explicit: bool) -> Exception:
    import gradio as gr

    values = dict(refused.values)
    for key in ("role", "own"):
        if key in values:
            values[key] = t(f"role_{values[key]}", lang)
    return gr.Error(t(refused.key, lang, **values), visible=explicit, print_exception=False)


def _input_positions(fn: Callable[..., Any], n_inputs: int) -> list[int] | None:
    """Where each input lands among the function's positional arguments: Gradio inserts its special
    arguments (a request, progress, event data) at their own places. None when it cannot be told."""
    import gradio as gr
    from gradio.utils import get_type_hints

    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    hints = get_type_hints(fn)
    positions: list[int] = []
    for i, parameter in enumerate(parameters):
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            if parameter.kind == parameter.VAR_POSITIONAL:
                positions += range(i, i + n_inputs - len(positions))
            break
        hint = hints.get(parameter.name)
        special = isinstance(parameter.default, gr.Progress) or (
            isinstance(hint, type) and issubclass(hint, gr.Request | gr.EventData)
        )
        if hint in (gr.Request | None,):
            special = True
        if not special:
            positions.append(i)
    return positions[:n_inputs] if len(positions) >= n_inputs else None
