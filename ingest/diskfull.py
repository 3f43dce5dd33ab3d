"""A full disk, recognised wherever it surfaces, and said as one error.

A write that runs out of space shows up as an ``OSError`` (``ENOSPC``) from Python, or as a
DuckDB ``IOException`` / ``TransactionException`` ("Could not write file "...": No space left
on device"), sometimes followed by a second error from the clean-up of the first. Writers (the
store, the library file, the index build) and, as a last guard, the CLI and the app turn any of
these into :class:`~ingest.errors.DiskFullError`: the path, the space left, what to do, exit 2.
Nothing is lost by it: transactions roll back, and an index build publishes nothing half made.
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

from ingest.errors import DiskFullError

_NO_SPACE = re.compile(r"no space left on device|disk is full|not enough space|disk full", re.IGNORECASE)
_DUCKDB_FILE = re.compile(r'file "([^"]+)"')

HINT = ("Free some space there (or point MEDSEARCH_DB, MEDSEARCH_INDEX_DIR or MEDSEARCH_LIBRARY_DB at a "
        "larger disk), then run the command again: what was stored before is intact, and the current "
        "index snapshot still serves searches.")


def disk_full(exc: BaseException, path: str | Path | None = None, *, hint: str = HINT) -> DiskFullError | None:
    """The :class:`DiskFullError` that ``exc`` (or an exception it was raised from or during) means,
    or ``None`` when it is not about space. ``path``: what was written, when the error does not say."""
    for err in _chain(exc):
        if isinstance(err, DiskFullError):
            return err
        found = _space_problem(err)
        if found is not None:
            where = found or (str(path) if path is not None else None)
            return _error(where, hint)
    return None


def _chain(exc: BaseException):
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo += [err.__cause__, err.__context__]


def _space_problem(err: BaseException) -> str | None:
    """'' or the path named when ``err`` is a lack of space; None when it is something else."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(err.filename or "")
    module = type(err).__module__ or ""
    if ("duckdb" in module or isinstance(err, OSError)) and _NO_SPACE.search(str(err)):
        m = _DUCKDB_FILE.search(str(err))
        return m.group(1) if m else ""
    return None


def _error(path: str | None, hint: str) -> DiskFullError:
    free = _free_bytes(path)
    where = f"the disk that holds {path}" if path else "the disk"
    left = f" ({_size(free)} free)" if free is not None else ""
    return DiskFullError(f"No space left on {where}{left}: the write failed and was undone.",
                         path=path, free=free, hint=hint)


def _free_bytes(path: str | None) -> int | None:
    if not path:
        return None
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _size(n: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
