"""``python -m builder.data``: see ``builder.data.cli``."""

import sys

from builder.data.cli import main

sys.exit(main())
