"""``python -m builder.serve``: the command line lives in ``builder.serve.server``."""

import sys

from builder.serve.server import main

if __name__ == "__main__":
    sys.exit(main())
