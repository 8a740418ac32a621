"""`python -m attnscope_capture`: the exporter's command line (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
