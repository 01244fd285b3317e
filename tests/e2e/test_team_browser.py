"""A team in a real Chromium: an admin creates a reviewer in the Users panel and shares a run with them;
the reviewer logs in, sees only that run and the playground, votes blind and writes a correction; the admin
sees the votes under the reviewer's name and starts a DPO round from them (the real trainer, one step on
the tiny model). Screenshots go to ``test-output/screenshots/team-*.png``.

The reviewer's page shows the playground alone, in English and in Spanish: no header of a trainer or admin
tab (the server refuses their handlers too, see test_team_api.py). In Gradio 6.31 a tab hidden by an update
keeps its header, so ``team_tab.attach_screen`` builds those tabs hidden and shows them to admins and trainers.
"""

from __future__ import annotations

import json
import shutil

import pytest

from builder.users import AccountStore
from tests.e2e.conftest import require_chromium, served_app
from tests.e2e.test_ui_browser import open_tab, pick, shot, text_of, wait_text
from tests.e2e.test_ui_feedback_browser import ask_and_vote, start_round

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ADMIN, ADMIN_PASSWORD = "boss", "boss-pass-4410"
REVIEWER, REVIEWER_PASSWORD = "rita", "rita-pass-6623"
PARENT, OTHER = "tiny-parent", "other-run"


@pytest.fixture(scope="module")
def team_app(tmp_path_factory, tiny_model_dir):
    """A finished tiny run and a run nobody shares, one admin account, and the app serving them."""
    from tests.conftest import train_tiny_run_in

    require_chromium()  # before the training of the parent run
    runs = tmp_path_factory.mktemp("team-browser-runs")
    parent = train_tiny_run_in(runs, tiny_model_dir, PARENT)
    shutil.copytree(parent, runs / OTHER)  # a second finished run, shared with nobody
    store = AccountStore(runs / ".team" / "accounts.db")
    store.add(ADMIN, "admin", ADMIN_PASSWORD, actor="test")
    log = runs.parent / "team-browser-app.log"
    with served_app(runs, log) as url:
        yield url, runs, parent, store, log


