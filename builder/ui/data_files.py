"""The Data tab's view of each file: its format, its speakers with message counts and roles, its counts.

Entries are the import report's file entries (``report["files"]``), or the same from a quick look before
importing (``builder.data.peek``). Names of files and speakers are untrusted: they reach Markdown only
through ``plain_markdown``, and the speakers table is plain text cells.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from builder.importers import Note
from builder.ui.common import plain_markdown
from builder.ui.i18n import message_text, t, t_known

if TYPE_CHECKING:
    from builder.data.peek import FilePeek
    from builder.importers import DetectedFormat

SPEAKER_COLUMNS = ("col_file", "col_format", "col_speaker", "col_messages", "col_speaker_role")
SPEAKER_ROWS_SHOWN = 300  # a misread file may have thousands of "speakers"; the report has them all
COUNT_KEYS = ("system_lines", "media_only", "dropped")  # shown after the messages, when not zero


def peek_entries(peeks: list[FilePeek]) -> list[dict[str, Any]]:
    """The quick look at each file as report-like entries (an unreadable file: its path and error)."""
    entries: list[dict[str, Any]] = []
    for seen in peeks:
        if seen.stats is None:
            entries.append({"path": str(seen.path), "error": seen.error})
            continue
        entry = seen.stats.to_dict()
        entry["counts"].pop("messages_kept", None)
        entries.append({**entry, "complete": seen.complete})
    return entries


def format_description(detected: DetectedFormat | SimpleNamespace, lang: str) -> str:
    """The importer's description of a detected file (``DetectedFormat.description``) in ``lang``, notes too;
    a report's file entry comes as a namespace of the same fields (``_detected``)."""
    container = str(getattr(detected.container, "value", detected.container))
    parts = [
        f"{t_known(f'fmt_c_{container}', lang, container)}, {t_known(f'fmt_{detected.format}', lang, detected.format)}"
    ]
    if detected.delimiter is not None:
        parts.append(
            f"{t('fmt_delimiter', lang)} " + ("TAB" if detected.delimiter == "\t" else repr(detected.delimiter))
        )
    if container != "none":
        parts.append(f"{t('fmt_encoding', lang)} {t_known(f'enc_{detected.encoding}', lang, detected.encoding)}")
    if detected.header is not None and container == "csv":
        parts.append(t("fmt_header" if detected.header else "fmt_no_header", lang))
    shown = {k: v for k, v in detected.fields.items() if v is not None and not k.startswith("_")}
    if shown:
        parts.append(f"{t('fmt_fields', lang)} " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    return "; ".join([", ".join(parts), *(message_text(note, lang) for note in detected.notes)])


def _detected(entry: dict[str, Any]) -> SimpleNamespace:
    """What ``format_description`` needs, from a report's file entry."""
    notes = [Note(n["key"], n.get("values") or {}) for n in entry.get("notes") or []]
    keys = ("container", "format", "delimiter", "encoding", "header")
    return SimpleNamespace(**{k: entry.get(k) for k in keys}, fields=entry.get("fields") or {}, notes=notes)


def files_markdown(entries: list[dict[str, Any]], lang: str, shown: Callable[[str], str] = str) -> str:
    """The files in use: each file's name and how it is read, as text."""
    lines = [f"**{t('files', lang)}:**"]
    for entry in entries:
        name = plain_markdown(Path(str(entry["path"])).name)
        said = entry["error"] if "error" in entry else format_description(_detected(entry), lang)
        lines.append(f"- {name}: {plain_markdown(shown(said))}")
    return "\n".join(lines)


def role_text(roles: dict[str, int], lang: str) -> str:
    """A speaker's role over its conversations: agent, agent in some, left out, customer, or not known yet."""
    total, agent = sum(roles.values()), roles.get("assistant", 0)
    if agent:
        return t("role_agent", lang) if agent == total else t("role_agent_some", lang, agent=agent, total=total)
    if roles.get("drop"):
        return t("role_dropped", lang)
    return t("role_customer", lang) if roles.get("user") else t("role_unknown", lang)


def speaker_table(entries: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """One row per speaker of each file: file, format, speaker, messages, role (plain text cells)."""
    rows: list[list[Any]] = []
    for entry in entries:
        fmt = t_known(f"fmt_{entry.get('format')}", lang, str(entry.get("format") or ""))
        roles = entry.get("speaker_roles") or {}
        for name, messages in (entry.get("speakers") or {}).items():
            rows.append([Path(str(entry["path"])).name, fmt, name, messages, role_text(roles.get(name) or {}, lang)])
    return {"headers": [t(key, lang) for key in SPEAKER_COLUMNS], "data": rows[:SPEAKER_ROWS_SHOWN]}


def speaker_choices(entries: list[dict[str, Any]], keep: Sequence[str] = ()) -> list[str]:
    """Every speaker found, most messages first, for the agent and drop pickers; ``keep``: names already chosen."""
    total: Counter[str] = Counter()
    for entry in entries:
        total.update(entry.get("speakers") or {})
    found = [name for name, _ in total.most_common(SPEAKER_ROWS_SHOWN)]
    return [*found, *(name for name in keep if name not in total)]


def file_report_lines(report: dict[str, Any], lang: str) -> list[str]:
    """Each file of an import in a line: conversations kept, messages, system lines, media-only, set aside."""
    lines = []
    for entry in report.get("files") or []:
        if not isinstance(entry, dict):
            continue
        counts = dict(entry.get("counts") or {})
        parts = [t("rk_file", lang, kept=entry.get("kept", 0), records=entry.get("records", 0))]
        messages = counts.get("messages", 0)
        if messages:
            kept = counts.get("messages_kept", 0)
            parts.append(t("rk_messages", lang, messages=messages, kept=kept))
        other = [k for k in counts if k not in ("messages", "messages_kept") and counts[k]]
        parts += [f"{t_known(f'rk_{k}', lang, k.replace('_', ' '))} {counts[k]}" for k in other]
        if entry.get("agent_guessed"):
            parts.append(t("rk_guessed", lang, count=entry["agent_guessed"]))
        aside = entry.get("set_aside") or {}
        if aside:
            parts.append(f"{t('rk_set_aside', lang)}: " + ", ".join(f"{k} {v}" for k, v in aside.items()))
        lines.append(f"- {plain_markdown(Path(str(entry['path'])).name)}: " + "; ".join(parts))
    return lines


def reason_text(reason: str, lang: str) -> str:
    """Why a record was set aside, in ``lang``, with what to do on this page (``reason_*`` texts)."""
    return t_known(f"reason_{reason}", lang, reason.replace("_", " "))


# The importers' messages name the command line's flags; the page names its own fields.
_FLAGS = (
    (re.compile(r"--role-map (\S+)"), "field_role_map_value"),
    (re.compile(r"--role-map"), "field_role_map"),
    (re.compile(r"--drop-speakers? (?:NAME|\S+)"), "field_drop"),
    (re.compile(r"--agent (?:NAME|\S+)( on the command line)?"), "field_agent"),
    (re.compile(r"--role-field"), "field_role_field"),
)


def ui_fields(text: str, lang: str) -> str:
    """An importer's message with each command-line flag replaced by the Data tab's field, in ``lang``."""
    for pattern, key in _FLAGS:
        text = pattern.sub(functools.partial(_field_text, key, lang), text)
    return text


def _field_text(key: str, lang: str, flag: re.Match[str]) -> str:
    """The field's name for a flag; a flag with a group (``on the command line``) passes it on as ``value``."""
    return t(key, lang, value=flag.group(1) or "") if flag.groups() else t(key, lang)
