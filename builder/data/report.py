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

from builder.advisor import advise
from builder.cleaning import Cleaner, LanguageDetector, skeleton
from builder.conversation import Conversation
from builder.importers import DetectedFormat, Note, is_id_or_role_word
from builder.recipe import FieldMapping

TEMPLATE_TOP_N = 10
MISREAD_SHARE = 0.5  # this share of a file's kept conversations made of ids or role words: the columns were misread
REPLY_WORDS_SAMPLE = 10_000  # a bounded sample is enough for a median


@dataclass
class FileStats:
    detected: DetectedFormat
    records: int = 0
    kept: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    misread: int = 0  # kept conversations whose turns are mostly ids or role words
    misread_example: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.detected.to_dict(), "records": self.records, "kept": self.kept, "shapes": dict(self.shapes)}

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
        return found

    def warnings(self) -> list[str]:
        return [note.text() for note in self.notes()]


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

    def set_aside(self, reason: str | None) -> None:
        self.seen += 1
        self.quarantined += 1
        self.reasons[reason or "unknown"] += 1

    def duplicate(self, kind: str) -> None:
        self.seen += 1
        self.duplicate_kinds[kind] += 1

    def keep(self, conv: Conversation, file: FileStats) -> None:
        self.seen += 1
        self.kept += 1
        file.kept += 1
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
    """The report in a few lines for a terminal: files, counts, languages, redactions, then the warnings."""
    lines = [f"{f['path']}: {f['description']} ({f['records']} records, {f['kept']} kept)" for f in report["files"]]
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
