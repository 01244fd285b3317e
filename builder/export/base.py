"""What the export modules share, at the bottom of the export layer: the error every export raises,
and the record of a GGUF export (which the Ollama Modelfile writer and the command line read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.usecases import PromptForm


class ExportError(RuntimeError):
    """An export that cannot be made; the message names the run and the missing piece."""


@dataclass
class SamplingDefaults:
    """What the playground samples with; written into the GGUF and the Modelfile."""

    temperature: float = 0.7
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    max_new_tokens: int = 128


@dataclass
class GgufExport:
    name: str  # the run's name; Ollama's model name comes from it
    path: Path
    quant: str
    architecture: str
    tensors: int
    bytes: int
    seconds: float
    chat_template: str | None  # as written in the file: the run's, framed by ``prompt``
    stop_tokens: list[str]
    prompt: PromptForm  # the run's system prompt and user-turn frame
    sampling: SamplingDefaults
    bos_token: str | None = None
    add_bos: bool = False
    notes: list[str] = field(default_factory=list)
