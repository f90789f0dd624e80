"""``python -m c2stats ...`` is the ``c2stats`` command."""

import sys

from .cli import main

sys.exit(main())
