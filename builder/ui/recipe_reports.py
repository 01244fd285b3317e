"""The Recipe tab's two reports on the recipe being edited: will it fit and how long will it take on this
machine and on GPUs of 8 to 80 GB (``capacity_markdown``), and which files it trains on, how many examples
they give, and whether the Data tab's imported files are among them (``data_markdown``).

Both read the recipe as the trainer will (``recipe_from_dict``) and say nothing when it does not parse:
the Recipe tab's problems box says what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from builder.ui.common import AppContext
from builder.ui.i18n import t
from builder.ui.recipe_check import data_check, data_warnings, format_duration, time_estimate


def capacity_markdown(ctx: AppContext, text: str, lang: str) -> str:
    """Will it fit, and how long? The estimate for this machine and for GPUs of 8 to 80 GB (builder/models/capacity.py).

    The time is the trainer's own estimate on the recipe's data (``recipe_check.time_estimate``): per step and
    in total, corrected by the pace measured in this runs folder when a comparable run finished.
    """
    from builder.config.recipe import RecipeError, recipe_from_dict
    from builder.models import capacity

    try:
        raw = yaml.safe_load(text or "") or {}
        recipe = recipe_from_dict(raw, source="recipe", base_dir=ctx.user_recipes_dir)
        if any(str(p).startswith("base_model") for p in ctx.recipe_problems(recipe)):
            return ""  # a model folder outside the served folders is not read (the problems box says so)
        shape, plan, device, timing = time_estimate(recipe, ctx.runs_dir)
        rows = capacity.memory_table(shape, plan, device)
    except (RecipeError, yaml.YAMLError, AttributeError, TypeError):
        return ""  # the problems box already says what is wrong with the recipe
    except Exception as err:  # a hub id without the hub, a folder without config.json
        return t("cap_unavailable", lang, error=ctx.error_message(err, lang))
    rows[0]["seconds_per_step"] = timing.seconds_per_step  # this machine: corrected by its measured pace
    needs_fix = any(not row["fits"] for row in rows)
    head = [t(k, lang) for k in ("cap_device", "cap_peak", "cap_fits", "cap_time", "cap_total")]
    head += [t("cap_fix", lang)] if needs_fix else []
    lines = [
        f"**{t('cap_title', lang)}**",
        "",
        t("cap_plan", lang, quantization=plan.quantization, batch=plan.batch_size, length=plan.seq_len),
        t("cap_steps", lang, steps=timing.steps),
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
    ]
    for i, row in enumerate(rows):
        name = t("cap_this", lang, device=row["device"]) if i == 0 else row["device"]
        per_step = row["seconds_per_step"]
        seconds = "" if per_step is None else f"{per_step:.1f} s"
        total = "" if per_step is None else format_duration(per_step * timing.steps)
        cells = [name, f"{row['peak_gb']:.1f} GB", t("cap_yes", lang) if row["fits"] else t("cap_no", lang)]
        cells += [seconds, total]
        if needs_fix:
            cells.append("—" if row["fits"] else (f"`{row['fix']}`" if row["fix"] not in ("", "-") else "-"))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", t("cap_gpu_time", lang)]
    if timing.measured_on:
        lines += ["", t("cap_measured", lang, run=timing.measured_on)]
    return "\n".join(lines)


def data_markdown(ctx: AppContext, text: str, state: dict[str, Any] | None, lang: str) -> str:
    """Which files the recipe trains on, how many conversations and examples they give, and whether the files
    imported in the Data tab are among them (a recipe that names its own data ignores them: it says so)."""
    from builder.config.recipe import RecipeError, recipe_from_dict

    try:
        recipe = recipe_from_dict(yaml.safe_load(text or "") or {}, source="recipe", base_dir=ctx.user_recipes_dir)
    except (RecipeError, yaml.YAMLError, AttributeError, TypeError):
        return ""
    if not recipe.data.train or ctx.recipe_problems(recipe):
        return ""
    found = data_check(recipe)
    shown = ", ".join(f"`{ctx.confinement.shown(p)}`" for p in found.files) or "-"
    lines = [t("trains_on", lang, files=shown)]
    if not found.error:
        lines.append(t("trains_counts", lang, conversations=found.conversations, train=found.train, dev=found.dev))
    lines += [f"⚠ {ctx.problem_text(w, lang)}" for w in data_warnings(recipe)]
    imported = [str(p) for p in (state or {}).get("paths") or []]
    used = {str(p.resolve()) for p in found.files} | {str(recipe.resolve_path(p)) for p in recipe.data.train}
    if imported and not any(str(Path(p).resolve()) in used for p in imported):
        lines.append(f"⚠ {t('imported_ignored', lang, n=len(imported))}")
    return "\n\n".join(lines)
