"""``python -m mailwatch`` runs the command line."""

import sys

from mailwatch.cli import main

sys.exit(main())
