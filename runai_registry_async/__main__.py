"""``python -m runai_registry_async``: the ``runai-registry`` command line."""

import sys

from .cli import main

sys.exit(main())
