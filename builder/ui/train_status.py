"""What the Train tab says about a run: its status line (step, phase, losses, time left), its progress bar,
and its log's tail without the harmless library warnings (the log file keeps them)."""

from __future__ import annotations

import re

from builder.run.rundir import RunProgress
from builder.ui.i18n import status_text, t
from builder.ui.recipe_check import format_duration

# Library messages that say nothing a user can act on (kept in the log file, left out of the page):
# bitsandbytes' hint about an optional CPU kernel fetched from a model hub, Python's FutureWarnings and
# DeprecationWarnings (the line that raised them follows, indented).
HARMLESS_LINES = (
    re.compile(r"Failed to load CPU gemm_4bit_forward|pip install kernels"),
    re.compile(r"^\S.*:\d+: (FutureWarning|DeprecationWarning): "),
)


def shown_log(text: str) -> str:
    """The log's tail without the harmless library warnings (``HARMLESS_LINES``)."""
    kept: list[str] = []
    skipping = False
    for line in (text or "").splitlines():
        if any(pattern.search(line) for pattern in HARMLESS_LINES):
            skipping = True
            continue
        if skipping and line.startswith((" ", "\t")):
            continue  # the source line Python prints under a warning
        skipping = False
        kept.append(line)
    return "\n".join(kept)


def phase_text(progress: RunProgress, lang: str) -> str | None:
    """What a running training is doing between two steps: loading, scoring the dev set, saving."""
    if progress.status == "preparing" or (
        progress.status == "running" and progress.phase is None and not progress.step
    ):
        return t("phase_loading", lang)
    if progress.status != "running":
        return None
    if progress.phase == "dev":
        done, total = progress.dev_done or 0, progress.dev_total
        return t("phase_dev", lang, done=done, total=total) if total else t("phase_dev_start", lang)
    if progress.phase == "saving":
        return t("phase_saving", lang)
    return None


def status_markdown(progress: RunProgress, lang: str) -> str:
    parts = [f"**{status_text(progress.status, lang)}**"]
    if progress.status == "queued" and progress.queue_position:
        parts = [f"**{t('queued_at', lang, pos=progress.queue_position)}**"]
    steps = f"{progress.step}/{progress.max_steps}" if progress.max_steps else str(progress.step)
    parts.append(f"{t('step', lang)} {steps}")
    doing = phase_text(progress, lang)
    if doing:
        parts.append(doing)
    if progress.loss is not None:
        parts.append(f"{t('loss', lang)} {progress.loss:.4f}")
    if progress.eval_loss is not None:
        parts.append(f"{t('dev_loss', lang)} {progress.eval_loss:.4f}")
    if progress.status == "running":
        parts.append(f"{t('eta', lang)} {format_duration(progress.eta_s)}")
    if progress.device:
        parts.append(f"{t('device', lang)} {progress.device}")
    return f"`{progress.run_id}` · " + " · ".join(parts)


def progress_html(progress: RunProgress | None) -> str:
    fraction = progress.fraction if progress else 0.0
    if progress is not None and progress.status == "completed":
        fraction = 1.0
    color = {"failed": "#d9534f", "stopped": "#999"}.get(progress.status if progress else "", "#3b82f6")
    return (
        '<div id="train-progress" style="background:#e5e7eb;border-radius:6px;height:14px;width:100%">'
        f'<div style="background:{color};width:{fraction * 100:.1f}%;height:14px;border-radius:6px"></div></div>'
    )
