"""``python -m molvae``: the same as the ``molvae`` command (and what ``torchrun -m molvae`` runs)."""

import sys

from molvae.cli import main

sys.exit(main())
