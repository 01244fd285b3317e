"""The texts of a newcomer's first hour (issue 29): the start-here guide, the recipe's data and time, the
Train tab's steps and phases, the playground's loading, evaluation estimates. ``i18n`` merges them.

key: (English, Spanish), as in ``builder.ui.i18n``.
"""

from __future__ import annotations

FIRST_HOUR: dict[str, tuple[str, str]] = {
    # the recipe's data (builder/ui/recipe_check.py)
    "data_unreadable": (
        "data.train: the training files give no conversations ({error})",
        "data.train: los archivos de entrenamiento no dan ninguna conversación ({error})",
    ),
    "data_too_few": (
        "Training data: {count} training examples from {conversations} conversation(s); a run needs at least "
        "{minimum} to learn from, and about {advised} are advised. Import more transcripts in the Data tab.",
        "Datos de entrenamiento: {count} ejemplos de entrenamiento de {conversations} conversación(es); una "
        "ejecución necesita al menos {minimum} para aprender, y se aconsejan unas {advised}. Importa más "
        "transcripciones en la pestaña Datos.",
    ),
    "data_few": (
        "Only {conversations} conversations: enough for a first try; about {advised} are advised for a good fine-tune.",
        "Solo {conversations} conversaciones: bastan para una primera prueba; se aconsejan unas {advised} para "
        "un buen ajuste.",
    ),
    # which files the recipe trains on (Recipe tab)
    "trains_on": ("**Trains on:** {files}", "**Entrena con:** {files}"),
    "trains_counts": (
        "{conversations} conversations → {train} training examples, {dev} held out to score it (dev).",
        "{conversations} conversaciones → {train} ejemplos de entrenamiento, {dev} apartados para puntuarlo "
        "(validación).",
    ),
    "imported_ignored": (
        "The {n} file(s) imported in the Data tab are not used: this recipe names its own data. To train on "
        "them, list them under “Training data”, or pick the use case you imported them for.",
        "Los {n} archivo(s) importados en la pestaña Datos no se usan: esta receta indica sus propios datos. Para "
        "entrenar con ellos, escríbelos en “Datos de entrenamiento” o elige el caso de uso para el que los "
        "importaste.",
    ),
    # the capacity table (Recipe tab)
    "cap_total": ("Total", "Total"),
    "cap_steps": ("{steps} steps planned.", "{steps} pasos previstos."),
    "cap_gpu_time": (
        "GPU rows: memory only (a time needs the card itself).",
        "Filas de GPU: solo memoria (el tiempo depende de la tarjeta).",
    ),
    "cap_measured": (
        "Time corrected by the pace measured in `{run}` on this machine.",
        "Tiempo corregido con el ritmo medido en `{run}` en esta máquina.",
    ),
    # the bundled models' cards (builder/ui/model_cards.py)
    "model_card": (
        "{title}: {parameters} parameters, {kind}, {mb} MB; languages: {languages}; license: [{license}]({url})",
        "{title}: {parameters} parámetros, {kind}, {mb} MB; idiomas: {languages}; licencia: [{license}]({url})",
    ),
    "model_chat": ("chat-tuned", "ajustado para chat"),
    "model_pretrained": ("pretrained base", "base preentrenada"),
    "langs_English": ("English", "inglés"),
    "langs_multilingual": (
        "multilingual (over 140 languages, Spanish and English among them)",
        "multilingüe (más de 140 idiomas, entre ellos español e inglés)",
    ),
    "langs_short_English": ("English", "inglés"),
    "langs_short_multilingual": ("multilingual", "multilingüe"),
    # Train tab: budget fields, the estimate, what a running training is doing
    "steps_field": ("Steps (empty: the recipe's)", "Pasos (vacío: los de la receta)"),
    "minutes_field": ("Or stop after minutes (empty: no limit)", "O parar tras minutos (vacío: sin límite)"),
    "estimate": (
        "Estimated here: {steps} steps × {seconds} s ≈ **{total}** ({quantization}).",
        "Estimación aquí: {steps} pasos × {seconds} s ≈ **{total}** ({quantization}).",
    ),
    "estimate_measured": (
        "Estimated here: {steps} steps × {seconds} s ≈ **{total}** ({quantization}; pace measured in `{run}`).",
        "Estimación aquí: {steps} pasos × {seconds} s ≈ **{total}** ({quantization}; ritmo medido en `{run}`).",
    ),
    "estimate_steps": ("{steps} steps ({quantization}).", "{steps} pasos ({quantization})."),
    "phase_loading": ("loading the model and the data…", "cargando el modelo y los datos…"),
    "phase_dev": ("scoring the dev set: batch {done}/{total}", "puntuando la validación: lote {done}/{total}"),
    "phase_dev_start": ("scoring the dev set…", "puntuando la validación…"),
    "phase_saving": ("saving the adapter…", "guardando el adaptador…"),
    # Data tab: one conversation, the preview slider, the set-aside records' reasons (what to do on this page)
    "imported_one": (
        "1 conversation ready, {quarantined} set aside, from {files} file(s).",
        "1 conversación lista, {quarantined} apartadas, de {files} archivo(s).",
    ),
    "conversation_of": ("Conversation (of {n})", "Conversación (de {n})"),
    "field_role_map_value": ("“{value}” in the Role map field", "«{value}» en el campo Mapa de roles"),
    "field_role_map": ("the Role map field", "el campo Mapa de roles"),
    "field_drop": ("the Speakers to leave out field", "el campo Hablantes que se omiten"),
    "field_agent": ("the Agent field", "el campo Agente"),
    "field_role_field": ("the Role field", "el campo Campo de rol"),
    "reason_agent_unknown": (
        "no agent found among the speakers: pick the agent in the Agent field, then import again",
        "no se encontró el agente entre los hablantes: elígelo en el campo Agente e importa de nuevo",
    ),
    "reason_unknown_role": (
        "a role that is not known: map it in the Role map field (NAME=user or NAME=assistant)",
        "un rol desconocido: asígnalo en el campo Mapa de roles (NOMBRE=user o NOMBRE=assistant)",
    ),
    "reason_bad_content": ("a message whose text is not text", "un mensaje cuyo texto no es texto"),
    "reason_bad_encoding": (
        "unreadable characters: set the Encoding field (e.g. cp1252)",
        "caracteres ilegibles: indica el campo Codificación (p. ej. cp1252)",
    ),
    "reason_bad_mapping": (
        "the field mapping does not fit this file: check the mapping fields",
        "el mapeo de campos no encaja con este archivo: revisa los campos del mapeo",
    ),
    "reason_bad_row": (
        "a row without the columns named: check the column fields and the Delimiter",
        "una fila sin las columnas indicadas: revisa los campos de columnas y el Separador",
    ),
    "reason_bad_turn": (
        "a turn without a role or a text: check the Role field and the Content field",
        "un turno sin rol o sin texto: revisa el Campo de rol y el Campo de contenido",
    ),
    "reason_binary_file": ("not a text file", "no es un archivo de texto"),
    "reason_conversations_without_tickets": (
        "replies without their tickets file: upload both files together",
        "respuestas sin su archivo de tickets: sube los dos archivos juntos",
    ),
    "reason_no_conversations_file": (
        "tickets without their conversations file: upload both files together",
        "tickets sin su archivo de conversaciones: sube los dos archivos juntos",
    ),
    "reason_ticket_not_found": ("a reply to a ticket not in the file", "una respuesta a un ticket que no está"),
    "reason_duplicate": ("a duplicate of a conversation kept", "duplicado de una conversación conservada"),
    "reason_empty": ("every turn is empty", "todos los turnos están vacíos"),
    "reason_invalid_json": ("not valid JSON", "JSON no válido"),
    "reason_truncated_json": ("JSON cut off before its end", "JSON cortado antes de su final"),
    "reason_no_agent_reply": (
        "no agent reply, nothing to learn from (is the agent named in the Agent field?)",
        "sin respuesta del agente, nada que aprender (¿está el agente en el campo Agente?)",
    ),
    "reason_no_customer_turn": ("no customer message", "ningún mensaje del cliente"),
    "reason_no_speaker": (
        "no “Name:” speaker prefixes found in the text",
        "no se encontraron prefijos de hablante «Nombre:» en el texto",
    ),
    "reason_no_text": ("no text", "sin texto"),
    "reason_too_few_turns": ("too few turns", "demasiado pocos turnos"),
    "reason_too_long": ("too long", "demasiado larga"),
    "reason_unknown_shape": (
        "a record of an unknown shape: pick the Format and the Messages field",
        "un registro de forma desconocida: elige el Formato y el Campo de mensajes",
    ),
    "reason_unreadable_file": ("the file could not be read", "no se pudo leer el archivo"),
    "reason_unreadable_record": ("the record could not be read", "no se pudo leer el registro"),
    # Evaluate tab: what an evaluation will take, before it starts
    "eval_estimate": (
        "An evaluation answers {n} dev examples with each of {systems} systems (base, base with examples, tuned); "
        "the time left shows once the first answers are in.",
        "Una evaluación responde {n} ejemplos de validación con cada uno de {systems} sistemas (base, base con "
        "ejemplos, ajustado); el tiempo restante aparece con las primeras respuestas.",
    ),
    "eval_estimate_time": (
        "An evaluation answers {n} dev examples with each of {systems} systems: about **{time}** here (pace "
        "measured in `{run}`).",
        "Una evaluación responde {n} ejemplos de validación con cada uno de {systems} sistemas: unos **{time}** "
        "aquí (ritmo medido en `{run}`).",
    ),
    # the first-run guide (builder/ui/start_here.py)
    "start_title": (
        "**Start here** — your first assistant in four steps:",
        "**Empieza aquí**: tu primer asistente en cuatro pasos:",
    ),
    "start_data": (
        "Data: pick a sample (or upload your exports) and import it",
        "Datos: elige un ejemplo (o sube tus exportaciones) e impórtalo",
    ),
    "start_recipe": (
        "Recipe: check what it trains on and how long it takes, then save it",
        "Receta: revisa con qué entrena y cuánto tarda, y guárdala",
    ),
    "start_train": (
        "Train: start it (a few steps for a first try)",
        "Entrenar: iníciala (unos pocos pasos para una primera prueba)",
    ),
    "start_try": (
        "Playground: try your assistant against the base model",
        "Pruebas: prueba tu asistente frente al modelo base",
    ),
    "start_here_mark": ("← you are here", "← estás aquí"),
    # the playground's first model load (builder/ui/model_load.py)
    "loading_model_first": (
        "Loading `{run}`: {s} s so far. The first load of this model here takes longest (a bundled model is "
        "converted once); the next ones say how long they take.",
        "Cargando `{run}`: {s} s por ahora. La primera carga de este modelo aquí es la más lenta (un modelo "
        "incluido se convierte una vez); las siguientes dicen cuánto tardan.",
    ),
    "loading_model_eta": (
        "Loading `{run}`: {s} s of about {eta} s (the last load of this model here).",
        "Cargando `{run}`: {s} s de unos {eta} s (la última carga de este modelo aquí).",
    ),
    "loading_model_late": (
        "Loading `{run}`: {s} s, longer than the {eta} s of the last load of this model here (a busy machine?).",
        "Cargando `{run}`: {s} s, más que los {eta} s de la última carga de este modelo aquí (¿máquina ocupada?).",
    ),
    "start_label": ("Start here", "Empieza aquí"),
}
