"""``python -m apr``: see :mod:`apr.cli`."""

import sys

from .cli import main

sys.exit(main())
