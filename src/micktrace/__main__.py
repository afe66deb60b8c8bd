"""``python -m micktrace``: the command line (see micktrace.cli)."""

import sys

from .cli import main

sys.exit(main())
