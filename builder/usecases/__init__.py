"""Use cases turn conversations into training examples and score generations.

Each module in this package defines one ``UseCase`` and registers it here. The
trainer and the evaluator only talk to this interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from pydantic import BaseModel

    from builder.conversation import Conversation
    from builder.recipe import Recipe
    from builder.usecases.retrieval import Retriever


@dataclass(slots=True)
class Example:
    """One training example in chat format.

    ``messages`` ends with the assistant turn the model must learn to write; the loss
    covers every assistant turn in it. For evaluation the last assistant turn is cut
    off, the rest is the prompt, and ``reference`` is what it should have answered.
    """

    messages: list[dict[str, str]]
    reference: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_messages(self) -> list[dict[str, str]]:
        return self.messages[:-1]


class UseCase:
    """What the trainer, the evaluator, the playground and the Recipe tab ask of a use case.

    A use case sets ``name``, ``main_metric`` and ``options_model`` and writes ``build_examples`` and
    ``score``; the rest has defaults that suit a use case trained on conversations.
    """

    name: str = ""
    main_metric: str = ""
    # The pydantic model of its ``task:`` options (None: it reads none); path fields carry a LocalPath marker.
    options_model: type[BaseModel] | None = None

    def options(self, recipe: Recipe) -> BaseModel | None:
        """The recipe's ``task:`` options, validated; a RecipeError names the bad ``task.<key>``."""
        if self.options_model is None:
            return None
        from builder.usecases.options import task_options

        return task_options(recipe, self.options_model)

    def needs_conversations(self, recipe: Recipe) -> bool:
        """Whether training reads ``data.train``; a use case that makes its examples elsewhere says no."""
        return True

    def labels(self, recipe: Recipe) -> list[str] | None:
        """The answers of a label task (it is then answered by scoring each label); None: free text.

        A label task's ``prompt_messages(text, recipe)`` puts a playground message in the prompt training used.
        """
        return None

    def retriever(self, recipe: Recipe, run_dir: Path) -> Retriever | None:
        """What grounds a chat message at answer time, as training grounded its examples; None: nothing."""
        return None

    def build_examples(self, conversations: list[Conversation], recipe: Recipe, workdir: Path) -> list[Example]:
        """Training/dev examples; ``workdir`` is where a use case may keep artefacts (an index...)."""
        raise NotImplementedError

    def score(self, predictions: list[str], examples: list[Example], recipe: Recipe) -> dict[str, Any]:
        """Metrics for one system's predictions; must include ``main_metric``."""
        raise NotImplementedError


def usecase_names() -> list[str]:
    """Every registered use case, built-in ones first."""
    _load_builtin()
    return list(_REGISTRY)


_REGISTRY: dict[str, UseCase] = {}


def label_set(usecase: UseCase, recipe: Recipe) -> list[str] | None:
    """The answers a label task may give, or None for a use case that answers with free text.

    Label tasks are answered by scoring each label (``builder.labels``), never by free generation.
    """
    labels = usecase.labels(recipe)
    return list(labels) if labels is not None else None


def register(usecase: UseCase) -> UseCase:
    _REGISTRY[usecase.name] = usecase
    return usecase


def get_usecase(name: str) -> UseCase:
    # Load every built-in module, even when one of them was imported (and registered) directly.
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown use case {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def _load_builtin() -> None:
    import importlib

    from builder.recipe import UseCaseName

    for module in get_args(UseCaseName):
        try:
            importlib.import_module(f"builder.usecases.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"builder.usecases.{module}":
                raise
