"""The recipe: one YAML file that says everything about a run.

Defaults live here and only here. Loading validates with pydantic and turns every
error into a message that names the file, the dotted key and what was expected.
``--set dotted.key=value`` overrides are applied to the raw YAML before validation,
so an override is checked exactly like a value written in the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from builder.config.confine import LocalPath
from builder.core.messages import Message, MessageError

UseCaseName = Literal["support", "translation", "sentiment", "content", "retrieval"]
Quantization = Literal["auto", "4bit", "8bit", "none"]
# How a data file is read; "auto" detects it. The importers, the CLI and the Data tab take their choices from here.
# The generic shapes, then the chat-app and helpdesk exports (one reader each, builder/importers/formats).
ImportFormat = Literal[
    "auto", "openai", "sharegpt", "dialogues", "csv_messages", "csv_pairs", "text",
    "whatsapp", "telegram", "slack", "discord", "messenger", "zendesk", "freshdesk", "intercom",
    "chatgpt_export", "chat_log", "signal",
]  # fmt: skip
Method = Literal["sft", "dpo"]

BUNDLED_MODEL = "bundled:smollm2-135m-instruct"
MULTILINGUAL_MODEL = "bundled:gemma3-270m"  # builder.models.bundled describes both


# What is wrong with a recipe, by key: the English here; the web app's Spanish in builder/ui/i18n_messages.py.
RECIPE_PROBLEMS: dict[str, str] = {
    "not_valid": "{source}: the recipe is not valid",
    "unknown_key": "{field}: unknown key (check its spelling and section)",
    "invalid": "{field}: {error}",
    "invalid_got": "{field}: {error} (got {got!r})",
    "no_file": "{path}: no such recipe file",
    "not_yaml": "{where}: not valid YAML ({error})",
    "not_yaml_line": "line {line}: not valid YAML ({error})",
    "not_mapping": "{where}: a recipe is a mapping of keys, not {kind}",
    "set_syntax": "--set {item!r}: expected dotted.key=value, e.g. training.max_steps=3",
    "set_section": "--set {field}: {part!r} is not a section",
    "task_not_valid": "recipe {name!r}: the task options of the {use_case!r} use case are not valid",
    "task_unknown_key": "{field}: unknown key (this use case reads: {allowed})",
    "task_invalid": "recipe {name!r}: {error}",
    "aligned_saves": "keep_best and early_stopping_patience need save_steps ({save_steps}) to be a multiple of "
    "eval_steps ({eval_steps}): only evaluated steps can be kept as the best",
    "dpo_parent": "feedback.parent_run is required with method: dpo (the run whose adapter learns from its votes)",
}


@dataclass(frozen=True)
class RecipeProblem(Message):
    """One thing wrong with a recipe (``RECIPE_PROBLEMS`` holds its English)."""

    templates: ClassVar[dict[str, str]] = RECIPE_PROBLEMS
    prefix: ClassVar[str] = "recipe_"


@dataclass(frozen=True)
class ValidationMessage(Message):
    """Pydantic's message for one error: its English as pydantic words it (``msg``), other languages by its
    error type (``key``) filled with the error's context."""

    prefix: ClassVar[str] = "pyd_"

    def text(self, template: str | None = None, inner: Callable[[Message], str] = str) -> str:
        return self.values["msg"] if template is None else super().text(template, inner)


class RecipeError(MessageError):
    """A recipe that cannot be used; the message names the file and the key (``details``: a problem a line)."""


