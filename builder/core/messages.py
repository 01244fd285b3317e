"""Texts for people as a key and the values that fill it, so that the web app can say them in Spanish.

The module that raises a message owns its English template (``templates``, by key); the CLI and the
logs print that. The web app looks up ``prefix + key`` in ``builder/ui/i18n.py`` for the other
languages, where a test checks that every English template has a Spanish one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Message:
    """One message: the key of its template and the values it is filled with.

    A value may itself be a message (or a list of them), said in the same language as the whole.
    """

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    templates: ClassVar[dict[str, str]] = {}
    prefix: ClassVar[str] = ""  # the i18n keys of this kind of message start with it

    def text(self, template: str | None = None, inner: Callable[[Message], str] = str) -> str:
        """The English text, or ``template`` (the same key in another language); ``inner`` says nested messages."""
        values = {name: _said(value, inner) for name, value in self.values.items()}
        return (template or self.templates[self.key]).format(**values)

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict[str, Any]:
        """Key and values for a JSON report (values are plain there: no nested messages)."""
        return {"key": self.key, "values": dict(self.values)}


def _said(value: Any, inner: Callable[[Message], str]) -> Any:
    if isinstance(value, Message):
        return inner(value)
    if isinstance(value, list | tuple) and value and all(isinstance(v, Message) for v in value):
        return ", ".join(inner(v) for v in value)
    return value


class MessageError(ValueError):
    """An error said as messages: a headline and detail lines (each a message, or a plain string).

    ``str()`` is the English, details indented under the headline; ``text(say)`` says it another way.
    """

    def __init__(self, headline: Message | str, details: Sequence[Message | str] = ()) -> None:
        self.headline = headline
        self.details = list(details)
        super().__init__(self.text())

    def text(self, say: Callable[[Message | str], str] = str) -> str:
        return "\n".join([say(self.headline), *(f"  {say(detail)}" for detail in self.details)])

    def lines(self) -> list[Message | str]:
        """What is wrong, a line each: the details, or the headline when there are none."""
        return self.details or [self.headline]
