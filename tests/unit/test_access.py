"""The role table against the app's registered handlers, the guard around a handler, and the per-user login delay."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext

from builder.ui.access import RULES, handler_key, handler_roles, protect, required_role
from builder.ui.login_guard import UserThrottle
from builder.ui.team import Team, current_author
from builder.users import AccountStore

PASSWORD = "a long enough password"


@pytest.fixture
def team(tmp_path: Path) -> Team:
    store = AccountStore(tmp_path / "accounts.db")
    store.add("boss", "admin", PASSWORD, actor=None)
    store.add("tess", "trainer", PASSWORD, actor=None)
    store.add("rita", "reviewer", PASSWORD, actor=None)
    store.share("shared-run", "rita", actor="boss")
    return Team(store)


def test_a_handler_key_is_its_module_and_name_and_a_lambda_adds_what_it_uses() -> None:
    def outer():
        def inner() -> None: ...

        return inner, lambda r, lg: refresh(ctx, r, lg)  # noqa: F821

    inner, lam = outer()
    module = __name__.removeprefix("builder.")
    assert (
        handler_key(inner)
        == f"{module}:test_a_handler_key_is_its_module_and_name_and_a_lambda_adds_what_it_uses.outer.inner"
    )
    assert handler_key(lam).endswith(".outer.<lambda>(ctx, refresh)")


def test_a_handler_missing_from_the_table_needs_admin() -> None:
    assert required_role("playground_tab:build.chat") == "reviewer"
    assert required_role("train_tab:build.anything_new") == "trainer"  # a trainer tab's module entry
    assert required_role("playground_tab:build.something_new") == "admin"
    assert required_role("somewhere:else") == "admin"


def test_every_registered_handler_has_a_deliberate_role(tmp_path: Path, team: Team) -> None:
    """Generated from the app: a new handler in a module without a module-wide role must be added to the table."""
    from builder.ui import build_app

    demo, _ = build_app(tmp_path / "runs", team=team)
    rows = handler_roles(demo)
    keys = {key for key, _, _ in rows}
    assert len(rows) > 60
    whole_modules = {key.split(":")[0] for key in RULES if key.endswith(":*")}
    unlisted = sorted(k for k in keys if k not in RULES and k.split(":")[0] not in whole_modules)
    assert unlisted == [], f"add these handlers to builder/ui/access.py RULES: {unlisted}"
    stale = sorted(k for k in RULES if not k.endswith(":*") and k not in keys)
    assert stale == [], f"RULES names handlers the app no longer has: {stale}"
    reviewer = sorted({k for k, role, _ in rows if role == "reviewer"})
    assert all(k.split(":")[0] in ("playground_tab", "ui", "i18n", "team_tab") for k in reviewer), reviewer
    assert {role for k, role, _ in rows if k.startswith("team_tab:build.") and "user" in k} == {"admin"}
    assert all(getattr(f.fn, "__role__", None) for f in demo.fns.values() if f.fn is not None)  # every one wrapped


def call_as(block_fn, username: str | None, *args):
    LocalContext.request.set(SimpleNamespace(username=username, headers={"accept-language": "es-ES"}))
    try:
        result = block_fn.fn(*args)
        return list(result) if hasattr(result, "__next__") else result
    finally:
        LocalContext.request.set(None)


def test_the_guard_refuses_below_the_role_and_runs_as_the_caller(team: Team) -> None:
    seen = []

    with gr.Blocks() as demo:
        run = gr.Dropdown(["shared-run", "other-run"], elem_id="run-select")
        out = gr.Textbox()
        button = gr.Button()

        def vote(run_id):  # a stand-in named like the playground's handler, registered from this test module
            seen.append((run_id, current_author()))
            return run_id

        def stream(run_id):
            for n in range(2):
                seen.append((n, current_author()))
                yield str(n)

        button.click(vote, [run], [out])
        run.change(stream, [run], [out])
    RULES[handler_key(vote)] = "reviewer"
    RULES[handler_key(stream)] = "trainer"
    try:
        protect(demo, team)
        clicked, changed = demo.fns[0], demo.fns[1]
        assert call_as(clicked, "rita", "shared-run") == "shared-run"
        with pytest.raises(gr.Error) as refused:
            call_as(clicked, "rita", "other-run")
        assert "no está compartida contigo" in refused.value.message and refused.value.visible  # a click: shown
        with pytest.raises(gr.Error) as refused:
            call_as(changed, "rita", "shared-run")
        assert "requiere el rol de entrenador" in refused.value.message and not refused.value.visible  # background
        with pytest.raises(gr.Error, match="inicia sesión"):
            call_as(clicked, None, "shared-run")
        with pytest.raises(gr.Error, match="inicia sesión"):
            call_as(clicked, "someone-removed", "shared-run")
        assert call_as(changed, "tess", "other-run") == ["0", "1"]
        assert call_as(clicked, "boss", "other-run") == "other-run"
    finally:
        RULES.pop(handler_key(vote))
        RULES.pop(handler_key(stream))
    assert seen == [("shared-run", "rita"), (0, "tess"), (1, "tess"), ("other-run", "boss")]


TRAINER_TAB_IDS = {"tab-data", "tab-recipe", "tab-train", "tab-evaluate", "tab-export", "tab-team", "start-here"}


def test_with_logins_the_trainer_tabs_are_built_hidden_and_shown_on_load_to_admins_and_trainers(
    tmp_path: Path, team: Team
) -> None:
    """A tab hidden by an update keeps its header in Gradio 6.31: a reviewer's must never have been shown."""
    from builder.ui import build_app

    demo, _ = build_app(tmp_path / "runs", team=team)
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    assert all(by_id[elem_id].visible is False for elem_id in TRAINER_TAB_IDS)
    assert by_id["tab-playground"].visible is True
    screen = next(f for f in demo.fns.values() if f.fn is not None and f.fn.__name__ == "screen")
    outputs = [getattr(b, "elem_id", None) for b in screen.outputs]
    for name, shown in (("rita", False), ("tess", True), ("boss", True)):
        updates = dict(zip(outputs, call_as(screen, name, "es"), strict=True))
        assert {updates[elem_id]["visible"] for elem_id in TRAINER_TAB_IDS} == {shown}, name
        assert updates["tabs"].get("selected") == (None if shown else "playground"), name
    with_no_login, _ = build_app(tmp_path / "open", team=Team(AccountStore(tmp_path / "empty.db")))
    assert all(b.visible for b in with_no_login.blocks.values() if getattr(b, "elem_id", None) in TRAINER_TAB_IDS)


