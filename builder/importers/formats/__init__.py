"""One module per export format, each registering its reader (``builder.importers.registry``).

The generic readers (``generic``: JSON, JSONL, CSV, speaker-prefixed text) say ``generic = True``, so
that a format-specific reader that is as sure wins a tie.
"""

from builder.importers.formats import (
    chat_log,
    chatgpt_export,
    discord,
    freshdesk,
    generic,
    intercom,
    messenger,
    signal,
    slack,
    telegram,
    whatsapp,
    zendesk,
)

# Importing this package registers every format module; ``READERS_LOADED`` is what the detector imports
# to be sure of it.
READERS_LOADED = (
    whatsapp,
    signal,
    chat_log,
    telegram,
    slack,
    discord,
    messenger,
    zendesk,
    freshdesk,
    intercom,
    chatgpt_export,
    generic,
)
