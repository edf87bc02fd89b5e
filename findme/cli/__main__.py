"""``python -m findme.cli``: the same as the ``findme`` command."""

import sys

from findme.cli.main import main

sys.exit(main())
