"""``python -m builder.export``: the command line lives in ``builder.export.files``."""

import sys

from builder.export.files import main

if __name__ == "__main__":
    sys.exit(main())
