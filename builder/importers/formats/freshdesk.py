"""Freshdesk: tickets, with their replies in a conversations file joined on ``ticket_id`` (or embedded).

Shapes read (from the Freshdesk API v2's public reference): tickets ``[{id, subject, description_text,
description (HTML), requester_id, created_at, ...}]`` (``requester`` included or not), and conversations
``[{ticket_id, body_text, body (HTML), incoming, private, user_id, created_at}]``; or tickets with an
embedded ``conversations`` list (``?include=conversations``). JSON lists or JSONL.

How the files come together:

- a folder or zip holding only Freshdesk files (tickets and conversations) is one input: every
  conversations file in it is joined to every tickets file in it;
- a tickets file finds the conversations files beside it, in the same folder;
- a conversations file is read through its tickets file: given alone it is set aside with a message
  saying so (``collect_files`` leaves it out when its tickets file is among the inputs, see
  ``read_along_with``).

The opening message is the ticket's description, from the requester. ``incoming`` replies are the
customer's, the others the agent's; ``private`` notes are not turns (counted as ``private_notes``).
Replies whose ticket is in no tickets file are set aside (``ticket_not_found``), never dropped.
The conversations are held in memory, by ticket, while the tickets are read.
"""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.bundle import Bundle
from builder.importers.chats import ChatMessage
from builder.importers.helpdesk import (
    JsonValue,
    first_values,
    html_has_image,
    html_to_text,
    iter_values,
    json_container,
    parse_time,
    sniff_values,
    ticket_item,
    values_of_text,
    wrong_value,
)
from builder.importers.registry import Sample, register
from builder.importers.types import SNIFF_BYTES, Container, DetectedFormat, ReadItem, object_at

_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
_DATA_SUFFIXES = (*_JSON_SUFFIXES, ".csv", ".tsv", ".txt", ".text", ".log")
_TICKET_HINT = re.compile(r'"requester_id"\s*:.*?"(?:description_text|fr_due_by|responder_id)"\s*:', re.DOTALL)
_TICKET_HINT_BACK = re.compile(r'"(?:description_text|fr_due_by|responder_id)"\s*:.*?"requester_id"\s*:', re.DOTALL)
_REPLY_KEYS = ('"ticket_id"', '"incoming"', '"private"')
_MEMBERS_LOOKED_AT = 20  # a folder with more data files than this is not looked into when sniffing
_FIX = "export Freshdesk tickets (and their conversations) as JSON (set format to read it another way)"
ALONE = (
    "{path} holds Freshdesk conversations (replies), which are joined to their tickets: import it with its "
    "tickets file (the tickets file in the same folder, or the folder or zip holding both)"
)


def is_ticket(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "requester_id" in value
        and any(k in value for k in ("description_text", "fr_due_by", "responder_id", "conversations"))
    )


def is_reply(value: Any) -> bool:
    return isinstance(value, dict) and "ticket_id" in value and "incoming" in value


def kind_of_head(text: str) -> str | None:
    """``tickets``, ``conversations`` or None, from a file's first bytes (cheap: no JSON parsing)."""
    if _TICKET_HINT.search(text) or _TICKET_HINT_BACK.search(text):
        return "tickets"
    if all(key in text for key in _REPLY_KEYS) and ('"body_text"' in text or '"body"' in text):
        return "conversations"
    return None


def _head(path: Path) -> str:
    with path.open("rb") as f:
        return f.read(SNIFF_BYTES).decode("utf-8", errors="replace")


def _siblings(path: Path, kind: str) -> list[Path]:
    """The Freshdesk files of one kind beside ``path``, in the same folder."""
    found = []
    for other in sorted(path.parent.iterdir()):
        is_data = other != path and other.is_file() and other.suffix.lower() in _JSON_SUFFIXES
        if is_data and kind_of_head(_head(other)) == kind:
            found.append(other)
    return found


