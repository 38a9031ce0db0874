#!/usr/bin/env python3
"""symlora — the command-line client of symlorad (see `symlora --help`).

Runs from a checkout (python3 clients/symlora.py ...) or installed by `make install`
(BINDIR/symlora links here; the symlora/ package sits beside this file)."""
import os
import sys

sys.dont_write_bytecode = True  # nothing written next to an installed (read-only) copy
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from symlora.cli import main  # noqa: E402  (the package directory wins over this file)

if __name__ == "__main__":
    sys.exit(main())
