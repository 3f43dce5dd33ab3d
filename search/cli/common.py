"""What every command module of the CLI shares: argument types, output that is safe for a
terminal, opening the store, and the error / interrupt guard."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from typing import Any

from search.config import Settings

#: C0 and C1 control characters but tab and newline, and DEL: record text is untrusted, and an
#: ESC or OSC sequence in a title would clear the screen or set the window title. With them the
#: bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069): a U+202E in a title shows
#: the rest of the line reversed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The C1 range (and line/paragraph separators), which json.dumps leaves raw when
#: ``ensure_ascii=False``; some terminals read U+009B as CSI.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """``text`` with control characters (ESC, BEL, CR, ...) removed: fit for a terminal."""
    return _CONTROL.sub("", str(text))


def safe_line(text: object) -> str:
    """:func:`safe`, and on one line (newlines and tabs become spaces)."""
    return " ".join(safe(text).split())


def dumps(obj: Any) -> str:
    """JSON for stdout: non-ASCII letters kept readable, every control character escaped."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(obj: Any) -> None:
    print(dumps(obj))


def date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def open_store(settings: Settings, *, read_only: bool = False, lock: bool | None = None):
    """The corpus store. Writers (``read_only=False``, or ``lock=True``) take the store's writer
    lock first, saying on stderr whom they wait for when another writer holds it."""
    from ingest.lock import wait_message
    from ingest.store import Store

    return Store(settings.db, read_only=read_only, lock=lock,
                 on_wait=lambda holder: print(wait_message(holder), file=sys.stderr, flush=True))


def write_stdout(text: str) -> None:
    """Write ``text`` to stdout and flush it: a full disk or device behind stdout is an error
    (exit 2), not a silent success. A reader that left (``| head``) stays a BrokenPipeError."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise stdout_error(exc) from exc


def flush_stdout() -> None:
    """Flush stdout now: a full disk behind it is an error (exit 2) here, before what follows."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise stdout_error(exc) from exc


def stdout_error(exc: OSError):
    """The error for a failed write to stdout. What is left in stdout's buffer goes to devnull, so
    the interpreter's last flush does not fail again (and turn exit 2 into 120)."""
    import os

    from ingest.errors import MedsearchError

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a replaced sys.stdout without a file descriptor
        pass
    return MedsearchError(f"Cannot write to stdout: {exc.strerror or exc}.",
                          hint="Free space where stdout goes, or send it somewhere else (e.g. -o FILE).")


def warn(message: str) -> None:
    print(f"warning: {safe(message)}", file=sys.stderr)


def library_of(settings):
    """The user's library (``search.library.Library``) the settings name."""
    from search.library import Library

    return Library(settings.library_path)


def shell_quote(name: str) -> str:
    """A name as the user would type it in a shell command (for hints), as the last options-free
    part of it: a name that starts with '-' (``--help``) comes after ``--``, or it would be read
    as an option."""
    from search.library.names import shell_arg

    return shell_arg(safe_line(name))