def _kinds(bundle: Bundle) -> dict[str, str | None]:
    """Each data file of a folder or zip: ``tickets``, ``conversations`` or None, from its first bytes."""
    kinds = {}
    for member in bundle.members:
        if member.lower().endswith(_DATA_SUFFIXES):
            with bundle.open(member) as f:
                kinds[member] = kind_of_head(f.read(SNIFF_BYTES))
    return kinds


def _text(bundle: Bundle, member: str) -> str:
    with bundle.open(member) as f:
        return f.read()


@register
class FreshdeskReader:
    name: ClassVar[str] = "freshdesk"
    title: ClassVar[str] = "Freshdesk tickets and conversations"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            names = [m for m in sample.members if m.lower().endswith(_DATA_SUFFIXES)]
            if not names or len(names) > _MEMBERS_LOOKED_AT:
                return 0.0
            with Bundle(sample.path) as bundle:
                kinds = _kinds(bundle)
            return 0.9 if "tickets" in kinds.values() and all(kinds.values()) else 0.0
        return sniff_values(sample, lambda v: is_ticket(v) or is_reply(v), lambda text: kind_of_head(text) is not None)

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        if sample.is_bundle:
            with Bundle(sample.path) as bundle:
                kinds = _kinds(bundle)
            members = {
                kind: ", ".join(m for m, k in kinds.items() if k == kind) for kind in ("tickets", "conversations")
            }
            return DetectedFormat(sample.path, self.name, Container.JSON, fields=members)
        values = first_values(sample)
        kind = "conversations" if values and is_reply(values[0]) else "tickets"
        fields: dict[str, Any] = {"holds": kind}
        if kind == "tickets":
            fields["conversations"] = ", ".join(p.name for p in _siblings(sample.path, "conversations")) or None
        return DetectedFormat(sample.path, self.name, json_container(sample), sample.encoding or "utf-8", fields=fields)

    def read_along_with(self, path: Path) -> Path | None:
        """The tickets file that reads this conversations file (for ``collect_files``), or None."""
        if (
            not path.is_file()
            or path.suffix.lower() not in _JSON_SUFFIXES
            or kind_of_head(_head(path)) != "conversations"
        ):
            return None
        tickets = _siblings(path, "tickets")
        return tickets[0] if tickets else None

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        if path.is_dir() or zipfile.is_zipfile(path):
            yield from _read_bundle(path, mapping)
            return
        if det.fields.get("holds") == "conversations":
            yield ReadItem(str(path), None, reason="conversations_without_tickets", message=ALONE.format(path=path))
            return
        replies = _Replies()
        for other in _siblings(path, "conversations"):
            yield from replies.add(str(other), values_of_text(str(other), other.read_text(encoding="utf-8-sig")))
        read: set[str] = set()
        yield from _tickets(str(path), iter_values(path, det), replies, mapping, read, alone=not replies.files)
        # Replies of tickets in another tickets file beside this one are read with that file.
        for other in _siblings(path, "tickets"):
            for value in values_of_text(str(other), other.read_text(encoding="utf-8-sig")):
                if isinstance(value, JsonValue) and is_ticket(value.data):
                    read.add(str(value.data.get("id")))
        yield from replies.unclaimed(read)


class _Replies:
    """Conversations by ticket id, as read from the conversations files."""

    def __init__(self) -> None:
        self.by_ticket: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.where: dict[str, tuple[str, int]] = {}
        self.files: list[str] = []

    def add(self, source: str, values: Iterator[JsonValue | ReadItem]) -> Iterator[ReadItem]:
        self.files.append(source)
        for value in values:
            if isinstance(value, ReadItem):
                yield value
                continue
            for reply in value.data if isinstance(value.data, list) else [value.data]:
                if is_reply(reply):
                    key = str(reply["ticket_id"])
                    self.by_ticket[key].append(reply)
                    self.where.setdefault(key, (source, value.line))
                else:
                    yield wrong_value(source, value.line, reply, "a Freshdesk conversation", _FIX)

    def unclaimed(self, read: set[str]) -> Iterator[ReadItem]:
        for key, replies in self.by_ticket.items():
            if key not in read:
                source, line = self.where[key]
                message = (
                    f"{len(replies)} replies of ticket {key}, which is in no tickets file read with them: import the "
                    "tickets file that holds it together with this conversations file"
                )
                counts = {"ticket_not_found": len(replies)}
                yield ReadItem(source, line, reason="ticket_not_found", message=message, counts=counts)


