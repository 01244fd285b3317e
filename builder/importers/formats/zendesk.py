"""Zendesk Support: tickets with their comments, and ticket audits.

Shapes read (from the Zendesk REST API's public reference):

- tickets with comments: ``{"tickets": [...], "users": [...]}`` (users side-loaded), a JSON list of
  tickets, or JSONL of tickets (the JSON export, the incremental export's lines); each ticket has
  ``requester_id`` and ``comments: [{author_id, body|plain_body|html_body, public, created_at}]``.
  A ticket without comments gives its ``description`` as the requester's message.
- one ticket's comments: ``{"comments": [...]}`` (``GET /tickets/{id}/comments``).
- ticket audits: ``{"audits": [{ticket_id, author_id, created_at, events: [...]}]}`` or JSONL of audits,
  grouped by ``ticket_id``; ``Comment`` events are the messages.

Who is who: the ticket's requester is the customer; side-loaded ``users`` give names and roles
(``end-user`` is the customer side, ``agent``/``admin`` the agent); without them, any other author of
a public comment is an agent. Private comments (internal notes) are not turns: counted as
``private_notes``. An audit that adds no comment (a status change) counts as a system line.
Audits are grouped in memory by ticket (the audit list interleaves tickets): a few strings per comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from builder.config.recipe import FieldMapping
from builder.importers.chats import ChatMessage, MessageKind
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
    wrong_value,
)
from builder.importers.registry import Sample, register
from builder.importers.types import Container, DetectedFormat, ReadItem

AGENT_ROLES = frozenset(("agent", "admin"))
_FRESHDESK_KEYS = ("description_text", "fr_due_by", "responder_id")  # a Freshdesk ticket, not a Zendesk one
_TEXT_HINT = re.compile(r'"(?:audits|events)"\s*:\s*\[|"requester_id"\s*:.*"comments"\s*:\s*\[', re.DOTALL)


def _is_ticket(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "requester_id" in value
        and ("comments" in value or "submitter_id" in value)
        and not any(k in value for k in _FRESHDESK_KEYS)
    )


def _is_audit(value: Any) -> bool:
    return isinstance(value, dict) and "ticket_id" in value and isinstance(value.get("events"), list)


def _is_comment(value: Any) -> bool:
    return isinstance(value, dict) and "author_id" in value and "public" in value


def _kind(value: Any) -> str | None:
    """What a top-level JSON value holds: tickets, audits, comments (of one ticket), or None."""
    if _is_ticket(value):
        return "tickets"
    if _is_audit(value):
        return "audits"
    if isinstance(value, dict):
        for key, test in (("tickets", _is_ticket), ("audits", _is_audit), ("comments", _is_comment)):
            items = value.get(key)
            if isinstance(items, list) and items and test(items[0]):
                return key
    return None


@dataclass
class _People:
    """Side-loaded users: id -> (name, role)."""

    names: dict[Any, str] = field(default_factory=dict)
    roles: dict[Any, str] = field(default_factory=dict)

    def add(self, users: Any) -> None:
        for user in users if isinstance(users, list) else []:
            if isinstance(user, dict) and user.get("id") is not None:
                key = str(user["id"])
                if user.get("name"):
                    self.names[key] = str(user["name"])
                if user.get("role"):
                    self.roles[key] = str(user["role"])

    def name(self, user_id: Any, agent: bool) -> str:
        """The side-loaded name, else what the ticket says of them (``agent 123``, ``requester 456``)."""
        return self.names.get(str(user_id)) or f"{'agent' if agent else 'requester'} {user_id}"

    def is_agent(self, user_id: Any, requester: Any) -> bool:
        role = self.roles.get(str(user_id))
        if role is not None:
            return role in AGENT_ROLES
        return requester is not None and str(user_id) != str(requester)


@dataclass
class _Ticket:
    """One ticket's messages as they are gathered (from its comments, or from its audits)."""

    ticket_id: Any
    line: int
    requester: Any = None
    subject: str | None = None
    messages: list[ChatMessage] = field(default_factory=list)
    authors: list[Any] = field(default_factory=list)  # author id of each message, in step with ``messages``
    private_notes: int = 0


def _comment_text(comment: dict[str, Any]) -> str:
    for key in ("plain_body", "body"):
        if isinstance(comment.get(key), str) and comment[key].strip():
            return html_to_text(comment[key])
    html = comment.get("html_body")
    return html_to_text(html) if isinstance(html, str) else ""


def _add_comment(ticket: _Ticket, comment: dict[str, Any], time: Any, author: Any = None) -> None:
    if comment.get("public") is False:
        ticket.private_notes += 1
        return
    author = comment.get("author_id", author)
    text = _comment_text(comment)
    media = bool(comment.get("attachments")) or html_has_image(str(comment.get("html_body") or ""))
    kind: MessageKind = "text" if text else ("media" if media else "text")
    ticket.messages.append(ChatMessage(str(author), text, parse_time(comment.get("created_at", time)), kind=kind))
    ticket.authors.append(author)


