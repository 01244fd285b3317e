"""What the back end says, in Spanish: the readiness advisor's warnings, the importers' notes and names,
why a path or a recipe is refused, pydantic's messages.

The English stays in the back end's own modules (``builder/core/messages.py`` keyed messages); this module
pairs it with the Spanish by the same keys, as ``prefix + key``. ``builder.ui.i18n`` merges
``MESSAGE_TABLES`` with the page's tables; a key belongs to one table only (a test checks).
"""

from __future__ import annotations

from builder.config.confine import PathProblem
from builder.config.recipe import RecipeProblem, ValidationMessage
from builder.data.advisor import Advice
from builder.importers.types import CONTAINER_NAMES, ENCODING_NAMES, FORMAT_NAMES, Note
from builder.ui.i18n_chat_notes import CHAT_NOTES_ES

# The readiness advisor's warnings in Spanish, by the advisor's keys (its English is the original).
_ADVICE_ES: dict[str, str] = {
    "nothing_kept": (
        "Ninguna conversación utilizable: no hay nada con qué entrenar. El archivo de cuarentena dice por qué."
    ),
    "too_few": (
        "Solo {kept} conversaciones utilizables (menos de unas {minimum}): demasiado pocas para un buen ajuste. "
        "Considera la receta de recuperación (embeddings y un almacén vectorial, sin entrenamiento) "
        "o reúne más transcripciones."
    ),
    "mixed_languages": (
        "Hay varios idiomas ({shares}): el modelo debe aprender cada uno; comprueba que cada idioma tenga "
        "ejemplos suficientes y aparezca en la partición de validación, o entrena un asistente por idioma."
    ),
    "foreign_language": (
        "El {share} de las conversaciones ({shares}) está en idiomas para los que el modelo base {model} no se "
        "entrenó (solo {languages}): los aprenderá mal; {better}."
    ),
    "templated": (
        "El {share} de las respuestas de los agentes son casi copias de {top_n} plantillas: el ajuste enseñará "
        "sobre todo a repetirlas. Las respuestas predefinidas o la receta de recuperación pueden servir mejor; "
        "o conserva solo las conversaciones con respuestas escritas."
    ),
    "max_length": (
        "El {share} de los ejemplos supera max_length y se recortará: sube training.max_length (más memoria) "
        "o divide las conversaciones largas."
    ),
    "too_long": ("El {share} de las conversaciones se apartó por superar max_chars; sube data.max_chars si importan."),
    "quarantined": (
        "El {share} de los registros se apartó ({top}); mira el archivo de cuarentena: un mapeo de campos o "
        "un mapa de roles puede recuperarlos."
    ),
    "duplicates": "El {share} de las conversaciones eran duplicados de otras.",
    "lopsided_votes": (
        "{count} de {total} votos se emitieron fuera del modo ciego con el modelo {side} siempre primero: "
        "pueden premiar un nombre o una posición en vez de la mejor respuesta. Vota en modo ciego "
        "(lados mezclados y ocultos) antes de entrenar con ellos."
    ),
    "contradicting_corrections": (
        "{count} conversación(es) se corrigieron más de una vez con respuestas que no coinciden "
        "(p. ej. {example!r}): el modelo aprendería ambas. Deja una corrección por conversación."
    ),
    "one_author": (
        "{author} emitió {count} de los {total} votos ({share}): la ronda aprendería sobre todo el gusto de una "
        "persona. Pide a otros que voten, o deja fuera a {author} en esta ronda."
    ),
    "few_pairs": (
        "Solo {pairs} pares de votos (sin empates ni respuestas idénticas): una ronda DPO necesita unos "
        "{minimum} o más para cambiar el modelo de forma medible. Sigue votando en Pruebas."
    ),
    "few_corrections": (
        "Solo {count} correcciones: una ronda SFT con menos de unas {minimum} cambia poco frente a los "
        "datos originales. Escribe más correcciones en Pruebas."
    ),
}

