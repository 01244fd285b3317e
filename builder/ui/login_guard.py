"""Failed logins slow down: each client waits longer after every wrong password.

An ASGI middleware in front of Gradio's ``/login`` route. A client is its address as the
server sees it (a forwarded-for header would let a guesser pick a fresh identity per try).
Attempts from one client are taken one at a time, each after a delay that doubles with
every failure; the wait is ``asyncio.sleep``, so other clients are served meanwhile. A
success, or a quiet spell of ``FORGET_S``, clears the count.

``UserThrottle`` does the same per user name, inside the password check: guesses at one account
from many addresses slow down too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
FORGET_S = 15 * 60
LOGIN_PATHS = ("/login", "/login/")
MAX_TRACKED = 10_000  # names and addresses remembered at most (a guesser may try endless names)


def delay_after(failures: int, first: float = FIRST_DELAY_S, cap: float = MAX_DELAY_S) -> float:
    """No wait before a first try; then 1 s, 2 s, 4 s... up to ``cap``."""
    return 0.0 if failures <= 0 else min(cap, first * 2 ** (failures - 1))


@dataclass
class _Client:
    failures: int = 0
    last_failure: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LoginThrottle:
    """``FastAPI(middleware=[Middleware(LoginThrottle)])``; Gradio passes it through ``launch(app_kwargs=...)``."""

    def __init__(self, app: ASGIApp, first_delay_s: float = FIRST_DELAY_S, max_delay_s: float = MAX_DELAY_S) -> None:
        self.app = app
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.clients: dict[str, _Client] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or scope.get("path") not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        client = self._client(scope)
        async with client.lock:  # parallel guesses from one client queue up behind each other
            await asyncio.sleep(delay_after(client.failures, self.first_delay_s, self.max_delay_s))
            status: list[int] = []

            async def watch(message: Message) -> None:
                if message.get("type") == "http.response.start":
                    status.append(int(message.get("status", 0)))
                await send(message)

            await self.app(scope, receive, watch)
            if status and status[0] == 200:
                client.failures = 0
            elif status and 400 <= status[0] < 500:
                client.failures += 1
                client.last_failure = time.monotonic()

    def _client(self, scope: Scope) -> _Client:
        now = time.monotonic()
        for key in [k for k, c in self.clients.items() if now - c.last_failure > FORGET_S and not c.lock.locked()]:
            del self.clients[key]
        address = (scope.get("client") or ("unknown", 0))[0]
        return self.clients.setdefault(address, _Client(last_failure=now))


class UserThrottle:
    """Per user name: each try waits ``delay_after(failures)`` and tries on one name are taken one at a time."""

    def __init__(self, first_delay_s: float = FIRST_DELAY_S, max_delay_s: float = MAX_DELAY_S) -> None:
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.users: dict[str, _Client] = {}

    async def attempt(self, name: str, check: Callable[[], Awaitable[bool]]) -> bool:
        """``await check()`` after this name's delay; its answer counts as a success or a failure."""
        state = self._state(name.strip().lower())
        async with state.lock:
            await asyncio.sleep(delay_after(state.failures, self.first_delay_s, self.max_delay_s))
            ok = await check()
            if ok:
                state.failures = 0
            else:
                state.failures += 1
                state.last_failure = time.monotonic()
            return ok

    def _state(self, key: str) -> _Client:
        now = time.monotonic()
        forget = [k for k, c in self.users.items() if now - c.last_failure > FORGET_S and not c.lock.locked()]
        if len(self.users) - len(forget) >= MAX_TRACKED:  # keep memory bounded: drop the calmest names first
            calm = sorted((c.last_failure, k) for k, c in self.users.items() if not c.lock.locked())
            forget += [k for _, k in calm[: len(self.users) // 10]]
        for key_ in set(forget):
            del self.users[key_]
        return self.users.setdefault(key, _Client(last_failure=now))
