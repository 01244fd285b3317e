"""What every tab shares: the app's folders, the job manager, the chat engine, and small helpers."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from builder.jobs import JobManager, read_json
from builder.ui.i18n import Labels

if TYPE_CHECKING:
    from builder.chat import ChatEngine

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".txt")
USE_CASES = ("support", "translation", "sentiment", "content", "retrieval")


@dataclass
class AppContext:
    runs_dir: Path
    jobs: JobManager
    repo_root: Path = REPO_ROOT
    labels: Labels = field(default_factory=Labels)
    # (event, follow-up) pairs of keyword arguments for demo.load(...).then(...), added by the tabs.
    on_load: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
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
            from builder.chat import ChatEngine

            self._engine = ChatEngine()
        return self._engine

    def allowed_roots(self) -> list[Path]:
        return [self.repo_root.resolve(), self.runs_dir.resolve()]

    def is_allowed(self, path: Path | str) -> bool:
        """The UI reads and writes only inside the folders it serves (the project and the runs folder)."""
        resolved = Path(path).expanduser().resolve()
        return any(resolved == root or root in resolved.parents for root in self.allowed_roots())

    # -- runs

    def run_dir(self, run_id: str | None) -> Path | None:
        if not run_id:
            return None
        path = (self.runs_dir / run_id).resolve()
        if self.runs_dir.resolve() not in path.parents:
            return None  # a crafted run id must not reach outside the runs folder
        return path

    def run_choices(self) -> list[str]:
        return self.jobs.list_runs()

    def has_adapter(self, run_id: str | None) -> bool:
        run = self.run_dir(run_id)
        return bool(run and (run / "adapter" / "adapter_config.json").is_file())

    def run_info(self, run_id: str | None) -> dict[str, Any]:
        run = self.run_dir(run_id)
        return (read_json(run / "run.json") or {}) if run else {}

    # -- recipes and samples

    def recipe_files(self) -> list[str]:
        """Recipes saved from the UI (newest first), then the shipped ones."""
        saved = sorted(self.user_recipes_dir.glob("*.yaml"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [str(p) for p in saved + sorted(self.recipes_dir.glob("*.yaml"))]

    def recipe_choices(self) -> list[tuple[str, str]]:
        """(short label, full path) pairs for a dropdown."""
        choices = []
        for path in self.recipe_files():
            resolved = Path(path)
            if self.runs_dir in resolved.parents:
                label = f"runs/{resolved.relative_to(self.runs_dir)}"
            elif self.repo_root in resolved.parents:
                label = str(resolved.relative_to(self.repo_root))
            else:
                label = path
            choices.append((label, path))
        return choices

    def default_recipe(self) -> str | None:
        files = self.recipe_files()
        support = str(self.recipes_dir / "support.yaml")
        saved = [f for f in files if not f.startswith(str(self.recipes_dir))]
        return saved[0] if saved else (support if support in files else (files[0] if files else None))

    def sample_sets(self) -> list[str]:
        if not self.sample_dir.is_dir():
            return []
        return sorted(p.name for p in self.sample_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def template_recipe(self, use_case: str) -> tuple[dict[str, Any], Path]:
        """The shipped recipe for a use case (raw YAML and its folder), or a minimal one."""
        path = self.recipes_dir / f"{use_case}.yaml"
        if path.is_file():
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(raw, dict):
                return raw, path.parent
        return {"name": use_case, "use_case": use_case}, self.recipes_dir

    def sample_files(self, sample: str) -> list[Path]:
        """A sample's transcripts: those its use case's recipe trains on, else every data file in its folder."""
        folder = self.sample_dir / sample
        raw, base = self.template_recipe(sample)
        listed = (raw.get("data") or {}).get("train") or []
        listed = [listed] if isinstance(listed, str) else listed
        from_recipe = [(base / p).resolve() for p in listed]
        from_recipe = [p for p in from_recipe if p.exists() and folder.resolve() in p.parents]
        if from_recipe:
            return from_recipe
        return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)


def error_text(err: BaseException) -> str:
    """A message a user can act on: the exception's own words, never just 'Error'."""
    message = str(err).strip() or repr(err)
    return (
        f"**{type(err).__name__}**: {message}"
        if "\n" not in message
        else f"**{type(err).__name__}**\n```\n{message}\n```"
    )


def log_exception(err: BaseException) -> None:
    traceback.print_exception(err)
