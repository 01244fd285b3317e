"""The web app reads and writes only inside the project and the runs folder, and deletes no folder it did not make.

The app runs in this process on a free loopback port and is driven through ``gradio_client``,
as a web user (or a script) would. No training happens here: the job manager's trainer is a
no-op command, because what these tests check is the gate in front of the trainer.
"""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

REPO = Path(__file__).resolve().parents[1]
CANARY = "CANARY-outside-7f3a9c"


@dataclass
class WebApp:
    client: object
    runs: Path
    outside: Path  # a folder outside both served folders, full of canary files
    run_id: str  # a finished run with an adapter (merge targets need one)
    ctx: object


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    from test_chat import make_tiny_run

    from builder.jobs import JobManager
    from builder.ui import build_app

    root = tmp_path_factory.mktemp("confine")
    run = make_tiny_run(root)  # root/runs/tiny-run, its base model in root/tiny-base
    runs = run.parent
    outside = make_outside(root)
    # The trainer is a no-op: these tests check what reaches it, and must not train.
    jobs = JobManager(runs, trainer_cmd=[sys.executable, "-c", "pass"], devices=["cpu"])
    demo, ctx = build_app(runs, jobs=jobs)
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, allowed_paths=[str(runs)], quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        yield WebApp(client=client, runs=runs, outside=outside, run_id=run.name, ctx=ctx)
    finally:
        demo.close()


def started_jobs(runs: Path) -> set[str]:
    return {p.stem for p in (runs / ".jobs").glob("*.json")}


def start(web: WebApp, recipe: str, overrides: list[str]) -> str:
    message, _ = web.client.predict(str(REPO / "recipes" / recipe), "\n".join(overrides), "en", api_name="/do_start")
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
    from builder.confine import LocalPath, model_paths
    from builder.recipe import Recipe

    looks_like_a_path = re.compile(r"\b(files|folders?|paths?|uri|directory)\b|_(dir|path|uri|file)$")
    unmarked = []
    models = {"": Recipe, **{f"task[{n}].": m for n, m in _option_models().items()}}
    for prefix, model in models.items():
        for key, field in _fields(model):
            name = key.rsplit(".", 1)[-1]
            text = f"{name} {field.description or ''}".lower()
            marked = any(isinstance(m, LocalPath) for m in field.metadata)
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
    from builder.confine import recipe_paths
    from builder.recipe import load_recipe

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
    from builder.confine import Confinement
    from builder.recipe import recipe_from_dict

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "link").symlink_to("/etc")
    confinement = Confinement(roots=[("", REPO), ("runs", runs)], cwd=REPO)
    raw = {"base_model": "Qwen/Qwen2.5-0.5B-Instruct", "data": {"train": ["../sample_data/support"]}}
    assert confinement.recipe_problems(recipe_from_dict(raw, base_dir=REPO / "recipes")) == []
    for value in ("/etc", "~", "..", "../..", "link", "link/passwd", "file:///etc/passwd", "a\x00b"):
        raw = {"data": {"dev": [value]}}
        (problem,) = confinement.recipe_problems(recipe_from_dict(raw, base_dir=runs))
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
    assert str(web.runs) not in message  # ... never the server's own folders
    assert started_jobs(web.runs) == before, "the trainer must not be started"


def test_train_tab_refuses_a_recipe_file_outside(web: WebApp) -> None:
    (web.outside / "recipe.yaml").write_text("name: x\ndata:\n  train: [chats.jsonl]\n", encoding="utf-8")
    before = started_jobs(web.runs)
    message, _ = web.client.predict(str(web.outside / "recipe.yaml"), "", "en", api_name="/do_start")
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
    _, saved = web.client.predict(text, "en", api_name="/do_save")
    assert "Not saved" in saved
    assert not (web.runs / "recipes" / "confined.yaml").exists()


def test_recipe_tab_refuses_base_model_etc(web: WebApp) -> None:
    problems = web.client.predict("base_model: /etc\ndata:\n  train: [/etc/passwd]\n", "en", api_name="/check")
    assert "base_model: '/etc' is outside" in problems and "data.train[0]: '/etc/passwd' is outside" in problems


# ---------------------------------------------------------------- merges never delete what they did not make


def test_merge_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from test_chat import make_tiny_run

    from builder.export import ExportError, merge_adapter

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
    assert str(web.runs) not in message and str(REPO) not in message


def test_export_tab_merge_refuses_a_folder_outside(web: WebApp) -> None:
    message = web.client.predict(web.run_id, str(web.outside / "merged"), "en", api_name="/do_merge")
    assert "merge_dir" in message and "outside" in message
    assert not (web.outside / "merged").exists()


def test_file_exports_replace_only_their_own_earlier_exports(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from test_chat import make_tiny_run

    from builder.export import ExportError, export_conversations, zip_adapter

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
