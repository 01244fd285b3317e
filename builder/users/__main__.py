import sys

from builder.users.cli import main

sys.exit(main())
