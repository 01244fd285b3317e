from pathlib import Path

import pytest

from builder.cli.sft import main
from builder.config.recipe import RecipeError, load_recipe, parse_role_map, recipe_from_dict

REPO = Path(__file__).resolve().parents[2]


def test_support_recipe_loads_with_defaults_filled_in():
    recipe = load_recipe(REPO / "recipes" / "support.yaml")
    assert recipe.use_case == "support"
    assert recipe.quantization == "4bit"
    assert recipe.training.seed == 42
    assert recipe.resolve_path(recipe.data.train[0]).is_relative_to(REPO / "sample_data")


def test_set_overrides_are_typed_and_validated(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\ntraining:\n  max_steps: 100\n")
    recipe = load_recipe(path, ["training.max_steps=3", "training.learning_rate=1e-4", "quantization=none"])
    assert recipe.training.max_steps == 3
    assert recipe.training.learning_rate == pytest.approx(1e-4)
    assert recipe.quantization == "none"


def test_errors_name_the_file_and_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  max_step: 3\n  batch_size: -1\nquantization: 3bit\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    text = str(err.value)
    assert str(path) in text
    assert "training.max_step: unknown key" in text
    assert "training.batch_size" in text
    assert "quantization" in text and "3bit" in text


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntraining: [unclosed\n")
    with pytest.raises(RecipeError, match=r"broken.yaml:\d+: not valid YAML"):
        load_recipe(path)


def test_bad_set_syntax_is_explained(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\n")
    with pytest.raises(RecipeError, match=r"dotted\.key=value"):
        load_recipe(path, ["training.max_steps"])


def test_role_map_parsing():
    assert parse_role_map("USER=user, SYSTEM=assistant") == {"user": "user", "system": "assistant"}
    with pytest.raises(ValueError, match="bot"):
        parse_role_map("agent=bot")
    recipe = recipe_from_dict({"data": {"role_map": "Agent=assistant"}})
    assert recipe.data.role_map == {"agent": "assistant"}


# ---------------------------------------------------------------- the shipped recipes

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


def test_the_recipe_tab_form_shows_a_recipe_and_writes_it_back_unchanged():
    import yaml

    from builder.ui.recipe_tab import FIELDS, form_to_raw

    raw = yaml.safe_load((REPO / "recipes" / "support.yaml").read_text(encoding="utf-8"))
    shown = {f.name: f.shown(raw) for f in FIELDS}
    assert shown["max_length"] == raw["training"]["max_length"] and shown["data_paths"].count("\n") == 1
    again = form_to_raw(raw, shown)
    assert recipe_from_dict(again, base_dir=REPO / "recipes") == recipe_from_dict(raw, base_dir=REPO / "recipes")
    # A key the template leaves out shows the schema's default, the value the trainer would use.
    empty = {f.name: f.shown({}) for f in FIELDS}
    defaults = recipe_from_dict({})
    assert (empty["quantization"], empty["max_length"], empty["lora_r"]) == (
        defaults.quantization,
        defaults.training.max_length,
        defaults.lora.r,
    )
    assert form_to_raw({}, {**empty, "name": " ", "use_case": "sentiment"})["name"] == "sentiment"
