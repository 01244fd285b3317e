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
        "Only {conversations} conversations: enough for a first try; about {advised} are advised for a good "
        "fine-tune.",
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
}