def test_without_accounts_everyone_is_an_admin(tmp_path: Path) -> None:
    open_team = Team(AccountStore(tmp_path / "empty.db"))
    assert not open_team.logins
    assert open_team.caller_for(None).role == "admin"


def test_failed_logins_slow_down_per_user_name_not_for_other_names() -> None:
    throttle = UserThrottle(first_delay_s=0.2, max_delay_s=1.0)

    async def wrong() -> bool:
        return False

    async def right() -> bool:
        return True

    async def timed(name: str, check) -> tuple[bool, float]:
        started = time.monotonic()
        ok = await throttle.attempt(name, check)
        return ok, time.monotonic() - started

    async def scenario() -> list[tuple[bool, float]]:
        return [
            await timed("ana", wrong),  # no wait before a first try
            await timed("Ana ", wrong),  # the same name (Gradio strips it; case does not matter): 0.2 s
            await timed("bo", right),  # another name: no wait
            await timed("ana", right),  # 0.4 s, then the count clears
            await timed("ana", wrong),  # no wait again
        ]

    results = asyncio.run(scenario())
    assert [ok for ok, _ in results] == [False, False, True, True, False]
    waits = [round(seconds, 1) for _, seconds in results]
    assert waits[0] < 0.1 and 0.2 <= waits[1] < 0.35 and waits[2] < 0.1 and 0.4 <= waits[3] < 0.55 and waits[4] < 0.1
