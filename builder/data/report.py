"""The import report: counts gathered while importing, the REPORT.json made from them, and its summary lines.

Memory stays small whatever the size of the files: a few integers per kept conversation.
"""

from __future__ import annotations

import statistics
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from builder.config.recipe import FieldMapping
from builder.core.conversation import Conversation
from builder.data.advisor import advise
from builder.data.cleaning import Cleaner, LanguageDetector, skeleton
from builder.data.plausible import Plausibility, plausibility_notes
from builder.importers import DetectedFormat, Note, ReadItem, is_id_or_role_word
from builder.importers.registry import reader_named

TEMPLATE_TOP_N = 10
MISREAD_SHARE = 0.5  # this share of a file's kept conversations made of ids or role words: the columns were misread
REPLY_WORDS_SAMPLE = 10_000  # a bounded sample is enough for a median
SPEAKERS_TRACKED = 5_000  # names counted per file; a file with more was surely cut wrongly (memory stays flat)
SPEAKERS_LISTED = 12  # names a summary line shows


@dataclass
class FileStats:
    """One file's counts: records, conversations kept, and what its reader counted message by message."""

    detected: DetectedFormat
    records: int = 0
    kept: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    misread: int = 0  # kept conversations whose turns are mostly ids or role words
    misread_example: str = ""
    # The reader's counts summed over the file's records: messages, system_lines, media_only, dropped...
    counts: Counter[str] = field(default_factory=Counter)
    speakers: Counter[str] = field(default_factory=Counter)  # speaker name -> messages (chat-app formats)
    speakers_untracked: int = 0  # messages of speakers beyond SPEAKERS_TRACKED (a misread file)
    speaker_roles: dict[str, Counter[str]] = field(default_factory=dict)  # name -> role -> conversations
    guessed: int = 0  # conversations whose agent was guessed from who wrote first
    messages_kept: int = 0  # messages in the conversations kept
    set_aside: Counter[str] = field(default_factory=Counter)  # records set aside, by reason
    duplicates: int = 0
    seen: Plausibility = field(default_factory=Plausibility)

    def read_item(self, item: ReadItem) -> None:
        """Count what the reader said about one record (kept or not)."""
        self.records += 1
        if item.shape:
            self.shapes[item.shape] += 1
        conv = item.conversation
        counts = dict(item.counts or {})
        if conv is not None and "messages" not in counts:  # a generic reader: its turns are its messages
            counts["messages"] = sum(1 for m in conv.messages if m.role != "system")
        self.counts.update(counts)
        for name, messages in (item.speakers or {}).items():
            if name in self.speakers or len(self.speakers) < SPEAKERS_TRACKED:
                self.speakers[name] += messages
            else:
                self.speakers_untracked += messages
        self.seen.add_names(item.speakers or {})
        if conv is None:
            return
        self.seen.add_turns([m.content for m in conv.messages if m.role != "system"])
        roles = conv.metadata.get("speakers")
        if isinstance(roles, dict) and item.speakers is not None:
            for name, role in roles.items():
                if name in self.speakers:
                    self.speaker_roles.setdefault(name, Counter())[str(role)] += 1
        self.guessed += bool(conv.metadata.get("speakers_guessed"))

    def agents(self) -> list[str]:
        """Speakers taken for the agent in at least one conversation."""
        return [name for name, roles in self.speaker_roles.items() if roles.get("assistant")]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.detected.to_dict(),
            "title": reader_title(self.detected.reader),
            "records": self.records,
            "kept": self.kept,
            "shapes": dict(self.shapes),
            "speakers": dict(self.speakers.most_common()),
            "speaker_roles": {name: dict(roles) for name, roles in self.speaker_roles.items()},
            "agents": self.agents(),
            "agent_guessed": self.guessed,
            "counts": {**dict(self.counts), "messages_kept": self.messages_kept},
            "set_aside": dict(self.set_aside.most_common()),
            "duplicates": self.duplicates,
            "notes": [note.to_dict() for note in self.detected.notes],
        }

    def notes(self) -> list[Note]:
        """What looks wrong with this file as a whole (``warnings`` in English)."""
        path, found = str(self.detected.path), []
        if self.detected.format == "empty":
            found.append(Note("file_empty", {"path": path}))
        if len(self.shapes) > 1:
            shapes = ", ".join(f"{n} {s}" for s, n in self.shapes.most_common())
            found.append(Note("file_shapes", {"path": path, "shapes": shapes}))
        guessed = [note for note in self.detected.notes if note.key == "guessed_columns"]
        found += [Note("file_guessed", {"path": path, **note.values}) for note in guessed]
        if self.kept and self.misread / self.kept >= MISREAD_SHARE:
            fields = ", ".join(f"{k}={v}" for k, v in self.detected.fields.items() if v is not None)
            values = {"path": path, "misread": self.misread, "kept": self.kept, "example": self.misread_example}
            found.append(Note("file_misread", {**values, "fields": fields}))
        found += plausibility_notes(path, self.seen, self.speakers)
        if self.set_aside.get("agent_unknown"):
            found.append(Note("file_agent_unknown", {"path": path, "count": self.set_aside["agent_unknown"],
                                                     "speakers": speaker_list(self.speakers)}))  # fmt: skip
        return found

    def warnings(self) -> list[str]:
        return [note.text() for note in self.notes()]


