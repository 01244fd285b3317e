"""``python -m builder.sft``: the command line lives in ``builder.cli.sft``."""

import sys

from builder.cli.sft import main

if __name__ == "__main__":
    sys.exit(main())
