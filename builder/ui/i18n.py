"""English and Spanish for the web app, and the language selector that switches them live.

Every visible text goes through ``t(key, lang)``. Components are registered with
``Labels.add(component, label=key, ...)``; changing the selector returns one update per
registered component, so the whole page changes language without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.core.messages import Message
from builder.ui.i18n_first_hour import FIRST_HOUR
from builder.ui.i18n_messages import MESSAGE_TABLES
from builder.ui.i18n_strings_data import DATA_STRINGS
from builder.ui.i18n_strings_export import EXPORT_STRINGS
from builder.ui.i18n_strings_playground import PLAYGROUND_STRINGS
from builder.ui.i18n_strings_train import TRAIN_STRINGS
from builder.ui.team_text import TEAM_STRINGS

LANGUAGES: list[tuple[str, str]] = [("English", "en"), ("Español", "es")]
DEFAULT_LANG = "en"

# Every table of texts, key: (English, Spanish), by the module or back-end owner that defines it. One owner
# per key: a test checks that no key is in two tables (merged, the later one would silently win).
TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "i18n_strings_data": DATA_STRINGS,
    "i18n_strings_train": TRAIN_STRINGS,
    "i18n_strings_playground": PLAYGROUND_STRINGS,
    "i18n_strings_export": EXPORT_STRINGS,
    "i18n_first_hour": FIRST_HOUR,
    "team_text": TEAM_STRINGS,
    **{f"i18n_messages ({owner})": table for owner, table in MESSAGE_TABLES.items()},
}
_STRINGS: dict[str, tuple[str, str]] = {key: pair for table in TABLES.values() for key, pair in table.items()}

STRINGS: dict[str, dict[str, str]] = {
    lang: {key: pair[i] for key, pair in _STRINGS.items()} for i, (_, lang) in enumerate(LANGUAGES)
}


@dataclass(frozen=True)
class UIText(Message):
    """A text of this table kept as key and values, for a handler whose words are said again in another language."""

    templates: ClassVar[dict[str, str]] = STRINGS[DEFAULT_LANG]


def t(key: str, lang: str | None = DEFAULT_LANG, **values: Any) -> str:
    """The text for ``key`` in ``lang`` (English when the language or key is unknown)."""
    table = STRINGS.get(lang or DEFAULT_LANG, STRINGS[DEFAULT_LANG])
    text = table.get(key) or STRINGS[DEFAULT_LANG].get(key) or key
    return text.format(**values) if values else text


def t_known(key: str, lang: str, default: str) -> str:
    """``t(key, lang)`` for a key built from data (a format name...); ``default`` when there is no such key."""
    return t(key, lang) if key in STRINGS[DEFAULT_LANG] else default


def message_text(item: Message | str, lang: str) -> str:
    """A keyed message of the back end (advice, an importer's note, a problem) in ``lang``.

    A plain string (an error's own words) and a key without a translation stay as they are, in English.
    """
    if not isinstance(item, Message):
        return item
    key = f"{item.prefix}{item.key}"
    template = t(key, lang) if key in STRINGS[DEFAULT_LANG] else None
    return item.text(template, lambda inner: message_text(inner, lang))


def status_text(status: str, lang: str) -> str:
    return t(f"st_{status}", lang) if f"st_{status}" in STRINGS[DEFAULT_LANG] else status


def language_from_header(accept_language: str | None) -> str:
    """The first of our languages the browser asks for; English otherwise."""
    known = {code for _, code in LANGUAGES}
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in known:
            return code
    return DEFAULT_LANG


class Labels:
    """Components whose texts follow the language selector."""

    def __init__(self) -> None:
        self._items: list[tuple[Any, str, dict[str, str]]] = []

    def add(self, component: Any, template: str = "{}", **attr_keys: str) -> Any:
        """``add(gr.Textbox(...), label="name", placeholder="name_ph")``: the attribute and its key.

        ``template`` wraps the text, e.g. ``"### {}"`` for a Markdown heading.
        """
        self._items.append((component, template, attr_keys))
        return component

    @property
    def components(self) -> list[Any]:
        return [component for component, _, _ in self._items]

    def updates(self, lang: str) -> list[Any]:
        import gradio as gr

        def texts(template: str, keys: dict[str, str]) -> dict[str, Any]:
            return {attr: template.format(t(key, lang)) for attr, key in keys.items()}

        return [gr.update(**texts(template, keys)) for _, template, keys in self._items]
