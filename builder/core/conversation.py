"""The one normalised conversation type that every reader produces and every use case consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


def is_role(value: str) -> TypeGuard[Role]:
    """A role a Message may have (a role map may also say "drop", and readers pass roles on as plain text)."""
    return value in ROLES


@dataclass(slots=True)
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(slots=True)
class Conversation:
    """A chat between a customer (``user``) and an agent (``assistant``).

    ``source`` and ``line`` point back to where the conversation was read, so that
    every report and quarantine entry can name the file and line.
    ``metadata`` carries what a use case may need beyond the turns: a sentiment
    label, a satisfaction score, a target language, retrieved passage ids...
    """

    messages: list[Message]
    id: str = ""
    source: str | None = None
    line: int | None = None
    language: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def agent_turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "assistant")

    def to_openai(self) -> dict[str, Any]:
        """OpenAI chat format plus a ``metadata`` object (ignored by readers that don't know it)."""
        meta: dict[str, Any] = {"id": self.id, "source": self.source, "line": self.line}
        if self.language:
            meta["language"] = self.language
        meta.update(self.metadata)
        return {"messages": [m.to_dict() for m in self.messages], "metadata": meta}

    @classmethod
    def from_openai(cls, record: dict[str, Any]) -> Conversation:
        """The inverse of ``to_openai``: a line of our own JSONL outputs (feedback corrections read them back)."""
        meta = dict(record.get("metadata") or {})
        return cls(
            messages=[Message(role=m["role"], content=m["content"]) for m in record["messages"]],
            id=str(meta.pop("id", "") or ""),
            source=meta.pop("source", None),
            line=meta.pop("line", None),
            language=meta.pop("language", None),
            metadata=meta,
        )
