"""The login throttle on its own: per-client delays that grow, and clients that do not wait for each other."""

from __future__ import annotations

import asyncio
import time

from builder.ui.login_guard import LoginThrottle, delay_after


def test_the_delay_doubles_after_each_failure_up_to_a_cap() -> None:
    assert [delay_after(n) for n in range(7)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert delay_after(50) == 30.0


async def _login_app(scope, receive, send) -> None:
    """A stand-in for Gradio's /login: 200 for the password 'right', 400 otherwise."""
    ok = scope["query_string"] == b"right"
    await send({"type": "http.response.start", "status": 200 if ok else 400, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _call(guard: LoginThrottle, client: str, password: str, path: str = "/login") -> tuple[int, float]:
    async def run() -> tuple[int, float]:
        scope = {"type": "http", "method": "POST", "path": path, "client": (client, 5000)}
        scope["query_string"] = password.encode()
        sent: list[dict] = []

        async def send(message) -> None:
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        started = time.monotonic()
        await guard(scope, receive, send)
        return sent[0]["status"], time.monotonic() - started

    return asyncio.run(run())


def test_one_clients_failures_do_not_slow_another_client_or_other_routes() -> None:
    guard = LoginThrottle(_login_app, first_delay_s=0.2, max_delay_s=1.0)
    assert _call(guard, "10.0.0.1", "wrong")[1] < 0.1
    status, waited = _call(guard, "10.0.0.1", "wrong")
    assert status == 400 and waited >= 0.2
    assert _call(guard, "10.0.0.1", "wrong")[1] >= 0.4
    # Another address, and other routes of the same address, are not held back.
    assert _call(guard, "10.0.0.2", "wrong")[1] < 0.1
    assert _call(guard, "10.0.0.1", "wrong", path="/config")[1] < 0.1
    status, waited = _call(guard, "10.0.0.1", "right")
    assert status == 200 and waited >= 0.8
    assert _call(guard, "10.0.0.1", "wrong")[1] < 0.1  # the success cleared the count
