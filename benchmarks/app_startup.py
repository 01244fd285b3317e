"""Time to the first usable screen of the web app (target: under 10 s).

Starts ``python app.py`` on a free loopback port with an empty runs folder and measures, from
the process start: the first HTTP 200, and (when Debian's Chromium is installed) the moment
the page has drawn its tabs in a real browser. Repeats a few times and reports the median.

    python -m benchmarks.app_startup [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
TARGET_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_start(browser) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="startup-runs-") as runs:
        env = {**os.environ, "BUILDER_RUNS_DIR": runs, "GRADIO_ANALYTICS_ENABLED": "False"}
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if time.monotonic() - started > 120:
                        raise RuntimeError("the app did not serve within 120 s") from None
                    time.sleep(0.05)
            result = {"http_s": time.monotonic() - started}
            if browser is not None:
                page = browser.new_page()
                page.goto(url)
                page.get_by_role("tab", name="Data").wait_for(timeout=60_000)
                result["page_s"] = time.monotonic() - started
                page.close()
            return result
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_startup", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    runs: list[dict[str, float]] = []
    if Path(CHROMIUM).is_file():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            runs = [one_start(browser) for _ in range(args.repeat)]
            browser.close()
    else:
        runs = [one_start(None) for _ in range(args.repeat)]
    summary = {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
    summary["target_s"] = TARGET_S
    summary["within_target"] = max(summary.get("page_s", 0), summary["http_s"]) < TARGET_S
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if summary["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
