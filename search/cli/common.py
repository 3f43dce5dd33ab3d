"""What every command module of the CLI shares: argument types, output that is safe for a
terminal, opening the store, and the error / interrupt guard."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from datetime import date
from typing import Any

from search.config import Settings

#: C0 and C1 control characters but tab and newline, and DEL: record text is untrusted, and an
#: ESC or OSC sequence in a title would clear the screen or set the window title.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: The C1 range (and line/paragraph separators), which json.dumps leaves raw when
#: ``ensure_ascii=False``; some terminals read U+009B as CSI.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029]")


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


def warn(message: str) -> None:
    print(f"warning: {safe(message)}", file=sys.stderr)


def library_of(settings):
    """The user's library (``search.library.Library``) the settings name."""
    from search.library import Library

    return Library(settings.library_path)


def shell_quote(name: str) -> str:
    """A name as the user would type it in a shell command (for hints)."""
    return shlex.quote(safe_line(name))