def log_in(browser, url: str, name: str, password: str):
    """A fresh browser context through Gradio's login form: (context, page) once the app's page is up."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#run-select", state="attached")
    wait_text(page, "body", f"Signed in as {name}")
    return context, page


def tab_names(page) -> list[str]:
    """The tab headers the page shows, in order."""
    return [name.strip() for name in page.get_by_role("tab").all_inner_texts()]


def selected_tab(page) -> str:
    return page.locator("[role=tab][aria-selected=true]").inner_text().strip()


def run_options(page) -> list[str]:
    page.locator("#run-select input").click()
    page.get_by_role("option").first.wait_for()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    page.locator("#run-select input").blur()  # a focused dropdown does not open again on a click
    return [option.strip().splitlines()[-1].strip() for option in options]  # without the chosen one's check mark


def test_an_admin_adds_a_reviewer_whose_blind_votes_start_the_next_round(team_app, browser) -> None:
    url, runs, parent, store, log = team_app
    admin_context, admin = log_in(browser, url, ADMIN, ADMIN_PASSWORD)
    assert tab_names(admin) == ["Data", "Recipe", "Train", "Playground", "Evaluate", "Export", "Team"]
    assert selected_tab(admin) == "Data"

    # The admin creates the reviewer in the Users panel and shares one run with them.
    open_tab(admin, "Team")
    admin.locator("#team-user-name textarea, #team-user-name input").first.fill(REVIEWER)
    admin.locator("#team-user-role").get_by_label("reviewer", exact=True).check()
    admin.locator("#team-user-password input, #team-user-password textarea").first.fill(REVIEWER_PASSWORD)
    admin.locator("#team-add").click()
    wait_text(admin, "#team-message", f"Added {REVIEWER}.")
    wait_text(admin, "#team-users", REVIEWER)
    assert (
        admin.locator("#team-user-password input, #team-user-password textarea").first.input_value() == ""
    )  # the password does not linger
    assert store.get(REVIEWER).role == "reviewer"
    pick(admin, "run-select", PARENT)
    pick(admin, "team-share-user", REVIEWER)
    admin.locator("#team-share").click()
    wait_text(admin, "#team-shares", f"is shared with: {REVIEWER}")
    assert store.shared_runs(REVIEWER) == {PARENT}
    shot(admin, "team-1-admin-adds-a-reviewer")

    # The reviewer: the playground and the shared run only, blind mode on and fixed.
    reviewer_context, reviewer = log_in(browser, url, REVIEWER, REVIEWER_PASSWORD)
    shot(reviewer, "team-2-reviewer-first-screen")
    assert tab_names(reviewer) == ["Playground"] and selected_tab(reviewer) == "Playground"
    assert reviewer.locator("#play-send").is_visible()  # its panel open, nothing to click first
    for hidden in ("tab-data", "tab-recipe", "tab-train", "tab-evaluate", "tab-export", "tab-team", "start-here"):
        assert reviewer.locator(f"#{hidden}").count() == 0, hidden  # not on the page at all
    assert run_options(reviewer) == [PARENT]
    blind = reviewer.locator("#play-blind input")
    assert blind.is_checked() and blind.is_disabled()
    pick(reviewer, "run-select", PARENT)
    ask_and_vote(reviewer, "Where is my order?", "a")
    ask_and_vote(reviewer, "My lamp arrived broken, can you help?", "b")
    reviewer.get_by_text("Write the right reply").click()
    reviewer.locator("#play-correction textarea").fill("I'm sorry! Could you give me your order number?")
    reviewer.locator("#play-save-correction").click()
    wait_text(reviewer, "#play-status", "Correction saved")
    assert "Votes by author" not in text_of(reviewer, "#play-win-rate")  # who voted is for those who train
    shot(reviewer, "team-3-reviewer-votes-blind")
    # In Spanish: the labels of every tab change (hidden ones included), and still only the playground shows.
    reviewer.get_by_label("Español").check()
    reviewer.get_by_role("tab", name="Pruebas").wait_for()
    wait_text(reviewer, "#user-line", f"Has entrado como {REVIEWER}")
    assert tab_names(reviewer) == ["Pruebas"] and selected_tab(reviewer) == "Pruebas"
    shot(reviewer, "team-3b-reviewer-in-spanish")
    reviewer_context.close()

    votes = [json.loads(line) for line in (parent / "votes.jsonl").read_text().splitlines()]
    assert len(votes) == 2 and all(v["blind"] and v["author"] == REVIEWER for v in votes), votes
    correction = json.loads((parent / "corrections.jsonl").read_text())
    assert correction["metadata"]["author"] == REVIEWER
    assert not (runs / OTHER / "votes.jsonl").exists()

    # The admin sees the votes attributed and starts a DPO round from them.
    open_tab(admin, "Train")
    pick(admin, "run-select", PARENT)
    wait_text(admin, "#train-feedback", f"Votes by author: {REVIEWER} 2")
    shot(admin, "team-4-admin-sees-the-votes-by-author")
    dpo = start_round(admin, runs, parent, "dpo")
    shot(admin, "team-5-admin-round-done")
    info = json.loads((dpo / "run.json").read_text())
    assert info["status"] == "completed" and info["lineage"]["parent_run"] == str(parent), info
    assert info["method"] == "dpo" and (dpo / "adapter" / "adapter_config.json").is_file()
    pairs = [json.loads(line) for line in (dpo / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 2, pairs

    # The audit trail, in the Team tab: who added whom, who shared what, who started the round.
    open_tab(admin, "Team")
    admin.locator("#team-audit-box").get_by_text("Audit trail").click()
    admin.locator("#team-audit-refresh").click()
    wait_text(admin, "#team-audit", dpo.name)
    entries = {(e.actor, e.action, e.target) for e in store.audit_entries()}
    assert {(ADMIN, "user_added", REVIEWER), (ADMIN, "run_shared", PARENT), (ADMIN, "started", dpo.name)} <= entries
    shot(admin, "team-6-admin-audit-trail")
    admin_context.close()
    for secret in (ADMIN_PASSWORD, REVIEWER_PASSWORD):
        assert secret not in log.read_text()
