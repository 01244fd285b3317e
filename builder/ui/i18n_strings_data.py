"""The texts of the page as a whole (title, tabs) and of the Data tab, in English and Spanish.

``builder.ui.i18n`` merges this table with the others; a key belongs to one table only (a test checks).
"""

from __future__ import annotations

# key: (English, Spanish)
DATA_STRINGS: dict[str, tuple[str, str]] = {
    "title": ("# Domain assistant builder", "# Constructor de asistentes de dominio"),
    "subtitle": (
        "Import support chats, pick a recipe, fine-tune, and compare base and tuned models side by side.",
        "Importa chats de soporte, elige una receta, ajusta el modelo y compara el modelo base con el ajustado.",
    ),
    "language": ("Language", "Idioma"),
    "run": ("Run", "Ejecución"),
    "refresh": ("Refresh", "Actualizar"),
    # tabs
    "tab_data": ("Data", "Datos"),
    "tab_recipe": ("Recipe", "Receta"),
    "tab_train": ("Train", "Entrenar"),
    "tab_playground": ("Playground", "Pruebas"),
    "tab_evaluate": ("Evaluate", "Evaluar"),
    "tab_export": ("Export", "Exportar"),
    # data
    "data_intro": (
        "Upload transcripts or chat exports (WhatsApp, Telegram, Slack, Discord, Messenger, Zendesk, Freshdesk, "
        "Intercom, ChatGPT; JSONL, JSON, CSV/TSV, text, or a .zip) or pick a sample, check the format and the "
        "speakers found, then import.",
        "Sube transcripciones o exportaciones de chat (WhatsApp, Telegram, Slack, Discord, Messenger, Zendesk, "
        "Freshdesk, Intercom, ChatGPT; JSONL, JSON, CSV/TSV, texto, o un .zip) o elige un ejemplo, revisa el formato "
        "y los hablantes encontrados e importa.",
    ),
    "sample": ("Sample data", "Datos de ejemplo"),
    "upload": ("Upload files", "Subir archivos"),
    "use_sample": ("Use this sample", "Usar este ejemplo"),
    "mapping": ("Field mapping", "Mapeo de campos"),
    "format": ("Format", "Formato"),
    "messages_field": ("Messages field", "Campo de mensajes"),
    "role_field": ("Role field", "Campo de rol"),
    "content_field": ("Content field", "Campo de contenido"),
    "role_map": ("Role map (SOURCE=user, ...)", "Mapa de roles (ORIGEN=user, ...)"),
    "id_field": ("Conversation id field", "Campo de id de conversación"),
    "prompt_field": (
        "Customer message column (name or 0-based index)",
        "Columna del mensaje del cliente (nombre o índice desde 0)",
    ),
    "response_field": (
        "Agent reply column (name or 0-based index)",
        "Columna de la respuesta del agente (nombre o índice desde 0)",
    ),
    "system_field": ("System prompt column", "Columna de instrucción de sistema"),
    "header": ("First row is a header", "La primera fila es una cabecera"),
    "delimiter": ("Delimiter (CSV/TSV)", "Separador (CSV/TSV)"),
    "encoding": ("Encoding (empty: detect)", "Codificación (vacío: detectar)"),
    "agent": (
        "Agent: the speakers who answer for the business (everyone else is the customer side)",
        "Agente: los hablantes que responden por el negocio (todos los demás son el lado del cliente)",
    ),
    "drop_speakers": ("Speakers to leave out (bots, notices)", "Hablantes que se omiten (bots, avisos)"),
    "speakers": ("Speakers found", "Hablantes encontrados"),
    "agent_hint": (
        "Chat exports name people: pick above the agents among the speakers found, those of every file (once "
        "agents are named, only they answer), and any speakers to leave out; then import again.",
        "Las exportaciones de chat nombran personas: elige arriba los agentes entre los hablantes encontrados, los "
        "de cada archivo (una vez nombrados, solo ellos responden), y los hablantes que se omiten; luego importa de "
        "nuevo.",
    ),
    "col_format": ("format", "formato"),
    "col_speaker": ("speaker", "hablante"),
    "col_messages": ("messages", "mensajes"),
    "col_speaker_role": ("role", "papel"),
    "role_agent": ("agent", "agente"),
    "role_agent_some": ("agent in {agent} of {total} conversations", "agente en {agent} de {total} conversaciones"),
    "role_customer": ("customer", "cliente"),
    "role_dropped": ("left out", "omitido"),
    "role_unknown": ("not known: name the agent", "sin saber: indica el agente"),
    "rk_file": (
        "{kept} conversations kept of {records} records",
        "{kept} conversaciones conservadas de {records} registros",
    ),
    "rk_messages": (
        "messages {messages} ({kept} in kept conversations)",
        "mensajes {messages} ({kept} en conversaciones conservadas)",
    ),
    "rk_system_lines": ("system lines", "líneas de sistema"),
    "rk_media_only": ("media-only messages", "mensajes solo con adjuntos"),
    "rk_dropped": ("messages of speakers left out", "mensajes de hablantes omitidos"),
    "rk_private_notes": ("private notes", "notas privadas"),
    "rk_set_aside": ("set aside", "apartadas"),
    "rk_guessed": (
        "agent guessed in {count} conversations (pick the agent to be sure)",
        "agente supuesto en {count} conversaciones (elige el agente para asegurarte)",
    ),
    "not_read": ("not read (the readiness advisor says why)", "no leído (el asesor de preparación dice por qué)"),
    "import": ("Import and check", "Importar y revisar"),
    "files": ("Files in use", "Archivos en uso"),
    "report": ("Import report", "Informe de importación"),
    "advice": ("Readiness advisor", "Asesor de preparación"),
    "preview": ("Conversation preview", "Vista previa de conversaciones"),
    "conversation_n": ("Conversation", "Conversación"),
    "no_files": ("Choose a sample or upload files first.", "Primero elige un ejemplo o sube archivos."),
    "imported": (
        "{kept} conversations ready, {quarantined} set aside, from {files} file(s).",
        "{kept} conversaciones listas, {quarantined} apartadas, de {files} archivo(s).",
    ),
    "no_warnings": ("no warnings: the data looks ready", "sin avisos: los datos parecen listos"),
    "quarantine": ("Set aside (quarantine)", "Apartadas (cuarentena)"),
    # the import report's counts, and the quarantine table's columns
    "rk_seen": ("seen", "leídas"),
    "rk_kept": ("kept", "conservadas"),
    "rk_quarantined": ("quarantined", "apartadas"),
    "rk_duplicates": ("duplicates", "duplicadas"),
    "rk_quarantine_reasons": ("reasons set aside", "motivos para apartarlas"),
    "rk_languages": ("languages", "idiomas"),
    "rk_redactions": ("personal data hidden", "datos personales ocultados"),
    # how a file was read: the importer's description word by word (its own names come below)
    "fmt_delimiter": ("delimiter", "separador"),
    "fmt_encoding": ("encoding", "codificación"),
    "fmt_header": ("with header", "con cabecera"),
    "fmt_no_header": ("no header", "sin cabecera"),
    "fmt_fields": ("fields", "campos"),
    "col_file": ("file", "archivo"),
    "col_line": ("line", "línea"),
    "col_reason": ("reason", "motivo"),
    "col_message": ("message", "mensaje"),
}