def validation_problems(
    err: ValidationError, prefix: tuple[str, ...] = (), unknown: str = "unknown_key", **values: Any
) -> list[RecipeProblem]:
    """Pydantic's errors as recipe problems, each naming its dotted key (under ``prefix``)."""
    problems = []
    for e in err.errors():
        key = ".".join(str(p) for p in (*prefix, *e["loc"])) or "(top level)"
        if e["type"] == "extra_forbidden":
            problems.append(RecipeProblem(unknown, {"field": key, **values}))
            continue
        context = dict(e.get("ctx") or {})
        error = context.get("error")
        if isinstance(error, MessageError):  # a validator of ours: its own message, in the reader's language
            context["error"] = error.headline
        elif error is not None:
            context["error"] = str(error)
        said = ValidationMessage(e["type"], {**context, "msg": e["msg"]})
        got = e.get("input")
        if isinstance(got, dict):
            problems.append(RecipeProblem("invalid", {"field": key, "error": said}))
        else:
            problems.append(RecipeProblem("invalid_got", {"field": key, "error": said, "got": got}))
    return problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_role_map(value: str | dict[str, str] | None) -> dict[str, str]:
    """Accept ``"USER=user,SYSTEM=assistant"`` or a mapping; keys are matched case-insensitively."""
    if value is None or value == "":
        return {}
    pairs: list[tuple[str, str]] = list(value.items()) if isinstance(value, dict) else []
    if not isinstance(value, dict):
        for part in str(value).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValueError(f"role map entry {part.strip()!r} should look like SOURCE=user")
            source, target = part.split("=", 1)
            pairs.append((source, target))
    mapped = {str(k).strip().lower(): str(v).strip().lower() for k, v in pairs}
    for source, target in mapped.items():
        if target not in ("system", "user", "assistant", "drop"):
            raise ValueError(f"role map sends {source!r} to {target!r}; use system, user, assistant or drop")
    return mapped


class FieldMapping(_Section):
    """How to read records whose shape no reader knows. Shared by the recipe and `builder.data import`."""

    format: ImportFormat = Field("auto", description="the shape of the transcripts; auto: detected per input")
    messages_field: str | None = Field(None, description="key (dotted path) of the list of turns in each record")
    role_field: str | None = Field(None, description="key or column of the speaker's role")
    content_field: str | None = Field(None, description="key or column of the message text")
    id_field: str | None = Field(None, description="key or column of the conversation id")
    role_map: dict[str, str] = Field(
        default_factory=dict, description="source roles to user/assistant/system/drop, e.g. USER=user,SYSTEM=assistant"
    )
    # Pair files (one row per exchange, e.g. a helpdesk export or `english<TAB>spanish`): a column
    # name, or a 0-based column index for files without a header. Other columns go to metadata.
    prompt_field: str | int | None = Field(None, description="column of the customer message (name or 0-based index)")
    response_field: str | int | None = Field(None, description="column of the agent reply (name or 0-based index)")
    system_field: str | int | None = Field(None, description="optional column with a system prompt per row")
    header: bool | None = Field(None, description="CSV/TSV first row is a header; null: detect")
    delimiter: str | None = Field(None, description="CSV/TSV delimiter; null: detect")
    encoding: str | None = Field(None, description="file encoding; null: detect (UTF-8/16, BOM or not, Latin-1)")
    # Chat-app exports name people: which of them is the business (every other speaker is the customer).
    agent: list[str] = Field(default_factory=list, description="speaker names that are the agent (chat-app exports)")
    drop_speakers: list[str] = Field(default_factory=list, description="speaker names whose messages are left out")

    @field_validator("role_map", mode="before")
    @classmethod
    def _role_map(cls, value: Any) -> dict[str, str]:
        return parse_role_map(value)

    @field_validator("agent", "drop_speakers", mode="before")
    @classmethod
    def _names(cls, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):  # typed as "Ana, Acme Support"
            value = value.split(",")
        return [str(v).strip() for v in value if str(v).strip()]

    @field_validator("delimiter", mode="before")
    @classmethod
    def _delimiter(cls, value: Any) -> Any:
        aliases = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
        value = aliases.get(value, value) if isinstance(value, str) else value
        if isinstance(value, str) and len(value) != 1:
            raise ValueError(f"delimiter must be one character (or tab, comma, semicolon, pipe), got {value!r}")
        return value


