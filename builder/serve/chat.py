"""The chat engine behind the playground: base and tuned answers from ONE model in memory.

A run is loaded with ``builder.models.loading.load_tuned``: the base model with the run's LoRA adapter
attached. The tuned side generates with the adapter on; the base side with it off (PEFT's per-row
``adapter_names``, or inside ``model.disable_adapter()``). Every answer goes to the run's
``builder.models.batch_engine.BatchScheduler``: requests that arrive while others are being answered join
the running batch at its next step, each with its own sampling, stop tokens and maximum, so two
browsers (or many API clients) are answered together. The scheduler holds ``_generate_lock`` for
each step, as a label request does for its scoring: the adapter state is never switched under a
forward. A reader that goes away cancels its generation at the next step.

Every message is asked in the run's prompt form (``UseCase.prompt_form``): the system prompt
and the frame of a user turn that training used, the same the API server and the exports use.
A label task (sentiment...) answers with a label, never free text: each side's answer is the most
likely label with the probability of every label (``builder.models.labels``).

Votes from the blind mode are appended to ``votes.jsonl`` in the run directory.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from builder.run.rundir import RunDir

if TYPE_CHECKING:
    from builder.config.recipe import Recipe
    from builder.models.batch_engine import BatchScheduler
    from builder.models.labels import LabelScores
    from builder.usecases import PromptForm

Side = Literal["base", "tuned"]


@dataclass
class Sampling:
    max_new_tokens: int = 128
    temperature: float = 0.7  # 0 means greedy decoding
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    seed: int | None = None  # the same seed gives both sides the same random draws

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": int(self.max_new_tokens),
            "repetition_penalty": float(self.repetition_penalty),
        }
        if self.temperature and self.temperature > 0:
            kwargs.update(do_sample=True, temperature=float(self.temperature), top_p=float(self.top_p))
        else:
            kwargs["do_sample"] = False
        return kwargs


@dataclass
class LoadedRun:
    run_dir: Path
    model: Any  # peft.PeftModel
    tokenizer: Any
    recipe: Recipe
    load_seconds: float
    form: PromptForm  # what the model sees around a message: the run's use case's deployed form
    retriever: Any = None
    labels: list[str] | None = None  # set for a label task: answers are scored over these
    batcher: Any = None  # builder.models.batch_engine.BatchScheduler: every answer of this run, batched

    def ground(self, message: str) -> tuple[str, str | None]:
        """The user's text as training wrote it (a retrieval run's question with its passages), and the
        passages as the UI shows them (None for other runs)."""
        return self.retriever.ground(message) if self.retriever is not None else (message, None)

    def prompt(
        self, text: str, history: Sequence[Mapping[str, str]] = (), system_prompt: str = ""
    ) -> list[dict[str, str]]:
        """The prompt for a (grounded) text after ``history``, in the run's form; a ``system_prompt`` that
        is not blank replaces the run's."""
        return self.form.messages(text, history, system_prompt)


