"""``python -m cs231n`` runs the course command line."""

import sys

from cs231n.course.cli import main

sys.exit(main())
