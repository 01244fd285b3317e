"""A Spanish-speaking user's path in a real Chromium: the multilingual model picked, trained, evaluated, asked.

The sentiment sample is imported, the Recipe tab's model picker is set to Gemma 3 270M (its size,
languages and license are shown), one training step runs with the evaluation on two dev examples,
and the playground answers a Spanish message with a label and its probabilities on both sides.
Gemma's 262k-token vocabulary makes every step slow: one step, short sequences.
"""

from __future__ import annotations

import json
import re

import pytest

from builder.config.recipe import MULTILINGUAL_MODEL
from builder.models.bundled import BUNDLED_MODELS
from tests.e2e.test_ui_browser import app_url, open_page, open_tab, pick, shot, text_of  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OVERRIDES = "\n".join(
    [
        "quantization=none",
        "training.max_steps=1",
        "training.batch_size=2",
        "training.max_length=64",
        "training.eval_steps=1",
        "training.save_steps=1",
        "data.max_dev_examples=2",
        "eval.max_examples=2",
        "eval.few_shot=1",
    ]
)


def test_a_spanish_team_trains_and_asks_the_multilingual_model(app_url, browser) -> None:  # noqa: F811 (app_url)
    url, runs = app_url
    context, page = open_page(browser, url)
    pick(page, "data-sample", "sentiment")
    page.locator("#data-use-sample").click()
    page.wait_for_function("document.querySelector('#data-files').innerText.includes('reviews.tsv')")
    page.locator("#data-import").click()
    page.wait_for_function("document.querySelector('#data-report').innerText.includes('conversations ready')")

    open_tab(page, "Recipe")
    page.wait_for_function("document.querySelector('#recipe-yaml').innerText.includes('use_case: sentiment')")
    pick(page, "recipe-base-model", BUNDLED_MODELS[MULTILINGUAL_MODEL].choice())
    page.wait_for_function(
        f"document.querySelector('#recipe-yaml').innerText.includes('base_model: {MULTILINGUAL_MODEL}')"
    )
    note = text_of(page, "#recipe-model-note")
    assert "Gemma Terms of Use" in note and "268M" in note and "multilingual" in note, note
    page.locator("#recipe-name textarea, #recipe-name input").first.fill("browser-gemma")
    page.locator("#recipe-name textarea, #recipe-name input").first.press("Tab")
    page.wait_for_function("document.querySelector('#recipe-yaml').innerText.includes('name: browser-gemma')")
    page.locator("#recipe-save").click()
    page.wait_for_function("document.querySelector('#recipe-saved').innerText.includes('browser-gemma.yaml')")
    shot(page, "gemma-1-recipe")

    open_tab(page, "Train")
    page.wait_for_function(
        "document.querySelector('#train-recipe input').value.endsWith('browser-gemma.yaml')", timeout=10_000
    )
    page.locator("#train-overrides textarea").fill(OVERRIDES)
    page.locator("#train-start").click()
    page.wait_for_function("document.querySelector('#train-message').innerText.includes('Started')")
    run_id = re.search(r"browser-gemma-[\d-]+", text_of(page, "#train-message")).group(0)
    page.wait_for_function(
        "document.querySelector('#train-status').innerText.includes('completed')", timeout=900_000, polling=2000
    )
    info = json.loads((runs / run_id / "run.json").read_text())
    assert info["base_model"] == MULTILINGUAL_MODEL and info["final_step"] == 1

    # The evaluation ran after training: label answers, never off-label.
    for _ in range(300):
        if (runs / run_id / "eval.json").is_file():
            break
        page.wait_for_timeout(2000)
    evaluation = json.loads((runs / run_id / "eval.json").read_text())
    assert all(s["metrics"]["off_label"] == 0 for s in evaluation["systems"].values())
    open_tab(page, "Evaluate")
    page.wait_for_function("document.querySelector('#eval-table').innerText.includes('off_label')", timeout=30_000)
    shot(page, "gemma-2-evaluate")

    open_tab(page, "Playground")
    page.locator("#play-message textarea, #play-message input").first.fill("¡Qué desastre de pedido, llegó roto!")
    page.locator("#play-send").click()
    page.wait_for_function(
        "document.querySelector('#play-status').innerText.includes('Done')", timeout=300_000, polling=1000
    )
    left = page.locator("#play-left .message").all_inner_texts()
    right = page.locator("#play-right .message").all_inner_texts()
    for answer in (left[-1], right[-1]):
        assert re.search(r"(negative|neutral|positive) \d+%", answer), (left, right)
    shot(page, "gemma-3-playground")
    context.close()
