"""The web app's texts about accounts, roles, sharing and the audit trail, in English and Spanish.

``builder.ui.i18n`` merges them into its table (key: (English, Spanish)).
"""

from __future__ import annotations

from builder.users.store import ACCOUNT_PROBLEMS

_AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "started": ("started", "inició"),
    "resumed": ("resumed", "reanudó"),
    "stopped": ("stopped", "detuvo"),
    "evaluated": ("evaluated", "evaluó"),
    "merged": ("merged", "fusionó"),
    "exported": ("exported", "exportó"),
    "served": ("served", "sirvió"),
    "user_added": ("added a user", "añadió un usuario"),
    "password_changed": ("changed a password", "cambió una contraseña"),
    "role_changed": ("changed a role", "cambió un rol"),
    "user_removed": ("removed a user", "eliminó un usuario"),
    "run_shared": ("shared a run", "compartió una ejecución"),
    "run_unshared": ("stopped sharing a run", "dejó de compartir una ejecución"),
}

_ACCOUNTS_ES: dict[str, str] = {
    "bad_role": "rol {role!r}: se esperaba uno de {roles}",
    "bad_name": "nombre de usuario {name!r}: de 1 a 64 letras, cifras, puntos, guiones, guiones bajos o @, "
    "empezando por una letra o una cifra",
    "short_password": "una contraseña necesita al menos {minimum} caracteres",
    "taken": "el usuario {name!r} ya existe",
    "unknown": "no existe el usuario {name!r}",
    "last_admin": "{name!r} es el último administrador: nombra antes a otro administrador",
    "not_reviewer": "{name!r} no es revisor: los administradores y los entrenadores ya ven todas las ejecuciones",
    "passwords_differ": "las dos contraseñas no coinciden",
    "backup_exists": "{path} ya existe: nombra un archivo nuevo para la copia",
}

TEAM_STRINGS: dict[str, tuple[str, str]] = {
    "tab_team": ("Team", "Equipo"),
    "role_admin": ("admin", "administrador"),
    "role_trainer": ("trainer", "entrenador"),
    "role_reviewer": ("reviewer", "revisor"),
    "signed_in": ("Signed in as **{name}** ({role})", "Has entrado como **{name}** ({role})"),
    "logout": ("Log out", "Salir"),
    "refused_login": ("Refused: sign in first.", "Rechazado: inicia sesión primero."),
    "refused_role": (
        "Refused: this needs the {role} role (you are {name}, {own}).",
        "Rechazado: esto requiere el rol de {role} (eres {name}, {own}).",
    ),
    "refused_run": (
        "Refused: the run {run} is not shared with you.",
        "Rechazado: la ejecución {run} no está compartida contigo.",
    ),
    "share_intro": (
        "Reviewers see only the runs shared with them. Share the run chosen above with a reviewer:",
        "Los revisores solo ven las ejecuciones compartidas con ellos. Comparte con un revisor la ejecución "
        "elegida arriba:",
    ),
    "share_user": ("Reviewer", "Revisor"),
    "share": ("Share", "Compartir"),
    "unshare": ("Stop sharing", "Dejar de compartir"),
    "shared_with": ("`{run}` is shared with: {names}", "`{run}` está compartida con: {names}"),
    "shared_none": ("`{run}` is not shared with any reviewer.", "`{run}` no está compartida con ningún revisor."),
    "share_pick": ("Choose a run above and a reviewer first.", "Elige antes una ejecución arriba y un revisor."),
    "users_title": ("Users", "Usuarios"),
    "users_intro": (
        "Roles: **admin** (everything, users included), **trainer** (import, recipes, training, evaluation, "
        "export), **reviewer** (the playground, on the runs shared with them). A new password or a removal "
        "ends the user's open sessions. While there is no account the app asks for no login; accounts added "
        "then take effect when the app restarts.",
        "Roles: **administrador** (todo, también los usuarios), **entrenador** (importar, recetas, "
        "entrenamiento, evaluación, exportación), **revisor** (las pruebas, en las ejecuciones compartidas con "
        "él). Una contraseña nueva o una baja cierra las sesiones abiertas del usuario. Mientras no hay "
        "ninguna cuenta la aplicación no pide entrar; las cuentas que se añadan entonces valen desde el "
        "siguiente arranque.",
    ),
    "user_name": ("User name", "Nombre de usuario"),
    "user_role": ("Role", "Rol"),
    "user_password": ("Password (at least 8 characters)", "Contraseña (al menos 8 caracteres)"),
    "user_add": ("Add user", "Añadir usuario"),
    "user_set_role": ("Set role", "Cambiar rol"),
    "user_set_password": ("Set password", "Cambiar contraseña"),
    "user_remove": ("Remove user", "Eliminar usuario"),
    "user_added": ("Added {name}.", "{name} añadido."),
    "role_set": ("{name} is now {role}.", "{name} es ahora {role}."),
    "password_set": (
        "New password set for {name}; their open sessions have ended.",
        "Nueva contraseña para {name}; sus sesiones abiertas se han cerrado.",
    ),
    "user_removed": (
        "Removed {name}; their open sessions have ended.",
        "{name} eliminado; sus sesiones se han cerrado.",
    ),
    "audit_title": ("Audit trail", "Registro de auditoría"),
    "col_user": ("User", "Usuario"),
    "col_role": ("Role", "Rol"),
    "col_since": ("Since", "Desde"),
    "col_shared": ("Runs shared", "Ejecuciones compartidas"),
    "col_time": ("Time", "Hora"),
    "col_actor": ("Who", "Quién"),
    "col_action": ("Action", "Acción"),
    "col_target": ("On", "Sobre"),
    "col_detail": ("Detail", "Detalle"),
    "anonymous": ("(no login)", "(sin cuenta)"),
    "votes_by_author": ("Votes by author: {authors}", "Votos por autor: {authors}"),
    "round_leave_out": ("Leave out the feedback of", "Dejar fuera las opiniones de"),
    **{f"audit_{key}": pair for key, pair in _AUDIT_ACTIONS.items()},
    **{f"acct_{key}": (english, _ACCOUNTS_ES[key]) for key, english in ACCOUNT_PROBLEMS.items()},
}