@dataclass
class GenerationStats:
    """Filled in by ``ChatEngine.stream`` when its generation ends (the API server reports it as usage)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "length" when the answer was cut at max_new_tokens
    label_probabilities: dict[str, float] | None = None  # a label task's answer: every label's probability


@dataclass
class ChatTurn:
    """One step of a side-by-side answer, as the UI shows it."""

    base: str = ""
    tuned: str = ""
    context: str | None = None  # retrieved passages, for a retrieval run
    messages: list[dict[str, str]] = field(default_factory=list)  # the tuned side's prompt, kept with a vote
    done: bool = False
    notes: list[str] = field(default_factory=list)


class ChatEngine:
    """Holds at most one run's model; generation is serialised because the adapter switch is model-global."""

    def __init__(self, loader: Callable[[Path], tuple[Any, Any, Recipe]] | None = None) -> None:
        self._loader = loader
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._loaded: LoadedRun | None = None

    @property
    def loaded(self) -> LoadedRun | None:
        return self._loaded

    def load(self, run_dir: Path | str) -> LoadedRun:
        """The run's model, loaded once; switching runs frees the previous model first."""
        run_dir = Path(run_dir).resolve()
        with self._load_lock:
            if self._loaded is not None and self._loaded.run_dir == run_dir:
                return self._loaded
            if self._loaded is not None and self._loaded.batcher is not None:
                self._loaded.batcher.close()  # its unfinished answers end with an error
            with self._generate_lock:  # never free a model while it generates
                self._loaded = None
                gc.collect()
            loader = self._loader
            if loader is None:
                from builder.models.loading import load_tuned

                loader = load_tuned
            started = time.perf_counter()
            model, tokenizer, recipe = loader(run_dir)
            seconds = time.perf_counter() - started
            loaded = LoadedRun(run_dir, model, tokenizer, recipe, seconds, run_prompt_form(recipe))
            loaded.retriever = _open_retriever(run_dir, recipe)
            loaded.labels = _label_set(recipe)
            loaded.batcher = _batcher(model, tokenizer, self._generate_lock)
            self._loaded = loaded
            return loaded

    # -- prompts

    def _encode(self, loaded: LoadedRun, messages: list[dict[str, str]]) -> dict[str, Any]:
        from builder.models.templates import ensure_chat_template

        tokenizer = loaded.tokenizer
        ensure_chat_template(tokenizer)  # the template training used, also for a base model without one
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        device = next(loaded.model.parameters()).device
        return {k: v.to(device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}

    # -- generation

    def stream(
        self,
        run_dir: Path | str,
        side: Side,
        messages: list[dict[str, str]],
        sampling: Sampling | None = None,
        stats: GenerationStats | None = None,
    ) -> Generator[str, None, None]:
        """The answer of one side, growing token by token (each value is the whole text so far), decoded in
        the run's batch with whatever else is being answered (``builder.models.batch_engine``)."""
        from builder.models.generation import stop_token_ids

        loaded = self.load(run_dir)
        sampling = sampling or Sampling()
        ids = self._encode(loaded, messages)["input_ids"][0].tolist()
        job = loaded.batcher.submit(
            ids,
            tuned=side != "base",
            max_new_tokens=sampling.max_new_tokens,
            stops=stop_token_ids(loaded.model, loaded.tokenizer),
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            repetition_penalty=sampling.repetition_penalty,
            seed=sampling.seed,
        )
        text = ""
        try:
            for tokens in job.updates():
                decoded = loaded.tokenizer.decode(tokens, skip_special_tokens=True)
                if decoded != text and not decoded.endswith("\ufffd"):  # not half a character
                    text = decoded
                    yield text
        finally:
            job.cancel()  # the reader stopped early (a closed tab, a stop string): the row leaves the batch
        decoded = loaded.tokenizer.decode(job.tokens, skip_special_tokens=True)
        if decoded != text or text == "":
            yield decoded
        if stats is not None:
            stats.prompt_tokens, stats.completion_tokens = len(ids), len(job.tokens)
            stats.finish_reason = job.finish_reason or "stop"

    def stream_pair(
        self,
        run_dir: Path | str,
        message: str,
        base_history: list[dict[str, str]],
        tuned_history: list[dict[str, str]],
        system_prompt: str = "",
        sampling: Sampling | None = None,
    ) -> Iterator[ChatTurn]:
        """The same message to both sides: the base answer streams first, then the tuned one."""
        loaded = self.load(run_dir)
        if loaded.labels:
            yield self.classify_pair(run_dir, message, system_prompt)
            return
        turn = ChatTurn()
        grounded, turn.context = loaded.ground(message)
        base_messages = loaded.prompt(grounded, base_history, system_prompt)
        tuned_messages = loaded.prompt(grounded, tuned_history, system_prompt)
        turn.messages = tuned_messages
        for text in self.stream(run_dir, "base", base_messages, sampling):
            turn.base = text
            yield turn
        for text in self.stream(run_dir, "tuned", tuned_messages, sampling):
            turn.tuned = text
            yield turn
        turn.done = True
        yield turn

    def classify_pair(self, run_dir: Path | str, message: str, system_prompt: str = "") -> ChatTurn:
        """A label task's answer on both sides: the most likely label and every label's probability."""
        from builder.models.labels import format_probabilities

        prompt = self.load(run_dir).prompt(message, [], system_prompt)
        turn = ChatTurn(done=True, messages=prompt)  # the prompt is kept with a vote
        for side in ("base", "tuned"):
            scores = self.classify(run_dir, side, prompt)
            setattr(turn, side, f"**{scores.answers[0]}** ({format_probabilities(scores.probabilities[0])})")
        return turn

    def classify(self, run_dir: Path | str, side: Side, prompt: list[dict[str, str]]) -> LabelScores:
        """A label task's answer to one prompt on one side: each label scored (``builder.models.labels``)."""
        from builder.models.labels import score_labels

        loaded = self.load(run_dir)
        if not loaded.labels:
            raise ValueError(f"{loaded.run_dir.name}: a {loaded.recipe.use_case} run has no label set")
        with self._generate_lock:
            return score_labels(loaded.model, loaded.tokenizer, [prompt], loaded.labels, adapter=side == "tuned")


def _batcher(model: Any, tokenizer: Any, lock: threading.Lock) -> BatchScheduler:
    from builder.models.batch_engine import BatchScheduler
    from builder.models.labels import pad_token_id

    return BatchScheduler(model, pad_token_id(tokenizer), lock)


def run_prompt_form(recipe: Recipe) -> PromptForm:
    """What a run's model sees around a user's message: its use case's deployed form."""
    from builder.usecases import get_usecase

    return get_usecase(recipe.use_case).prompt_form(recipe)


def run_system_prompt(run_dir: Path | str) -> str:
    """The system prompt a run trained with (its use case's default where the recipe sets none), or ""
    while the run has no readable recipe."""
    from builder.config.recipe import RecipeError

    run = RunDir(run_dir)
    if not run.recipe_file.is_file():
        return ""
    try:
        return run_prompt_form(run.recipe()).system
    except (RecipeError, KeyError):
        return ""


def _label_set(recipe: Recipe) -> list[str] | None:
    from builder.usecases import get_usecase, label_set

    return label_set(get_usecase(recipe.use_case), recipe)


def _open_retriever(run_dir: Path, recipe: Recipe) -> Any:
    """What the run's use case grounds a message with (a retrieval run's knowledge base), or None."""
    from builder.usecases import get_usecase

    return get_usecase(recipe.use_case).retriever(recipe, run_dir)


# ---------------------------------------------------------------- blind-mode votes
