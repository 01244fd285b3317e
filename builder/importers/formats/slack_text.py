"""Slack's message text as people read it: mentions by name, links with their words, bot attachments.

Slack stores ``<@U123>`` for a mention, ``<#C123|general>`` for a channel, ``<https://x|words>`` for a link
and escapes ``&``, ``<`` and ``>`` as HTML entities (its "mrkdwn").
"""

from __future__ import annotations

import html
import re
from typing import Any

_ANGLE = re.compile(r"<([^<>]+)>")


def speaker_name(profile: Any, user: Any) -> str:
    """A person's name from a ``users.json`` entry or a message's ``user_profile``: real name, display name, handle."""
    for holder in (profile, user):
        if not isinstance(holder, dict):
            continue
        for key in ("real_name", "display_name", "real_name_normalized", "name"):
            value = holder.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


def render(text: str, users: dict[str, str]) -> str:
    """Slack mrkdwn to plain text."""

    def one(found: re.Match[str]) -> str:
        inner = found.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (users.get(target[1:]) or label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_ANGLE.sub(one, text))


def message_text(record: dict[str, Any], users: dict[str, str]) -> str:
    """A message's text; a post whose text is only in ``attachments`` (bots, integrations) gives theirs."""
    text = record.get("text")
    if isinstance(text, str) and text.strip():
        return render(text, users)
    parts: list[str] = []
    for attachment in record.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        own = [attachment.get(k) for k in ("pretext", "title", "text")]
        texts = [p for p in own if isinstance(p, str) and p.strip()]
        if not texts and isinstance(attachment.get("fallback"), str):
            texts = [attachment["fallback"]]
        parts.extend(texts)
    return render("\n".join(parts), users)
