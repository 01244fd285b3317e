"""Failed logins slow down: each client waits longer after every wrong password.

An ASGI middleware in front of Gradio's ``/login`` route. A client is its address as the
server sees it (a forwarded-for header would let a guesser pick a fresh identity per try).
Attempts from one client are taken one at a time, each after a delay that doubles with
every failure; the wait is ``asyncio.sleep``, so other clients are served meanwhile. A
success, or a quiet spell of ``FORGET_S``, clears the count.
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
