"""The texts of the Recipe tab (with its capacity estimate) and of the Train tab, in English and Spanish.

``builder.ui.i18n`` merges this table with the others; a key belongs to one table only (a test checks).
"""

from __future__ import annotations

# key: (English, Spanish)
TRAIN_STRINGS: dict[str, tuple[str, str]] = {
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
}