class DataConfig(FieldMapping):
    train: Annotated[list[str], LocalPath()] = Field(
        default_factory=list, description="files or folders, relative to the recipe"
    )
    dev: Annotated[list[str], LocalPath()] = Field(
        default_factory=list, description="optional dev files; else a split of train"
    )
    dev_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    max_dev_examples: int = Field(64, ge=0)
    redact_pii: bool = True
    dedupe: bool = True
    min_turns: int = Field(2, ge=1)
    max_chars: int = Field(20000, ge=1)
    max_conversations: int | None = Field(None, ge=1, description="cap after cleaning, for quick runs")

    @field_validator("train", "dev", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def cleaning_default(key: str) -> Any:
    """A cleaning option's default (``redact_pii``, ``dedupe``, ``min_turns``, ``max_chars``): the recipe's own,
    so that the data CLI, the library and a recipe clean the same way unless told otherwise."""
    return DataConfig.model_fields[key].default


class LoraConfigSection(_Section):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"
    train_turn_tokens: bool = Field(
        False,
        description="also train the embedding rows of the turn tokens when the tool gave a pretrained base "
        "its turn format (Gemma 3 270M), which it never learned: replies then stop at the turn end, and are "
        "shorter (EVALUATION.md, 'Training the turn tokens')",
    )


class TrainingConfig(_Section):
    max_steps: int = Field(-1, description="-1: run num_epochs instead")
    num_epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0)
    batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(1024, ge=16)
    logging_steps: int = Field(1, ge=1)
    eval_steps: int = Field(50, ge=1)
    save_steps: int = Field(50, ge=1)
    save_total_limit: int = Field(2, ge=1)
    seed: int = 42
    group_by_length: bool = Field(True, description="batch examples of similar length: less padding, same result")
    gradient_checkpointing: bool = False
    threads: int | None = Field(None, ge=1, description="CPU threads; default: all cores")
    cpu_bf16: bool | Literal["auto"] = Field(
        False,
        description="bf16 autocast on the CPU: true, false, or auto (on where the CPU has native bf16: "
        "AVX512-BF16, AMX or Arm BF16); measured in BENCHMARKS.md",
    )
    labelled_lm_head: bool = Field(
        True, description="the LM head and its loss only at trained tokens, in chunks (builder/models/lm_head.py)"
    )
    loss_guard: bool = Field(True, description="stop when the loss is NaN or keeps rising")
    # Training to a budget: num_epochs (or max_steps) plans the run and its learning-rate schedule;
    # minutes and tokens end it earlier, and early stopping ends it once the dev loss stops improving.
    max_minutes: float | None = Field(None, gt=0, description="stop after this many minutes of training")
    max_tokens: int | None = Field(None, gt=0, description="stop after this many input tokens")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many dev evaluations without a lower dev loss (implies keep_best)"
    )
    early_stopping_threshold: float = Field(0.0, ge=0.0, description="a lower dev loss must be lower by this much")
    keep_best: bool = Field(False, description="end with the checkpoint of the lowest dev loss, not the last one")
    # The trackers teams already use, through the trainer's own report_to (builder/train/trackers.py).
    tensorboard: bool = Field(True, description="write TensorBoard event files to the run's tensorboard/ folder")
    # A path the web app confines like any other (it refuses URLs there; the CLI takes http://host:5000 too).
    mlflow_tracking_uri: Annotated[str | None, LocalPath(relative_to="cwd")] = Field(
        None, description="also log the run to MLflow at this tracking URI (http://host:5000, a folder of mlruns)"
    )
    mlflow_experiment: str | None = Field(None, description="the MLflow experiment; default: the recipe's name")

    @model_validator(mode="after")
    def _best_needs_aligned_saves(self) -> TrainingConfig:
        if (self.keep_best or self.early_stopping_patience) and self.save_steps % self.eval_steps:
            values = {"save_steps": self.save_steps, "eval_steps": self.eval_steps}
            raise RecipeError(RecipeProblem("aligned_saves", values))
        return self


class EvalConfig(_Section):
    enabled: bool = Field(True, description="evaluate base vs tuned at the end of training")
    max_examples: int = Field(32, ge=1)
    few_shot: int = Field(3, ge=0)
    max_new_tokens: int = Field(128, ge=1)


