"""What every chat-app and helpdesk reader shares: messages by named people, cut into conversations.

A reader turns its format into ``ChatMessage``s (speaker, text, time, kind); this module cuts a long
chat into sessions by silence, decides who the agent is (``builder.importers.speakers``) and makes the
``ReadItem`` with its message counts, so that every reader reports the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from builder.config.recipe import FieldMapping
from builder.core.conversation import Conversation, Message, is_role
from builder.importers.speakers import assign_roles
from builder.importers.types import ReadItem, RecordError, snippet

# A chat that falls silent this long starts a new conversation: support chats are answered within the
# working day, and a customer coming back the next day is a new case.
SESSION_GAP = timedelta(hours=6)

MessageKind = Literal["text", "system", "media"]


@dataclass
class ChatMessage:
    """One message as an export holds it. ``system``: a notice of the app (joined, encrypted, deleted);
    ``media``: a message that is only an attachment placeholder (``<Media omitted>``)."""

    speaker: str
    text: str
    time: datetime | None = None
    line: int | None = None  # where it starts in the file (for text formats), else None
    kind: MessageKind = "text"
    meta: dict[str, Any] = field(default_factory=dict)


def sessions(messages: Iterable[ChatMessage], gap: timedelta = SESSION_GAP) -> Iterator[list[ChatMessage]]:
    """Consecutive runs of messages with no silence longer than ``gap`` (messages without a time never cut)."""
    current: list[ChatMessage] = []
    last: datetime | None = None
    for message in messages:
        if current and message.time is not None and last is not None and message.time - last > gap:
            yield current
            current = []
        current.append(message)
        if message.time is not None:
            last = message.time
    if current:
        yield current


def conversation_item(
    source: str,
    messages: list[ChatMessage],
    mapping: FieldMapping,
    *,
    owners: Iterable[str] = (),
    conv_id: str = "",
    line: int | None = None,
    shape: str,
    metadata: dict[str, Any] | None = None,
) -> ReadItem:
    """One conversation from one session: text messages become turns, system and media lines are counted.

    ``owners``: the export's own account(s) where the format says so (the agent unless the user names one).
    ``shape``: the reader's name, for the report. The item carries ``speakers`` and ``counts`` either way.
    """
    line = line if line is not None else next((m.line for m in messages if m.line is not None), None)
    texts = [m for m in messages if m.kind == "text" and m.text.strip()]
    speakers = dict(Counter(m.speaker for m in texts))
    counts = {
        "messages": len(texts),
        "system_lines": sum(m.kind == "system" for m in messages),
        "media_only": sum(m.kind == "media" for m in messages),
    }
    raw = snippet("\n".join(f"{m.speaker}: {m.text}" for m in messages[:50]))
    if not texts:
        return ReadItem(
            source, line, reason="no_text", message="only system notices or attachments, no message text",
            raw=raw, shape=shape, speakers=speakers, counts=counts,
        )  # fmt: skip
    try:
        roles = assign_roles([m.speaker for m in texts], mapping, owners)
    except RecordError as err:
        return ReadItem(
            source, line, reason=err.reason, message=str(err), raw=raw, shape=shape, speakers=speakers, counts=counts
        )
    turns = [Message(role, text) for role, text in ((roles.roles[m.speaker], m.text) for m in texts) if is_role(role)]
    counts["dropped"] = len(texts) - len(turns)
    counts["messages"] = len(turns)
    meta: dict[str, Any] = {"speakers": {s: roles.roles[s] for s in speakers}, **(metadata or {})}
    if roles.guessed:
        meta["speakers_guessed"] = True
    first_time = next((m.time for m in messages if m.time is not None), None)
    if first_time is not None:
        meta["started_at"] = first_time.isoformat()
    conv = Conversation(turns, id=conv_id, source=source, line=line, metadata=meta)
    return ReadItem(source, line, conversation=conv, shape=shape, speakers=speakers, counts=counts)
