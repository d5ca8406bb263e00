"""``python -m trio_pterows`` is the ``pterows`` command."""

import sys

from .cli import main

sys.exit(main())
