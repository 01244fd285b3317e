"""What the helpdesk readers (Zendesk, Freshdesk, Intercom) and the ChatGPT export reader share.

- ``html_to_text``: helpdesk bodies are HTML; they become plain text (tags stripped, entities unescaped),
  never rendered: imported text is untrusted.
- ``parse_time``: ISO 8601 strings and Unix times (seconds or milliseconds), always timezone-aware.
- ``iter_values``: the top-level JSON values of a file, whatever it is (one JSON object, a JSON list
  read item by item, or JSONL line by line), with a ``ReadItem`` problem where a part cannot be read.
- ``ticket_item``: one ticket (or conversation) as a ``ReadItem``, with the counts of what was left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from builder.config.recipe import FieldMapping
from builder.importers.chats import ChatMessage, conversation_item
from builder.importers.encoding import BadLine, iter_lines
from builder.importers.jsonstream import JsonStream, StreamError
from builder.importers.registry import NOT_JSON, Sample
from builder.importers.types import SNIFF_BYTES, Container, DetectedFormat, ReadItem, snippet

# --------------------------------------------------------------------------- HTML bodies

# Tags that end a paragraph (a blank line after them) and tags that end a line; <br> is always a line break.
_PARAGRAPH_TAGS = frozenset(("p", "blockquote", "pre", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr"))
_LINE_TAGS = frozenset(("div", "li", "tr", "dd", "dt", "section", "article", "header", "footer"))
_SKIPPED_TAGS = frozenset(("script", "style", "head", "title", "template"))
_LOOKS_LIKE_HTML = re.compile(
    r"<(?:[a-zA-Z][a-zA-Z0-9]*|/[a-zA-Z][a-zA-Z0-9]*|!--)[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|\w+);"
)
_HORIZONTAL_SPACE = re.compile(r"[ \t\r\f\v]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


class _TextOfHtml(HTMLParser):
    """Collects the text of an HTML fragment; block tags become line breaks, scripts and styles are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities (&amp;, &#233;) arrive unescaped in handle_data
        self.parts: list[str] = []
        self.skipping = 0
        self.in_pre = 0
        self.images = 0

    def _break(self, newlines: int) -> None:
        """End the line (1) or the paragraph (2), unless the text already ends so."""
        tail = "".join(self.parts[-3:])
        have = len(tail) - len(tail.rstrip("\n")) if tail.strip(" ") else newlines
        self.parts.append("\n" * max(0, newlines - have))

    def _block(self, tag: str) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag in _LINE_TAGS:
            self._break(1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag == "img":
            self.images += 1
        else:
            self._block(tag)
            self.in_pre += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images += 1
        else:
            self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag != "br":
            self._block(tag)
            if tag == "pre":
                self.in_pre = max(0, self.in_pre - 1)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            # Outside <pre>, a line break in HTML source is only a space.
            self.parts.append(data if self.in_pre else re.sub(r"\s+", " ", data))


def looks_like_html(text: str) -> bool:
    return bool(_LOOKS_LIKE_HTML.search(text))


def html_to_text(html: str) -> str:
    """The text a person reads in an HTML body: tags stripped, entities unescaped, one blank line at most.

    Text that holds no tag and no entity is returned as it is (a plain-text body with a ``<`` in it).
    """
    if not html or not looks_like_html(html):
        return (html or "").strip()
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\u00a0", " ")
    lines = [_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def html_has_image(html: str) -> bool:
    """Whether an HTML body shows an image (a body that is only an image is a media-only message)."""
    return bool(html) and re.search(r"<img\b", html, re.IGNORECASE) is not None


# --------------------------------------------------------------------------- times


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or a Unix time (seconds, or milliseconds when that large) as an aware datetime."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        found = datetime.fromisoformat(value.strip().replace(" UTC", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def time_key(time: datetime | None) -> float:
    """A sort key; things without a time come first, in their file order (``sorted`` is stable)."""
    return time.timestamp() if time is not None else float("-inf")


# --------------------------------------------------------------------------- JSON values of a file


@dataclass(frozen=True)
class JsonValue:
    """One top-level JSON value: a JSONL line, an item of a JSON list, or the file's one JSON object."""

    line: int
    data: Any


def json_container(sample: Sample) -> Container:
    """JSONL when the file is not one JSON document and its first line is a JSON value by itself."""
    if sample.document is not NOT_JSON:
        return Container.JSON
    return Container.JSONL if sample.jsonl or _line_values(sample) else Container.JSON


def _line_values(sample: Sample) -> list[Any]:
    """The sample's first lines that are JSON objects or lists by themselves (a JSONL file with a bad line)."""
    found = []
    for line in sample.lines[:5]:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict | list):
            found.append(value)
    return found


def iter_values(path: Path, det: DetectedFormat) -> Iterator[JsonValue | ReadItem]:
    """The file's top-level JSON values, one by one; a line or a part that cannot be read is a ``ReadItem``."""
    source = str(path)
    if det.container == Container.JSONL:
        for number, line in iter_lines(path, det.encoding):
            if isinstance(line, BadLine):
                yield ReadItem(source, number, reason=line.reason, message=line.message, raw=line.raw)
            elif line.strip():
                try:
                    yield JsonValue(number, json.loads(line))
                except json.JSONDecodeError as err:
                    message = f"line {number} is not valid JSON: {err.msg} at character {err.pos + 1}"
                    yield ReadItem(source, number, reason="invalid_json", message=message, raw=snippet(line))
        return
    with path.open("r", encoding=det.encoding) as f:
        head = f.read(SNIFF_BYTES).lstrip("\ufeff").lstrip()
    if head.startswith("["):  # a list is walked item by item: a large export is never held whole
        yield from _list_items(path, det.encoding)
        return
    text = path.read_text(encoding=det.encoding).lstrip("\ufeff")
    yield from values_of_text(source, text)


def _list_items(path: Path, encoding: str) -> Iterator[JsonValue | ReadItem]:
    """The items of a file that is one JSON list; where it stops being JSON, one problem for the rest."""
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding) as f:
        stream = JsonStream(f)
        try:
            stream.enter("[", "the list of records")
            for line in stream.items():
                yield JsonValue(line, stream.value())
            if not stream.rest_is_empty():
                yield ReadItem(str(path), stream.line, reason="invalid_json", message="extra data after the JSON list")
        except StreamError as err:
            message = f"{err}; the rest of the list could not be read"
            yield ReadItem(str(path), err.line, reason=err.reason, message=message, raw=snippet(err.raw))


def values_of_text(source: str, text: str) -> Iterator[JsonValue | ReadItem]:
    """The JSON values of a text already in memory (a zip member, a companion file): one JSON document
    (a list gives its items), or JSONL when the text is several JSON values, one a line."""
    text = text.lstrip("\ufeff")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg != "Extra data":
            message = f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
            yield ReadItem(source, err.lineno, reason="invalid_json", message=message, raw=snippet(text[:2000]))
            return
        yield from _lines_of_text(source, text)
        return
    if isinstance(doc, list):
        yield from (JsonValue(1, item) for item in doc)
    else:
        yield JsonValue(1, doc)


def _lines_of_text(source: str, text: str) -> Iterator[JsonValue | ReadItem]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield JsonValue(number, json.loads(line))
        except json.JSONDecodeError as err:
            message = f"line {number} is not valid JSON: {err.msg} at character {err.pos + 1}"
            yield ReadItem(source, number, reason="invalid_json", message=message, raw=snippet(line))


def first_values(sample: Sample) -> list[Any]:
    """The sample's first JSON values, for sniffing: a document's items (or itself), or the first JSONL lines."""
    if sample.document is not NOT_JSON:
        doc = sample.document
        return list(doc[:5]) if isinstance(doc, list) else [doc]
    return list(sample.jsonl) or _line_values(sample)


def sniff_values(sample: Sample, is_mine: Callable[[Any], bool], looks_mine: Callable[[str], bool]) -> float:
    """How sure a JSON format's reader is: 0.9 when most of the sample's first values are its records, 0.6 when
    some are, or (a file too large to parse whole for a look) when its first bytes look like it."""
    values = first_values(sample)
    if values:
        known = sum(map(is_mine, values))
        return 0.9 if 2 * known > len(values) else (0.6 if known else 0.0)
    return 0.6 if looks_mine(sample.text) else 0.0


def wrong_value(source: str, line: int, data: Any, expected: str, fix: str) -> ReadItem:
    """A JSON value that is not what the format holds: set aside, saying what was expected."""
    keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
    message = f"not {expected} (keys: {keys}); {fix}"
    return ReadItem(source, line, reason="unknown_shape", message=message, raw=_dump(data))


def _dump(data: Any) -> str:
    try:
        return snippet(json.dumps(data, ensure_ascii=False))
    except (TypeError, ValueError):
        return snippet(repr(data))


# --------------------------------------------------------------------------- one ticket


def mapping_for(mapping: FieldMapping, speakers: Iterable[str], owners: Iterable[str]) -> FieldMapping:
    """The mapping for one ticket, where the export's flags say who is who.

    Agent names given for other files of the import (none of them writes here) must not make this ticket's
    agents customers: the export's own flags decide then. Every writer the flags do not mark as the agent
    (a requester, a contact, an end-user) is the customer side, known rather than guessed from who wrote
    first: added to the role map unless the user mapped that name already.
    """
    present = {" ".join(s.casefold().split()): s for s in speakers}
    update: dict[str, Any] = {}
    if mapping.agent and not any(" ".join(a.casefold().split()) in present for a in mapping.agent):
        update["agent"] = []
    agents = {" ".join(o.casefold().split()) for o in owners}
    customers = {name.strip().lower() for key, name in present.items() if key not in agents}
    known = {name: "user" for name in customers if name not in mapping.role_map}
    if known:
        update["role_map"] = {**mapping.role_map, **known}
    return mapping.model_copy(update=update) if update else mapping


def ticket_item(
    source: str,
    messages: list[ChatMessage],
    mapping: FieldMapping,
    *,
    owners: Iterable[str],
    conv_id: str,
    line: int | None,
    shape: str,
    metadata: dict[str, Any] | None = None,
    left_out: dict[str, int] | None = None,
) -> ReadItem:
    """One ticket as a ``ReadItem`` (``chats.conversation_item``), its messages in time order.

    ``left_out``: counts of what is not a turn beyond system lines and media (``private_notes``,
    ``tool_calls``...), added to the item's counts so that the report shows them.
    """
    # Exports list comments in time order mostly; audits and pages may not be. Lacking a time, keep the file's order.
    ordered = sorted(messages, key=lambda m: time_key(m.time)) if all(m.time for m in messages) else messages
    speakers = [m.speaker for m in ordered if m.kind == "text" and m.text.strip()]
    owners = list(owners)
    item = conversation_item(
        source, ordered, mapping_for(mapping, speakers, owners), owners=owners, conv_id=conv_id, line=line,
        shape=shape, metadata=metadata,
    )  # fmt: skip
    if item.counts is not None:
        item.counts.update({k: v for k, v in (left_out or {}).items() if v})
    return item
