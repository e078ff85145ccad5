"""``python -m wamanager``: the same as the ``wamanager`` command."""

import sys

from .cli import main

sys.exit(main())
