#!/usr/bin/env python3
"""Move builder/ into layer packages in one go (issue 27, part 2). Run at the repository root:

    python3 tools/relayer.py            # git mv + import rewrites + entry shims + configs
    python3 tools/relayer.py --check    # only list modules the map does not place (nothing changed)

What it does, in order:
1. refuses to run when a top-level module of builder/ is not in MOVES or KEEP (a new module: place it first);
2. ``git mv``s each module into its layer package (packages that already exist stay where they are);
3. rewrites every reference in builder/, tests/, benchmarks/, app.py, docs, README and the other *.md:
   ``from builder.x import ...``, ``from builder import x``, ``import builder.x``, dotted strings
   (``"builder.x.name"`` in monkeypatch/mock) and file paths (``builder/x.py``) -- but not
   ``python -m builder.x`` commands, which the entry shims keep working;
4. writes the layer packages' ``__init__.py``, the entry shims (``python -m builder.sft|evaluate|export|
   serve|feedback``; ``builder.data`` and ``builder.users`` are packages already), the import-linter
   contract (.importlinter) and the mypy configuration ([tool.mypy] in pyproject.toml);
5. runs ``ruff check --fix`` (import order) and ``ruff format`` on what it touched.

Afterwards: ``lint-imports``, ``an import-loop check that counts imports inside functions``, ruff, the tests.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

# Layers, top to bottom: a module may import only from its own layer and the layers below it.
# (cli and its root shim `sft` share a layer; `__main__` shims of the packages are allowed to import cli.)
LAYERS = [
    "ui",
    "jobs",
    "cli : sft",
    "serve",
    "export",
    "feedback",
    "evaluate",
    "train",
    "data",
    "usecases",
    "importers",
    "models",
    "users",
    "run",
    "config",
    "core",
]

LAYER_DOCS = {
    "core": "Texts and conversations: messages, the conversation type, text metrics, vote authors.",
    "config": "The recipe (schema, loading, overrides) and the path markers that confine it.",
    "run": "The run directory: the one owner of a run's file names, its JSON/JSONL files and pace.",
    "users": "Accounts of the web app (store and CLI).",
    "models": "Base models: bundled catalogue, loading, chat templates, masking, devices, generation, capacity.",
    "importers": "Readers of every transcript format.",
    "usecases": "What each use case trains on and how it is scored.",
    "data": "Importing and cleaning data into a library; examples and splits; advice; the feedback store.",
    "train": "One training run: trainer, callbacks, trackers.",
    "evaluate": "Base versus tuned on the dev split.",
    "feedback": "A next round from a run's votes and corrections (SFT or DPO).",
    "export": "Merge, data export, GGUF, Ollama, vLLM.",
    "serve": "The chat engine and the OpenAI-compatible server.",
    "cli": "Command lines that tie layers together (training with its round and evaluation; feedback rounds).",
    "jobs": "The job queue: one subprocess per job, started from the web app.",
    "ui": "The Gradio web app.",
}

# old module (under builder/) -> new module (under builder/). Packages that stay are in KEEP.
MOVES = {
    # core
    "messages": "core.messages",
    "conversation": "core.conversation",
    "metrics": "core.metrics",
    "authors": "core.authors",
    # config
    "recipe": "config.recipe",
    "confine": "config.confine",
    # run (not `runs`: .gitignore ignores runs/ folders)
    "rundir": "run.rundir",
    "run_info": "run.info",
    "pace": "run.pace",
    # models
    "bundled": "models.bundled",
    "models": "models.loading",
    "templates": "models.templates",
    "masking": "models.masking",
    "devices": "models.devices",
    "lm_head": "models.lm_head",
    "generation": "models.generation",
    "kv_prefix": "models.kv_prefix",
    "prompt_batches": "models.prompt_batches",
    "batch_engine": "models.batch_engine",
    "batch_rows": "models.batch_rows",
    "labels": "models.labels",
    "capacity": "models.capacity",
    "capacity_plan": "models.capacity_plan",
    "model_shape": "models.shape",
    "retrieval": "models.retrieval",
    # data (the package exists)
    "cleaning": "data.cleaning",
    "dataset": "data.dataset",
    "advisor": "data.advisor",
    "feedback_store": "data.feedback_store",
    # train
    "trainer": "train.trainer",
    "training_run": "train.run",
    "callbacks": "train.callbacks",
    "trackers": "train.trackers",
    # evaluate
    "evaluate": "evaluate.runner",
    "eval_answers": "evaluate.answers",
    "eval_progress": "evaluate.progress",
    # feedback
    "rounds": "feedback.rounds",
    "dpo": "feedback.dpo",
    # export
    "export_base": "export.base",
    "merge": "export.merge",
    "export": "export.files",
    "gguf_export": "export.gguf",
    "gguf_vocab": "export.gguf_vocab",
    "ollama": "export.ollama",
    "vllm": "export.vllm",
    # serve
    "chat": "serve.chat",
    "serve": "serve.server",
    "api_request": "serve.api_request",
    # cli
    "sft": "cli.sft",
    "feedback": "cli.feedback",
    # jobs
    "jobs": "jobs.manager",
    "job_process": "jobs.process",
}
KEEP = {"__init__", "data", "importers", "usecases", "users", "ui"}

# python -m builder.<name>: a thin entry module (a root module or a package's __main__) calling <target>.main
ENTRIES = {
    "sft": ("builder/sft.py", "builder.cli.sft"),
    "evaluate": ("builder/evaluate/__main__.py", "builder.evaluate.runner"),
    "export": ("builder/export/__main__.py", "builder.export.files"),
    "serve": ("builder/serve/__main__.py", "builder.serve.server"),
    "feedback": ("builder/feedback/__main__.py", "builder.cli.feedback"),
}

TEXT_GLOBS = [
    "builder/**/*.py",
    "tests/**/*.py",
    "benchmarks/**/*.py",
    "app.py",
    "*.md",
    "docs/**/*.md",
    "Makefile",
]
TEXT_GLOBS += ["tests/**/*.go", "recipes/*.yaml", "pyproject.toml"]


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True)


def top_level_modules(root: Path) -> set[str]:
    names = {p.stem for p in (root / "builder").glob("*.py")}
    names |= {p.name for p in (root / "builder").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return names


def unplaced(root: Path) -> list[str]:
    return sorted(top_level_modules(root) - set(MOVES) - KEEP - {name.split(".")[0] for name in MOVES.values()})


def move_files(root: Path) -> None:
    for package in LAYER_DOCS:
        folder = root / "builder" / package
        if package in KEEP or (folder.is_dir() and (folder / "__init__.py").exists()):
            continue
        # A module of the same name must leave its file before its package folder can exist.
        if (root / "builder" / f"{package}.py").exists():
            git("mv", f"builder/{package}.py", f"builder/_relayer_{package}.py")
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text(f'"""{LAYER_DOCS[package]}"""\n', encoding="utf-8")
        git("add", str(folder / "__init__.py"))
    for old, new in MOVES.items():
        source = root / "builder" / f"{old}.py"
        if not source.exists():
            source = root / "builder" / f"_relayer_{old}.py"
        target = root / "builder" / (new.replace(".", "/") + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        git("mv", str(source.relative_to(root)), str(target.relative_to(root)))


def _new(old: str) -> str:
    return "builder." + MOVES[old]


# Lines that hold values written into users' files (merged_from.json, a zip comment) that look like module
# paths: an export made before the move must still be recognised, so these values never change.
PERSISTED = re.compile(r"^[^\n]*_SIGNATURE = [^\n]*$", re.MULTILINE)


def rewrite(text: str, is_python: bool) -> str:
    kept = PERSISTED.findall(text) if is_python else []
    for number, line in enumerate(kept):
        text = text.replace(line, f"\x02{number}\x02", 1)
    text = _rewrite(text, is_python)
    for number, line in enumerate(kept):
        text = text.replace(f"\x02{number}\x02", line, 1)
    return text


def _rewrite(text: str, is_python: bool) -> str:
    olds = sorted(MOVES, key=len, reverse=True)
    alternation = "|".join(re.escape(o) for o in olds)
    # `from builder import a, b as c` -> one import per moved name, from its new parent.
    if is_python:

        def split_from_builder(match: re.Match[str]) -> str:
            indent, body = match.group(1), match.group(2)
            names = [n.strip() for n in body.strip("()").replace("\n", " ").split(",") if n.strip()]
            kept, lines = [], []
            for item in names:
                name, _, alias = item.partition(" as ")
                name, alias = name.strip(), alias.strip()
                if name in MOVES:
                    parent, _, leaf = _new(name).rpartition(".")
                    bound = alias or name
                    # \x01 keeps the dotted rewrite below from moving the new parent a second time
                    parent = parent.replace("builder.", "builder\x01.", 1)
                    lines.append(f"{indent}from {parent} import {leaf}" + (f" as {bound}" if bound != leaf else ""))
                else:
                    kept.append(item)
            if kept:
                lines.insert(0, f"{indent}from builder import {', '.join(kept)}")
            return "\n".join(lines)

        text = re.sub(
            r"^([ \t]*)from builder import (\([^)]*\)|[^\n]+)$",
            split_from_builder,
            text,
            flags=re.MULTILINE,
        )
    # `python -m builder.x` stays (entry shims); every other dotted reference moves.
    text = re.sub(
        rf"(?<![-\w.])(-m builder\.)({alternation})\b",
        lambda m: m.group(1) + "\0" + m.group(2),
        text,
    )
    text = re.sub(rf"\bbuilder\.({alternation})\b(?!\.py)", lambda m: _new(m.group(1)), text)
    text = text.replace("\0", "").replace("\x01", "")
    # File paths: builder/x.py -> builder/<layer>/<name>.py
    text = re.sub(
        rf"\bbuilder/({alternation})\.py\b",
        lambda m: _new(m.group(1)).replace(".", "/") + ".py",
        text,
    )
    return text


def rewrite_tree(root: Path) -> list[Path]:
    touched = []
    seen: set[Path] = set()
    for pattern in TEXT_GLOBS:
        for path in root.glob(pattern):
            if path in seen or not path.is_file() or ".venv" in path.parts:
                continue
            seen.add(path)
            text = path.read_text(encoding="utf-8")
            new = rewrite(text, path.suffix == ".py")
            if new != text:
                path.write_text(new, encoding="utf-8")
                touched.append(path)
    return touched


def write_entries(root: Path) -> None:
    for name, (path, target) in ENTRIES.items():
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(
            f'"""``python -m builder.{name}``: the command line lives in ``{target}``."""\n\n'
            "import sys\n\n"
            f"from {target} import main\n\n"
            'if __name__ == "__main__":\n'
            "    sys.exit(main())\n",
            encoding="utf-8",
        )
        git("add", path)


def importlinter_config() -> str:
    layers = "\n".join(f"    {layer}" for layer in LAYERS)
    return f"""[importlinter]
