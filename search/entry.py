"""The ``medsearch`` console script. A Ctrl-C while Python is still loading the command line
(half a second), or after the command has finished its work, ends like any other: with
"interrupted" and exit status 130 before the work ends, with the command's own status after
it, and never with a traceback or a process killed by the signal."""

from __future__ import annotations

import signal
import sys


def main() -> int:
    from search import runtime_env

    runtime_env.configure()  # before anything loads onnxruntime or OpenMP
    try:
        from search.cli import main as run
    except KeyboardInterrupt:
        print("\ninterrupted.", file=sys.stderr)
        return 130
    from ingest import interrupts

    interrupts.install()
    try:
        code = run()
    except KeyboardInterrupt:  # between the command's own guard and here
        return 130
    # The work is done: a Ctrl-C now, while Python shuts down, must not turn the exit
    # status into "killed by SIGINT".
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code
