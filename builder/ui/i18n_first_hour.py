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
}
