"""``python -m builder.evaluate``: the command line lives in ``builder.evaluate.runner``."""

import sys

from builder.evaluate.runner import main

if __name__ == "__main__":
    sys.exit(main())
