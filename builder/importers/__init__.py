"""Format detection and streaming readers: transcript files in, ``Conversation`` objects out.

Every reader yields ``ReadItem``s: either a conversation or a problem (file, line, reason, the raw
record truncated), so that a caller can count and quarantine instead of failing. JSONL, CSV/TSV and
text are read line by line, and a line that is not text is set aside by itself; a JSON document is
parsed item by item so that a truncated file still gives every complete dialogue before the cut.

Modules, one concern each:

- ``types``: the values passed around (``DetectedFormat``, ``ReadItem``, column layouts, errors)
- ``vocabulary``: role words and the names of keys and columns
- ``encoding``: encodings, binary lines, reading lines
- ``records`` and ``jsonfile``: JSON records to conversations; JSON and JSONL files
- ``csvsniff``, ``columns`` and ``csvfile``: CSV dialect, which column holds what, reading rows
- ``text``: speaker-prefixed transcripts
- ``detect``: which reader a file needs
- ``mapping``: the mapping keys as the CLI and the Data tab offer them
"""

from builder.importers.detect import collect_files, detect_format, read_file
from builder.importers.mapping import MAPPING_KEYS, MappingKey, mapping_from_values, mapping_values
from builder.importers.types import (
    DATA_SUFFIXES,
    FORMATS,
    Container,
    DataError,
    DetectedFormat,
    MessageColumns,
    Note,
    PairColumns,
    ReadItem,
    RecordError,
    snippet,
)
from builder.importers.vocabulary import is_id_or_role_word

__all__ = [
    "DATA_SUFFIXES",
    "FORMATS",
    "MAPPING_KEYS",
    "Container",
    "DataError",
    "DetectedFormat",
    "MappingKey",
    "MessageColumns",
    "Note",
    "PairColumns",
    "ReadItem",
    "RecordError",
    "collect_files",
    "detect_format",
    "is_id_or_role_word",
    "mapping_from_values",
    "mapping_values",
    "read_file",
    "snippet",
]
