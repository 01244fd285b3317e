"""Who is calling the web app: logins, roles, sessions, the runs a reviewer sees, and the audit trail.

``Team`` is built by ``app.py`` from the accounts database (``builder.users``) and the ``--auth``
shortcut. With neither an account nor ``--auth`` the app has no logins: every caller is treated as
an admin, as before accounts existed (the app listens on the loopback interface by default).

``builder.ui.access`` sets the caller of each event handler (``current_caller``) before the handler
runs; code below the handlers (the job queue's audit, a vote's author) reads it from there.

Sessions are Gradio's login tokens. ``SessionGuard`` (an ASGI middleware in front of every route)
records when each token was issued; a request whose session began before its user's password
changed, or whose user is gone, loses its token, whichever process (app or command line) made the
change. It also keeps reviewers off every route a playground does not need (files, uploads...).
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from builder.ui.login_guard import UserThrottle
from builder.users import AccountStore

if TYPE_CHECKING:
    from builder.jobs.process import Job

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class Caller:
    name: str | None  # None: the app runs without logins
    role: str


OPEN_CALLER = Caller(None, "admin")
_CALLER: ContextVar[Caller | None] = ContextVar("builder_caller", default=None)


def current_caller() -> Caller | None:
    """The caller of the event handler running now (None outside a handler)."""
    return _CALLER.get()


def current_author() -> str | None:
    """The account name to record with a vote or a correction (None without logins)."""
    caller = _CALLER.get()
    return caller.name if caller else None


def set_caller(caller: Caller | None) -> Any:
    return _CALLER.set(caller)


def reset_caller(token: Any) -> None:
    _CALLER.reset(token)


class Team:
    """The accounts behind the app, and whether it asks for a login at all (decided once, at start)."""

    def __init__(self, store: AccountStore, shortcut: tuple[str, str] | None = None) -> None:
        self.store = store
        self.shortcut = shortcut  # --auth USER:PASS: one admin that lives only in this process
        self.logins = shortcut is not None or store.count() > 0
        self.throttle = UserThrottle()

    # -- who is who

    def role_of(self, name: str | None) -> str | None:
        if not name:
            return None
        if self.shortcut and name == self.shortcut[0]:
            return "admin"
        account = self.store.get(name)
        return account.role if account else None

    def caller_for(self, username: str | None) -> Caller | None:
        """The caller of a request by its login name; None when it has no (valid) account."""
        if not self.logins:
            return OPEN_CALLER
        role = self.role_of(username)
        return Caller(username, role) if role else None

    async def authenticate(self, username: str, password: str) -> bool:
        """Gradio's ``auth=``: the password check, slowed per user name after failures."""
        import anyio

        async def check() -> bool:
            return await anyio.to_thread.run_sync(self._password_ok, username, password)

        return await self.throttle.attempt(username, check)

    def _password_ok(self, username: str, password: str) -> bool:
        if self.shortcut and username == self.shortcut[0]:
            return hmac.compare_digest(password.encode("utf-8"), self.shortcut[1].encode("utf-8"))
        return self.store.verify(username, password) is not None

    def session_valid(self, username: str, issued_at: float) -> bool:
        if self.shortcut and username == self.shortcut[0]:
            return True
        account = self.store.get(username)
        return account is not None and issued_at >= account.sessions_after

    # -- runs

    def visible_runs(self, runs: list[str], caller: Caller | None) -> list[str]:
        """The runs this caller may choose: a reviewer only those shared with them; nobody known, none."""
        if caller is None:
            return []
        if caller.role != "reviewer":
            return runs
        shared = self.store.shared_runs(caller.name or "")
        return [run for run in runs if run in shared]

    def may_open_run(self, caller: Caller, run: str | None) -> bool:
        return not run or caller.role != "reviewer" or run in self.store.shared_runs(caller.name or "")

    # -- the audit trail

    def record(self, action: str, target: str | None = None, detail: str | None = None) -> None:
        """One audit entry by the current caller."""
        self.store.audit(current_author(), action, target, detail)

    def job_action(self, action: str, job: Job) -> None:
        """``JobManager.observers``: a job started, stopped, evaluated, merged by whoever called."""
        detail = None
        if job.kind == "train" and action in ("started", "resumed"):
            detail = " ".join([job.recipe_path, *job.overrides])
        elif job.kind == "export" and job.target:
            detail = job.target
        elif job.kind == "gguf":
            detail = f"gguf {job.quant} {job.target}"
        self.record(action, job.run_id, detail)