def reader_title(name: str | None) -> str | None:
    """The reader's name for people ("WhatsApp chat export"), where a registered reader has one."""
    reader = reader_named(name) if name else None
    return getattr(reader, "title", None)


def speaker_list(speakers: Counter[str] | dict[str, int], marked: dict[str, str] | None = None) -> str:
    """The speakers by messages for a line of text ("Acme* 40, Ana 20, … (+3)"); ``marked``: name -> mark."""
    ordered = sorted(speakers.items(), key=lambda kv: -kv[1])
    marks = marked or {}
    shown = [f"{name}{marks.get(name, '')} {n}" for name, n in ordered[:SPEAKERS_LISTED]]
    if len(ordered) > SPEAKERS_LISTED:
        shown.append(f"… (+{len(ordered) - SPEAKERS_LISTED})")
    return ", ".join(shown)


def looks_misread(conv: Conversation, mapping: FieldMapping) -> bool:
    """Every customer turn, or most turns, are ids or role words (``c1``, ``cliente``): not what people write.

    Agent turns alone may be short labels (``0``/``1`` in a sentiment file): those do not count.
    """
    odd = [(m.role, is_id_or_role_word(m.content, mapping)) for m in conv.messages if m.role != "system"]
    users = [bad for role, bad in odd if role == "user"]
    return bool(odd) and ((bool(users) and all(users)) or 2 * sum(bad for _, bad in odd) > len(odd))


