"""What the line-based chat readers (WhatsApp, chat logs, Signal) say about a file, in Spanish.

The English is in the readers' own modules (``builder/importers/formats/whatsapp.py``, ``chat_log.py``,
``signal.py``, added to ``NOTES``); ``builder.ui.i18n_messages`` adds these to its table of importer notes by the same
keys, and its test checks that every English note has a Spanish one with the same placeholders.
"""

from __future__ import annotations

CHAT_NOTES_ES: dict[str, str] = {
    # WhatsApp
    "wa_platform": "exportación de WhatsApp de {platform}, horas en formato de {clock} horas",
    "wa_day_first": "fechas leídas con el día primero: {example} tiene el primer campo mayor que 12",
    "wa_month_first": "fechas leídas con el mes primero: {example} tiene el segundo campo mayor que 12",
    "wa_dates_mixed": "fechas escritas de las dos maneras en un mismo archivo ({example}, {other}): leídas con el "
    "día primero; un mensaje cuya fecha no encaja queda sin hora",
    "wa_day_first_by_order": "fechas leídas con el día primero: con el mes primero, los mensajes retrocederían en "
    "el tiempo {count} veces",
    "wa_month_first_by_order": "fechas leídas con el mes primero: con el día primero, los mensajes retrocederían "
    "en el tiempo {count} veces",
    "wa_dates_ambiguous_day": "orden de la fecha ambiguo (ningún campo mayor que 12): leídas con el día primero, "
    "como en la mayoría de los idiomas; solo cambia dónde se cortan las conversaciones por silencio",
    "wa_dates_ambiguous_month": "orden de la fecha ambiguo (ningún campo mayor que 12): leídas con el mes primero "
    "(horas AM/PM con barras, como en Estados Unidos); solo cambia dónde se cortan las conversaciones por silencio",
    "wa_cut_at_blank": "las conversaciones terminan donde el archivo tiene una línea en blanco antes de un mensaje "
    "({count} sitios), no por silencio",
    "wa_owner_deleted": '{owner} se toma como el negocio: la exportación dice "Eliminaste este mensaje" a su nombre',
    "wa_agent_guessed": "{agent} se toma como el agente: de las dos personas, {customer} empieza más conversaciones "
    "({starts} de {sessions}); indica el agente para cambiarlo",
    # chat logs
    "log_ops_as_agents": "{nicks} escritos como operadores del canal (<@apodo>): se toman como el lado del agente; "
    "indica el agente para cambiarlo",
    "log_no_dates": "el registro da horas sin fechas: una hora anterior a la de antes se toma como el día siguiente",
    # Signal
    "sig_markdown": "chat de Signal tal como lo escribe signal-export (Markdown)",
    "sig_backup_txt": "chat de Signal tal como lo escribe signalbackup-tools (texto plano)",
    "sig_me_owner": '"Me" es la cuenta que exportó el chat: se toma como el agente (indica el agente para cambiarlo)',
    "sig_owner_by_file_name": "el archivo lleva el nombre de {customer}: la otra persona, {owner}, se toma como la "
    "cuenta que lo exportó y como el agente (indica el agente para cambiarlo)",
}
