"""Names the importers recognise: role words, and the keys or columns that hold turns, roles, text and ids.

English first, then Spanish and a few other languages; detection also works by content
(``builder.importers.columns``), so these lists speed up the common cases rather than limit them.
"""

from __future__ import annotations

import re
from typing import Any

from builder.config.recipe import FieldMapping
from builder.importers.types import RecordError


def _words(text: str) -> list[str]:
    return text.split()


# Source role names that need no mapping (lower case). A recipe's role_map is looked up first.
DEFAULT_ROLES: dict[str, str] = {
    **dict.fromkeys(
        _words(
            "user human customer client cliente usuario usuaria prompter visitor caller consumer shopper "
            "question pregunta q you kunde utilisateur utente"
        ),
        "user",
    ),
    **dict.fromkeys(
        _words(
            "assistant gpt bot agent agente model chatgpt ai support soporte operator operador operadora "
            "representative rep advisor asesor asesora staff answer respuesta a helpdesk chatbot asistente "
            "atendente conseiller"
        ),
        "assistant",
    ),
    **dict.fromkeys(["system", "sistema", "instructions", "developer", "système"], "system"),
}
# Tool traffic in dataset formats (OpenAI ``tool``/``function``, ShareGPT ``function_call``/``observation``,
# Llama ``ipython``): not turns of a support chat, counted as ``tool_calls`` and ``tool_results`` instead.
TOOL_CALL_ROLES = frozenset(("function_call", "tool_call", "tool_calls"))
TOOL_RESULT_ROLES = frozenset(("tool", "function", "observation", "tool_response", "tool_result", "ipython"))
# Words that, inside a chat-app display name ("Acme Support", "Soporte Tienda"), mark the agent.
AGENT_NAME_WORDS = frozenset(
    _words(
        "support soporte agent agente bot assistant asistente team equipo service servicio helpdesk atención "
        "atencion operator operador store tienda shop official"
    )
)

MESSAGES_KEYS = (
    "messages",
    "conversations",
    "conversation",
    "turns",
    "dialog",
    "dialogue",
    "utterances",
    "log",
    "chat",
)
ROLE_KEYS = (
    "role", "from", "speaker", "author", "sender", "who", "participant", "speaker_role", "author_role",
    "user_type", "rol", "hablante", "emisor", "remitente", "autor", "papel", "rolle", "sprecher", "locuteur",
)  # fmt: skip
# Parts of a column or key name that say "role" or "text" when no exact name matches (author_type, message_body).
ROLE_NAME_PARTS = ("role", "speaker", "author", "sender")
CONTENT_NAME_PARTS = ("text", "body", "message", "content", "utterance", "mensaje", "texto", "contenido")
CONTENT_KEYS = (
    "content", "value", "text", "utterance", "message", "body", "utt", "sentence", "turn",
    "mensaje", "texto", "contenido", "mensagem", "nachricht", "texte", "contenu",
)  # fmt: skip
ID_KEYS = (
    "id", "conversation_id", "dialogue_id", "dialog_id", "conv_id", "session_id", "chat_id", "ticket_id", "uuid",
    "id_conversacion", "id_conversación", "conversacion_id", "id_chat", "id_ticket", "id_sesion", "conversa_id",
)  # fmt: skip
TIME_KEYS = ("timestamp", "time", "date", "datetime", "created_at", "sent_at", "fecha", "hora", "data_hora", "zeit")
PROMPT_KEYS = (
    "instruction", "question", "prompt", "query", "input", "customer", "customer_message", "customer_text",
    "request", "pregunta", "consulta", "mensaje_cliente", "english", "source", "src", "sentence", "text",
)  # fmt: skip
RESPONSE_KEYS = (
    "response", "answer", "reply", "output", "completion", "agent", "agent_reply", "agent_response",
    "respuesta", "spanish", "target", "tgt", "label", "score", "sentiment",
)  # fmt: skip
CONTAINER_KEYS = ("data", "dialogues", "dialogs", "conversations", "items", "records", "examples", "rows")
SYSTEM_KEYS = ("system", "system_prompt")


def first_key(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` that ``obj`` has, matched case-insensitively, spelled as ``obj`` spells it."""
    lowered = {k.lower(): k for k in obj}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


def known_role(raw: Any, mapping: FieldMapping) -> str | None:
    name = str(raw).strip().lower()
    return mapping.role_map.get(name) or DEFAULT_ROLES.get(name)


def map_role(raw: Any, mapping: FieldMapping) -> str:
    role = known_role(raw, mapping)
    if role is None:
        raise RecordError(
            "unknown_role", f"role {str(raw)!r} is not known; map it, e.g. --role-map {str(raw).strip()}=user"
        )
    return role


def speaker_roles(speakers: list[str], mapping: FieldMapping) -> tuple[dict[str, str], bool]:
    """Roles for display names: the role map, known words, then order (the first unknown speaker is the customer).

    The flag says whether any role was guessed from the order.
    """
    roles: dict[str, str] = {}
    unknown: list[str] = []
    for name in dict.fromkeys(speakers):
        role = known_role(name, mapping)
        if role is None and set(re.findall(r"\w+", name.lower())) & AGENT_NAME_WORDS:
            role = "assistant"
        if role is None:
            unknown.append(name)
        else:
            roles[name] = role
    if not unknown:
        return roles, False
    free = [r for r in ("user", "assistant") if r not in roles.values()]
    if len(unknown) > len(free):
        names = ", ".join(unknown)
        raise RecordError("unknown_role", f"cannot tell who is the customer among {names}; use --role-map NAME=user")
    for name, role in zip(unknown, free, strict=False):
        roles[name] = role
    return roles, True


_ID_LIKE = re.compile(r"[\w#:/.\-]{1,40}")


def is_id_or_role_word(text: str, mapping: FieldMapping) -> bool:
    """True for a turn that is only an identifier (``c1``, ``T-0042``, ``17``) or a role word (``cliente``).

    Such turns mean the columns were misread: a conversation id or a role column taken for text.
    """
    if len(text) > 60:  # the common case: a sentence
        return False
    text = text.strip()
    if known_role(text, mapping) is not None:
        return True
    return bool(_ID_LIKE.fullmatch(text)) and any(ch.isdigit() for ch in text)