class ImportStats:
    """Counts of one import: records seen, kept, set aside by reason, duplicates, and what the kept ones hold."""

    def __init__(self, mapping: FieldMapping) -> None:
        self.mapping = mapping
        self.seen = self.kept = self.quarantined = 0
        self.reasons: Counter[str] = Counter()
        self.duplicate_kinds: Counter[str] = Counter()
        self.language_counts: Counter[str] = Counter()
        self.role_counts: Counter[str] = Counter()
        self.reply_templates: Counter[int] = Counter()
        self.reply_words = array("I")
        self.turns = array("I")
        self.tokens = array("I")
        self.files: list[FileStats] = []

    def set_aside(self, reason: str | None, file: FileStats | None = None) -> None:
        self.seen += 1
        self.quarantined += 1
        self.reasons[reason or "unknown"] += 1
        if file is not None:
            file.set_aside[reason or "unknown"] += 1

    def duplicate(self, kind: str, file: FileStats | None = None) -> None:
        self.seen += 1
        self.duplicate_kinds[kind] += 1
        if file is not None:
            file.duplicates += 1

    def keep(self, conv: Conversation, file: FileStats, messages: int | None = None) -> None:
        """Count a kept conversation; ``messages``: how many messages its reader made it of (else its turns)."""
        self.seen += 1
        self.kept += 1
        file.kept += 1
        file.messages_kept += messages if messages is not None else sum(m.role != "system" for m in conv.messages)
        if conv.language:
            self.language_counts[conv.language] += 1
        self.turns.append(sum(1 for m in conv.messages if m.role != "system"))
        # About 4 characters a token for English and Spanish with common tokenizers; cheap and tokenizer-free.
        self.tokens.append(sum(len(m.content) for m in conv.messages) // 4 + 1)
        for m in conv.messages:
            self.role_counts[m.role] += 1
            if m.role == "assistant":
                # Python's hash of a str is salted per process: CRC32 keeps the counts repeatable.
                self.reply_templates[zlib.crc32(skeleton(m.content[:300]).encode())] += 1
                if len(self.reply_words) < REPLY_WORDS_SAMPLE:
                    self.reply_words.append(len(m.content.split()))
        if looks_misread(conv, self.mapping):
            file.misread += 1
            file.misread_example = file.misread_example or " / ".join(m.content for m in conv.messages)[:80]

    def report(
        self,
        *,
        options: dict[str, Any],
        cleaner: Cleaner,
        languages: LanguageDetector,
        stopped_early: bool,
        warnings: list[str | Note],
    ) -> dict[str, Any]:
        """The REPORT.json content, with the readiness advice among its warnings.

        ``notes`` holds the keyed ones among the warnings too, for readers that say them in another language.
        """
        replies = sum(self.reply_templates.values())
        # Only templates used more than once count: ten distinct replies are not ten templates.
        top = sum(n for _, n in self.reply_templates.most_common(TEMPLATE_TOP_N) if n > 1)
        report: dict[str, Any] = {
            "seen": self.seen,
            "kept": self.kept,
            "quarantined": self.quarantined,
            "duplicates": sum(self.duplicate_kinds.values()),
            "quarantine_reasons": dict(self.reasons.most_common()),
            "duplicate_kinds": dict(self.duplicate_kinds),
            "languages": dict(self.language_counts.most_common()),
            "turns": summary(self.turns),
            "approx_tokens": summary(self.tokens),
            "messages_by_role": dict(self.role_counts),
            "redactions": dict(cleaner.redactions),
            "turns_merged": cleaner.turn_stats.merged,
            "empty_turns_dropped": cleaner.turn_stats.empty_dropped,
            "templates": {
                "agent_replies": replies,
                "distinct": len(self.reply_templates),
                "top_n": TEMPLATE_TOP_N,
                "top_share": round(top / replies, 4) if replies else None,
                "median_words": sorted(self.reply_words)[len(self.reply_words) // 2] if self.reply_words else None,
            },
            "files": [f.to_dict() for f in self.files],
            "options": options,
            "mapping": self.mapping.model_dump(mode="json"),
            "language_detection": {
                "by_stopwords": languages.calls_stopwords,
                "by_langdetect": languages.calls_langdetect,
            },
            "stopped_early": stopped_early,
        }
        assert report["seen"] == report["kept"] + report["quarantined"] + report["duplicates"]
        report["warnings"] = list(dict.fromkeys([*map(str, warnings), *advise(report)]))
        report["notes"] = [w.to_dict() for w in warnings if isinstance(w, Note)]
        return report


def summary(values: array) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "min": ordered[0],
        "mean": round(statistics.fmean(ordered), 2),
        "median": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
        "total": sum(ordered),
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The report in a few lines for a terminal: each file (format, speakers, counts), the totals, languages,
    redactions. The warnings follow separately."""
    lines: list[str] = []
    for f in report["files"]:
        lines += file_lines(f)
    reasons = ", ".join(f"{k} {v}" for k, v in report["quarantine_reasons"].items())
    lines.append(
        f"seen {report['seen']}, kept {report['kept']}, quarantined {report['quarantined']}"
        + (f" ({reasons})" if reasons else "")
        + f", duplicates {report['duplicates']}"
    )
    if report["languages"]:
        lines.append("languages: " + ", ".join(f"{k} {v}" for k, v in report["languages"].items()))
    if report["redactions"]:
        lines.append("redacted: " + ", ".join(f"{k} {v}" for k, v in report["redactions"].items()))
    return lines


def speaker_marks(file: dict[str, Any]) -> dict[str, str]:
    """A mark by speaker (" (agent)", " (agent in 2 of 5)", " (left out)") from a file entry of the report."""
    marks = {}
    for name, roles in (file.get("speaker_roles") or {}).items():
        total, agent = sum(roles.values()), roles.get("assistant", 0)
        if agent:
            marks[name] = " (agent)" if agent == total else f" (agent in {agent} of {total})"
        elif roles.get("drop"):
            marks[name] = " (left out)"
    return marks


def file_lines(file: dict[str, Any]) -> list[str]:
    """One file of the report: the format taken, then its speakers and counts, indented."""
    title = file.get("title") or file.get("reader") or file["format"]
    lines = [f"{file['path']}: read as {title} [{file.get('reader')}] ({file['description']}); "
             f"{file['records']} records, {file['kept']} kept"]  # fmt: skip
    speakers = file.get("speakers") or {}
    if speakers:
        lines.append(f"  speakers: {speaker_list(speakers, speaker_marks(file))}")
        if file.get("agent_guessed"):
            lines.append(f"  the agent was guessed in {file['agent_guessed']} conversations (name it: --agent NAME)")
    counts = dict(file.get("counts") or {})
    if counts.get("messages") or counts.get("system_lines") or counts.get("media_only"):
        kept = counts.pop("messages_kept", None)
        parts = [
            f"messages {counts.pop('messages', 0)}" + (f" ({kept} in kept conversations)" if kept is not None else "")
        ]
        parts += [f"{COUNT_NAMES.get(k, k.replace('_', ' '))} {v}" for k, v in counts.items() if v]
        lines.append("  " + ", ".join(parts))
    aside = ", ".join(f"{k} {v}" for k, v in (file.get("set_aside") or {}).items())
    if aside or file.get("duplicates"):
        lines.append(f"  set aside: {aside or 'none'}; duplicates {file.get('duplicates', 0)}")
    return lines


COUNT_NAMES = {"system_lines": "system lines", "media_only": "media-only", "dropped": "left out (dropped speakers)"}
