"""The mapping keys as the command line and the Data tab offer them, read from ``FieldMapping`` itself.

Adding a key to ``FieldMapping`` (with a description) adds the ``--option`` and the Data tab's field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import ValidationError

from builder.config.recipe import FieldMapping

FLAG_CHOICES = ("auto", "yes", "no")  # a yes/no key that can also be left to detection
_FLAG_VALUES: dict[str, bool | None] = {"auto": None, "": None, "yes": True, "no": False, "true": True, "false": False}


@dataclass(frozen=True)
class MappingKey:
    name: str  # the FieldMapping field, also the recipe key under data:
    kind: Literal["choice", "flag", "column", "text", "names"]  # names: a list of speaker names
    help: str
    choices: tuple[str, ...] = ()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def _mapping_key(name: str, annotation: Any, description: str | None) -> MappingKey:
    args = get_args(annotation)
    if get_origin(annotation) is Literal:
        return MappingKey(name, "choice", description or "", tuple(args))
    if get_origin(annotation) is list:
        return MappingKey(name, "names", description or "")
    if bool in args:
        return MappingKey(name, "flag", description or "", FLAG_CHOICES)
    kind: Literal["column", "text"] = "column" if int in args else "text"
    return MappingKey(name, kind, description or "")


MAPPING_KEYS: tuple[MappingKey, ...] = tuple(
    _mapping_key(name, info.annotation, info.description) for name, info in FieldMapping.model_fields.items()
)


def mapping_from_values(values: dict[str, Any]) -> FieldMapping:
    """A FieldMapping from values as typed (CLI, Data tab): blanks are unset, digits name a column by index.

    Raises ValueError naming the key for a value that cannot be used.
    """
    kinds = {key.name: key for key in MAPPING_KEYS}
    unknown = set(values) - set(kinds)
    if unknown:
        raise ValueError(f"unknown mapping key(s): {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, str):
            if not value.strip() and (name != "delimiter" or not value):
                continue  # blank: unset (but a lone tab or space is a delimiter)
            value = value.strip() or value
        if value is None or value == []:
            continue
        kind = kinds[name].kind
        if kind == "flag" and isinstance(value, str):
            if value.lower() not in _FLAG_VALUES:
                raise ValueError(f"{name}: {value!r} is not one of {', '.join(FLAG_CHOICES)}")
            value = _FLAG_VALUES[value.lower()]
        elif kind == "column" and isinstance(value, str) and value.isdigit():
            value = int(value)
        if value is not None:
            clean[name] = value
    try:
        return FieldMapping(**clean)
    except ValidationError as err:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in err.errors()]
        raise ValueError("; ".join(problems)) from None


def mapping_values(mapping: FieldMapping) -> dict[str, str]:
    """The other way round: each key's value as a form shows it ("" for unset, role map as A=b,C=d)."""
    shown: dict[str, str] = {}
    for key in MAPPING_KEYS:
        value = getattr(mapping, key.name)
        if key.kind == "flag":
            shown[key.name] = "auto" if value is None else ("yes" if value else "no")
        elif isinstance(value, list):
            shown[key.name] = ", ".join(value)
        elif isinstance(value, dict):
            shown[key.name] = ", ".join(f"{k}={v}" for k, v in value.items())
        else:
            shown[key.name] = "" if value is None else str(value)
    return shown
