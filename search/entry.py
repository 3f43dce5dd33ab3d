"""The ``medsearch`` console script: a Ctrl-C while Python is still loading the command line
(half a second) ends like any other, with "interrupted" and exit status 130, no traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from search.cli import main as run
    except KeyboardInterrupt:
        print("\ninterrupted.", file=sys.stderr)
        return 130
    return run()