@register
class ZendeskReader:
    name: ClassVar[str] = "zendesk"
    title: ClassVar[str] = "Zendesk tickets or ticket audits"
    container: ClassVar[Container] = Container.JSON

    def sniff(self, sample: Sample) -> float:
        if sample.is_bundle:
            return 0.0
        return sniff_values(sample, lambda v: _kind(v) is not None, lambda text: bool(_TEXT_HINT.search(text)))

    def describe(self, sample: Sample, mapping: FieldMapping) -> DetectedFormat:
        values = first_values(sample)
        kind = _kind(values[0]) if values else None
        fields = {"holds": kind or "tickets or audits", "customer": "requester_id", "private": "public=false"}
        return DetectedFormat(sample.path, self.name, json_container(sample), sample.encoding or "utf-8", fields=fields)

    def read(self, path: Path, det: DetectedFormat, mapping: FieldMapping) -> Iterator[ReadItem]:
        source = str(path)
        people = _People()
        audited: dict[str, _Ticket] = {}  # audits interleave tickets: gathered until the end of the file
        for value in iter_values(path, det):
            if isinstance(value, ReadItem):
                yield value
                continue
            yield from self._value(source, value, people, audited, mapping)
        for ticket in audited.values():
            yield _item(source, ticket, people, mapping)

    def _value(
        self, source: str, value: JsonValue, people: _People, audited: dict[str, _Ticket], mapping: FieldMapping
    ) -> Iterator[ReadItem]:
        data, kind = value.data, _kind(value.data)
        if isinstance(data, dict):
            people.add(data.get("users"))
        if kind == "tickets":
            for ticket in data["tickets"] if isinstance(data.get("tickets"), list) else [data]:
                if _is_ticket(ticket):
                    yield _item(source, _from_ticket(ticket, value.line), people, mapping)
                else:
                    yield wrong_value(source, value.line, ticket, "a Zendesk ticket", _FIX)
        elif kind == "audits":
            requesters = {str(t.get("id")): t.get("requester_id") for t in data.get("tickets") or [] if _is_ticket(t)}
            for audit in data["audits"] if isinstance(data.get("audits"), list) else [data]:
                if _is_audit(audit):
                    _add_audit(audited, audit, value.line, requesters)
                else:
                    yield wrong_value(source, value.line, audit, "a Zendesk ticket audit", _FIX)
        elif kind == "comments":
            ticket = _Ticket(data.get("ticket_id") or Path(source).stem, value.line)
            for comment in data["comments"]:
                if isinstance(comment, dict):
                    _add_comment(ticket, comment, comment.get("created_at"))
            yield _item(source, ticket, people, mapping)
        elif not _empty_page(data):
            yield wrong_value(source, value.line, data, "a Zendesk ticket, audit or comment list", _FIX)


def _empty_page(data: Any) -> bool:
    """A page of the API with nothing on it (``{"tickets": [], "next_page": null}``), or only users."""
    if not isinstance(data, dict):
        return False
    lists = [data.get(key) for key in ("tickets", "audits", "comments")]
    return any(items == [] for items in lists) or (bool(data.get("users")) and all(items is None for items in lists))


_FIX = "export tickets with their comments, or ticket audits, as JSON (set format to read it another way)"


def _from_ticket(ticket: dict[str, Any], line: int) -> _Ticket:
    found = _Ticket(ticket.get("id"), line, ticket.get("requester_id"), ticket.get("subject") or None)
    comments = ticket.get("comments")
    if isinstance(comments, list) and comments:
        for comment in comments:
            if isinstance(comment, dict):
                _add_comment(found, comment, comment.get("created_at"))
    elif isinstance(ticket.get("description"), str):  # no comments exported: the description opened the ticket
        opening = {"author_id": found.requester, "body": ticket["description"], "public": True}
        _add_comment(found, opening, ticket.get("created_at"))
    return found


def _add_audit(audited: dict[str, _Ticket], audit: dict[str, Any], line: int, requesters: dict[str, Any]) -> None:
    key = str(audit["ticket_id"])
    ticket = audited.setdefault(key, _Ticket(audit["ticket_id"], line, requesters.get(key)))
    before = len(ticket.messages) + ticket.private_notes
    for event in audit["events"]:
        if not isinstance(event, dict):
            continue
        if event.get("type") == "Create" and event.get("field_name") == "requester_id":
            ticket.requester = event.get("value")
        elif event.get("type") == "Create" and event.get("field_name") == "subject":
            ticket.subject = event.get("value")
        elif event.get("type") == "Comment":
            _add_comment(ticket, event, audit.get("created_at"), author=audit.get("author_id"))
    if len(ticket.messages) + ticket.private_notes == before:  # an update with no comment: a status change...
        ticket.messages.append(
            ChatMessage("Zendesk", "ticket updated", parse_time(audit.get("created_at")), kind="system")
        )
        ticket.authors.append(None)


def _item(source: str, ticket: _Ticket, people: _People, mapping: FieldMapping) -> ReadItem:
    requester = ticket.requester
    if requester is None:  # no requester said: whoever wrote first opened the ticket
        requester = next((a for a, m in zip(ticket.authors, ticket.messages, strict=True) if m.kind == "text"), None)
    agents: set[str] = set()
    for author, message in zip(ticket.authors, ticket.messages, strict=True):
        if author is None:
            continue
        agent = people.is_agent(author, requester)
        message.speaker = people.name(author, agent)
        if agent:
            agents.add(message.speaker)
    meta = {"ticket_id": ticket.ticket_id, **({"subject": ticket.subject} if ticket.subject else {})}
    return ticket_item(
        source, ticket.messages, mapping, owners=agents, conv_id=str(ticket.ticket_id), line=ticket.line,
        shape="zendesk", metadata=meta, left_out={"private_notes": ticket.private_notes},
    )  # fmt: skip
