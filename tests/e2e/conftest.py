"""What the browser tests share: the app served as a subprocess, Debian's Chromium, and the clean-up of the
training jobs they start (those run detached from the app on purpose, so ending the app does not end them)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the app did not answer on {url} within {timeout} s")


def end_jobs(runs: Path) -> None:
    """Kill the process group of every job started in ``runs`` (a training still going when the test ends)."""
    for job_file in (runs / ".jobs").glob("*.json"):
        pid = json.loads(job_file.read_text()).get("pid")
        if pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def require_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.skip("Debian's Chromium is not installed (`make browser` installs it)")


@contextlib.contextmanager
def served_app(runs: Path, log_path: Path) -> Iterator[str]:
    """``app.py`` on a free loopback port with ``runs`` as its runs folder: its URL. On exit the app and its jobs end.

    Skips when Chromium is missing: only the browser tests serve the app this way.
    """
    require_chromium()
    port = free_port()
    env = {**os.environ, "BUILDER_RUNS_DIR": str(runs), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            startup = wait_http(url, 60)
            print(f"first screen served in {startup:.1f} s")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            end_jobs(runs)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
