"""`python -m importer` is the `archive-import` command."""

import sys

from importer.cli import main

sys.exit(main())
