"""The texts of the Playground (feedback included) and of the Evaluate tab, in English and Spanish.

``builder.ui.i18n`` merges this table with the others; a key belongs to one table only (a test checks).
"""

from __future__ import annotations

# key: (English, Spanish)
PLAYGROUND_STRINGS: dict[str, tuple[str, str]] = {
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
}