def _read_bundle(path: Path, mapping: FieldMapping) -> Iterator[ReadItem]:
    with Bundle(path) as bundle:
        kinds = _kinds(bundle)
        replies = _Replies()
        for member in (m for m, k in kinds.items() if k == "conversations"):
            source = bundle.source(member)
            yield from replies.add(source, values_of_text(source, _text(bundle, member)))
        read: set[str] = set()
        for member in (m for m, k in kinds.items() if k == "tickets"):
            source = bundle.source(member)
            values = values_of_text(source, _text(bundle, member))
            yield from _tickets(source, values, replies, mapping, read, alone=False)
    yield from replies.unclaimed(read)


def _tickets(
    source: str,
    values: Iterator[JsonValue | ReadItem],
    replies: _Replies,
    mapping: FieldMapping,
    read: set[str],
    *,
    alone: bool,
) -> Iterator[ReadItem]:
    """Each ticket with its replies (embedded, or from the conversations files)."""
    for value in values:
        if isinstance(value, ReadItem):
            yield value
            continue
        for ticket in value.data if isinstance(value.data, list) else [value.data]:
            if not is_ticket(ticket):
                yield wrong_value(source, value.line, ticket, "a Freshdesk ticket", _FIX)
                continue
            key = str(ticket.get("id"))
            read.add(key)
            embedded = ticket.get("conversations") if isinstance(ticket.get("conversations"), list) else []
            joined = [*embedded, *replies.by_ticket.get(key, [])]
            if alone and not embedded:
                message = (
                    f"ticket {key} has only its opening message: no Freshdesk conversations file beside {source} "
                    "(put the conversations file in the same folder, or import the folder holding both)"
                )
                yield ReadItem(source, value.line, reason="no_conversations_file", message=message)
                continue
            yield _ticket_item(source, value.line, ticket, joined, mapping)


def _ticket_item(
    source: str, line: int, ticket: dict[str, Any], replies: list[dict[str, Any]], mapping: FieldMapping
) -> ReadItem:
    requester = ticket.get("requester_id")
    included = object_at(ticket, "requester")
    customer = str(included.get("name") or f"requester {requester}")
    opening = ticket.get("description_text")
    if not isinstance(opening, str) or not opening.strip():
        opening = html_to_text(str(ticket.get("description") or ""))
    messages = [ChatMessage(customer, opening, parse_time(ticket.get("created_at")))]
    agents: set[str] = set()
    private = 0
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        if reply.get("private"):
            private += 1
            continue
        user = reply.get("user_id")
        if reply.get("incoming"):
            speaker = customer if str(user) == str(requester) else f"contact {user}"
        else:
            speaker = f"agent {user}"
            agents.add(speaker)
        text = reply.get("body_text")
        if not isinstance(text, str) or not text.strip():
            text = html_to_text(str(reply.get("body") or ""))
        media = not text and (bool(reply.get("attachments")) or html_has_image(str(reply.get("body") or "")))
        messages.append(
            ChatMessage(speaker, text, parse_time(reply.get("created_at")), kind="media" if media else "text")
        )
    meta = {"ticket_id": ticket.get("id"), **({"subject": ticket["subject"]} if ticket.get("subject") else {})}
    return ticket_item(
        source, messages, mapping, owners=agents, conv_id=str(ticket.get("id")), line=line, shape="freshdesk",
        metadata=meta, left_out={"private_notes": private},
    )  # fmt: skip
