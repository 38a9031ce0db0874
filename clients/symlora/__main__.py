"""python3 -m symlora ... (the same as the `symlora` command)."""
import sys

from .cli import main

sys.exit(main())
