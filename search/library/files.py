"""Writing the user's files (exports, backups) whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ingest.errors import LibraryError


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename:
    a reader never sees half a file, and a failed write leaves an old file as it was."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = None
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:50]}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise LibraryError(
            f"Cannot write {path}: {exc.strerror or exc}.",
            hint="Give a path in a folder that exists and that you can write.",
        ) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def check_writable(path: str | Path) -> None:
    """Fail early, before any work, where :func:`atomic_write` would fail to create its file."""
    path = Path(path)
    folder = path.parent
    problem = None
    if path.is_dir():
        problem = "it is a folder"
    elif not folder.is_dir():
        problem = f"the folder {folder} does not exist"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = f"the folder {folder} is not writable"
    elif path.exists() and not os.access(path, os.W_OK):
        problem = "the file is read-only"
    if problem:
        raise LibraryError(
            f"Cannot write {path}: {problem}.",
            hint="Give a path in a folder that exists and that you can write.",
        )
