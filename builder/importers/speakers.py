"""Who is the agent: chat apps name people, support training needs to know which of them is the business.

The order of evidence, strongest first:

1. the user's word: ``agent`` names (``--agent NAME``, the Data tab's Agent field) and ``drop_speakers``;
   the role map (``NAME=user``) still works too;
2. the export's own owner, where the format says it (Telegram's account, a helpdesk's agents): ``owners``;
3. names that say so ("Acme Support", "Soporte Tienda") and role words ("agent", "cliente");
4. a chat of exactly two unknown people: the first to write is the customer (marked as guessed).

Once an agent is known, every other speaker is the customer side, so group chats are read. When no
agent can be told among three or more people, the conversation is set aside with reason
``agent_unknown`` and the speakers with their message counts, so the user can pick.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from builder.config.recipe import FieldMapping
from builder.importers.types import RecordError
from builder.importers.vocabulary import AGENT_NAME_WORDS, known_role


@dataclass(frozen=True)
class SpeakerRoles:
    roles: dict[str, str]  # speaker name -> user, assistant, system or drop
    guessed: bool  # the agent was taken from the order of two unknown people


def _same(name: str) -> str:
    return " ".join(name.casefold().split())


def assign_roles(speakers: Iterable[str], mapping: FieldMapping, owners: Iterable[str] = ()) -> SpeakerRoles:
    """Roles for the speakers of one conversation (in order of their first message).

    Raises ``RecordError("agent_unknown")`` when three or more people write and none is known as the agent.
    """
    names = list(dict.fromkeys(speakers))
    agents = {_same(a) for a in mapping.agent}
    dropped = {_same(d) for d in mapping.drop_speakers}
    owner_names = {_same(o) for o in owners if o}
    roles: dict[str, str] = {}
    unknown: list[str] = []
    for name in names:
        key = _same(name)
        if key in dropped:
            roles[name] = "drop"
        elif key in agents:
            roles[name] = "assistant"
        elif agents and name.strip().lower() not in mapping.role_map:
            roles[name] = "user"  # the user named the agent: everyone else is the customer side
        elif (role := known_role(name, mapping)) is not None:
            roles[name] = role
        elif not agents and (key in owner_names or _says_agent(name)):
            roles[name] = "assistant"
        else:
            unknown.append(name)
    if not unknown:
        return SpeakerRoles(roles, False)
    if "assistant" in roles.values():
        roles.update(dict.fromkeys(unknown, "user"))  # a group chat: everyone but the agent is the customer side
        return SpeakerRoles(roles, False)
    if len(unknown) <= 2 and "user" not in roles.values():
        free = ["user", "assistant"][: len(unknown)]
        roles.update(zip(unknown, free, strict=True))
        return SpeakerRoles(roles, True)
    if len(unknown) == 1:  # the customer is known: the one other speaker answers
        roles[unknown[0]] = "assistant"
        return SpeakerRoles(roles, True)
    raise RecordError(
        "agent_unknown",
        f"{len(unknown)} people write ({', '.join(unknown)}) and none is known as the agent; name the agent "
        "(the Data tab's Agent field, or agent in the mapping)",
    )


def _says_agent(name: str) -> bool:
    """A display name such as "Acme Support" or "Soporte Tienda"."""
    return bool(set(re.findall(r"\w+", name.lower())) & AGENT_NAME_WORDS)


def speaker_counts(speakers: Iterable[str]) -> dict[str, int]:
    """Messages per speaker, for ``ReadItem.speakers``."""
    return dict(Counter(speakers))
