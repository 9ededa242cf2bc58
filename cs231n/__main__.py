"""``python -m cs231n`` runs the course command line."""

import sys

from cs231n.cli import main

sys.exit(main())
