"""`python -m skyt1.cli ...` runs the `skyt1` command."""
import sys

from . import main

sys.exit(main())
