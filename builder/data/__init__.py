"""Import transcripts: read every file, clean, quarantine what cannot be used, report what happened.

Library (``builder.data.library``)::

    prepared = prepare_conversations(recipe)            # what training uses
    prepared = import_files([Path("chats.csv")], FieldMapping())
    det = detect_format(Path("chats.csv")); det.description

The report (``builder.data.report``) counts as the import goes; the command line
(``builder.data.cli``)::

    python -m builder.data import FILE... --out OUT.jsonl [--report REPORT.json] [options]
    python -m builder.data detect FILE...
"""

from builder.data.cli import main, quarantine_path
from builder.data.library import (
    ImportOptions,
    ImportRun,
    PreparedData,
    import_files,
    mapping_from_recipe,
    prepare_conversations,
)
from builder.importers import DataError, DetectedFormat, detect_format

__all__ = [
    "DataError",
    "DetectedFormat",
    "ImportOptions",
    "ImportRun",
    "PreparedData",
    "detect_format",
    "import_files",
    "main",
    "mapping_from_recipe",
    "prepare_conversations",
    "quarantine_path",
]
