"""``python -m anonymizer``: the same as the ``anonymize`` command."""

import sys

from anonymizer.cli import main

sys.exit(main())
