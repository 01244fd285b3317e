"""Serving a run with vLLM on a GPU server: the base model plus the run's adapter as a LoRA module.

vLLM cannot run on CPU-only machines like ours, so nothing here starts it. What we can do is
check the adapter against the limits vLLM documents for LoRA adapters, and print the command:

- the adapter is PEFT's format: ``adapter_config.json`` with ``peft_type: LORA`` and the weights
  in ``adapter_model.safetensors``;
- its rank is at most the server's ``--max-lora-rank``, which takes one of 1, 8, 16, 32, 64, 128,
  256, 320 or 512 (so at most 512);
- no DoRA (``use_dora``), no ``modules_to_save`` (fully trained extra layers), no trained embedding
  rows (``trainable_token_indices``, which ``lora.train_turn_tokens`` adds), bias ``none``;
- LoRA on the linear layers vLLM can adapt: the attention and MLP projections
  (q/k/v/o, gate/up/down). Embedding or output-layer LoRA is not one of them.

The command serves with the run's own tokenizer and a chat template written for the run
(``exports/vllm/chat_template.jinja``): the one it trained with, preceded by its prompt form
(``builder.models.templates.framed_chat_template``), so that a client sending the user's words alone
gets the system prompt and the instruction training used.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
VLLM_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class VllmCheck:
    adapter: Path
    rank: int | None = None
    max_lora_rank: int | None = None
    problems: list[str] = field(default_factory=list)
    command: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"vLLM: the adapter meets vLLM's LoRA limits (rank {self.rank}).\n  {self.command}"
        return "vLLM: the adapter does not meet vLLM's LoRA limits:\n" + "\n".join(f"  - {p}" for p in self.problems)


def _targets(config: dict[str, Any]) -> list[str] | None:
    targets = config.get("target_modules")
    if isinstance(targets, str):
        return None  # a regular expression: PEFT resolves it against the model, we cannot list it here
    return sorted({str(t).rsplit(".", 1)[-1] for t in targets or []})


def check_adapter(adapter_dir: Path | str) -> VllmCheck:
    """The adapter folder against vLLM's documented LoRA limits; ``problems`` says what breaks them."""
    adapter = Path(adapter_dir)
    check = VllmCheck(adapter)
    config_file = adapter / "adapter_config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        check.problems.append(f"{config_file}: cannot be read ({err})")
        return check
    if config.get("peft_type") != "LORA":
        check.problems.append(f"{config_file}: peft_type is {config.get('peft_type')!r}; vLLM serves LORA adapters")
    if not (adapter / "adapter_model.safetensors").is_file():
        check.problems.append(f"{adapter}: no adapter_model.safetensors")
    ranks = [int(config.get("r") or 0), *(int(r) for r in (config.get("rank_pattern") or {}).values())]
    check.rank = max(ranks)
    check.max_lora_rank = next((r for r in VLLM_LORA_RANKS if r >= check.rank), None)
    if check.max_lora_rank is None:
        check.problems.append(f"rank {check.rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]})")
    if config.get("use_dora"):
        check.problems.append("use_dora: vLLM does not serve DoRA adapters; merge the adapter instead")
    if config.get("modules_to_save"):
        check.problems.append(f"modules_to_save {config['modules_to_save']}: vLLM supports none")
    if config.get("trainable_token_indices"):
        check.problems.append(
            f"trainable_token_indices {config['trainable_token_indices']}: vLLM serves LoRA layers only; "
            "merge the adapter (`python -m builder.export RUN --merge`), then serve the merged folder: "
            "`vllm serve FOLDER`"
        )
    if (config.get("bias") or "none") != "none":
        check.problems.append(f"bias {config['bias']!r}: vLLM needs bias 'none'")
    targets = _targets(config)
    if targets is None:
        check.problems.append(f"target_modules is the pattern {config['target_modules']!r}; list the layers instead")
    else:
        others = [t for t in targets if t not in VLLM_TARGETS]
        if others:
            check.problems.append(f"LoRA on {', '.join(others)}: vLLM adapts only {', '.join(VLLM_TARGETS)}")
    return check


def serve_command(
    base_model: str,
    name: str,
    adapter_dir: Path | str,
    max_lora_rank: int,
    *,
    tokenizer: Path | str | None = None,
    chat_template: Path | str | None = None,
) -> str:
    """The ``vllm serve`` line: the base model with the adapter as a LoRA module named after the run."""
    extra = [*(["--tokenizer", str(tokenizer)] if tokenizer else [])]
    extra += ["--chat-template", str(chat_template)] if chat_template else []
    parts = [
        "vllm",
        "serve",
        base_model,
        "--enable-lora",
        "--lora-modules",
        f"{name}={Path(adapter_dir)}",
        "--max-lora-rank",
        str(max_lora_rank),
        *extra,
    ]
    return " ".join(shlex.quote(p) for p in parts)


def check_run(run_dir: Path | str) -> VllmCheck:
    """The check for a run, with the command when it passes (the base model as a folder vLLM can read)
    and the run's framed chat template written beside its other exports."""
    from builder.models.loading import resolve_base_model
    from builder.run.rundir import RunDir

    run = RunDir(Path(run_dir).resolve())
    check = check_adapter(run.adapter)
    if check.ok and check.max_lora_rank is not None:
        recipe = run.recipe()
        template = write_chat_template(run.path, run.path / "exports" / "vllm" / "chat_template.jinja")
        check.command = serve_command(
            resolve_base_model(recipe.base_model),
            run.name,
            check.adapter,
            check.max_lora_rank,
            tokenizer=run.tokenizer if template else None,
            chat_template=template,
        )
    return check


def write_chat_template(run_dir: Path | str, dest: Path) -> Path | None:
    """The run's chat template in its prompt form, written at ``dest``; None when its tokenizer has none."""
    from transformers import AutoTokenizer

    from builder.models.templates import framed_chat_template
    from builder.run.rundir import RunDir, write_text_atomic
    from builder.usecases import get_usecase

    run = RunDir(run_dir)
    if not run.tokenizer.is_dir():
        return None
    template = getattr(AutoTokenizer.from_pretrained(run.tokenizer), "chat_template", None)
    if not isinstance(template, str) or not template:
        return None
    recipe = run.recipe()
    form = get_usecase(recipe.use_case).prompt_form(recipe)
    write_text_atomic(dest, framed_chat_template(template, form.system, form.before, form.after))
    return dest
