"""Recipe tab: a use case's shipped recipe as the start, the main settings as form fields, the YAML, save.

Its reports on the recipe (will it fit, how long, which data) are ``builder.ui.recipe_reports``.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from typing import Any, get_args

import gradio as gr
import yaml

from builder.config.recipe import Quantization, Recipe, RecipeProblem
from builder.core.messages import Message
from builder.ui.common import AppContext, error_text
from builder.ui.i18n import DEFAULT_LANG, UIText, t
from builder.ui.model_cards import cpu_quantization, model_choices, model_note
from builder.ui.recipe_check import data_problems
from builder.ui.recipe_reports import capacity_markdown, data_markdown
from builder.usecases import usecase_names
from builder.usecases.paths import with_absolute_paths

QUANTIZATIONS = list(get_args(Quantization))


@dataclass(frozen=True)
class FormField:
    """One form field: its name (also its label's i18n key), the recipe key it edits, and its type."""

    name: str
    key: str  # dotted recipe key
    kind: type | str  # str, int, float, bool, or "lines" (one list item a line)

    def default(self) -> Any:
        """The schema's default, so that a template without the key shows what the trainer would use."""
        value: Any = Recipe()
        for part in self.key.split("."):
            value = getattr(value, part)
        return "\n".join(value) if self.kind == "lines" else value

    def shown(self, raw: dict[str, Any]) -> Any:
        value: Any = raw
        for part in self.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                return self.default()
        if self.kind == "lines":
            return "\n".join([value] if isinstance(value, str) else value)
        return value

    def parsed(self, value: Any) -> Any:
        if self.kind == "lines":
            return [line.strip() for line in (value or "").splitlines() if line.strip()]
        if self.kind is str:
            return (value or "").strip() if self.name != "system_prompt" else (value or "")
        convert = self.kind
        assert not isinstance(convert, str)  # "lines", the one kind named by a string, is handled above
        return convert(value)


FIELDS = (
    FormField("name", "name", str),
    FormField("use_case", "use_case", str),
    FormField("base_model", "base_model", str),
    FormField("quantization", "quantization", str),
    FormField("system_prompt", "system_prompt", str),
    FormField("data_paths", "data.train", "lines"),
    FormField("max_steps", "training.max_steps", int),
    FormField("epochs", "training.num_epochs", float),
    FormField("learning_rate", "training.learning_rate", float),
    FormField("batch_size", "training.batch_size", int),
    FormField("max_length", "training.max_length", int),
    FormField("lora_r", "lora.r", int),
    FormField("eval_enabled", "eval.enabled", bool),
)
NUMBERS = [f.name for f in FIELDS if f.kind in (int, float)]


def form_to_raw(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The template with the form's values written over it (a blank name becomes the use case's)."""
    raw = copy.deepcopy(template)
    for field in FIELDS:
        *sections, last = field.key.split(".")
        node = raw
        for section in sections:
            node = node.setdefault(section, {})
        node[last] = field.parsed(values[field.name])
    raw["name"] = raw["name"] or raw["use_case"]
    return raw


def validate_yaml(ctx: AppContext, text: str, lang: str = DEFAULT_LANG) -> tuple[dict[str, Any] | None, list[str]]:
    """The parsed recipe and a list of problems in ``lang``, each naming its line or key."""
    raw, problems = recipe_problems(ctx, text)
    return raw, [ctx.problem_text(problem, lang) for problem in problems]


def recipe_problems(ctx: AppContext, text: str) -> tuple[dict[str, Any] | None, list[Message | str]]:
    """The parsed recipe and what is wrong with it, as keyed messages (a library's own words stay strings)."""
    from builder.config.recipe import RecipeError, recipe_from_dict

    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        error = str(getattr(err, "problem", err))
        if mark:
            return None, [RecipeProblem("not_yaml_line", {"line": mark.line + 1, "error": error})]
        return None, [RecipeProblem("not_yaml", {"where": "recipe", "error": error})]
    if not isinstance(raw, dict):
        return None, [RecipeProblem("not_mapping", {"where": "recipe", "kind": type(raw).__name__})]
    try:
        recipe = recipe_from_dict(raw, source="recipe", base_dir=ctx.user_recipes_dir)
    except RecipeError as err:
        return raw, err.lines()
    # Every path the recipe holds (data lists, the base model folder, task paths) in the served folders.
    problems: list[Message | str] = list(ctx.recipe_problems(recipe))
    for i, path in enumerate(recipe.data.train):
        if not any(str(p).startswith(f"data.train[{i}]:") for p in problems) and not os.path.exists(
            recipe.resolve_path(path)
        ):
            problems.append(UIText("path_missing", {"where": f"data.train[{i}]", "path": ctx.confinement.shown(path)}))
    problems += _usecase_problems(recipe)
    if not problems:  # the data read as training reads it: too little of it is no recipe to train
        problems += data_problems(recipe)
    return raw, problems


def _usecase_problems(recipe: Recipe) -> list[Message | str]:
    """The use case's own check of its ``task:`` options, and training data where it needs some."""
    from builder.config.recipe import RecipeError

    try:
        from builder.usecases import get_usecase

        usecase = get_usecase(recipe.use_case)
    except Exception as err:
        return [f"use_case: {err}"]
    try:
        usecase.options(recipe)
    except RecipeError as err:
        return [*err.lines()]
    except Exception as err:
        return [*(str(err).splitlines()[1:] or [str(err)])]
    if not recipe.data.train and usecase.needs_conversations(recipe):
        return [UIText("no_train_files")]
    return []


def problems_markdown(problems: list[str], lang: str) -> str:
    if not problems:
        return f"✔ {t('valid', lang)}"
    return "\n".join(f"- ✖ `{p.strip()}`" for p in problems)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "recipe"


def build(ctx: AppContext, lang: gr.Radio, data_state: gr.State, recipe_path: gr.State) -> None:
    labels = ctx.labels
    labels.add(gr.Markdown(t("recipe_intro")), value="recipe_intro")
    template_state = gr.State({})
    with gr.Row():
        with gr.Column(scale=1):
            use_case = labels.add(
                gr.Dropdown(usecase_names(), value="support", label=t("use_case"), elem_id="recipe-use-case"),
                label="use_case",
            )
            name = labels.add(gr.Textbox(label=t("name"), elem_id="recipe-name"), label="name")
            base_model = labels.add(
                gr.Dropdown(
                    model_choices(DEFAULT_LANG),
                    allow_custom_value=True,
                    label=t("base_model"),
                    elem_id="recipe-base-model",
                ),
                label="base_model",
            )
            base_note = gr.Markdown(elem_id="recipe-model-note")
            quantization = labels.add(gr.Dropdown(QUANTIZATIONS, label=t("quantization")), label="quantization")
            system_prompt = labels.add(gr.Textbox(label=t("system_prompt"), lines=3), label="system_prompt")
            data_paths = labels.add(gr.Textbox(label=t("data_paths"), lines=3), label="data_paths")
            with gr.Row():
                max_steps = labels.add(gr.Number(label=t("max_steps"), precision=0), label="max_steps")
                epochs = labels.add(gr.Number(label=t("epochs")), label="epochs")
                learning_rate = labels.add(gr.Number(label=t("learning_rate")), label="learning_rate")
            with gr.Row():
                batch_size = labels.add(gr.Number(label=t("batch_size"), precision=0), label="batch_size")
                max_length = labels.add(gr.Number(label=t("max_length"), precision=0), label="max_length")
                lora_r = labels.add(gr.Number(label=t("lora_r"), precision=0), label="lora_r")
            eval_enabled = labels.add(gr.Checkbox(label=t("eval_enabled")), label="eval_enabled")
        with gr.Column(scale=1):
            yaml_box = labels.add(
                gr.Code(
                    language="yaml", label=t("yaml"), interactive=True, lines=24, wrap_lines=True, elem_id="recipe-yaml"
                ),
                label="yaml",
            )
            problems = gr.Markdown(elem_id="recipe-problems")
            data_box = gr.Markdown(elem_id="recipe-data")
            capacity_box = gr.Markdown(elem_id="recipe-capacity")
            with gr.Row():
                validate = labels.add(gr.Button(t("validate")), value="validate")
                save = labels.add(gr.Button(t("save"), variant="primary", elem_id="recipe-save"), value="save")
            replace = labels.add(
                gr.Checkbox(label=t("overwrite"), value=False, elem_id="recipe-overwrite"), label="overwrite"
            )
            saved = gr.Markdown(elem_id="recipe-saved")

    components = {
        "name": name,
        "use_case": use_case,
        "base_model": base_model,
        "quantization": quantization,
        "system_prompt": system_prompt,
        "data_paths": data_paths,
        "max_steps": max_steps,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "max_length": max_length,
        "lora_r": lora_r,
        "eval_enabled": eval_enabled,
    }
    form = [components[f.name] for f in FIELDS]

    def load_template(case: str, state: dict[str, Any]) -> tuple[Any, ...]:
        raw, base = ctx.template_recipe(case)
        raw = cpu_quantization(with_absolute_paths(raw, base))
        if state.get("paths") and state.get("use_case") in (None, case):
            raw.setdefault("data", {})["train"] = list(state["paths"])
            raw["data"].update(state.get("mapping") or {})
        shown = {f.name: f.shown(raw) for f in FIELDS}
        shown["name"] = raw.get("name", case)
        return (raw, *(shown[f.name] for f in FIELDS))

    def render(template: dict[str, Any], language: str, *values: Any) -> tuple[Any, str]:
        fields = dict(zip([f.name for f in FIELDS], values, strict=True))
        if any(fields[k] is None for k in NUMBERS):
            return gr.update(), problems_markdown([t("empty_number", language)], language)
        try:
            raw = form_to_raw(template, fields)
        except (TypeError, ValueError) as err:
            return gr.update(), error_text(err)
        text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
        _, found = validate_yaml(ctx, text, language)
        return text, problems_markdown(found, language)

    def check(text: str, language: str) -> str:
        _, found = validate_yaml(ctx, text, language)
        return problems_markdown(found, language)

    def do_save(text: str, replace: bool, language: str) -> tuple[Any, str, str, Any]:
        """Saved under the recipe's name; an existing file only with the box ticked (unticked again after)."""
        raw, found = validate_yaml(ctx, text, language)
        if found or raw is None:
            return gr.update(), problems_markdown(found, language), t("not_saved", language), gr.update()
        ctx.user_recipes_dir.mkdir(parents=True, exist_ok=True)
        path = ctx.user_recipes_dir / f"{safe_name(str(raw.get('name', 'recipe')))}.yaml"
        shown = ctx.confinement.shown(path)
        try:
            # "x" creates the file only if it does not exist yet: two saves of one name cannot both win.
            with open(path, "w" if replace else "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            return gr.update(), problems_markdown([], language), t("exists", language, path=shown), gr.update()
        return str(path), problems_markdown([], language), t("saved", language, path=shown), False

    outputs = [template_state, *form]
    # Every render of the YAML in one queue, in the order asked: an import's render (the form as it was then)
    # never lands after a render of a field the user changed since.
    one_render = {"concurrency_id": "recipe_render", "concurrency_limit": 1}
    use_case.change(load_template, [use_case, data_state], outputs).then(
        render, [template_state, lang, *form], [yaml_box, problems], **one_render
    )

    def follow_data(state: dict[str, Any], case: str, template: dict[str, Any]) -> tuple[Any, ...]:
        """The recipe follows an import: data for another use case brings that use case's recipe; for the same
        one only the data changes, so a name or a model the user has already set (perhaps while the import was
        still arriving) stays."""
        new_case = state.get("use_case") or case
        raw, *shown = load_template(new_case, state)
        if new_case != case or not template:
            return (new_case, raw, *shown)
        kept = [value if f.name == "data_paths" else gr.update() for f, value in zip(FIELDS, shown, strict=True)]
        return (case, raw, *kept)

    data_state.change(follow_data, [data_state, use_case, template_state], [use_case, *outputs]).then(
        render, [template_state, lang, *form], [yaml_box, problems], **one_render
    )
    # Text and number fields re-render when the user leaves them (per-keystroke events raced each
    # other and could leave an older YAML on screen); choices re-render when picked.
    typed = [components[k] for k in ("name", "system_prompt", "data_paths", *NUMBERS)]
    triggers = [c.blur for c in typed] + [c.submit for c in typed if c is not system_prompt and c is not data_paths]
    triggers += [quantization.input, eval_enabled.input, base_model.input]
    # always_last: a field left while the previous render still runs (it reads and tokenizes the data) renders
    # after it; Gradio's default for these events ("once") dropped it, leaving the YAML without that change.
    gr.on(
        triggers, render, [template_state, lang, *form], [yaml_box, problems], trigger_mode="always_last", **one_render
    )
    validate.click(check, [yaml_box, lang], [problems])
    note_inputs = [base_model, data_state, lang]
    gr.on(
        [base_model.change, data_state.change, lang.change],
        lambda model, state, language: model_note(model, (state or {}).get("languages"), language),
        note_inputs,
        [base_note],
    )
    # The estimate follows the YAML, whoever changed it (the form's render or the user), and the language.
    yaml_box.change(lambda text, language: capacity_markdown(ctx, text, language), [yaml_box, lang], [capacity_box])
    lang.change(lambda text, language: capacity_markdown(ctx, text, language), [yaml_box, lang], [capacity_box])
    # Which files it trains on follows the YAML, the Data tab's import and the language.
    gr.on(
        [yaml_box.change, data_state.change, lang.change],
        lambda text, state, language: data_markdown(ctx, text, state, language),
        [yaml_box, data_state, lang],
        [data_box],
    )
    lang.change(lambda language: gr.update(choices=model_choices(language)), [lang], [base_model])
    yaml_box.blur(check, [yaml_box, lang], [problems])
    # Problems again in the new language; an empty box is still being filled by the first screen.
    lang.change(lambda text, lg: check(text, lg) if (text or "").strip() else gr.update(), [yaml_box, lang], [problems])
    save.click(do_save, [yaml_box, replace, lang], [recipe_path, problems, saved, replace], api_name="save_recipe")
    # The first screen shows the default use case's recipe.
    setup = {"fn": load_template, "inputs": [use_case, data_state], "outputs": outputs}
    ctx.on_load.append(
        (setup, {"fn": render, "inputs": [template_state, lang, *form], "outputs": [yaml_box, problems], **one_render})
    )
