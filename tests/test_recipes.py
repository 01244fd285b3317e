"""Every shipped recipe validates, finds its sample data and plans a run (`--dry-run`)."""

from pathlib import Path

import pytest

from builder.recipe import load_recipe
from builder.sft import main

REPO = Path(__file__).resolve().parents[1]
USE_CASES = ["support", "translation", "sentiment", "content", "retrieval"]


@pytest.mark.parametrize("use_case", USE_CASES)
def test_recipe_dry_run_on_its_sample_data(use_case, capsys):
    path = REPO / "recipes" / f"{use_case}.yaml"
    recipe = load_recipe(path)
    assert recipe.use_case == use_case
    for item in recipe.data.train:
        assert recipe.resolve_path(item).is_relative_to(REPO / "sample_data" / use_case)
    assert main([str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "steps planned" in out
    train_count = int(out.split("examples", 1)[1].split("train")[0].strip())
    assert train_count >= 10


def test_every_recipe_is_commented_for_the_user():
    for use_case in USE_CASES:
        text = (REPO / "recipes" / f"{use_case}.yaml").read_text(encoding="utf-8")
        comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
        assert len(comments) >= 5, use_case
