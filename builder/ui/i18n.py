"""English and Spanish for the web app, and the language selector that switches them live.

Every visible text goes through ``t(key, lang)``. Components are registered with
``Labels.add(component, label=key, ...)``; changing the selector returns one update per
registered component, so the whole page changes language without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.config.confine import PathProblem
from builder.config.recipe import RecipeProblem, ValidationMessage
from builder.core.messages import Message
from builder.data.advisor import Advice
from builder.importers.types import CONTAINER_NAMES, ENCODING_NAMES, FORMAT_NAMES, Note
from builder.ui.i18n_chat_notes import CHAT_NOTES_ES
from builder.ui.i18n_first_hour import FIRST_HOUR
from builder.ui.team_text import TEAM_STRINGS

LANGUAGES: list[tuple[str, str]] = [("English", "en"), ("Español", "es")]
DEFAULT_LANG = "en"

# key: (English, Spanish)
_STRINGS: dict[str, tuple[str, str]] = {
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
    # recipe
    "recipe_intro": (
        "Pick a use case, adjust the main settings, check the YAML and save the recipe.",
        "Elige un caso de uso, ajusta los parámetros principales, revisa el YAML y guarda la receta.",
    ),
    "use_case": ("Use case", "Caso de uso"),
    "name": ("Name", "Nombre"),
    "base_model": ("Base model", "Modelo base"),
    "recommend_multilingual": (
        "**Recommended: {model}.** {share} of the imported conversations are not in English, "
        "and this model was trained on many languages.",
        "**Recomendado: {model}.** El {share} de las conversaciones importadas no está en inglés, "
        "y este modelo se entrenó en muchos idiomas.",
    ),
    "quantization": ("Quantization", "Cuantización"),
    "system_prompt": ("System prompt", "Instrucción de sistema"),
    "data_paths": ("Training data (one path a line)", "Datos de entrenamiento (una ruta por línea)"),
    "max_steps": ("Max steps (-1: use epochs)", "Pasos máximos (-1: usar épocas)"),
    "epochs": ("Epochs", "Épocas"),
    "learning_rate": ("Learning rate", "Tasa de aprendizaje"),
    "batch_size": ("Batch size", "Tamaño de lote"),
    "max_length": ("Max length (tokens)", "Longitud máxima (tokens)"),
    "lora_r": ("LoRA rank", "Rango LoRA"),
    "eval_enabled": ("Evaluate after training", "Evaluar al terminar"),
    "yaml": ("Recipe YAML (editable)", "YAML de la receta (editable)"),
    "validate": ("Validate", "Validar"),
    "save": ("Save recipe", "Guardar receta"),
    "valid": ("The recipe is valid.", "La receta es válida."),
    # capacity estimate (Recipe tab)
    "cap_title": (
        "Will it fit? Estimated peak memory and time per step",
        "¿Cabe? Memoria máxima estimada y tiempo por paso",
    ),
    "cap_plan": (
        "{quantization}, batch {batch} × {length} tokens (max_length: the longest batch).",
        "{quantization}, lote de {batch} × {length} tokens (max_length: el lote más largo).",
    ),
    "cap_device": ("Device", "Dispositivo"),
    "cap_peak": ("Peak memory", "Memoria máxima"),
    "cap_fits": ("Fits", "Cabe"),
    "cap_time": ("Time per step", "Tiempo por paso"),
    "cap_fix": ("To make it fit", "Para que quepa"),
    "cap_this": ("this machine: {device}", "esta máquina: {device}"),
    "cap_yes": ("yes", "sí"),
    "cap_no": ("no", "no"),
    "cap_unavailable": ("No memory estimate: {error}", "Sin estimación de memoria: {error}"),
    "saved": ("Saved to `{path}`.", "Guardada en `{path}`."),
    "overwrite": ("Replace a saved recipe of the same name", "Reemplazar la receta guardada con el mismo nombre"),
    "exists": (
        "Not saved: `{path}` already exists. Tick “Replace a saved recipe of the same name” or change the name.",
        "No se guardó: `{path}` ya existe. Marca “Reemplazar la receta guardada con el mismo nombre” o cambia "
        "el nombre.",
    ),
    "path_missing": ("{where}: {path} does not exist", "{where}: {path} no existe"),
    "no_train_files": (
        "data.train: no training files (import data in the Data tab, or list paths here)",
        "data.train: no hay archivos de entrenamiento (importa datos en la pestaña Datos o escribe aquí sus rutas)",
    ),
    "empty_number": ("a number field is empty", "un campo numérico está vacío"),
    "not_saved": ("Not saved: fix the errors first.", "No se guardó: corrige antes los errores."),
    # train
    "recipe_file": ("Recipe file", "Archivo de receta"),
    "overrides": (
        "Overrides (one dotted.key=value a line)",
        "Cambios puntuales (uno por línea: clave.con.puntos=valor)",
    ),
    "start": ("Start training", "Empezar a entrenar"),
    "stop": ("Stop", "Detener"),
    "resume": ("Resume", "Reanudar"),
    "status": ("Status", "Estado"),
    "loss_plot": ("Loss (train and dev)", "Pérdida (entrenamiento y validación)"),
    "log_tail": ("Log (last lines)", "Registro (últimas líneas)"),
    "full_log": ("The whole log: `{path}`", "El registro completo: `{path}`"),
    "col_run": ("run", "ejecución"),
    "col_state": ("state", "estado"),
    "col_device": ("device", "dispositivo"),
    "col_position": ("#", "n.º"),
    "series_train": ("train", "entrenamiento"),
    "series_dev": ("dev", "validación"),
    "queue": ("Queue", "Cola"),
    "error": ("Error", "Error"),
    "no_run": (
        "No run selected: pick one in the Run list at the top, or start a training in the Train tab.",
        "Ninguna ejecución seleccionada: elige una en la lista Ejecución de arriba, o inicia un entrenamiento en "
        "la pestaña Entrenar.",
    ),
    "queued_at": ("queued, position {pos} in the queue", "en cola, posición {pos}"),
    "started": ("Started `{run}`.", "Iniciada `{run}`."),
    "queued_msg": (
        "`{run}` is queued: another job is using the device.",
        "`{run}` está en cola: otro trabajo usa el dispositivo.",
    ),
    "stopped_msg": (
        "Stopping `{run}`: it saves a checkpoint after its current step, then ends (Resume continues it).",
        "Deteniendo `{run}`: guarda un punto de control al terminar el paso actual y se cierra (Reanudar la continúa).",
    ),
    "resumed_msg": (
        "Resuming `{run}` from its last checkpoint.",
        "Reanudando `{run}` desde su último punto de control.",
    ),
    "pick_recipe": ("Pick or save a recipe first.", "Primero elige o guarda una receta."),
    "st_queued": ("queued", "en cola"),
    "st_running": ("running", "entrenando"),
    "st_preparing": ("preparing", "preparando"),
    "st_completed": ("completed", "terminada"),
    "st_failed": ("failed", "fallida"),
    "st_stopped": ("stopped", "detenida"),
    "st_stopping": ("stopping", "deteniéndose"),
    "st_unknown": ("unknown", "desconocido"),
    "step": ("step", "paso"),
    "eta": ("ETA", "tiempo restante"),
    "loss": ("loss", "pérdida"),
    "dev_loss": ("dev loss", "pérdida de validación"),
    "device": ("device", "dispositivo"),
    # playground
    "play_intro": (
        "The same message goes to the base model and to the tuned one (one model in memory; the adapter "
        "is switched on for the tuned side only).",
        "El mismo mensaje va al modelo base y al ajustado (un solo modelo en memoria; el adaptador se activa "
        "solo en el lado ajustado).",
    ),
    "base": ("Base", "Base"),
    "tuned": ("Tuned", "Ajustado"),
    "side_a": ("Model A", "Modelo A"),
    "side_b": ("Model B", "Modelo B"),
    "message": ("Message", "Mensaje"),
    "message_ph": ("Type a customer message…", "Escribe un mensaje de cliente…"),
    "send": ("Send to both", "Enviar a los dos"),
    "clear": ("Clear", "Borrar"),
    "blind": ("Blind mode (sides shuffled and hidden)", "Modo ciego (lados mezclados y ocultos)"),
    "sampling": ("Sampling", "Muestreo"),
    "temperature": ("Temperature (0: greedy)", "Temperatura (0: voraz)"),
    "top_p": ("Top-p", "Top-p"),
    "max_new_tokens": ("Max new tokens", "Máximo de tokens nuevos"),
    "repetition_penalty": ("Repetition penalty", "Penalización por repetición"),
    "seed": ("Seed (-1: random)", "Semilla (-1: aleatoria)"),
    "vote_a": ("Left (A) is better", "Mejor el de la izquierda (A)"),
    "vote_b": ("Right (B) is better", "Mejor el de la derecha (B)"),
    "vote_tie": ("Tie", "Empate"),
    "votes": ("Votes", "Votos"),
    "generating": ("Generating…", "Generando…"),
    "answered": ("Done.", "Listo."),
    "vote_saved": ("Vote saved: A was {a}, B was {b}.", "Voto guardado: A era {a}, B era {b}."),
    "vote_first": ("Send a message first, then vote.", "Envía primero un mensaje y luego vota."),
    "no_adapter": (
        "`{run}` has no adapter yet: pick a finished run.",
        "`{run}` aún no tiene adaptador: elige una ejecución terminada.",
    ),
    "context": ("Retrieved passages", "Pasajes recuperados"),
    # feedback: corrections, counts, the next round (builder/ui/feedback_ui.py)
    "no_feedback": (
        "No feedback on this run yet: vote or write the right reply.",
        "Aún no hay opiniones sobre esta ejecución: vota o escribe la respuesta correcta.",
    ),
    "feedback_counts": (
        "Feedback: **{n}** vote(s), tuned win rate **{rate}** (tuned {tuned}, base {base}, ties {tie}); "
        "**{pairs}** usable pair(s); **{corrections}** correction(s).",
        "Opiniones: **{n}** voto(s), tasa de victorias del ajustado **{rate}** (ajustado {tuned}, base {base}, "
        "empates {tie}); **{pairs}** par(es) útiles; **{corrections}** corrección(es).",
    ),
    "correct_title": ("Write the right reply", "Escribe la respuesta correcta"),
    "correct_reply": (
        "The right answer to the last message (a reply, a translation, a label...)",
        "La respuesta correcta al último mensaje (una respuesta, una traducción, una etiqueta...)",
    ),
    "correct_ph": (
        "Saved with the last message as a new training conversation (personal data redacted).",
        "Se guarda con el último mensaje como nueva conversación de entrenamiento (datos personales ocultados).",
    ),
    "correct_save": ("Save as training conversation", "Guardar como conversación de entrenamiento"),
    "correct_empty": ("Write the reply first.", "Escribe primero la respuesta."),
    "correct_saved": (
        "Correction saved in the run's corrections.jsonl.",
        "Corrección guardada en corrections.jsonl de la ejecución.",
    ),
    "round_title": ("Next round from feedback", "Siguiente ronda a partir de las opiniones"),
    "round_method": (
        "Method (DPO: learn from the votes; SFT: from the corrections and the original data)",
        "Método (DPO: aprende de los votos; SFT: de las correcciones y los datos originales)",
    ),
    "round_start": ("Start next round", "Empezar la siguiente ronda"),
    "round_enough": (
        "Enough to learn from: about {pairs} vote pairs for DPO, {corrections} corrections for SFT.",
        "Suficiente para aprender: unos {pairs} pares de votos para DPO, {corrections} correcciones para SFT.",
    ),
    "round_no_run": (
        "Pick a finished run with feedback first.",
        "Elige primero una ejecución terminada con opiniones.",
    ),
    # evaluate
    "eval_intro": (
        "Base, base with few-shot examples, and tuned, on the run's dev split.",
        "Base, base con ejemplos en el prompt, y ajustado, sobre la partición de validación.",
    ),
    "run_eval": ("Run evaluation", "Ejecutar evaluación"),
    "eval_table": ("Metrics", "Métricas"),
    "eval_examples": ("Examples side by side", "Ejemplos lado a lado"),
    "no_eval": ("No evaluation yet for this run.", "Esta ejecución aún no tiene evaluación."),
    "eval_running": ("Evaluating… (this runs in the background)", "Evaluando… (se ejecuta en segundo plano)"),
    "eval_done": ("Evaluation finished.", "Evaluación terminada."),
    "eval_stopping": ("Stopping the evaluation of `{run}`.", "Deteniendo la evaluación de `{run}`."),
    "eval_failed": ("Evaluation failed:", "La evaluación falló:"),
    "eval_loading": ("loading the model", "cargando el modelo"),
    "eval_progress": (
        "{system} (system {number} of {systems}): {answered}/{n} dev examples · {percent}% of the evaluation",
        "{system} (sistema {number} de {systems}): {answered}/{n} ejemplos de validación · {percent}% de la evaluación",
    ),
    "eval_time_left": ("about {time} left", "quedan unos {time}"),
    "eval_sys_base": ("base", "base"),
    "eval_sys_base_few_shot": ("base + few-shot", "base con ejemplos"),
    "eval_sys_tuned": ("tuned", "ajustado"),
    "col_metric": ("metric", "métrica"),
    "col_prompt": ("prompt", "entrada"),
    "col_reference": ("reference", "referencia"),
    "eval_header": (
        "`{run}` · {use_case} · {n} dev examples · main metric **{metric}**",
        "`{run}` · {use_case} · {n} ejemplos de validación · métrica principal **{metric}**",
    ),
    # export
    "export_intro": (
        "Take the run with you: the adapter, a merged model folder, or the cleaned data.",
        "Llévate la ejecución: el adaptador, una carpeta con el modelo fusionado o los datos limpios.",
    ),
    "zip_adapter": ("Download the adapter (zip)", "Descargar el adaptador (zip)"),
    "merge": ("Merge into the base model and save", "Fusionar con el modelo base y guardar"),
    "merge_dir": ("Folder for the merged model", "Carpeta para el modelo fusionado"),
    "export_data": ("Export cleaned data (OpenAI chat JSONL)", "Exportar datos limpios (JSONL de chat OpenAI)"),
    "download": ("Download", "Descarga"),
    "merge_stopping": (
        "Stopping the merge of `{run}`: its folder keeps what it had.",
        "Deteniendo la fusión de `{run}`: su carpeta conserva lo que tenía.",
    ),
    "no_merge": (
        "No merge of this run is queued or running.",
        "No hay ninguna fusión de esta ejecución en cola ni en curso.",
    ),
    "merged_to": ("Merged model saved in `{path}`.", "Modelo fusionado guardado en `{path}`."),
    "exported": ("{n} examples written to `{path}`.", "{n} ejemplos escritos en `{path}`."),
    "refused": ("Not started:", "No se inició:"),
    "gguf_intro": (
        "### Run it outside the tool\nOne GGUF file for llama.cpp, LM Studio and Ollama (with its Modelfile), "
        "or the `vllm serve` command for a GPU server. q8_0 is nearly lossless; q4_0/q4_1 are the smallest.",
        "### Úsalo fuera de la herramienta\nUn archivo GGUF para llama.cpp, LM Studio y Ollama (con su Modelfile), "
        "o el comando `vllm serve` para un servidor con GPU. q8_0 casi no pierde calidad; q4_0/q4_1 ocupan menos.",
    ),
    "gguf_quant": ("GGUF quantization", "Cuantización GGUF"),
    "gguf_export": ("Export GGUF + Ollama Modelfile", "Exportar GGUF + Modelfile de Ollama"),
    "gguf_done": (
        "GGUF written: `{path}` ({mb} MB, {arch}, {quant}).",
        "GGUF escrito: `{path}` ({mb} MB, {arch}, {quant}).",
    ),
    "gguf_ollama": (
        "Ollama, in the folder `{folder}`:",
        "Ollama, en la carpeta `{folder}`:",
    ),
    "gguf_llamacpp": ("llama.cpp server:", "Servidor de llama.cpp:"),
    "gguf_no_modelfile": ("No Modelfile: {why}", "Sin Modelfile: {why}"),
    "modelfile": ("Modelfile", "Modelfile"),
    "vllm_check": ("vLLM command (GPU servers)", "Comando de vLLM (servidores con GPU)"),
    "vllm_ok": (
        "The adapter meets vLLM's LoRA limits (rank {rank}). On a GPU server with vLLM installed "
        "(copy the base model folder and the adapter folder there first):",
        "El adaptador cumple los límites LoRA de vLLM (rango {rank}). En un servidor con GPU y vLLM instalado "
        "(copia antes allí la carpeta del modelo base y la del adaptador):",
    ),
    "vllm_bad": (
        "The adapter does not meet vLLM's LoRA limits; export a GGUF or a merged model instead:",
        "El adaptador no cumple los límites LoRA de vLLM; exporta un GGUF o el modelo fusionado:",
    ),
    "outside": (
        "Refused: `{path}` is outside the folders this app serves ({root}).",
        "Rechazado: `{path}` está fuera de las carpetas que sirve esta aplicación ({root}).",
    ),
}

_STRINGS.update(FIRST_HOUR)

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


# Every keyed message of the back end (builder/core/messages.py): its English, and the Spanish above.
for _prefix, _english, _spanish in (
    (Advice.prefix, Advice.templates, _ADVICE_ES),
    (Note.prefix, Note.templates, _NOTES_ES),
    (PathProblem.prefix, PathProblem.templates, _PATHS_ES),
    (RecipeProblem.prefix, RecipeProblem.templates, _RECIPES_ES),
    (ValidationMessage.prefix, _pydantic_templates(), _PYDANTIC_ES),
):
    _STRINGS.update({f"{_prefix}{key}": (english, _spanish.get(key, "")) for key, english in _english.items()})

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
for _prefix, _names, _spanish in (
    ("fmt_", FORMAT_NAMES, _FORMATS_ES),
    ("fmt_c_", CONTAINER_NAMES, _CONTAINERS_ES),
    ("enc_", ENCODING_NAMES, _ENCODINGS_ES),
):
    _STRINGS.update({f"{_prefix}{key}": (english, _spanish.get(key, "")) for key, english in _names.items()})

_STRINGS.update(TEAM_STRINGS)  # accounts, roles, sharing, the audit trail (builder/ui/team_text.py)

STRINGS: dict[str, dict[str, str]] = {
    lang: {key: pair[i] for key, pair in _STRINGS.items()} for i, (_, lang) in enumerate(LANGUAGES)
}


@dataclass(frozen=True)
class UIText(Message):
    """A text of this table kept as key and values, for a handler whose words are said again in another language."""

    templates: ClassVar[dict[str, str]] = STRINGS[DEFAULT_LANG]


def t(key: str, lang: str | None = DEFAULT_LANG, **values: Any) -> str:
    """The text for ``key`` in ``lang`` (English when the language or key is unknown)."""
    table = STRINGS.get(lang or DEFAULT_LANG, STRINGS[DEFAULT_LANG])
    text = table.get(key) or STRINGS[DEFAULT_LANG].get(key) or key
    return text.format(**values) if values else text


def t_known(key: str, lang: str, default: str) -> str:
    """``t(key, lang)`` for a key built from data (a format name...); ``default`` when there is no such key."""
    return t(key, lang) if key in STRINGS[DEFAULT_LANG] else default


def message_text(item: Message | str, lang: str) -> str:
    """A keyed message of the back end (advice, an importer's note, a problem) in ``lang``.

    A plain string (an error's own words) and a key without a translation stay as they are, in English.
    """
    if not isinstance(item, Message):
        return item
    key = f"{item.prefix}{item.key}"
    template = t(key, lang) if key in STRINGS[DEFAULT_LANG] else None
    return item.text(template, lambda inner: message_text(inner, lang))


def status_text(status: str, lang: str) -> str:
    return t(f"st_{status}", lang) if f"st_{status}" in STRINGS[DEFAULT_LANG] else status


def language_from_header(accept_language: str | None) -> str:
    """The first of our languages the browser asks for; English otherwise."""
    known = {code for _, code in LANGUAGES}
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in known:
            return code
    return DEFAULT_LANG


class Labels:
    """Components whose texts follow the language selector."""

    def __init__(self) -> None:
        self._items: list[tuple[Any, dict[str, str]]] = []

    def add(self, component: Any, template: str = "{}", **attr_keys: str) -> Any:
        """``add(gr.Textbox(...), label="name", placeholder="name_ph")``: the attribute and its key.

        ``template`` wraps the text, e.g. ``"### {}"`` for a Markdown heading.
        """
        self._items.append((component, template, attr_keys))
        return component

    @property
    def components(self) -> list[Any]:
        return [component for component, _, _ in self._items]

    def updates(self, lang: str) -> list[Any]:
        import gradio as gr

        return [
            gr.update(**{attr: template.format(t(key, lang)) for attr, key in keys.items()})
            for _, template, keys in self._items
        ]
