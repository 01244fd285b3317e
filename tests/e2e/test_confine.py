"""The web app reads and writes only inside the project and the runs folder, and deletes no folder it did not make.

The app runs in this process on a free loopback port and is driven through ``gradio_client``,
as a web user (or a script) would. No training happens here: the job manager's trainer is a
no-op command, because what these tests check is the gate in front of the trainer.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tests.e2e.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
CANARY = "CANARY-outside-7f3a9c"


@dataclass
class WebApp:
    client: object
    runs: Path
    outside: Path  # a folder outside both served folders, full of canary files
    run_id: str  # a finished run with an adapter (merge targets need one)
    ctx: object


def make_outside(root: Path) -> Path:
    outside = root / "outside"
    (outside / "kb").mkdir(parents=True)
    line = '{"messages": [{"role": "user", "content": "%s"}, {"role": "assistant", "content": "%s"}]}\n'
    (outside / "chats.jsonl").write_text(line % (CANARY, CANARY) * 4, encoding="utf-8")
    (outside / "kb" / "policies.md").write_text(f"# Secret\n\n{CANARY}\n", encoding="utf-8")
    (outside / "model").mkdir()
    (outside / "model" / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    return outside


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    pytest.importorskip("torch")
    from gradio_client import Client

    from builder.jobs.manager import JobManager
    from builder.ui import build_app
    from tests.unit.test_chat import make_tiny_run

    root = tmp_path_factory.mktemp("confine")
    run = make_tiny_run(root)  # root/runs/tiny-run, its base model in root/tiny-base
    runs = run.parent
    outside = make_outside(root)
    # Training and merging are no-ops: these tests check what reaches them, and must not train. The
    # merge's own refusal to replace a foreign folder is tested on the real merge_adapter below.
    noop = [sys.executable, "-c", "pass"]
    jobs = JobManager(runs, trainer_cmd=noop, merge_cmd=noop, evaluate_cmd=noop, devices=["cpu"])
    demo, ctx = build_app(runs, jobs=jobs)
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, allowed_paths=[str(runs)], quiet=True, show_error=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        yield WebApp(client=client, runs=runs, outside=outside, run_id=run.name, ctx=ctx)
    finally:
        demo.close()


def started_jobs(runs: Path) -> set[str]:
    return {p.stem for p in (runs / ".jobs").glob("*.json")}


def start(web: WebApp, recipe: str, overrides: list[str]) -> str:
    message, _ = web.client.predict(
        str(REPO / "recipes" / recipe), "\n".join(overrides), "en", api_name="/start_training"
    )
    return message


# ---------------------------------------------------------------- the list of path keys is derived


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _fields(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def _option_models() -> dict[str, type[BaseModel]]:
    from builder.usecases import _REGISTRY, get_usecase

    get_usecase("support")  # loads every built-in use case
    return {name: case.options_model for name, case in _REGISTRY.items() if case.options_model is not None}


def test_every_field_that_names_a_file_carries_the_path_marker() -> None:
    """A new key whose description speaks of files, folders or URIs is confined only if marked: this test says so."""
    from builder.config.confine import LocalPath, model_paths
    from builder.config.recipe import Recipe

    looks_like_a_path = re.compile(r"\b(files|folders?|paths?|uri|directory)\b|_(dir|path|uri|file)$")
    unmarked = []
    models = {"": Recipe, **{f"task[{n}].": m for n, m in _option_models().items()}}
    for prefix, model in models.items():
        for key, field in _fields(model):
            name = key.rsplit(".", 1)[-1]
            text = f"{name} {field.description or ''}".lower()
            marked = any(isinstance(m, LocalPath) for m in field.metadata)
            if field.annotation is bool:  # a switch (training.tensorboard) names no file, whatever it says
                continue
            # ``*_field`` options name metadata keys, not files; base_dir is set by the loader, never read from YAML.
            if looks_like_a_path.search(text) and not name.endswith("_field") and not marked and not field.exclude:
                unmarked.append(prefix + key)
    assert unmarked == []
    recipe = Recipe.model_validate({"data": {"train": ["a"], "dev": ["b"]}})
    assert [ref.key for ref in model_paths(recipe)] == ["base_model", "data.train[0]", "data.dev[0]"]


def test_every_use_case_declares_its_options_model() -> None:
    from builder.usecases import _REGISTRY

    assert {name: hasattr(case, "options_model") for name, case in _REGISTRY.items()} == dict.fromkeys(_REGISTRY, True)
    assert "retrieval" in _option_models()


def test_recipe_paths_walks_recipe_and_task_keys() -> None:
    from builder.config.recipe import load_recipe
    from builder.usecases.paths import recipe_paths

    recipe = load_recipe(
        REPO / "recipes" / "retrieval.yaml", ["task.db_uri=kb-store", "data.dev=[a.jsonl, b.jsonl]", "base_model=./m"]
    )
    keys = [ref.key for ref in recipe_paths(recipe)]
    assert keys == [
        "base_model",
        "data.train[0]",
        "data.dev[0]",
        "data.dev[1]",
        "task.knowledge_base[0]",
        "task.knowledge_base[1]",
        "task.knowledge_base[2]",
        "task.db_uri",
    ]


def test_confinement_resolves_like_the_loaders(tmp_path: Path) -> None:
    from builder.config.confine import Confinement
    from builder.config.recipe import recipe_from_dict
    from builder.usecases.paths import recipe_problems

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "link").symlink_to("/etc")
    confinement = Confinement(roots=[("", REPO), ("runs", runs)], cwd=REPO)
    raw = {"base_model": "Qwen/Qwen2.5-0.5B-Instruct", "data": {"train": ["../sample_data/support"]}}
    assert recipe_problems(confinement, recipe_from_dict(raw, base_dir=REPO / "recipes")) == []
    for value in ("/etc", "~", "..", "../..", "link", "link/passwd", "file:///etc/passwd", "a\x00b"):
        raw = {"data": {"dev": [value]}}
        (said,) = recipe_problems(confinement, recipe_from_dict(raw, base_dir=runs))
        problem = str(said)  # the English; test_i18n checks the Spanish
        assert problem.startswith(f"data.dev[0]: {value!r}"), problem
        assert str(runs) not in problem and str(tmp_path) not in problem
    assert confinement.shown(runs / "a" / "b") == "runs/a/b" and confinement.shown(REPO / "recipes") == "recipes"


# ---------------------------------------------------------------- one test per key, through the web API


OVERRIDE_CASES = {
    "data.train": ("support.yaml", "data.train=[{chats}]", "data.train[0]"),
    "data.train as one string": ("support.yaml", "data.train={chats}", "data.train[0]"),
    "data.train in the data section": ("support.yaml", "data={{train: [{chats}]}}", "data.train[0]"),
    "data.dev": ("support.yaml", "data.dev=[{chats}]", "data.dev[0]"),
    "base_model": ("support.yaml", "base_model={model}", "base_model"),
    "task.knowledge_base": ("retrieval.yaml", "task.knowledge_base=[{kb}]", "task.knowledge_base[0]"),
    "task.db_uri": ("retrieval.yaml", "task.db_uri={kb}", "task.db_uri"),
    "task.db_uri as a URL": ("retrieval.yaml", "task.db_uri=file://{kb}", "task.db_uri"),
    "training.mlflow_tracking_uri": (
        "support.yaml",
        "training.mlflow_tracking_uri={kb}",
        "training.mlflow_tracking_uri",
    ),
    "training.mlflow_tracking_uri as a URL": (
        "support.yaml",
        "training.mlflow_tracking_uri=file://{kb}",
        "training.mlflow_tracking_uri",
    ),
    "task as a whole mapping": ("retrieval.yaml", "task={{knowledge_base: [{kb}]}}", "task.knowledge_base[0]"),
}


@pytest.mark.parametrize("case", list(OVERRIDE_CASES))
def test_train_tab_refuses_an_override_outside(web: WebApp, case: str) -> None:
    recipe, template, key = OVERRIDE_CASES[case]
    override = template.format(chats=web.outside / "chats.jsonl", model=web.outside / "model", kb=web.outside / "kb")
    before = started_jobs(web.runs)
    message = start(web, recipe, ["training.max_steps=1", override])
    assert "Not started" in message and f"{key}: " in message, message
    assert str(web.outside) in message  # the user's own value is named ...
    assert str(REPO) not in message  # ... never the project's folder (the runs folder: as the app was given it)
    assert started_jobs(web.runs) == before, "the trainer must not be started"


def test_train_tab_refuses_a_recipe_file_outside(web: WebApp) -> None:
    (web.outside / "recipe.yaml").write_text("name: x\ndata:\n  train: [chats.jsonl]\n", encoding="utf-8")
    before = started_jobs(web.runs)
    message, _ = web.client.predict(str(web.outside / "recipe.yaml"), "", "en", api_name="/start_training")
    assert "Not started" in message and "recipe:" in message
    assert started_jobs(web.runs) == before


def test_train_tab_starts_a_recipe_inside(web: WebApp) -> None:
    before = started_jobs(web.runs)
    message = start(web, "support.yaml", ["training.max_steps=1", "data.dev=[../sample_data/support]"])
    assert "Not started" not in message, message
    assert len(started_jobs(web.runs) - before) == 1


RECIPE_CASES = {
    "data.train": "data:\n  train: [{chats}]\n",
    "data.dev": "data:\n  train: [../../sample_data/support]\n  dev: [{chats}]\n",
    "base_model": "base_model: {model}\ndata:\n  train: [../../sample_data/support]\n",
    "task.knowledge_base": "use_case: retrieval\ndata:\n  train: [../../sample_data/support]\n"
    "task:\n  knowledge_base: [{kb}]\n",
    "task.db_uri": "use_case: retrieval\ndata:\n  train: [../../sample_data/support]\n"
    "task:\n  knowledge_base: [../../sample_data/support]\n  db_uri: {kb}\n",
}


@pytest.mark.parametrize("key", list(RECIPE_CASES))
def test_recipe_tab_refuses_to_check_or_save_a_path_outside(web: WebApp, key: str) -> None:
    # Saved recipes live in <runs>/recipes: the relative sample paths are written from there.
    text = "name: confined\n" + RECIPE_CASES[key].format(
        chats=web.outside / "chats.jsonl", model=web.outside / "model", kb=web.outside / "kb"
    )
    problems = web.client.predict(text, "en", api_name="/check")
    assert f"{key}" in problems and "outside the folders this app serves" in problems, problems
    saved = " ".join(map(str, web.client.predict(text, False, "en", api_name="/save_recipe")))
    assert "Not saved" in saved
    assert not (web.runs / "recipes" / "confined.yaml").exists()


def test_recipe_tab_refuses_base_model_etc(web: WebApp) -> None:
    problems = web.client.predict("base_model: /etc\ndata:\n  train: [/etc/passwd]\n", "en", api_name="/check")
    assert "base_model: '/etc' is outside" in problems and "data.train[0]: '/etc/passwd' is outside" in problems


def test_recipe_tab_refuses_remote_code_from_the_runs_folder(web: WebApp) -> None:
    """Uploads land in the runs folder: a model folder there must not bring its own Python code."""
    model = web.runs / "uploads" / "20260101-000000"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    text = f"base_model: {model}\ntrust_remote_code: true\ndata:\n  train: [{REPO / 'sample_data' / 'support'}]\n"
    problems = web.client.predict(text, "en", api_name="/check")
    assert "trust_remote_code" in problems and f"{web.runs}/uploads/20260101-000000" in problems, problems
    assert str(REPO) not in problems
    assert "trust_remote_code" not in web.client.predict(text.replace("true", "false"), "en", api_name="/check")


# ---------------------------------------------------------------- merges never delete what they did not make


def test_merge_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from builder.export.base import ExportError
    from builder.export.merge import merge_adapter
    from tests.unit.test_chat import make_tiny_run

    run = make_tiny_run(tmp_path)
    foreign = tmp_path / "mine"
    (foreign / "notes").mkdir(parents=True)
    (foreign / "notes" / "keep.txt").write_text("do not lose me", encoding="utf-8")
    with pytest.raises(ExportError, match="holds other files"):
        merge_adapter(run, foreign)
    assert (foreign / "notes" / "keep.txt").read_text(encoding="utf-8") == "do not lose me"
    # A new folder, then the same folder again (an earlier merge: replaced), then an empty one.
    out = merge_adapter(run, tmp_path / "merged")
    assert (out / "merged_from.json").is_file() and (out / "model.safetensors").is_file()
    assert merge_adapter(run, out) == out and (out / "model.safetensors").is_file()
    (tmp_path / "empty").mkdir()
    assert (merge_adapter(run, tmp_path / "empty") / "config.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder is left behind"


@pytest.mark.parametrize("target", [".", "sample_data", "{runs}", "{run}", "{run}/adapter"])
def test_export_tab_merge_leaves_foreign_folders_alone(web: WebApp, target: str) -> None:
    value = target.format(runs=web.runs, run=web.run_id)
    if target == "sample_data":
        value = str(REPO / "sample_data")
    resolved = (web.runs / value).resolve()
    before = list(resolved.rglob("*"))
    message = web.client.predict(web.run_id, value, "en", api_name="/do_merge")
    assert "ExportError" in message and "holds other files" in message, message
    assert [p for p in before if not p.exists() and not p.is_symlink()] == [], "nothing may be deleted"
    assert str(REPO) not in message


def test_export_tab_merge_refuses_a_folder_outside(web: WebApp) -> None:
    message = web.client.predict(web.run_id, str(web.outside / "merged"), "en", api_name="/do_merge")
    assert "merge_dir" in message and "outside" in message
    assert not (web.outside / "merged").exists()


def test_file_exports_replace_only_their_own_earlier_exports(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from builder.export.base import ExportError
    from builder.export.files import export_conversations, zip_adapter
    from tests.unit.test_chat import make_tiny_run

    run = make_tiny_run(tmp_path)
    notes = tmp_path / "notes.zip"
    notes.write_bytes(b"not a zip")
    with pytest.raises(ExportError, match="not an earlier adapter zip"):
        zip_adapter(run, notes)
    assert notes.read_bytes() == b"not a zip"
    assert zip_adapter(run, tmp_path / "a.zip") == zip_adapter(run, tmp_path / "a.zip")  # its own: replaced
    readme = tmp_path / "README.md"
    readme.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ExportError, match="not an earlier chat JSONL export"):
        export_conversations([], readme)
    assert readme.read_text(encoding="utf-8") == "# mine\n"


# ---------------------------------------------------------------- resume and uploads


def test_resume_checks_the_recipe_again(web: WebApp) -> None:
    """A recipe file changed (by its owner) to name a path outside, after its run started, is not resumed."""
    recipe = web.runs / "recipes" / "resume-me.yaml"
    recipe.parent.mkdir(parents=True, exist_ok=True)
    recipe.write_text(f"name: resume-me\ndata:\n  train: [{REPO / 'sample_data' / 'support'}]\n", encoding="utf-8")
    message, _ = web.client.predict(str(recipe), "", "en", api_name="/start_training")
    run_id = re.search(r"resume-me-[\d-]+", message).group(0)
    deadline = time.monotonic() + 60
    while web.ctx.jobs.get(run_id).state != "done":  # the no-op trainer ends at once
        assert time.monotonic() < deadline, "the no-op job did not end"
        web.ctx.jobs.tick()
        time.sleep(0.2)
    recipe.write_text(f"name: resume-me\ndata:\n  train: [{web.outside / 'chats.jsonl'}]\n", encoding="utf-8")
    message = web.client.predict(run_id, "en", api_name="/do_resume")
    assert "Not started" in message and "data.train[0]" in message, message
    assert web.ctx.jobs.get(run_id).state == "done"


def test_uploads_land_in_the_runs_folder_and_server_paths_are_refused(web: WebApp, tmp_path: Path) -> None:
    import urllib.request

    from gradio_client import handle_file

    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"messages": [{"role": "user", "content": "hola"}]}\n', encoding="utf-8")
    web.client.predict([handle_file(str(mine))], "en", api_name="/take_uploads")
    assert [p.name for p in (web.runs / "uploads").rglob("*.jsonl")] == ["mine.jsonl"]
    # A request naming a file on the server instead of uploading one: Gradio refuses to touch it.
    data = {"data": [[{"path": str(web.outside / "chats.jsonl"), "meta": {"_type": "gradio.FileData"}}], "en"]}
    base = web.client.src.rstrip("/")
    request = urllib.request.Request(
        f"{base}/gradio_api/call/take_uploads", json.dumps(data).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/take_uploads/{event}", timeout=30) as response:
        stream = response.read().decode()
    assert "event: error" in stream
    assert [p.name for p in (web.runs / "uploads").rglob("*.jsonl")] == ["mine.jsonl"]


# ---------------------------------------------------------------- the fuzz test


@dataclass(frozen=True)
class PathKey:
    key: str  # dotted: data.train, task.knowledge_base
    use_case: str | None  # the use case whose options hold it; None: a key of every recipe
    marker: object
    is_list: bool


def path_keys() -> list[PathKey]:
    """Every path key, found from the LocalPath markers: a key added later is fuzzed without editing this test."""
    import typing

    from builder.config.confine import LocalPath
    from builder.config.recipe import Recipe

    def marked(model: type[BaseModel], prefix: str, use_case: str | None) -> list[PathKey]:
        found = []
        for key, field in _fields(model, prefix):
            marker = next((m for m in field.metadata if isinstance(m, LocalPath)), None)
            if marker is not None:
                found.append(PathKey(key, use_case, marker, typing.get_origin(field.annotation) is list))
        return found

    keys = marked(Recipe, "", None)
    for use_case, model in _option_models().items():
        keys += marked(model, "task.", use_case)
    return keys


def within(path: str, roots: list[Path]) -> bool:
    return any(os.path.commonpath([path, str(root)]) == str(root) for root in roots)


def verdict(value: object, base: Path, roots: list[Path], model: bool) -> str:
    """The test's own judgement of a value: 'escapes' (must be refused), 'inside', or 'unknown'.

    Written apart from builder.config.confine, with os.path: where the value leads once ``~`` is expanded,
    read against ``base`` and every link followed, and whether a folder there holds a link leading out.
    """
    from builder.models.loading import is_hub_id

    if not isinstance(value, str):
        return "unknown"
    if "://" in value:
        return "escapes"  # the web app stores nothing at a URL
    if model and (value.startswith("bundled:") or (is_hub_id(value) and not os.path.exists(base / value))):
        return "inside"  # a model name, not a path
    try:
        real = os.path.realpath(os.path.join(base, os.path.expanduser(value)))
    except (OSError, ValueError):
        return "unknown"
    if not within(real, roots):
        return "escapes"
    for top, dirs, files in os.walk(real) if os.path.isdir(real) else ():
        for name in dirs + files:
            entry = os.path.join(top, name)
            if os.path.islink(entry) and not within(os.path.realpath(entry), roots):
                return "escapes"
    return "inside"


def fuzz_values(web: WebApp) -> list[str]:
    runs, outside = web.runs, web.outside
    (runs / "link-out").symlink_to(outside, target_is_directory=True)
    (runs / "link-out-file").symlink_to(outside / "chats.jsonl")
    (runs / "folder-with-link").mkdir()
    (runs / "folder-with-link" / "inner").symlink_to(outside / "kb", target_is_directory=True)
    (runs / "link-loop").symlink_to(runs / "link-loop")
    return [
        # absolute and home
        "/etc/passwd", "/etc", "/", "/root", "/proc/self/environ", str(outside), str(outside / "chats.jsonl"),
        str(outside / "kb"), str(outside / "model"), "~", "~/", "~root", "~/.bashrc", "/etc/./passwd", "//etc//passwd",
        # climbing out
        "..", "../..", "../../..", "../../../../../../../etc/passwd", "./../../", "sample_data/../../..",
        f"{REPO}/../..", f"{runs}/..", f"{runs}/../outside/chats.jsonl", f"{REPO}/recipes/../../outside",
        # the served folders themselves and what is in them
        ".", "./", str(REPO), str(runs), "sample_data", "../sample_data", str(REPO / "sample_data"), "recipes",
        # links inside that lead out
        str(runs / "link-out"), str(runs / "link-out" / "chats.jsonl"), str(runs / "link-out-file"),
        str(runs / "folder-with-link"), str(runs / "link-loop"),
        # URL-ish and encoded
        "file:///etc/passwd", f"file://{outside}", "s3://bucket/kb", "http://127.0.0.1:9/x", "db://remote",
        "%2e%2e/%2e%2e/etc/passwd", "..%2f..%2f..%2fetc", "..\\..\\..\\etc\\passwd", "\u2025/\u2025/etc",
        " /etc/passwd", "/etc/passwd\n", "$HOME/.bashrc", "a\x00b", "x" * 300,
    ]  # fmt: skip


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every entry under the folders (links not followed): its size and mtime; folders by their own names."""
    found = {}
    for folder in folders:
        for top, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", ".pytest_cache", ".git", ".venv", "test-output")]
            for name in dirs + files:
                stat = os.lstat(os.path.join(top, name))
                found[os.path.join(top, name)] = (stat.st_size, int(stat.st_mtime_ns)) if name in files else (0, 0)
    return found


