"""Chat exports through the Data tab in a real Chromium (Debian's, driven by Playwright), with no mapping.

A user uploads a WhatsApp iOS export and a Slack workspace zip, imports them as they are, reads in the
report which format each file was taken for, who speaks and how much, and the counts; the Slack group
thread with no known agent is set aside and the page lists its speakers. The user then picks the agents
among the speakers found, imports again, and the set-aside conversation comes back with its roles.
Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, served_app

SHOTS = REPO / "test-output" / "screenshots"
EXPORTS = REPO / "tests" / "fixtures" / "exports"
WHATSAPP = EXPORTS / "whatsapp" / "ios_en.txt"
SLACK = EXPORTS / "slack" / "workspace"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    runs = tmp_path_factory.mktemp("import-runs")
    with served_app(runs, runs.parent / "app.log") as url:
        yield url


def slack_zip(folder: Path, target: Path) -> Path:
    """The workspace as Slack's export gives it: users.json, channels.json and the channel folders at the root."""
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return target


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def wait_text(page, selector: str, text: str, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)", arg=[selector, text], timeout=timeout
    )


def kept_of(report: str) -> int:
    return int(re.search(r"(\d+) conversations ready", report).group(1))


def test_whatsapp_and_slack_exports_import_with_no_mapping_then_with_the_agent_picked(
    app_url: str, browser, tmp_path: Path
) -> None:
    assert WHATSAPP.is_file() and (SLACK / "users.json").is_file()
    archive = slack_zip(SLACK, tmp_path / "slack_export.zip")
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("#data-upload", state="attached")

    # Upload: each file's format, and the speakers found with their messages, before importing.
    page.locator("#data-upload input[type=file]").set_input_files([str(WHATSAPP), str(archive)])
    wait_text(page, "#data-files", "slack_export.zip")
    files = text_of(page, "#data-files")
    assert "ios_en.txt: text, WhatsApp chat export" in files, files
    assert "slack_export.zip: JSON, Slack workspace export" in files, files
    wait_text(page, "#data-speakers", "Diego Ramos")
    speakers = text_of(page, "#data-speakers")
    for name in ("Harbor Lamps", "Maya Chen", "Diego Ramos", "Bob Lee", "Ana Torres", "Luis Vega"):
        assert name in speakers, speakers
    shot(page, "import-1-uploaded")

    # Import with no mapping: per file, the counts; the group thread without a known agent is set aside.
    page.locator("#data-import").click()
    wait_text(page, "#data-report", "conversations ready")
    report = text_of(page, "#data-report")
    first_kept = kept_of(report)
    whatsapp_line = next(line for line in report.splitlines() if line.startswith("ios_en.txt:"))
    slack_line = next(line for line in report.splitlines() if line.startswith("slack_export.zip:"))
    assert re.search(
        r"\d+ conversations kept of \d+ records; messages \d+ \(\d+ in kept conversations\)", whatsapp_line
    )
    assert "media-only messages" in whatsapp_line and "system lines" in whatsapp_line, whatsapp_line
    assert "system lines 2" in slack_line and "media-only messages 1" in slack_line, slack_line
    assert "agent_unknown 1" in slack_line, slack_line
    assert re.search(r"agent guessed in \d+ conversations", slack_line), slack_line
    advice = text_of(page, "#data-advice")
    assert "no speaker is known as the agent" in advice and "Diego Ramos 5" in advice, advice
    speakers = text_of(page, "#data-speakers")
    assert re.search(r"Harbor Lamps\s+\d+\s+agent", speakers), speakers
    shot(page, "import-2-no-mapping")

    # The agents picked among the speakers found: every file's, since once agents are named only they answer
    # (the support bot, taken by its name before, is named too).
    for name in ("Diego Ramos", "Harbor Lamps", "Acme Help Bot"):
        page.locator("#data-map-agent input").click()
        page.get_by_role("option", name=name, exact=True).click()
    page.keyboard.press("Escape")
    page.locator("#data-import").click()
    page.wait_for_function(
        "(before) => { const m = (document.querySelector('#data-report')?.innerText || '')"
        ".match(/(\\d+) conversations ready/); return m && Number(m[1]) !== before; }",
        arg=first_kept,
        timeout=60_000,
    )
    report = text_of(page, "#data-report")
    assert kept_of(report) == first_kept + 1, report
    assert "agent_unknown" not in report, report
    speakers = text_of(page, "#data-speakers")
    assert re.search(r"Diego Ramos\s+5\s+agent\b", speakers), speakers
    assert re.search(r"Luis Vega\s+3\s+customer", speakers), speakers
    assert re.search(r"Harbor Lamps\s+\d+\s+agent\b", speakers), speakers
    shot(page, "import-3-agent-picked")

    # In Spanish, the same import says it all again: the table, the per-file counts.
    page.get_by_label("Español").check()
    wait_text(page, "#data-speakers", "agente")
    speakers = text_of(page, "#data-speakers")
    assert "hablante" in speakers and re.search(r"Luis Vega\s+3\s+cliente", speakers), speakers
    wait_text(page, "#data-report", "conversaciones conservadas de")
    report = text_of(page, "#data-report")
    assert "mensajes solo con adjuntos" in report and "líneas de sistema" in report, report
    wait_text(page, "body", "Hablantes encontrados")  # the page's own labels follow the selector too
    shot(page, "import-4-spanish")
    context.close()
