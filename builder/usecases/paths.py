"""Every path a recipe names: its own marked fields and those of its use case's ``task:`` options.

The markers and the check of one path are ``builder.config.confine`` (below the use cases); walking a whole
recipe needs the use case's options model, so it lives here, above both.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.config.confine import Confinement, PathProblem, PathRef, model_paths, raw_paths
from builder.config.recipe import RecipeError, recipe_from_dict
from builder.models.loading import is_hub_id
from builder.usecases import get_usecase

if TYPE_CHECKING:
    from builder.config.recipe import Recipe


def task_paths(recipe: Recipe) -> Iterator[PathRef]:
    """The marked keys of the use case's options model, read from the raw ``task:`` mapping.

    Raw, not validated: a path is confined even when another option makes the task invalid.
    """
    try:
        model = getattr(get_usecase(recipe.use_case), "options_model", None)
    except KeyError:
        return
    if model is None or not isinstance(recipe.task, dict):
        return
    yield from raw_paths(model, recipe.task, "task.")


def recipe_paths(recipe: Recipe) -> Iterator[PathRef]:
    """Every path a resolved recipe holds, with its key."""
    yield from model_paths(recipe)
    yield from task_paths(recipe)


def is_model_name(value: str, cwd: Path) -> bool:
    """A bundled model or a hub id that no local folder shadows: the loader reads no path of ours for it."""
    if value.startswith("bundled:"):
        return True
    return is_hub_id(value) and not os.path.exists(cwd / value)


def recipe_problems(confinement: Confinement, recipe: Recipe) -> list[PathProblem]:
    """One line per path of the recipe that lies outside the confinement's roots, each naming its key."""
    problems = []
    for ref in recipe_paths(recipe):
        if ref.marker.model and is_model_name(ref.value, confinement.cwd):
            continue
        base = recipe.base_dir if ref.marker.relative_to == "recipe" else confinement.cwd
        problem = confinement.problem(ref.key, ref.value, base)
        if problem:
            problems.append(problem)
    return problems


def with_absolute_paths(raw: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """A copy of a raw recipe whose paths read against the recipe's folder (the ``LocalPath`` keys:
    data files, a knowledge base) are absolute, so that the recipe works from any folder.

    A recipe that does not validate comes back unchanged: its checker says what is wrong with it.
    """
    raw = copy.deepcopy(raw)
    try:
        recipe = recipe_from_dict(raw, base_dir=base_dir)
    except RecipeError:
        return raw
    for ref in recipe_paths(recipe):
        if ref.marker.relative_to == "recipe" and not Path(ref.value).expanduser().is_absolute():
            _set_key(raw, ref.key, str(recipe.resolve_path(ref.value)))
    return raw


def _set_key(raw: dict[str, Any], key: str, value: str) -> None:
    """Set ``data.train[0]``-style keys in a raw recipe (a single string counts as a list of one)."""
    match = re.fullmatch(r"(.+?)(?:\[(\d+)\])?", key)
    assert match is not None
    *sections, last = match.group(1).split(".")
    node = raw
    for section in sections:
        node = node.setdefault(section, {})
    if match.group(2) is None:
        node[last] = value
        return
    items = node.get(last)
    items = [items] if isinstance(items, str) else list(items or [])
    items[int(match.group(2))] = value
    node[last] = items