# What the importers say about a file, in Spanish, by the importer's keys (builder/importers/types.py).
_NOTES_ES: dict[str, str] = {
    "empty": "el archivo no contiene nada que importar",
    "binary_encoding": "el archivo es binario (no es texto en una codificación conocida)",
    "binary": "el archivo es binario",
    "no_first_record": "no se pudo leer un primer registro",
    "chat_app": "exportación de una aplicación de chat (la hora antes del hablante)",
    "found_by_values": "roles, texto y conversación hallados por sus valores (cambia role_field, content_field, "
    "id_field para elegir otros)",
    "no_id_column": "no hay columna de id de conversación: las filas en blanco separan las conversaciones",
    "guessed_columns": "columnas supuestas: prompt={prompt}, response={response} (indica prompt_field/response_field)",
    "quotes_are_text": "las comillas son texto, no delimitan celdas",
    "file_empty": "{path}: el archivo está vacío",
    "file_shapes": "{path}: registros de varias formas en un mismo archivo ({shapes})",
    "file_misread": "{path}: {misread} de {kept} conversaciones tienen turnos que son solo ids o palabras de rol "
    "(p. ej. {example!r}): probablemente se leyeron mal las columnas (leídas como {fields}); indica el mapeo "
    "(role_field, content_field, id_field, o prompt_field y response_field)",
    "stopped_early": "detenido en max_conversations={limit} en {path} línea {line}; el resto no se leyó",
    "also_fits": "leído como {taken} (seguridad {score}); también encaja: {others}",
    "reader_fell_back": "leído como {taken}: los primeros registros no se leían como {others}",
    "owner_across": "{owner} escribe en los {files} archivos {format}: se toma como el agente (indica agent para "
    "cambiarlo)",
    "file_date_turns": "{path}: {count} de {turns} turnos son solo una fecha o una hora (p. ej. {examples}): "
    "probablemente el archivo se leyó con un formato equivocado o se cortó mal; revisa el formato elegido, o indica "
    "format",
    "file_number_speakers": "{path}: {count} nombres de hablante parecen marcas de tiempo o números (p. ej. "
    "{examples}; {messages} mensajes): probablemente las líneas se cortaron mal (si son teléfonos de contactos no "
    "guardados, ignora este aviso)",
    "file_speaker_per_message": "{path}: {speakers} hablantes para {messages} mensajes, casi uno por mensaje: "
    "probablemente el hablante se leyó de otro sitio; revisa el formato elegido, o indica format",
    "file_single_turn": "{path}: {single} de {conversations} conversaciones tienen un solo turno: probablemente el "
    "archivo se cortó mal en conversaciones; revisa el formato elegido, o indica format",
    "file_agent_unknown": "{path}: {count} conversaciones apartadas porque ningún hablante se conoce como el agente. "
    "Hablantes (mensajes): {speakers}. Indica el agente: el campo Agente de la pestaña Datos, --agent NOMBRE en la "
    "línea de órdenes, o agent: [NOMBRE] bajo data: en la receta",
}
_NOTES_ES["file_guessed"] = "{path}: " + _NOTES_ES["guessed_columns"]
_NOTES_ES.update(CHAT_NOTES_ES)  # the line-based chat readers' notes

# Why a path a web user set may not be used, by the keys of builder/config/confine.py.
_PATHS_ES: dict[str, str] = {
    "url": "{field}: {value!r} es una URL; la aplicación web solo lee y escribe en las carpetas locales que sirve",
    "unusable": "{field}: {value!r} no es una ruta utilizable ({error})",
    "outside": "{field}: {value!r} está fuera de las carpetas que sirve esta aplicación ({roots})",
    "link_outside": "{field}: {value!r} contiene {link}, un enlace a un lugar fuera de las carpetas que sirve esta "
    "aplicación ({roots})",
    "root_project": "la carpeta del proyecto",
    "root_named": "la carpeta {label}",
    "remote_code": "trust_remote_code: true ejecuta los archivos Python de {model}, que está en la carpeta runs, "
    "donde llegan las subidas web; la aplicación web lo rechaza (la línea de órdenes lo permite)",
}

# What is wrong with a recipe, by the keys of builder/config/recipe.py.
_RECIPES_ES: dict[str, str] = {
    "not_valid": "{source}: la receta no es válida",
    "unknown_key": "{field}: clave desconocida (revisa cómo se escribe y en qué sección está)",
    "invalid": "{field}: {error}",
    "invalid_got": "{field}: {error} (se recibió {got!r})",
    "no_file": "{path}: no existe ese archivo de receta",
    "not_yaml": "{where}: no es YAML válido ({error})",
    "not_yaml_line": "línea {line}: no es YAML válido ({error})",
    "not_mapping": "{where}: una receta es un mapeo de claves, no {kind}",
    "set_syntax": "--set {item!r}: se esperaba clave.con.puntos=valor, p. ej. training.max_steps=3",
    "set_section": "--set {field}: {part!r} no es una sección",
    "task_not_valid": "receta {name!r}: las opciones de tarea del caso de uso {use_case!r} no son válidas",
    "task_unknown_key": "{field}: clave desconocida (este caso de uso lee: {allowed})",
    "task_invalid": "receta {name!r}: {error}",
    "aligned_saves": "keep_best y early_stopping_patience necesitan que save_steps ({save_steps}) sea múltiplo de "
    "eval_steps ({eval_steps}): solo se puede conservar como el mejor un paso evaluado",
    "dpo_parent": "feedback.parent_run es obligatorio con method: dpo (la ejecución cuyo adaptador aprende de sus "
    "votos)",
}

