"""A newcomer's first hour in a real Chromium (issue 29), in English and in Spanish, and hostile transcript text.

The walkthrough: the start-here guide, the support sample imported, the recipe on the tiny bundled-tokenizer
model saved, a one-step training, an answer in the Playground; a screenshot per step under
``test-output/first-hour/`` and, in Spanish, no English text of the app's own on any screen (the data's words
excepted). The hostile import: ``<script>``, ``<img onerror>``, Markdown links and HTML entities in messages,
speaker names and a set-aside record become no element anywhere and are shown as written.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from builder.ui.i18n import STRINGS
from tests.e2e.conftest import REPO, require_chromium, served_app
from tests.e2e.test_ui_browser import open_tab, text_of, wait_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = REPO / "test-output" / "first-hour"
STARTED = time.monotonic()
HOSTILE = [
    '<script>window.__xss = "script"</script>',
    "<img src=x onerror=\"window.__xss = 'img'\">",
    "[click me](http://evil.example/) and **bold**",
    "&lt;b&gt; &amp; &#60;i&#62;",
    "<video src=x></video> <audio src=x></audio>",
]
TABS = {
    "en": ("Data", "Recipe", "Train", "Playground"),
    "es": ("Datos", "Receta", "Entrenar", "Pruebas"),
}
GUIDE = {"en": "Start here", "es": "Empieza aquí"}
DONE = {
    "en": ("conversations ready", "Saved to", "completed", "Done"),
    "es": ("listas", "Guardada", "terminada", "Listo"),
}


@pytest.fixture(scope="module")
def first_app(tmp_path_factory, tiny_model_dir):
    require_chromium()
    runs = tmp_path_factory.mktemp("first-hour-runs")
    model = shutil.copytree(tiny_model_dir, runs / "models" / "tiny")
    with served_app(runs, runs.parent / "first-hour-app.log") as url:
        yield url, runs, model


def english_fragments() -> list[str]:
    """The app's English texts that Spanish says otherwise, cut at their placeholders: pieces of 3+ words."""
    pieces = set()
    for key, english in STRINGS["en"].items():
        if english == STRINGS["es"].get(key):
            continue
        for part in re.split(r"\{[^}]*\}|[*`#|\[\]()]", english):
            part = part.strip(" .,:;…-")
            if len(part.split()) >= 3:
                pieces.add(part)
    return sorted(pieces)


def english_on_screen(page) -> list[str]:
    """The app's English texts on the page. The training log is left out: it is the trainer's own output, written
    once for the log file (its readiness advice is said in the page's language in the Data tab)."""
    # The log is hidden while the page's text is read, in one script: a Timer refreshes the log, so taking its
    # text out of the page's afterwards could miss (the log grew in between).
    body = page.evaluate(
        """() => {
            const logs = [...document.querySelectorAll('#train-log')];
            logs.forEach(e => { e.dataset.display = e.style.display; e.style.display = 'none'; });
            const text = document.body.innerText;
            logs.forEach(e => { e.style.display = e.dataset.display; });
            return text;
        }"""
    )
    shown = " ".join(body.split())
    return [piece for piece in english_fragments() if piece in shown]


def shot(page, lang: str, number: int, name: str) -> None:
    print(f"{lang}-{number:02d}-{name} at {time.monotonic() - STARTED:.0f} s")  # where the minutes go, if slow
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{lang}-{number:02d}-{name}.png"), full_page=True)