# ---------------------------------------------------------------- sessions and routes


class IssuedTokens(dict):
    """Gradio's login tokens (token -> user name), with the moment each was issued."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issued: dict[str, float] = dict.fromkeys(self, 0.0)  # tokens from before: as old as can be

    def __setitem__(self, token: str, name: str) -> None:
        self.issued[token] = time.time()
        super().__setitem__(token, name)

    def __delitem__(self, token: str) -> None:
        self.issued.pop(token, None)
        super().__delitem__(token)

    def end_sessions(self, name: str) -> None:
        for token in [t for t, user in self.items() if user == name]:
            del self[token]


# What a reviewer's browser needs: the page, its assets, the config and the event queue. Every other
# route (files under the runs folder, uploads, proxies, monitoring...) answers 403 to a reviewer.
REVIEWER_PATHS = ("/", "/login", "/login/", "/logout", "/favicon.ico", "/manifest.json", "/robots.txt", "/theme.css")
REVIEWER_PREFIXES = (
    "/assets/",
    "/static/",
    "/svelte/",
    "/pwa_icon",
    "/config",
    "/gradio_api/queue/",
    "/gradio_api/heartbeat/",
    "/gradio_api/call/",
    "/gradio_api/run/",
    "/gradio_api/api/",
    "/gradio_api/info",
    "/gradio_api/cancel",
    "/gradio_api/reset",
    "/gradio_api/login_check",
    "/gradio_api/user",
    "/gradio_api/token",
    "/gradio_api/app_id",
    "/gradio_api/startup-events",
    "/gradio_api/theme.css",
)


def reviewer_may_fetch(path: str) -> bool:
    return path in REVIEWER_PATHS or path.startswith(REVIEWER_PREFIXES)


class SessionGuard:
    """``Middleware(SessionGuard, team=team)``: ends stale sessions and keeps reviewers to the playground's routes."""

    def __init__(self, app: ASGIApp, team: Team) -> None:
        self.app = app
        self.team = team

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket") or not self.team.logins:
            await self.app(scope, receive, send)
            return
        gradio_app = scope.get("app")
        name = self._session_user(gradio_app, scope) if gradio_app is not None else None
        role = self.team.role_of(name)
        if role == "reviewer" and not reviewer_may_fetch(str(scope.get("path", ""))):
            await _forbidden(scope, send, "reviewers may use the playground only")
            return
        await self.app(scope, receive, send)

    def _session_user(self, gradio_app: Any, scope: Scope) -> str | None:
        """The user of the request's login token; a token from before a password change or removal is dropped."""
        tokens = getattr(gradio_app, "tokens", None)
        if tokens is None:
            return None
        if not isinstance(tokens, IssuedTokens):  # installed on first use (Gradio makes the dict at launch)
            tokens = gradio_app.tokens = IssuedTokens(tokens)
        token = _cookie_token(scope, getattr(gradio_app, "cookie_id", ""))
        name = tokens.get(token) if token else None
        if name is None or token is None:
            return None
        if not self.team.session_valid(name, tokens.issued.get(token, 0.0)):
            del tokens[token]
            return None
        return name


def _cookie_token(scope: Scope, cookie_id: str) -> str | None:
    cookies = SimpleCookie()
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            try:
                cookies.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header: no session
                return None
    for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
        if name in cookies:
            return cookies[name].value
    return None


async def _forbidden(scope: Scope, send: Any, why: str) -> None:
    if scope.get("type") == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"detail": why}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
