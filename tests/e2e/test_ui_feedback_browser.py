"""The feedback loop in a real Chromium: votes and a correction saved in the Playground become a DPO
run and an SFT run started from the Train tab (the real trainer, one step on the tiny model)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import require_chromium, served_app
from tests.e2e.test_ui_browser import open_page, open_tab, pick, shot, text_of, wait_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROUND_OVERRIDES = "training.max_steps=1\ntraining.batch_size=2\neval.enabled=false"


@pytest.fixture(scope="module")
def feedback_app(tmp_path_factory, tiny_model_dir):
    """A finished tiny run in the runs folder (its model and data there too), and the app serving it."""
    from tests.conftest import train_tiny_run_in

    require_chromium()  # before the training of the parent run
    runs = tmp_path_factory.mktemp("feedback-runs")
    parent = train_tiny_run_in(runs, tiny_model_dir, "tiny-parent")
    with served_app(runs, runs.parent / "feedback-app.log") as url:
        yield url, runs, parent


def ask_and_vote(page, message: str, button: str) -> None:
    page.locator("#play-message textarea, #play-message input").first.fill(message)
    page.locator("#play-send").click()
    # Null-safe waits: Gradio 6 leaves a hidden component (or one not rendered yet) out of the page.
    wait_text(page, "#play-status", "Done", timeout=120_000)
    page.locator(f"#play-vote-{button}").click()
    wait_text(page, "#play-status", "Vote saved")


def start_round(page, runs: Path, parent: Path, method: str) -> Path:
    open_tab(page, "Train")
    pick(page, "run-select", parent.name)
    # The next-round panel is hidden until the run has votes (issue 29): it appears on the next refresh.
    wait_text(page, "#train-feedback", "2 vote")
    page.get_by_label(method.upper(), exact=True).check()
    page.locator("#train-overrides textarea").fill(ROUND_OVERRIDES)
    page.locator("#train-round-start").click()
    # Started, or queued a moment while the previous round's process exits.
    page.wait_for_function(f"document.querySelector('#train-message').innerText.includes('tiny-{method}-')")
    run_id = re.search(rf"tiny-{method}-[\d-]+", text_of(page, "#train-message")).group(0)
    page.wait_for_function(
        f"(() => {{ const s = document.querySelector('#train-status').innerText;"
        f" return s.includes('{run_id}') && s.includes('completed'); }})()",
        timeout=300_000,
        polling=1000,
    )
    return runs / run_id


def test_votes_and_a_correction_become_a_dpo_run_and_an_sft_run(feedback_app, browser) -> None:
    url, runs, parent = feedback_app
    context, page = open_page(browser, url)
    open_tab(page, "Playground")
    # Blind first: choosing the run starts a session with the mode the box has at that moment, and loading
    # the run can finish after a later click on the box.
    page.locator("#play-blind input").check()
    pick(page, "run-select", parent.name)
    ask_and_vote(page, "Where is my order?", "a")
    ask_and_vote(page, "My lamp arrived broken, write to ana@example.com", "b")

    page.get_by_text("Write the right reply").click()
    page.locator("#play-correction textarea").fill("I'm sorry! Could you give me your order number? We'll email you.")
    page.locator("#play-save-correction").click()
    wait_text(page, "#play-status", "Correction saved")
    wait_text(page, "#play-win-rate", "1 correction")
    shot(page, "feedback-1-playground")
    votes = [json.loads(line) for line in (parent / "votes.jsonl").read_text().splitlines()]
    assert len(votes) == 2 and all(v["blind"] for v in votes)
    assert votes[0]["sampling"] == {
        "max_new_tokens": 128,
        "temperature": 0.7,
        "top_p": 0.9,
        "repetition_penalty": 1.1,
        "seed": None,
    }
    assert votes[1]["messages"][-1]["content"].startswith("My lamp") and votes[1]["shown_first"] in ("base", "tuned")
    correction = json.loads((parent / "corrections.jsonl").read_text())
    # The whole conversation so far (the tuned side's), the last customer message redacted, then the reply.
    assert [m["role"] for m in correction["messages"]] == ["user", "assistant", "user", "assistant"]
    # The system prompt the models were asked with is kept with it (issue 29: it was null).
    assert correction["metadata"]["system_prompt"] == "Be a helpful store assistant."
    assert correction["messages"][-2]["content"] == "My lamp arrived broken, write to <EMAIL>"

    dpo = start_round(page, runs, parent, "dpo")
    shot(page, "feedback-2-train-dpo")
    sft = start_round(page, runs, parent, "sft")
    for run, method in ((dpo, "dpo"), (sft, "sft")):
        info = json.loads((run / "run.json").read_text())
        assert info["status"] == "completed" and info["lineage"]["parent_run"] == str(parent), info
        assert info["method"] == method and (run / "adapter" / "adapter_config.json").is_file()
    assert "Could you give me your order number" in (sft / "train.jsonl").read_text()
    context.close()