# Pydantic's messages for the errors a recipe most often has, by pydantic's error types; the English
# is pydantic's own template (a test checks that both name the same values).
_PYDANTIC_ES: dict[str, str] = {
    "missing": "Campo obligatorio",
    "greater_than": "Debe ser mayor que {gt}",
    "greater_than_equal": "Debe ser mayor o igual que {ge}",
    "less_than": "Debe ser menor que {lt}",
    "less_than_equal": "Debe ser menor o igual que {le}",
    "string_type": "Debe ser un texto",
    "dict_type": "Debe ser un mapeo de claves",
    "list_type": "Debe ser una lista",
    "bool_type": "Debe ser un booleano",
    "bool_parsing": "Debe ser un booleano (true o false); no se pudo interpretar",
    "int_type": "Debe ser un número entero",
    "int_parsing": "Debe ser un número entero; no se pudo leer el texto como entero",
    "int_from_float": "Debe ser un número entero; tiene parte decimal",
    "float_type": "Debe ser un número",
    "float_parsing": "Debe ser un número; no se pudo leer el texto como número",
    "literal_error": "Debe ser {expected}",
    "value_error": "Valor no válido: {error}",
}


def _pydantic_templates() -> dict[str, str]:
    from pydantic_core._pydantic_core import list_all_errors

    return {e["type"]: e["message_template_python"] for e in list_all_errors() if e["type"] in _PYDANTIC_ES}


# The importer's names of formats, containers and encodings in Spanish, by the importer's keys.
_FORMATS_ES = {
    "openai": "mensajes de chat OpenAI",
    "sharegpt": "conversaciones ShareGPT",
    "dialogues": "diálogos con turnos anidados",
    "csv_messages": "una fila por mensaje",
    "csv_pairs": "una fila por intercambio",
    "text": "transcripción de texto con prefijos de hablante",
    "empty": "archivo vacío",
    "binary": "datos binarios, no texto",
    "whatsapp": "exportación de chat de WhatsApp",
    "telegram": "exportación de Telegram",
    "slack": "exportación de un espacio de Slack",
    "discord": "exportación de Discord (DiscordChatExporter)",
    "messenger": "mensajes de Messenger o Instagram",
    "zendesk": "tickets de Zendesk",
    "freshdesk": "tickets de Freshdesk",
    "intercom": "conversaciones de Intercom",
    "chatgpt_export": "exportación de datos de ChatGPT",
    "chat_log": "registro de chat (hora <apodo> texto)",
    "signal": "exportación de texto de Signal",
}
_CONTAINERS_ES = {"jsonl": "JSONL", "json": "JSON", "csv": "CSV", "text": "texto", "none": "archivo"}
_ENCODINGS_ES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 con BOM", "utf-16": "UTF-16", "cp1252": "latin-1 (cp1252)"}


def _paired(prefix: str, english: dict[str, str], spanish: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``prefix + key``: (the back end's English, the Spanish above); an empty Spanish fails the test."""
    return {f"{prefix}{key}": (text, spanish.get(key, "")) for key, text in english.items()}


# Every keyed message of the back end (builder/core/messages.py) and every importer name, one table per
# owner, so that a key two of them would define shows up in the test instead of one silently winning.
MESSAGE_TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "advisor": _paired(Advice.prefix, Advice.templates, _ADVICE_ES),
    "importer notes": _paired(Note.prefix, Note.templates, _NOTES_ES),
    "path problems": _paired(PathProblem.prefix, PathProblem.templates, _PATHS_ES),
    "recipe problems": _paired(RecipeProblem.prefix, RecipeProblem.templates, _RECIPES_ES),
    "pydantic": _paired(ValidationMessage.prefix, _pydantic_templates(), _PYDANTIC_ES),
    "format names": _paired("fmt_", FORMAT_NAMES, _FORMATS_ES),
    "container names": _paired("fmt_c_", CONTAINER_NAMES, _CONTAINERS_ES),
    "encoding names": _paired("enc_", ENCODING_NAMES, _ENCODINGS_ES),
}