class FeedbackConfig(_Section):
    """A next round of training from a run's playground feedback (``builder.cli.feedback``).

    ``method: sft`` continues the parent's adapter on its examples plus the corrections;
    ``method: dpo`` continues it on the vote pairs (winner over loser, ties left out).
    """

    parent_run: Annotated[str | None, LocalPath()] = Field(
        None, description="run directory whose adapter this round continues"
    )
    votes: Annotated[list[str], LocalPath()] = Field(
        default_factory=list, description="votes.jsonl files; empty: the parent run's"
    )
    corrections: Annotated[list[str], LocalPath()] = Field(
        default_factory=list, description="corrections.jsonl files; empty: the parent's"
    )
    include_original: bool = Field(True, description="sft: train on the parent's examples too, not only corrections")
    exclude_authors: list[str] = Field(
        default_factory=list, description="leave out the votes and corrections of these authors (account names)"
    )
    correction_repeats: int = Field(2, ge=1, description="sft: how many times each correction is trained on")
    beta: float = Field(0.1, gt=0, description="dpo: how far the tuned model may move from the parent run")
    # 1.0 by measurement (EVALUATION.md, "Feedback round"): plain DPO drifted to replies like "Thanks."
    sft_weight: float = Field(
        1.0, ge=0, description="dpo: weight of a supervised term on each pair's preferred answer (0: plain DPO)"
    )

    @field_validator("votes", "corrections", "exclude_authors", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


# What a next round is written with (``python -m builder.feedback``): a smaller learning rate
# than a first training (the adapter only needs a correction), and epochs over the new data
# (vote pairs are few, so DPO goes over them more than once). Measured in EVALUATION.md
# ("Feedback round"): 3 epochs at 1e-4 move the bundled model clearly the way about 100 pairs ask.
ROUND_LEARNING_RATE = {"dpo": 1e-4, "sft": 1e-4}
ROUND_EPOCHS = {"dpo": 3.0, "sft": 1.0}


class Recipe(_Section):
    name: str = "run"
    use_case: UseCaseName = "support"
    method: Method = Field("sft", description="sft: learn the replies; dpo: learn from vote pairs (needs feedback)")
    # A bundled model, a hub id, or a model folder (relative to the working folder, as the loader reads it).
    base_model: Annotated[str, LocalPath(relative_to="cwd", model=True)] = BUNDLED_MODEL
    trust_remote_code: bool = False
    quantization: Quantization = "auto"
    system_prompt: str = ""
    data: DataConfig = Field(default_factory=DataConfig)
    # Options only one use case reads (labels, languages, knowledge base...); each
    # use case validates its own part with its own pydantic model.
    task: dict[str, Any] = Field(default_factory=dict)
    lora: LoraConfigSection = Field(default_factory=LoraConfigSection)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)

    # Where the recipe was read from: relative data paths resolve against it.
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @model_validator(mode="after")
    def _dpo_needs_a_parent(self) -> Recipe:
        if self.method == "dpo" and not self.feedback.parent_run:
            raise RecipeError(RecipeProblem("dpo_parent"))
        return self

    def resolve_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _parse_scalar(text: str) -> Any:
    """``--set`` values are YAML scalars: 3, 2e-4, true, null, [a, b] all mean what they say."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        if "=" not in item:
            raise RecipeError(RecipeProblem("set_syntax", {"item": item}))
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = raw
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise RecipeError(RecipeProblem("set_section", {"field": key, "part": part}))
            node = child
        node[parts[-1]] = _parse_scalar(value)
    return raw


def recipe_from_dict(raw: dict[str, Any], source: str = "<recipe>", base_dir: Path | None = None) -> Recipe:
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as err:
        raise RecipeError(RecipeProblem("not_valid", {"source": source}), validation_problems(err)) from None
    recipe.base_dir = (base_dir or Path.cwd()).resolve()
    return recipe


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(RecipeProblem("no_file", {"path": str(path)}))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        error = str(getattr(err, "problem", err))
        raise RecipeError(RecipeProblem("not_yaml", {"where": f"{path}{where}", "error": error})) from None
    if not isinstance(raw, dict):
        raise RecipeError(RecipeProblem("not_mapping", {"where": str(path), "kind": type(raw).__name__}))
    raw = apply_overrides(raw, overrides or [])
    return recipe_from_dict(raw, source=str(path), base_dir=path.parent)
