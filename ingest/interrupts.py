"""Ctrl-C held back while the store writes, so that it stops the program between batches.

DuckDB's Python client runs Python's signal handlers while a statement executes; when the
SIGINT handler raises ``KeyboardInterrupt`` there, DuckDB aborts the statement with its own
error instead ("Query interrupted", a ``RuntimeError``; "reading the schema of the object
registered as ... failed: KeyboardInterrupt" while it scans an Arrow table), and a COMMIT
cut so leaves the transaction "aborted (please ROLLBACK)". None of these is a
``KeyboardInterrupt``: the program would print a traceback and exit 1 instead of 130, and
record its run as failed.

Inside :class:`HeldInterrupts` a SIGINT only sets a flag, so no statement is cut. When the
block ends, committed or rolled back, the signal is raised again for the handler that was
in place before (Python's, which raises ``KeyboardInterrupt``). Written by hand: the
standard library has no such guard, and the one needed is a dozen lines.

A Ctrl-C can still be swallowed where Python code does not see it: DuckDB turns a
``KeyboardInterrupt`` raised inside a statement into its own error, or drops it when the
statement ends first. So the command line installs :func:`install` as the SIGINT handler: it
raises ``KeyboardInterrupt`` as Python's does, and also remembers the request, which
:func:`raise_if_requested` turns into a ``KeyboardInterrupt`` at the next batch boundary.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

_requested = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def install() -> None:
    """SIGINT raises ``KeyboardInterrupt`` and is remembered until the program stops (main thread)."""
    signal.signal(signal.SIGINT, _on_sigint)


def raise_if_requested() -> None:
    """A ``KeyboardInterrupt`` if a Ctrl-C came and was swallowed before it stopped the work."""
    if _requested:
        raise KeyboardInterrupt


class HeldInterrupts:
    """A context manager: SIGINT received inside it is delivered when it ends.

    Nests (an inner block hands a held signal to the outer one). Outside the main thread,
    which alone runs signal handlers, it holds nothing back.
    """

    def __init__(self) -> None:
        self.pending = False  # a SIGINT came while held
        self._previous: object = None
        self._active = False

    def __enter__(self) -> HeldInterrupts:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not None:  # None: a handler not set from Python, left alone
                self._previous = previous
                signal.signal(signal.SIGINT, self._hold)
                self._active = True
        return self

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        self.pending = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._active:
            return
        self._active = False
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
        if self.pending:
            # to the handler in place before: Python's raises KeyboardInterrupt from here
            # (replacing an exception on its way out: a Ctrl-C is never lost)
            signal.raise_signal(signal.SIGINT)