def age_access_times(paths: list[str]) -> dict[str, float]:
    """Set each access time before its mtime, so that any read (relatime) moves it: a read leaves a trace."""
    times = {}
    for path in paths:
        stat = os.lstat(path)
        os.utime(path, ns=(stat.st_mtime_ns - 3600 * 10**9, stat.st_mtime_ns), follow_symlinks=False)
        times[path] = os.lstat(path).st_atime
    return times


def quoted(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML flow scalar: no value can break out of it


Expected = tuple[str, ...]  # the key names a refusal may use for one value (``data.train[1]``...)


def refusals_missing(label: str, message: str, expected: list[Expected]) -> list[str]:
    return [
        f"{label}: {names[0]} not refused: {message[:300]}"
        for names in expected
        if not any(f"{name}: " in message for name in names)
    ]


def fuzz_train_tab(web: WebApp, keys: list[PathKey], values: list[str], roots: list[Path]) -> tuple[list[str], list]:
    """Overrides: every key of a use case at once, as a quoted list item after an inside path, or typed raw."""
    inside = quoted("../sample_data/support")
    cases = sorted({k.use_case for k in keys if k.use_case}) or ["support"]
    calls = []
    for use_case in cases:
        recipe_file = REPO / "recipes" / f"{use_case}.yaml"
        own = [k for k in keys if k.use_case in (None, use_case)]
        for i, value in enumerate(values):
            # Typed raw, YAML reads the value (``~`` is null...): for the values YAML changes, and a sample of others.
            forms = (
                ["quoted", "raw"] if (yaml_value(value) != value or i % 6 == 0) and "\n" not in value else ["quoted"]
            )
            for form in forms:
                lines, expected = ["training.max_steps=1"], []
                for k in own:
                    base = recipe_file.parent if k.marker.relative_to == "recipe" else REPO
                    if form == "quoted":
                        lines.append(
                            f"{k.key}=[{inside}, {quoted(value)}]" if k.is_list else f"{k.key}={quoted(value)}"
                        )
                        names, parsed = ((f"{k.key}[1]",) if k.is_list else (k.key,)), value
                    else:
                        lines.append(f"{k.key}={value}")
                        names, parsed = (f"{k.key}[0]", k.key), yaml_value(value)
                    if verdict(parsed, base, roots, k.marker.model) == "escapes":
                        expected.append(names)
                calls.append(
                    (
                        f"start {form} {value!r}",
                        ((str(recipe_file), "\n".join(lines), "en"), "/start_training"),
                        expected,
                    )
                )
    failures, answers = [], []
    for (label, _, expected), (message, _) in zip(calls, ask_all(web, [c[1] for c in calls]), strict=True):
        answers.append(message)
        failures += refusals_missing(label, message, expected)
        if expected and "Not started" not in message:
            failures.append(f"{label}: started")
    return failures, answers


def jobs_holding_outside_paths(web: WebApp, job_ids: set[str], keys: list[PathKey], roots: list[Path]) -> list[str]:
    """Each started job's recipe and overrides, loaded as the trainer loads them: every path key must lead inside."""
    from builder.config.recipe import RecipeError, load_recipe

    failures = []
    for job_id in job_ids:
        job = json.loads((web.runs / ".jobs" / f"{job_id}.json").read_text(encoding="utf-8"))
        try:
            recipe = load_recipe(job["recipe_path"], job["overrides"])
        except RecipeError:
            continue  # the trainer refuses it too, before it reads any path
        for k in keys:
            value: object = recipe.task if k.key.startswith("task.") else recipe.model_dump()
            for part in k.key.removeprefix("task.").split("."):
                value = value.get(part) if isinstance(value, dict) else None
            base = recipe.base_dir if k.marker.relative_to == "recipe" else REPO
            for item in value if isinstance(value, list) else [value]:
                if item is not None and verdict(item, base, roots, k.marker.model) == "escapes":
                    failures.append(f"job {job_id} started with {k.key}={item!r}")
    return failures


def fuzz_recipe_tab(web: WebApp, keys: list[PathKey], values: list[str], roots: list[Path]) -> tuple[list[str], list]:
    """Save (which checks first) every value in every key at once; the checker alone on a sample."""
    cases = sorted({k.use_case for k in keys if k.use_case}) or ["support"]
    calls = []
    for i, value in enumerate(values):
        for use_case in cases:
            raw: dict[str, Any] = {"name": f"fuzz-{i}", "use_case": use_case}
            expected = []
            for k in (k for k in keys if k.use_case in (None, use_case)):
                *sections, name = k.key.split(".")
                node = raw
                for section in sections:
                    node = node.setdefault(section, {})
                node[name] = ["../../sample_data/support", value] if k.is_list else value
                base = web.runs / "recipes" if k.marker.relative_to == "recipe" else REPO
                if verdict(value, base, roots, k.marker.model) == "escapes":
                    expected.append((f"{k.key}[1]",) if k.is_list else (k.key,))
            text = yaml.safe_dump(raw, allow_unicode=True)
            calls.append((f"save {value!r}", ((text, False, "en"), "/save_recipe"), expected, f"fuzz-{i}.yaml"))
            if i % 4 == 0:
                calls.append((f"check {value!r}", ((text, "en"), "/check"), expected, None))
    failures, answers = [], []
    for (label, _, expected, saved_as), result in zip(calls, ask_all(web, [c[1] for c in calls]), strict=True):
        message = result if isinstance(result, str) else " ".join(map(str, result))
        answers.append(message)
        failures += refusals_missing(label, message, expected)
        if expected and saved_as and (web.runs / "recipes" / saved_as).exists():
            failures.append(f"{label}: saved")
    return failures, answers


def fuzz_merges(web: WebApp, values: list[str], roots: list[Path], before: set[str]) -> tuple[list[str], list]:
    """Every value as the Export tab's merge folder (a relative one is read against the runs folder)."""
    requests = [((web.run_id, value, "en"), "/do_merge") for value in [*values, "fuzz-merge"]]
    failures, answers = [], ask_all(web, requests)
    for value, message in zip([*values, "fuzz-merge"], answers, strict=True):
        if "ConfinementError" in message or "ExportError" in message:
            continue  # refused
        if verdict(value, web.runs, roots, False) == "escapes":
            failures.append(f"merge {value!r}: not refused: {message[:300]}")
        target = os.path.realpath(os.path.join(web.runs, value))
        if any(p.startswith(target + os.sep) for p in before):
            failures.append(f"merge {value!r}: accepted a folder that held files before: {message[:300]}")
    return failures, answers


def test_fuzz_no_path_a_web_user_sets_reaches_outside(web: WebApp) -> None:
    """Every path key through the Train tab's overrides, the Recipe tab's save and checker, and merge targets.

    After it: nothing outside the project and runs folders was read (access times, canary text) or
    written, and no file or folder that existed before was deleted.
    """
    started = time.monotonic()
    roots = [REPO.resolve(), web.runs.resolve()]
    keys = path_keys()
    assert {k.key for k in keys} >= {"base_model", "data.train", "data.dev", "task.knowledge_base", "task.db_uri"}
    values = fuzz_values(web)
    outside_entries = sorted(snapshot(web.outside))
    before = snapshot(web.runs, web.outside, REPO)
    atimes = age_access_times(outside_entries)
    jobs_before = started_jobs(web.runs)

    failures, answers = fuzz_train_tab(web, keys, values, roots)
    failures += jobs_holding_outside_paths(web, started_jobs(web.runs) - jobs_before, keys, roots)
    more_failures, more_answers = fuzz_recipe_tab(web, keys, values, roots)
    failures, answers = failures + more_failures, answers + more_answers
    more_failures, more_answers = fuzz_merges(web, values, roots, set(before))
    failures, answers = failures + more_failures, answers + more_answers
    assert failures == [], "\n".join(failures[:20])

    # Nothing outside was read: no access time moved, no canary text came back or landed in the runs folder.
    assert [p for p, t in atimes.items() if os.lstat(p).st_atime != t] == [], "read outside"
    assert [a[:200] for a in answers if CANARY in a or "root:x:0:0" in a] == []
    for path in web.runs.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert CANARY.encode() not in data and b"root:x:0:0" not in data, path
    # Nothing outside was written, nothing that existed before was deleted, nothing was written into the project.
    after = snapshot(web.runs, web.outside, REPO)
    outside = str(web.outside)
    assert {p: v for p, v in after.items() if p.startswith(outside)} == {
        p: v for p, v in before.items() if p.startswith(outside)
    }
    assert [p for p in before if p not in after] == [], "deleted"
    assert [p for p in after if p.startswith(str(REPO) + os.sep) and p not in before] == [], "written into the project"
    took = time.monotonic() - started
    print(f"fuzz: {len(values)} values x {len(keys)} keys, {len(answers)} answers in {took:.1f} s")


def ask_all(web: WebApp, requests: list[tuple[tuple[object, ...], str]], window: int = 4) -> list[object]:
    """The answers to many API calls, a few in flight at a time (as several browsers would send them)."""
    answers: list[object] = []
    for start in range(0, len(requests), window):
        jobs = [web.client.submit(*args, api_name=api) for args, api in requests[start : start + window]]
        answers += [job.result(timeout=60) for job in jobs]
    return answers


def yaml_value(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text
