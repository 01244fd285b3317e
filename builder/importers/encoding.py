"""Encodings and lines: which encoding a file is in, whether it is text at all, and its lines one by one.

A file is judged by its lines, not as a whole: one line of binary junk among text lines is set aside
by itself, with its line number, and does not make the whole file binary or change its encoding.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from builder.importers.types import SNIFF_BYTES, snippet

# Control characters that text does not hold (tab, newlines, form feed and vertical tab are fine),
# C1 controls (bytes 0x80-0x9f read as Latin-1), and the replacement character of a failed decode.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
BINARY_SHARE = 0.05  # a line with more control characters than this is data, not text


@dataclass(frozen=True)
class BadLine:
    """A line that is not text in the file's encoding: set aside by itself."""

    reason: str  # binary_line or bad_encoding
    message: str
    raw: str


def line_is_binary(text: str) -> bool:
    if _CONTROL.search(text) is None:  # the common case, in C
        return False
    return "\x00" in text or len(_CONTROL.findall(text)) / len(text) > BINARY_SHARE


def mostly_binary(text: str) -> bool:
    """True when most non-blank lines are binary: a binary file, not a text file with a few bad lines."""
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    return bool(lines) and 2 * sum(map(line_is_binary, lines)) > len(lines)


def sniff_encoding(path: Path, head: bytes) -> str | None:
    """The file's encoding, or None when it is binary. UTF-8 is checked over the whole file (fast, streamed)."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if b"\x00" in sample:
        # UTF-16 without a BOM: mostly-ASCII text has a zero in every other byte.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even < odd // 8:
            return "utf-16-le"
        if even > len(sample) // 4 and odd < even // 8:
            return "utf-16-be"
        if mostly_binary(head.decode("latin-1")):
            return None
    if _is_utf8(path) or _utf8_but_for_binary_lines(path):
        return "utf-8"
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return None if mostly_binary(text) else "cp1252"


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _utf8_but_for_binary_lines(path: Path) -> bool:
    """UTF-8 except in lines that are binary junk (those are set aside when read): still a UTF-8 file."""
    with path.open("rb") as f:
        for raw in f:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                if not line_is_binary(raw.decode("latin-1")):
                    return False
    return True


def check_encoding(encoding: str) -> None:
    """Raises LookupError for an encoding Python does not know."""
    codecs.lookup(encoding)


def open_text(path: Path, encoding: str) -> TextIO:
    # newline="" keeps quoted newlines inside CSV cells intact; errors are impossible for a checked encoding.
    return path.open("r", encoding=encoding, errors="strict", newline="")


def head_lines(path: Path, encoding: str, count: int, limit: int = SNIFF_BYTES) -> list[tuple[str, bool]]:
    """The first ``count`` non-blank lines, each cut to ``limit`` characters, and whether it was cut.

    A line longer than ``limit`` (a 5 MB message) is skipped to its end, so the lines after it are
    still seen.
    """
    lines: list[tuple[str, bool]] = []
    with path.open("r", encoding=encoding, errors="replace", newline="") as f:
        while len(lines) < count:
            part = f.readline(limit)
            if not part:
                break
            cut = len(part) == limit and not part.endswith(("\n", "\r"))
            while cut and (rest := f.readline(limit)) and not rest.endswith(("\n", "\r")):
                pass
            if part.strip():
                lines.append((part.lstrip("\ufeff") if not lines else part, cut))
    return lines


def _splits_on_newline_bytes(encoding: str) -> bool:
    """Whether a newline byte always ends a line: true of UTF-8 and of single-byte encodings, not of UTF-16/32."""
    return not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def iter_lines(path: Path, encoding: str) -> Iterator[tuple[int, str | BadLine]]:
    """(line number, text) for each line, endings kept; a line that is not text comes as a ``BadLine``."""
    if not _splits_on_newline_bytes(encoding):
        with open_text(path, encoding) as f:
            for number, text in enumerate(f, start=1):
                text = text.lstrip("\ufeff") if number == 1 else text
                yield number, _binary_line(number, text, text) if line_is_binary(text) else text
        return
    number = 0
    with path.open("rb") as f:
        for chunk in f:
            # A lone carriage return ends a line too, as in text mode.
            for raw in chunk.splitlines(keepends=True) if b"\r" in chunk else (chunk,):
                number += 1
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as err:
                    yield number, _undecodable_line(number, raw, encoding, err)
                    continue
                if number == 1:
                    text = text.lstrip("\ufeff")
                yield number, _binary_line(number, text, raw) if line_is_binary(text) else text


def _binary_line(number: int, text: str, raw: str | bytes) -> BadLine:
    shown = repr(raw[:300]) if isinstance(raw, bytes) else repr(text[:300])
    return BadLine("binary_line", f"line {number} holds binary data (control bytes), not text", snippet(shown))


def _undecodable_line(number: int, raw: bytes, encoding: str, err: UnicodeDecodeError) -> BadLine:
    latin = raw.decode("latin-1")
    if line_is_binary(latin):
        return _binary_line(number, latin, raw)
    message = (
        f"line {number} is not {encoding} (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
        "set encoding for this file"
    )
    return BadLine("bad_encoding", message, snippet(latin))
