"""What every tab shares: the app's folders, the job manager, the chat engine, and small helpers."""

from __future__ import annotations

import html
import os
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from builder.config.confine import Confinement, ConfinementError, PathProblem
from builder.core.messages import Message, MessageError
from builder.importers import DATA_SUFFIXES, collect_files
from builder.jobs.manager import JobManager
from builder.run.rundir import RunDir
from builder.ui.i18n import DEFAULT_LANG, Labels, message_text
from builder.usecases import usecase_names
from builder.usecases.paths import is_model_name, recipe_problems

if TYPE_CHECKING:
    from builder.config.recipe import Recipe
    from builder.serve.chat import ChatEngine
    from builder.ui.team import Team

REPO_ROOT = Path(__file__).resolve().parents[2]


def runs_label(runs_dir: Path | str) -> str:
    """The runs folder as users who may see it are shown it: the folder the app was given, absolute (the web page
    does not know the server's working folder), or ``runs`` for the project's own runs folder."""
    given = Path(os.path.abspath(Path(runs_dir).expanduser()))
    return "runs" if given.resolve() == (REPO_ROOT / "runs").resolve() else given.as_posix()


@dataclass
class AppContext:
    runs_dir: Path
    jobs: JobManager
    repo_root: Path = REPO_ROOT
    labels: Labels = field(default_factory=Labels)
    # (event, follow-up) pairs of keyword arguments for demo.load(...).then(...), added by the tabs.
    on_load: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    team: Team | None = None  # accounts, roles and the audit trail (None: no logins, nothing audited)
    # The runs folder as the app was given it (``--runs-dir``), how paths in it are shown to admins and trainers.
    runs_label: str = "runs"
    _engine: ChatEngine | None = None

    @property
    def recipes_dir(self) -> Path:
        return self.repo_root / "recipes"

    @property
    def sample_dir(self) -> Path:
        return self.repo_root / "sample_data"

    @property
    def user_recipes_dir(self) -> Path:
        return self.runs_dir / "recipes"

    @property
    def uploads_dir(self) -> Path:
        return self.runs_dir / "uploads"

    @property
    def engine(self) -> ChatEngine:
        """Created on first use: importing torch and transformers must not slow the first screen."""
        if self._engine is None:
            from builder.serve.chat import ChatEngine

            self._engine = ChatEngine()
        return self._engine

    def runs_shown_as(self) -> str:
        """How the runs folder is written for the caller of the running handler: as the app was given it to whom may
        see the server's folders (an admin, a trainer; anyone without logins), plain ``runs`` to a reviewer."""
        if self.team is None:
            return self.runs_label
        from builder.ui.team import current_caller
        from builder.users import ROLE_LEVEL

        caller = current_caller()
        trusted = caller is not None and ROLE_LEVEL.get(caller.role, 0) >= ROLE_LEVEL["trainer"]
        return self.runs_label if trusted else "runs"

    @property
    def confinement(self) -> Confinement:
        """The UI reads and writes only inside the folders it serves: the project and the runs folder (the project
        folder is never named; the runs folder as ``runs_shown_as`` says)."""
        return Confinement(roots=[("", self.repo_root), (self.runs_shown_as(), self.runs_dir)], cwd=self.jobs.cwd)

    def error_message(self, err: BaseException, lang: str = DEFAULT_LANG) -> str:
        """``error_text`` without the server's folders: paths inside them are shown as users see them."""
        return self.confinement.shown_text(error_text(err, lang))

    def problem_text(self, problem: Message | str, lang: str) -> str:
        """One problem (a recipe's, a path's) in ``lang``, with paths as users see them."""
        return self.confinement.shown_text(message_text(problem, lang))

    def checked_recipe(
        self, path: str | Path, overrides: list[str] | None = None
    ) -> tuple[Path | None, list[Message | str]]:
        """The recipe file the web app may train on with these overrides, or None and why not.

        The recipe is loaded exactly as the trainer will load it (overrides applied, then validated),
        so a path set through an override is checked like one written in the file. A relative recipe
        path is read against the project folder.
        """
        from builder.config.recipe import RecipeError, load_recipe

        confinement = self.confinement
        try:
            resolved = confinement.target("recipe", str(path), self.repo_root)
        except ConfinementError as err:
            return None, [err.headline]
        try:
            recipe = load_recipe(resolved, overrides)
        except RecipeError as err:
            return None, [err.headline, *err.details]
        return resolved, list(self.recipe_problems(recipe))

    def recipe_problems(self, recipe: Recipe) -> list[PathProblem]:
        """Every path the recipe holds must lie in the served folders; and no code from a folder web users write."""
        problems = recipe_problems(self.confinement, recipe)
        if recipe.trust_remote_code and not is_model_name(recipe.base_model, self.jobs.cwd):
            model = self.confinement.resolve(recipe.base_model, self.jobs.cwd)
            if model == self.runs_dir or self.runs_dir in model.parents:
                problems.append(PathProblem("remote_code", {"model": self.confinement.shown(model)}))
        return problems

    # -- runs

    def run_dir(self, run_id: str | None) -> Path | None:
        if not run_id:
            return None
        path = (self.runs_dir / run_id).resolve()
        if self.runs_dir.resolve() not in path.parents:
            return None  # a crafted run id must not reach outside the runs folder
        return path

    def run_choices(self) -> list[str]:
        """The runs the current caller may choose (a reviewer: those shared with them)."""
        runs = self.jobs.list_runs()
        if self.team is None:
            return runs
        from builder.ui.team import current_caller

        return self.team.visible_runs(runs, current_caller())

    def audit(self, action: str, target: str | None = None, detail: str | None = None) -> None:
        """One entry in the audit trail, by the caller of the running handler."""
        if self.team is not None:
            self.team.record(action, target, detail)

    def run(self, run_id: str | None) -> RunDir | None:
        path = self.run_dir(run_id)
        return RunDir(path) if path else None

    def has_adapter(self, run_id: str | None) -> bool:
        run = self.run(run_id)
        return bool(run and run.has_adapter())

    # -- recipes and samples

    def recipe_files(self) -> list[str]:
        """Recipes saved from the UI (newest first), then the shipped ones."""
        saved = sorted(self.user_recipes_dir.glob("*.yaml"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [str(p) for p in saved + sorted(self.recipes_dir.glob("*.yaml"))]

    def recipe_choices(self) -> list[tuple[str, str]]:
        """(short label, full path) pairs for a dropdown."""
        shown = self.confinement.shown
        return [(shown(path), path) for path in self.recipe_files()]

    def default_recipe(self) -> str | None:
        files = self.recipe_files()
        support = str(self.recipes_dir / "support.yaml")
        saved = [f for f in files if not f.startswith(str(self.recipes_dir))]
        return saved[0] if saved else (support if support in files else (files[0] if files else None))

    def sample_sets(self) -> list[str]:
        """Every sample folder: the top ones (a use case's data) and the folders inside them holding data files
        (``support/exports``: the chat-app and helpdesk exports), as their path under ``sample_data``."""
        if not self.sample_dir.is_dir():
            return []
        names = []
        for top in sorted(p for p in self.sample_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            names.append(top.name)
            for inner in sorted(p for p in top.rglob("*") if p.is_dir() and not p.name.startswith(".")):
                if any(f.is_file() and f.suffix.lower() in DATA_SUFFIXES for f in inner.iterdir()):
                    names.append(inner.relative_to(self.sample_dir).as_posix())
        return names

    def sample_use_case(self, sample: str) -> str | None:
        """The use case a sample folder is for: its top folder's name, when that is a use case."""
        top = sample.split("/", 1)[0]
        return top if top in usecase_names() else None

    def template_recipe(self, use_case: str) -> tuple[dict[str, Any], Path]:
        """The shipped recipe for a use case (raw YAML and its folder), or a minimal one."""
        path = self.recipes_dir / f"{use_case}.yaml"
        if use_case in usecase_names() and path.is_file():  # a name from a request, never a path
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(raw, dict):
                return raw, path.parent
        return {"name": use_case, "use_case": use_case}, self.recipes_dir

    def sample_files(self, sample: str) -> list[Path]:
        """A sample's transcripts: those its use case's recipe trains on, else every data file in its folder."""
        if sample not in self.sample_sets():  # a name from a request, never a path
            return []
        folder = self.sample_dir / sample
        if "/" in sample:  # an export folder inside a use case's samples: read as an import finds its files
            return collect_files([folder])
        raw, base = self.template_recipe(sample)
        listed = (raw.get("data") or {}).get("train") or []
        listed = [listed] if isinstance(listed, str) else listed
        from_recipe = [(base / p).resolve() for p in listed]
        from_recipe = [p for p in from_recipe if p.exists() and folder.resolve() in p.parents]
        if from_recipe:
            return from_recipe
        # As an import finds them: a folder that a reader takes whole (a Slack export) stays one input.
        return collect_files([folder])


# Characters that make Markdown markup (emphasis, code, links and images, HTML, tables, headings), an underscore
# at the edge of a word (inside one, as in sample_data, it is text), and what turns a bare URL or email into a link.
_MARKUP = re.compile(r"[\\`*\[\]<>!|~#@{}]|(?<![^\W_])_|_(?![^\W_])|(?<=:)/(?=/)|(?<=www)\.")


def plain_markdown(text: str) -> str:
    """Untrusted text (a file or speaker name, a note quoting a transcript) for a Markdown component: shown as
    written, one line, never as a link, an image or HTML."""
    return _MARKUP.sub(lambda m: "\\" + m.group(0), " ".join(text.splitlines()))


def chat_text(text: str) -> str:
    """Untrusted text for a ``gr.Chatbot`` with ``render_markdown=False``: Gradio still parses a message as HTML
    (sanitized, yet a typed ``<img>`` or ``<video>`` becomes an element); escaped, it is shown as written."""
    return html.escape(text or "", quote=False).replace("\n", "<br>")


def chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A conversation for a Chatbot, every message's text shown as written (``chat_text``)."""
    return [{**m, "content": chat_text(str(m.get("content") or ""))} for m in messages]


def error_text(err: BaseException, lang: str = DEFAULT_LANG) -> str:
    """A message a user can act on: the exception's own words (in ``lang`` where it is said by keys)."""
    said = err.text(lambda line: message_text(line, lang)) if isinstance(err, MessageError) else str(err)
    message = said.strip() or repr(err)
    return (
        f"**{type(err).__name__}**: {message}"
        if "\n" not in message
        else f"**{type(err).__name__}**\n```\n{message}\n```"
    )


def log_exception(err: BaseException) -> None:
    traceback.print_exception(err)
