"""`python app.py`: loopback by default, quick first screen, --share that fails plainly, auth warnings."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import app
from tests.e2e.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def non_loopback_address() -> str | None:
    """This machine's address on its network, to check that the app does not listen there."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))  # no packet is sent; this only picks a route
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status


def test_flags_and_defaults(tmp_path: Path) -> None:
    args = app.parse_args(["--runs-dir", str(tmp_path)])
    assert (args.host, args.port, args.share, args.auth) == ("127.0.0.1", 7860, False, None)
    assert app.parse_auth("ana:s3cret:x") == ("ana", "s3cret:x")
    with pytest.raises(SystemExit, match="USER:PASS"):
        app.parse_auth("justaname")


def test_a_malformed_auth_value_is_not_echoed(tmp_path: Path) -> None:
    # The value may be a password typed without its user name; terminals and logs keep what is printed.
    env = {**os.environ, app.AUTH_ENV: "correct-horse-battery", "GRADIO_ANALYTICS_ENABLED": "False"}
    result = subprocess.run(
        [sys.executable, "app.py", "--port", str(free_port()), "--runs-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert app.AUTH_ENV in result.stderr and "USER:PASS" in result.stderr
    assert "correct-horse-battery" not in result.stderr + result.stdout
    with pytest.raises(SystemExit) as refused:
        app.parse_auth("ana:")
    assert "ana" not in str(refused.value.code).replace("a colon", "")


def test_a_busy_port_is_one_line_naming_the_port_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != app.AUTH_ENV}
        result = subprocess.run(
            [sys.executable, "app.py", "--port", str(port), "--runs-dir", str(tmp_path)],
            cwd=REPO,
            env={**env, "GRADIO_ANALYTICS_ENABLED": "False"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    # One line: no warnings nor the first-admin hint about an app that never served.
    assert len(lines) == 1, result.stderr
    assert f":{port}" in lines[0] and "in use" in lines[0] and "--port" in lines[0]


def test_sharing_or_listening_widely_without_a_password_warns() -> None:
    assert app.exposure_warnings("127.0.0.1", False, None) == []
    assert app.exposure_warnings("127.0.0.1", True, ("a", "b")) == []
    (warning,) = app.exposure_warnings("127.0.0.1", True, None)
    assert "--share without --auth" in warning and app.AUTH_ENV in warning
    (warning,) = app.exposure_warnings("0.0.0.0", False, None)
    assert "0.0.0.0 without --auth" in warning


@pytest.mark.slow
def test_serves_on_loopback_only_and_quickly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "BUILDER_RUNS_DIR": str(tmp_path), "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The app prints its address once it serves; read its output until then.
        line, said = "", []
        while "Serving on" not in line:
            line = proc.stdout.readline()
            said.append(line)
            assert line or proc.poll() is None, "the app exited before serving"
            assert time.monotonic() - started < 60, "not serving within 60 s"
        assert f"Serving on http://127.0.0.1:{port}/" in line
        # No accounts yet: it says so, where they will live, and the command that creates the first admin.
        db = tmp_path.resolve() / ".team" / "accounts.db"
        assert f"No accounts yet in {db}" in "".join(said), said
        assert f"python -m builder.users --db {db} add NAME --role admin" in "".join(said), said
        assert get(f"http://127.0.0.1:{port}/") == 200
        # The 10 s target is measured by benchmarks/app_startup.py; here it only has to come up.
        print(f"first screen in {time.monotonic() - started:.1f} s")
        address = non_loopback_address()
        if address:
            with pytest.raises(OSError):
                get(f"http://{address}:{port}/")
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_the_first_screen_does_not_import_torch(tmp_path: Path) -> None:
    """Torch and transformers load when a model is needed, not before the page is up."""
    code = (
        "import sys; from pathlib import Path; from builder.ui import build_app; "
        f"build_app(Path({str(tmp_path)!r})); "
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'trl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


SHARE_WITHOUT_INTERNET = """
import sys, urllib.request
import gradio.networking
import app

# The only mock: Gradio's share tunnel, which needs the internet (none here, nor in CI).
def no_tunnel(*args, **kwargs):
    raise RuntimeError("Could not get share link from Gradio API Server.")

gradio.networking.setup_tunnel = no_tunnel
port = int(sys.argv[1])
demo = app.main(["--share", "--port", str(port), "--runs-dir", sys.argv[2]], block=False)
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
        print("status", response.status, "share_url", demo.share_url, flush=True)
finally:
    demo.close()
"""


def test_share_without_internet_says_so_and_keeps_serving(tmp_path: Path) -> None:
    # In a child process: Gradio's server threads must not outlive pytest's captured streams.
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != app.AUTH_ENV}
    result = subprocess.run(
        [sys.executable, "-c", SHARE_WITHOUT_INTERNET, str(port), str(tmp_path)],
        cwd=REPO,
        env={**env, "GRADIO_ANALYTICS_ENABLED": "False"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "status 200 share_url None" in result.stdout
    assert "--share without --auth" in result.stderr
    assert "Could not create the public share link" in result.stdout
    assert f"Still serving locally at http://127.0.0.1:{port}/" in result.stdout


def test_auth_from_the_environment_guards_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error
    import urllib.parse

    monkeypatch.setenv(app.AUTH_ENV, "ana:s3cret")
    port = free_port()
    demo = app.main(["--port", str(port), "--runs-dir", str(tmp_path)], block=False)
    base = f"http://127.0.0.1:{port}"

    def login(password: str) -> int:
        body = urllib.parse.urlencode({"username": "ana", "password": password}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(f"{base}/login", data=body), timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    def timed_login(password: str) -> tuple[int, float]:
        started = time.monotonic()
        code = login(password)
        return code, time.monotonic() - started

    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"{base}/config")
        assert refused.value.code == 401
        code, first = timed_login("wrong")
        assert code == 400 and first < 1.0
        # Each failure makes this client's next try wait longer (1 s, then 2 s, ...).
        code, second = timed_login("wrong-again")
        assert code == 400 and second >= 1.0
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            third = pool.submit(timed_login, "still-wrong")
            time.sleep(0.3)
            # While that try waits, the server answers everyone else at once.
            started = time.monotonic()
            with pytest.raises(urllib.error.HTTPError):
                get(f"{base}/config")
            assert time.monotonic() - started < 1.0
            code, waited = third.result()
        assert code == 400 and waited >= 2.0
        code, waited = timed_login("s3cret")
        assert code == 200 and waited >= 4.0
        # A success clears the count.
        code, waited = timed_login("s3cret")
        assert code == 200 and waited < 1.0
    finally:
        demo.close()
