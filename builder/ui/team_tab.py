"""Team tab: share the chosen run with reviewers (admins and trainers), manage users and read the audit
trail (admins); and the screen each role gets (tabs, timers, who is signed in, log out).

What the page shows is a courtesy: ``builder.ui.access`` checks every handler on the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from builder.ui.i18n import message_text, t
from builder.ui.team import current_caller
from builder.users import ROLES, AccountError

if TYPE_CHECKING:
    from builder.ui.common import AppContext
    from builder.ui.team import Team

# Shown to admins and trainers only; the start-here guide is about importing and training.
TRAINER_TABS = ("tab-data", "tab-recipe", "tab-train", "tab-evaluate", "tab-export", "tab-team", "start-here")
AUDIT_ROWS = 300


def role_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"role_{role}", lang), role) for role in ROLES]


def users_table(team: Team, lang: str) -> dict[str, Any]:
    rows = []
    for account in team.store.accounts():
        shared = ", ".join(sorted(team.store.shared_runs(account.name))) if account.role == "reviewer" else ""
        rows.append([account.name, t(f"role_{account.role}", lang), account.created, shared])
    headers = [t(key, lang) for key in ("col_user", "col_role", "col_since", "col_shared")]
    return {"headers": headers, "data": rows}


def audit_table(team: Team, lang: str) -> dict[str, Any]:
    rows = [
        [e.time, e.actor or "-", t(f"audit_{e.action}", lang), e.target or "", e.detail or ""]
        for e in team.store.audit_entries(AUDIT_ROWS)
    ]
    headers = [t(key, lang) for key in ("col_time", "col_actor", "col_action", "col_target", "col_detail")]
    return {"headers": headers, "data": rows}


def shares_text(team: Team, run_id: str | None, lang: str) -> str:
    if not run_id:
        return t("no_run", lang)
    names = team.store.shared_with(run_id)
    return t("shared_with", lang, run=run_id, names=", ".join(names)) if names else t("shared_none", lang, run=run_id)


def reviewer_names(team: Team) -> list[str]:
    return [a.name for a in team.store.accounts() if a.role == "reviewer"]


def said(err: AccountError, lang: str) -> str:
    return f"**{t('refused', lang)}** {message_text(err.headline, lang)}"


def actor() -> str | None:
    caller = current_caller()
    return caller.name if caller else None


def build(ctx: AppContext, lang: gr.Radio, run_select: gr.Dropdown) -> None:
    team = ctx.team
    assert team is not None
    labels = ctx.labels
    labels.add(gr.Markdown(t("share_intro")), value="share_intro")
    with gr.Row():
        reviewer = labels.add(
            gr.Dropdown([], label=t("share_user"), scale=3, elem_id="team-share-user"),
            label="share_user",
        )
        share_button = labels.add(gr.Button(t("share"), scale=1, elem_id="team-share"), value="share")
        unshare_button = labels.add(gr.Button(t("unshare"), scale=1, elem_id="team-unshare"), value="unshare")
    shares = gr.Markdown(elem_id="team-shares")
    with labels.add(gr.Accordion(t("users_title"), open=True, elem_id="team-users-box"), label="users_title"):
        labels.add(gr.Markdown(t("users_intro")), value="users_intro")
        users = gr.Dataframe(interactive=False, elem_id="team-users")
        with gr.Row():
            name = labels.add(gr.Textbox(label=t("user_name"), elem_id="team-user-name"), label="user_name")
            role = gr.Radio(role_choices("en"), value="reviewer", label=t("user_role"), elem_id="team-user-role")
            password = labels.add(
                gr.Textbox(label=t("user_password"), type="password", elem_id="team-user-password"),
                label="user_password",
            )
        with gr.Row():
            add_button = labels.add(gr.Button(t("user_add"), variant="primary", elem_id="team-add"), value="user_add")
            role_button = labels.add(gr.Button(t("user_set_role"), elem_id="team-set-role"), value="user_set_role")
            password_button = labels.add(
                gr.Button(t("user_set_password"), elem_id="team-set-password"), value="user_set_password"
            )
            remove_button = labels.add(
                gr.Button(t("user_remove"), variant="stop", elem_id="team-remove"), value="user_remove"
            )
        message = gr.Markdown(elem_id="team-message")
    with labels.add(gr.Accordion(t("audit_title"), open=False, elem_id="team-audit-box"), label="audit_title"):
        audit = gr.Dataframe(interactive=False, wrap=True, elem_id="team-audit")
        audit_refresh = labels.add(gr.Button(t("refresh"), elem_id="team-audit-refresh"), value="refresh")

    def show_shares(run_id: str | None, language: str) -> tuple[Any, Any]:
        return shares_text(team, run_id, language), gr.update(choices=reviewer_names(team))

    def share(run_id: str | None, user: str | None, language: str) -> str:
        if not run_id or ctx.run_dir(run_id) is None or not user:
            return t("share_pick", language)
        try:
            team.store.share(run_id, user, actor=actor())
        except AccountError as err:
            return said(err, language)
        return shares_text(team, run_id, language)

    def unshare(run_id: str | None, user: str | None, language: str) -> str:
        if run_id and user:
            team.store.unshare(run_id, user, actor=actor())
        return shares_text(team, run_id, language)

    def show_users(language: str) -> tuple[Any, Any, Any]:
        return (
            users_table(team, language),
            gr.update(choices=role_choices(language)),
            gr.update(choices=reviewer_names(team)),
        )

    def add_user(user: str, chosen: str, secret: str, language: str) -> tuple[Any, ...]:
        def act() -> str:
            team.store.add((user or "").strip(), chosen, secret or "", actor=actor())
            return t("user_added", language, name=user.strip())

        return _run(act, language)

    def change_role(user: str, chosen: str, secret: str, language: str) -> tuple[Any, ...]:
        def act() -> str:
            team.store.set_role((user or "").strip(), chosen, actor=actor())
            return t("role_set", language, name=user.strip(), role=t(f"role_{chosen}", language))

        return _run(act, language)

    def change_password(user: str, chosen: str, secret: str, language: str) -> tuple[Any, ...]:
        def act() -> str:
            team.store.set_password((user or "").strip(), secret or "", actor=actor())
            return t("password_set", language, name=user.strip())

        return _run(act, language)

    def remove_user(user: str, chosen: str, secret: str, language: str) -> tuple[Any, ...]:
        def act() -> str:
            team.store.remove((user or "").strip(), actor=actor())
            return t("user_removed", language, name=user.strip())

        return _run(act, language)

    def _run(act: Any, language: str) -> tuple[Any, ...]:
        """Do it; the password box is emptied whatever happened (it must not linger on the page)."""
        try:
            text = act()
        except AccountError as err:
            text = said(err, language)
        return text, "", users_table(team, language), gr.update(choices=reviewer_names(team))

    def show_audit(language: str) -> dict[str, Any]:
        return audit_table(team, language)

    for event in (run_select.change, lang.change):
        event(show_shares, [run_select, lang], [shares, reviewer], show_progress="hidden")
    share_button.click(share, [run_select, reviewer, lang], [shares])
    unshare_button.click(unshare, [run_select, reviewer, lang], [shares])
    account_inputs = [name, role, password, lang]
    account_outputs = [message, password, users, reviewer]
    add_button.click(add_user, account_inputs, account_outputs)
    role_button.click(change_role, account_inputs, account_outputs)
    password_button.click(change_password, account_inputs, account_outputs)
    remove_button.click(remove_user, account_inputs, account_outputs)
    lang.change(show_users, [lang], [users, role, reviewer], show_progress="hidden")
    for event in (lang.change, audit_refresh.click):
        event(show_audit, [lang], [audit], show_progress="hidden")
    ctx.on_load.append(({"fn": show_users, "inputs": [lang], "outputs": [users, role, reviewer]}, None))
    ctx.on_load.append(({"fn": show_audit, "inputs": [lang], "outputs": [audit]}, None))


def attach_screen(demo: gr.Blocks, ctx: AppContext, lang: gr.Radio, user_line: Any, logout: Any) -> None:
    """On load and on a language change: the tabs, timers and panels the caller's role may use, and who they are.

    With logins, the trainer tabs start hidden and are shown on load to admins and trainers; a reviewer's page
    opens on the playground. Gradio 6.31 does not take a tab's header away when ``gr.update(visible=False)``
    hides it after the page is built (only its panel goes), but a tab hidden from the start has no header,
    and one shown later gets it (tests/e2e/test_team_browser.py checks both in Chromium)."""
    team = ctx.team
    assert team is not None
    blocks = list(demo.blocks.values())
    tabs = [b for b in blocks if getattr(b, "elem_id", None) in TRAINER_TABS]
    timers = [b for b in blocks if isinstance(b, gr.Timer)]
    by_id = {getattr(b, "elem_id", None): b for b in blocks}
    panels = [by_id["team-users-box"], by_id["team-audit-box"]]
    blind = by_id["play-blind"]
    tab_bar, playground = by_id["tabs"], by_id["tab-playground"]
    assert isinstance(playground, gr.Tab)
    if team.logins:  # without logins every caller is an admin: the page is built as everyone sees it
        for block in tabs:
            block.visible = False

    def screen(language: str) -> list[Any]:
        caller = current_caller()
        role = caller.role if caller else "reviewer"
        staff = role != "reviewer"  # admins and trainers
        if team.logins and caller is not None:
            line = t("signed_in", language, name=caller.name, role=t(f"role_{role}", language))
        else:
            line = ""
        return [
            *(gr.update(visible=staff) for _ in tabs),
            gr.update() if staff else gr.update(selected=playground.id),  # the first tab, hidden, is not theirs
            *(gr.update(active=staff) for _ in timers),  # a reviewer's page polls nothing it may not read
            *(gr.update(visible=role == "admin") for _ in panels),
            gr.update(value=True, interactive=False) if not staff else gr.update(interactive=True),
            gr.update(value=line, visible=bool(line)),
            gr.update(visible=team.logins),
        ]

    def who(language: str) -> Any:
        return screen(language)[-2]

    demo.load(screen, [lang], [*tabs, tab_bar, *timers, *panels, blind, user_line, logout])
    lang.change(who, [lang], [user_line], show_progress="hidden")
