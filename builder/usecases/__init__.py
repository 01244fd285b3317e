"""Use cases turn conversations into training examples and score generations.

Each module in this package defines one ``UseCase`` and registers it here. The
trainer and the evaluator only talk to this interface.

A use case also owns what the model sees for a user's input (``prompt_form``): the run's system
prompt and the frame its user turns are written in (translation: "Translate to Spanish:" before
the text). Training builds its examples with it, and the playground, the API server and every
export (the GGUF's chat template, the Ollama Modelfile, vLLM's chat template) ask the tuned model
with the same form, so a plain chat client gets what the model was trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from pydantic import BaseModel

    from builder.config.recipe import Recipe
    from builder.core.conversation import Conversation
    from builder.models.retrieval import Retriever


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


Messages = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class PromptForm:
    """What the model sees around a user's text: the system prompt, and the user turn's frame.

    A framed user turn is ``before`` + the text, stripped, + ``after`` (a frame never starts or ends
    with white space: chat templates that trim a turn would cut it). An empty frame leaves the text
    as it is. The system prompt is the run's where a conversation brings none.
    """

    system: str = ""
    before: str = ""
    after: str = ""

    @property
    def framed(self) -> bool:
        return bool(self.before or self.after)

    def user_turn(self, text: str) -> str:
        return f"{self.before}{text.strip()}{self.after}" if self.framed else text

    def conversation(self, messages: Iterable[Mapping[str, str]], system: str | None = None) -> Messages:
        """A conversation as the model sees it, every user turn framed. Its system message: the conversation's
        own (kept as it is, even empty), else ``system`` where it is not blank, else the form's system prompt.
        Turns of other roles, or without text, are dropped."""
        given = [dict(m) for m in messages if isinstance(m.get("content"), str)]
        own = next((m["content"] for m in given if m.get("role") == "system"), None)
        chosen = own if own is not None else system if system and system.strip() else self.system
        turns = [
            {"role": m["role"], "content": self.user_turn(m["content"]) if m["role"] == "user" else m["content"]}
            for m in given
            if m.get("role") in ("user", "assistant")
        ]
        return ([{"role": "system", "content": chosen}] if chosen or own is not None else []) + turns

    def messages(self, text: str, history: Iterable[Mapping[str, str]] = (), system: str | None = None) -> Messages:
        """The prompt for a user's ``text`` after the earlier turns of ``history``."""
        return self.conversation([*history, {"role": "user", "content": text}], system)


def frame_around(template: str, marker: str, fallback_gap: str = "\n\n") -> tuple[str, str]:
    """(before, after) of ``marker`` in a formatted instruction; without it, the text follows the instruction."""
    if marker in template:
        before, after = template.split(marker, 1)
        return before.lstrip(), after.rstrip()
    return f"{template.strip()}{fallback_gap}", ""


class UseCase:
    """What the trainer, the evaluator, the playground and the Recipe tab ask of a use case.

    A use case sets ``name``, ``main_metric`` and ``options_model`` and writes ``build_examples`` and
    ``score``; the rest has defaults that suit a use case trained on conversations.
    """

    name: str = ""
    main_metric: str = ""
    # The pydantic model of its ``task:`` options (None: it reads none); path fields carry a LocalPath marker.
    options_model: type[BaseModel] | None = None
    # The system prompt of a run whose recipe sets none ("": no system turn, the chat template's own default).
    default_system: str = ""

    def system_prompt(self, recipe: Recipe) -> str:
        """The run's system prompt, the one its examples are built with: the recipe's, else the use case's."""
        return recipe.system_prompt if recipe.system_prompt.strip() else self.default_system

    def prompt_form(self, recipe: Recipe, meta: Mapping[str, Any] | None = None) -> PromptForm:
        """What the model sees around a text. ``meta`` is what training knows of an example beyond its
        text (its ``Example.meta``: content's ``kind``, translation's ``source_lang`` and ``target_lang``);
        None is a user's input, asked in the one form a deployed model has (the recipe's defaults)."""
        return PromptForm(self.system_prompt(recipe))

    def prompt_messages(self, text: str, recipe: Recipe, meta: Mapping[str, Any] | None = None) -> Messages:
        """The prompt for one text: the same for training, evaluation, the playground, the server and exports."""
        return self.prompt_form(recipe, meta).messages(text)

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

        A label task's ``prompt_messages(text, recipe)`` puts a user's message in the prompt training used.
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

    Label tasks are answered by scoring each label (``builder.models.labels``), never by free generation.
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

    from builder.config.recipe import UseCaseName

    for module in get_args(UseCaseName):
        try:
            importlib.import_module(f"builder.usecases.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"builder.usecases.{module}":
                raise