def new_page(browser, url: str, lang: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="es-ES" if lang == "es" else "en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("#tab-data", state="attached")
    if lang == "es":  # the page follows the browser's language
        page.get_by_role("tab", name="Datos").wait_for()
    return context, page


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_first_hour_from_sample_data_to_an_answer(first_app, browser, lang: str) -> None:
    url, runs, model = first_app
    context, page = new_page(browser, url, lang)
    try:
        seen = walk(page, runs, model, lang)
    except Exception:  # what the page showed when a step gave up, for whoever reads the failure
        shot(page, lang, 99, "failed")
        print("recipe YAML when it failed:", page.evaluate("document.querySelector('#recipe-yaml')?.innerText"))
        raise
    finally:
        context.close()
    if lang == "es":
        assert not any(seen.values()), {screen: found for screen, found in seen.items() if found}


def walk(page, runs: Path, model: Path, lang: str) -> dict[str, list[str]]:
    """The first hour, step by step: the English of the app's own found on each screen."""
    _, recipe, train, play = TABS[lang]
    imported, saved, completed, answered = DONE[lang]
    seen: dict[str, list[str]] = {}

    # Start here: the guide open and no run list before there is a run; once the other language's walk has
    # trained one, the guide is a closed reminder (Gradio leaves its body out of the page).
    if not any((runs / r / "run.json").is_file() for r in (p.name for p in runs.iterdir())):
        wait_text(page, "#start-guide", "1.")
        assert page.locator("#run-select").count() == 0 or not page.locator("#run-select").is_visible()
    else:
        wait_text(page, "#start-here", GUIDE[lang])
    shot(page, lang, 0, "start")
    seen["start"] = english_on_screen(page)

    # Data: the support sample; the chat-app exports are offered too.
    page.locator("#data-sample input").click()
    assert page.get_by_role("option", name="support/exports", exact=True).count() == 1
    page.get_by_role("option", name="support", exact=True).click()
    page.locator("#data-use-sample").click()
    wait_text(page, "#data-files", ".jsonl")
    page.locator("#data-import").click()
    wait_text(page, "#data-report", imported, timeout=120_000)
    page.locator("#data-preview .message").first.wait_for()
    shot(page, lang, 1, "data")
    seen["data"] = english_on_screen(page)

    # Recipe: the support recipe on the tiny model, saved.
    open_tab(page, recipe)
    wait_text(page, "#recipe-yaml", "use_case: support", timeout=120_000)
    name = page.locator("#recipe-name textarea, #recipe-name input").first
    name.fill(f"first-{lang}")
    name.press("Enter")  # submit sends the typed value; a blur right after a fill can send the old one
    base = page.locator("#recipe-base-model input")
    base.fill(str(model))
    base.press("Enter")
    base.evaluate("(e) => e.blur()")  # its list closed again, as a user's next click would
    wait_text(page, "#recipe-yaml", f"name: first-{lang}", timeout=120_000)
    wait_text(page, "#recipe-yaml", f"base_model: {model}", timeout=60_000)
    page.locator("#recipe-save").click()
    wait_text(page, "#recipe-saved", saved, timeout=120_000)
    shot(page, lang, 2, "recipe")
    seen["recipe"] = english_on_screen(page)

    # Train: one step, from the steps field.
    open_tab(page, train)
    page.wait_for_function(
        "(n) => document.querySelector('#train-recipe input').value.endsWith(n)", arg=f"first-{lang}.yaml"
    )
    overrides = page.locator("#train-overrides textarea")
    overrides.fill("quantization=none\ntraining.batch_size=1\ntraining.max_length=96\neval.enabled=false")
    steps = page.locator("#train-steps input")
    steps.fill("1")
    steps.press("Tab")
    page.wait_for_function("document.querySelector('#train-overrides textarea').value.includes('max_steps=1')")
    page.locator("#train-start").click()
    # This walk's run, completed (the Spanish walk's page first shows the English walk's finished run).
    page.wait_for_function(
        "([n, c]) => { const s = document.querySelector('#train-status');"
        " return s && s.innerText.includes(n) && s.innerText.includes(c); }",
        arg=[f"first-{lang}-", completed],
        timeout=300_000,
        polling=1000,
    )
    assert page.locator("#run-select").is_visible()  # a run exists now: the run list shows
    shot(page, lang, 3, "train")
    seen["train"] = english_on_screen(page)

    # Try it: a message with markup, shown as written.
    open_tab(page, play)
    message = '<b>Where</b> is my order? <img src=x onerror="window.__xss = 1">'
    page.locator("#play-message textarea, #play-message input").first.fill(message)
    page.locator("#play-send").click()
    wait_text(page, "#play-status", answered, timeout=240_000)
    assert message in text_of(page, "#play-left")
    assert page.locator("#play-left img[src='x'], #play-left b, #play-right img[src='x']").count() == 0
    assert page.evaluate("window.__xss") is None
    shot(page, lang, 4, "playground")
    seen["playground"] = english_on_screen(page)
    return seen


def hostile_file(folder: Path) -> Path:
    """Transcripts whose text, speaker names and a bad record carry markup."""
    path = folder / "hostile.jsonl"
    rows = []
    for i, text in enumerate(HOSTILE * 3):
        rows.append({"messages": [{"role": "user", "content": f"{text} #{i}"}, {"role": "assistant", "content": text}]})
    rows.append({"messages": [{"role": "<img src=x onerror=window.__xss=1>", "content": HOSTILE[0]}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_hostile_transcript_text_becomes_no_element(first_app, browser, tmp_path: Path) -> None:
    url, _, _ = first_app
    context, page = new_page(browser, url, "en")
    spare = tmp_path / "spare.jsonl"
    spare.write_text(json.dumps({"messages": [{"role": "user", "content": "spare"}]}) + "\n", encoding="utf-8")
    page.locator("#data-upload input[type=file]").set_input_files([str(hostile_file(tmp_path)), str(spare)])
    wait_text(page, "#data-files", "spare.jsonl")
    # A file removed from the upload box is no longer in use (issue 29: it was still imported).
    page.locator("#data-upload tr", has_text="spare").get_by_role("button", name="Remove this file").click()
    page.wait_for_function(
        "() => { const f = document.querySelector('#data-files');"
        " return f && f.innerText.includes('hostile.jsonl') && !f.innerText.includes('spare.jsonl'); }",
        polling=500,
    )
    page.locator("#data-import").click()
    wait_text(page, "#data-report", "conversations ready", timeout=120_000)
    assert "spare" not in text_of(page, "#data-report")
    page.locator("#data-preview .message").first.wait_for()
    areas = ["#data-preview", "#data-report", "#data-advice", "#data-files", "#data-quarantine", "#data-speakers"]
    for index in range(1, 6):  # each hostile text as the preview shows it
        page.locator("#data-pick input[type=number]").fill(str(index))
        page.locator("#data-pick input[type=number]").press("Enter")
        text = HOSTILE[index - 1]
        wait_text(page, "#data-preview", f"{text} #{index - 1}")
        for area in areas:
            made = page.evaluate(
                "(a) => document.querySelectorAll(`${a} script, ${a} img, ${a} video, ${a} audio, ${a} iframe,"
                " ${a} .prose a, ${a} .message a, ${a} .message strong, ${a} .message b`).length",
                area,
            )
            assert made == 0, (area, text)
    assert "<img src=x onerror=window.__xss=1>" in text_of(page, "#data-quarantine")
    assert page.evaluate("window.__xss") is None
    shot(page, "xss", 1, "data")
    context.close()
