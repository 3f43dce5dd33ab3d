"""What a name of a saved query or list, and a PMID, may be: checked before anything is written.

A name is any text a user types (Unicode, quotes, emoji are fine), NFC-normalised and
stripped of surrounding white space, 1 to :data:`MAX_NAME` characters, without control
characters (they would garble terminals and file listings; the error says so rather
than silently dropping them). Names are unique ignoring case: :func:`name_key`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ingest.errors import LibraryError

MAX_NAME = 200
#: C0 and C1 control characters and DEL (tab and newline included: a name is one line).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: PMIDs are positive integers; PubMed's are at most 8 digits today, 10 leaves room.
_PMID = re.compile(r"[0-9]{1,10}")


def clean_name(raw: str, *, what: str = "name") -> str:
    """``raw`` as it will be stored, or :class:`LibraryError` saying why it cannot be a name."""
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise LibraryError(f"The {what} is empty.", hint='Give a name, e.g. "diabetes trials".')
    if _CONTROL.search(name):
        raise LibraryError(
            f"The {what} {name!r} contains control characters (tab, newline, escape...).",
            hint="Use printable characters only.",
        )
    if len(name) > MAX_NAME:
        raise LibraryError(
            f"The {what} is {len(name)} characters long; at most {MAX_NAME} are allowed.",
            hint="Choose a shorter name.",
        )
    return name


def name_key(name: str) -> str:
    """The key names are unique by: NFC and case-folded, so "Diabetes" equals "diabetes"."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).strip().casefold())


def parse_pmid(raw: str) -> str:
    """A PMID as stored: digits only, no leading zeros; :class:`LibraryError` otherwise."""
    text = raw.strip()
    if not _PMID.fullmatch(text) or int(text) == 0:
        raise LibraryError(
            f"{text!r} is not a PMID.",
            hint="A PMID is a positive whole number, e.g. 31452104.",
        )
    return str(int(text))


def parse_pmids(raws: Iterable[str]) -> list[str]:
    """PMIDs in order, duplicates dropped; every bad one named in one error, before any write."""
    bad: list[str] = []
    out: dict[str, None] = {}
    for raw in raws:
        try:
            out[parse_pmid(raw)] = None
        except LibraryError:
            bad.append(raw)
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise LibraryError(
            f"Not a PMID: {shown}; nothing was changed.",
            hint="A PMID is a positive whole number, e.g. 31452104.",
        )
    return list(out)


def shell_arg(name: str) -> str:
    """``name`` as the last argument of a shell command in a hint: quoted for the shell, and after
    ``--`` when it starts with '-' (a list named ``--help`` would run the help instead)."""
    import shlex

    shown = " ".join(_CONTROL.sub(" ", name).split())
    return f"-- {shlex.quote(shown)}" if shown.startswith("-") else shlex.quote(shown)
