"""``python -m builder.feedback``: the command line lives in ``builder.cli.feedback``."""

import sys

from builder.cli.feedback import main

if __name__ == "__main__":
    sys.exit(main())
