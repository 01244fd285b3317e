"""Walk one large JSON document without loading it: step into objects and arrays, decode only the values needed.

Chat exports are often one JSON document of hundreds of megabytes (a Telegram account, a Discord channel):
``JsonStream`` reads it in chunks, and ``json.JSONDecoder.raw_decode`` decodes each value that is asked
for (one message, one chat's name) whole, in C. Memory holds the value being decoded and a chunk, not the file.

    stream = JsonStream(f)
    stream.enter("{")
    for key in stream.members():
        if key == "messages":
            stream.enter("[")
            for line in stream.items():
                message = stream.value()
        else:
            stream.skip()

After ``members()`` yields a key (or ``items()`` an item), the caller must consume that value with
``value()``, ``skip()`` or ``enter()`` and a walk of its own, before asking for the next one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO

CHUNK = 1 << 16
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NEAR_END = 8  # a decoding error this close to the end of what is read may be a value cut by the chunk


class StreamError(ValueError):
    """The document is not valid JSON (``invalid_json``), ends too early (``truncated_json``), or a value
    has another type than the walk expects (``unknown_shape``). ``line`` is where it was found."""

    def __init__(self, reason: str, message: str, line: int, raw: str = "") -> None:
        super().__init__(f"{message} (line {line})")
        self.reason = reason
        self.line = line
        self.raw = raw


class JsonStream:
    """A pull parser over a text file holding one JSON document (see the module docstring)."""

    def __init__(self, file: TextIO, chunk: int = CHUNK) -> None:
        """``file``: opened as text (``utf-8-sig`` drops a byte order mark)."""
        self._file = file
        self._chunk = chunk
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line = 1  # the line of ``_counted`` in the buffer
        self._counted = 0
        self._decoder = json.JSONDecoder()

    @property
    def line(self) -> int:
        """The line (1-based) where the parser stands: where the next value starts, after ``_peek``."""
        self._line += self._buf.count("\n", self._counted, self._pos)
        self._counted = self._pos
        return self._line

    def _fill(self, at_least: int = 0) -> bool:
        """Read more of the file onto the buffer (dropping what was consumed); False at the end of the file."""
        if self._eof:
            return False
        data = self._file.read(max(self._chunk, at_least))
        if not data:
            self._eof = True
            return False
        if self._pos:
            self.line  # noqa: B018  (count the lines of the part dropped below)
            self._buf = self._buf[self._pos :] + data
            self._pos = self._counted = 0
        else:
            self._buf += data
        return True

    def _peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        while True:
            # A starred class always matches (re's stubs say Match | None); no check in this hot loop.
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _expect(self, char: str, where: str) -> None:
        found = self._peek()
        if found != char:
            if not found:
                raise StreamError("truncated_json", f"the file ends where {char!r} was expected {where}", self.line)
            raw = self._buf[self._pos : self._pos + 200]
            raise StreamError("invalid_json", f"expected {char!r} {where}, found {found!r}", self.line, raw)
        self._pos += 1

    def value(self) -> Any:
        """Decode the next value whole."""
        if not self._peek():
            raise StreamError("truncated_json", "the file ends where a value was expected", self.line)
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as err:
                cut = err.pos >= len(self._buf) - _NEAR_END or "Unterminated" in err.msg
                if self._eof or not cut:
                    reason = "truncated_json" if cut else "invalid_json"
                    line = self.line + self._buf.count("\n", self._pos, err.pos)
                    raw = self._buf[err.pos : err.pos + 200]
                    raise StreamError(reason, f"not valid JSON: {err.msg}", line, raw) from None
            else:
                # A number or a literal that ends with the buffer may go on in the next chunk.
                if end < len(self._buf) or self._eof:
                    self._pos = end
                    return value
            # Read as much again as is held: a large value costs a few decodes, not one per chunk.
            self._fill(at_least=len(self._buf) - self._pos)

    def skip(self) -> None:
        """Pass over the next value."""
        self.value()

    def peek_kind(self) -> str:
        """ "{", "[", or another first character of the next value ("" at the end of the file)."""
        return self._peek()

    def enter(self, bracket: str, name: str = "the document") -> None:
        """Step into the next value, which must be an object ("{") or an array ("[")."""
        found = self._peek()
        if found != bracket:
            kind = {"{": "an object", "[": "a list"}[bracket]
            if not found:
                raise StreamError("truncated_json", f"the file ends where {name} should start", self.line)
            raise StreamError(
                "unknown_shape", f"{name} is not {kind}", self.line, self._buf[self._pos : self._pos + 200]
            )
        self._pos += 1

    def members(self) -> Iterator[str]:
        """The keys of the object just entered, one at a time; the caller consumes each key's value."""
        first = True
        while True:
            if self._peek() == "}":
                self._pos += 1
                return
            if not first:
                self._expect(",", "between the keys of an object")
                self._peek()
            key = self.value()
            if not isinstance(key, str):
                raise StreamError("invalid_json", f"an object key must be a string, found {key!r}", self.line)
            self._expect(":", f"after the key {key!r}")
            first = False
            yield key

    def items(self) -> Iterator[int]:
        """Each item of the array just entered, as the line where it starts; the caller consumes the item."""
        first = True
        while True:
            if self._peek() == "]":
                self._pos += 1
                return
            if not first:
                self._expect(",", "between the items of a list")
                self._peek()
            first = False
            yield self.line

    def rest_is_empty(self) -> bool:
        """Nothing but whitespace after the document."""
        return self._peek() == ""
