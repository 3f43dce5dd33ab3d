"""The caps on what the library holds and reads, checked before anything is written
(``docs/library.md`` states them): a list's length, a note's length, the size of an imported
file and of a backup, the nesting of JSON read from either, and the range of every number a
backup restores."""

from __future__ import annotations

import re
from itertools import accumulate
from pathlib import Path

from ingest.errors import LibraryError

#: Papers in one list (PubMed's own clipboard holds 500, a collection 5,000; a systematic
#: review's screening set rarely passes 20,000).
MAX_LIST_ENTRIES = 100_000
#: Characters of one note on a paper of a list.
MAX_NOTE_CHARS = 10_000
#: Bytes of a citation file `lists import` reads (a RIS export of 20,000 references is ~40 MB).
MAX_IMPORT_BYTES = 64 * 1024 * 1024
#: Bytes of a backup `library restore` reads.
MAX_BACKUP_BYTES = 512 * 1024 * 1024
#: Levels of JSON nesting in an imported CSL-JSON file or a backup line (both need fewer than 8).
MAX_JSON_DEPTH = 32
#: The largest whole number the library stores (DuckDB INTEGER).
MAX_INT = 2**31 - 1

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (no recursion, no parsing)."""
    moves = (1 if b in "[{" else -1 for b in _BRACKETS.findall(_STRING.sub("", text)))
    return max(accumulate(moves, initial=0))


def check_json_depth(text: str, what: str) -> None:
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise LibraryError(f"{what} nests JSON {depth} levels deep; at most {MAX_JSON_DEPTH} are read.",
                           hint="It was not written by medsearch or a reference manager; nothing was changed.")


def check_file_size(path: str | Path, limit: int, what: str) -> None:
    """:class:`LibraryError` when the file at ``path`` is larger than ``limit`` bytes (read nothing)."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # the reader reports a missing or unreadable file in its own words
    if size > limit:
        raise LibraryError(f"{what} {path} is {size / 2**20:,.1f} MB; at most {limit / 2**20:,.0f} MB are read.",
                           hint="Split it into smaller files; nothing was changed.")


def check_note(note: str | None) -> None:
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise LibraryError(f"The note is {len(note):,} characters long; at most {MAX_NOTE_CHARS:,} are kept.",
                           hint="Shorten it; nothing was changed.")


def check_list_size(name: str, size: int) -> None:
    if size > MAX_LIST_ENTRIES:
        raise LibraryError(f"The list {name!r} would hold {size:,} papers; a list holds at most "
                           f"{MAX_LIST_ENTRIES:,}.", hint="Split the papers over several lists; nothing was changed.")