root_package = builder
# Imports inside functions count too (import-linter reads every import statement).
include_external_packages = False

[importlinter:contract:layers]
name = Layers of builder: each package imports only from the packages below it
type = layers
containers =
    builder
exhaustive = true
layers =
{layers}
# python -m builder.<name> entry shims call the command lines above their package.
ignore_imports =
    builder.*.__main__ -> builder.cli.*
unmatched_ignore_imports_alerting = none
"""


MYPY = """
[tool.mypy]
python_version = "3.11"
files = ["builder"]
plugins = ["pydantic.mypy"]
ignore_missing_imports = true
check_untyped_defs = false
warn_unused_ignores = true
no_implicit_optional = true

[tool.pydantic-mypy]
init_forbid_extra = true
init_typed = true
"""


def write_configs(root: Path) -> None:
    (root / ".importlinter").write_text(importlinter_config(), encoding="utf-8")
    git("add", ".importlinter")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    if "[tool.mypy]" not in text:
        pyproject.write_text(text.rstrip() + "\n" + MYPY, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only list modules the map does not place")
    args = parser.parse_args()
    root = Path.cwd()
    if not (root / "builder" / "__init__.py").is_file():
        print("run at the repository root (builder/ not found)", file=sys.stderr)
        return 2
    missing = unplaced(root)
    if missing:
        print(
            "not placed in a layer (add them to MOVES or KEEP): " + ", ".join(missing),
            file=sys.stderr,
        )
        return 1
    if args.check:
        print("every top-level module of builder/ is placed")
        return 0
    move_files(root)
    touched = rewrite_tree(root)
    write_entries(root)
    write_configs(root)
    python = [str(p) for p in touched if p.suffix == ".py"] + [p for _, (p, _) in ENTRIES.items()]
    ruff = root / ".venv" / "bin" / "ruff"
    ruff_cmd = [str(ruff)] if ruff.exists() else ["ruff"]
    subprocess.run(
        [
            *ruff_cmd,
            "check",
            "--fix",
            "--select",
            "I,F401",
            "-q",
            "builder",
            "tests",
            "benchmarks",
        ]
    )
    subprocess.run([*ruff_cmd, "format", "-q", *python])
    # Longer dotted names can push a string or comment past 120 columns (ruff format does not wrap them).
    long = subprocess.run(
        [*ruff_cmd, "check", "--select", "E501", "--output-format", "concise", *python],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if long:
        print("lines now too long (shorten by hand):\n" + long)
    print(f"moved {len(MOVES)} modules, rewrote {len(touched)} files; now: lint-imports, import_cycles.py, tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
