"""One system's answers to the dev prompts: free generation and, for a label task, label scores, from one pass.

``answer_prompts`` gives what ``builder.models.generation.generate`` and ``builder.models.labels.score_labels`` give
when called one after the other (the same greedy texts, the same label probabilities), but each prompt
is encoded once for both (``builder.models.prompt_batches``), and the tokens the prompts share (the system
prompt, the few-shot examples) once for the whole list. When a template tokenizes the prompt before a
label differently from the generation prompt, scoring and generation run as two passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from builder.models.generation import Generations, Messages, adapter_state, render_prompt, reply_ids, stop_token_ids
from builder.models.labels import LabelScores, label_rows, pad_token_id, probabilities_from_sums
from builder.models.prompt_batches import continue_prompts

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Progress = Callable[[int, int], None]  # (rows done, rows in all) of this system's passes


def answer_prompts(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Messages],
    labels: Sequence[str] | None,
    *,
    max_new_tokens: int,
    batch_size: int = 8,
    adapter: bool = True,
    on_progress: Progress | None = None,
) -> tuple[Generations, LabelScores | None]:
    """Greedy replies to ``prompts`` and, with ``labels``, each label's probability as the reply."""
    import torch

    pad = pad_token_id(tokenizer)
    stops = stop_token_ids(model, tokenizer)
    generation_rows = [
        tokenizer(render_prompt(tokenizer, list(p)), add_special_tokens=False)["input_ids"] for p in prompts
    ]
    label_list = list(labels or [])
    scoring_rows, replies = label_rows(tokenizer, prompts, label_list) if label_list else ([], [])
    one_pass = bool(label_list) and scoring_rows == generation_rows
    total = len(generation_rows) + (len(scoring_rows) if label_list and not one_pass else 0)
    passed = 0

    def report(done: int) -> None:
        if on_progress is not None:
            on_progress(passed + done, total)

    n = len(prompts)
    with adapter_state(model, adapter), torch.inference_mode():
        generated = continue_prompts(
            model,
            generation_rows,
            pad_id=pad,
            replies=replies if one_pass else None,
            max_new_tokens=[max_new_tokens] * n,
            stops=[stops] * n,
            batch_size=batch_size,
            on_batch=report,
        )
        passed = len(generation_rows)
        scored = generated
        if label_list and not one_pass:
            scored = continue_prompts(
                model, scoring_rows, pad_id=pad, replies=replies, batch_size=batch_size, on_batch=report
            )
    texts, new_tokens = [], []
    for ids in generated.generated:
        kept = reply_ids(list(ids), stops, tokenizer.pad_token_id)
        new_tokens.append(len(kept))
        texts.append(cast(str, tokenizer.decode(kept, skip_special_tokens=True)).strip())  # a list of ids: one str
    generation_seconds = generated.prompt_seconds + generated.generation_seconds
    generations = Generations(texts, [len(r) for r in generation_rows], new_tokens, generation_seconds)
    if not label_list:
        return generations, None
    label_seconds = scored.label_seconds + (0.0 if one_pass else scored.prompt_seconds)
    probabilities = probabilities_from_sums(scored.log_likelihoods, n, label_list)
    return generations, LabelScores(label_list, probabilities, label_seconds)
