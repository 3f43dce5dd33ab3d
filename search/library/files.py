"""Writing the user's files (exports, backups): checked first, never renamed over what we do not own.

An output path the user names is one of:

* ``-``: standard output;
* a regular file (or a symlink to one): replaced atomically (a temporary file in the same
  folder, then a rename over the *target* of the link), its mode (and, as root, its owner) kept;
* a new file in an existing folder: created the same way, with the mode ``open()`` would give;
* a character device or a FIFO (or a symlink to one): written through as a stream, never
  replaced (``-o /dev/null`` stays the system's ``/dev/null``);
* anything else (a folder, a socket, a block device, a dangling symlink, a missing folder):
  refused by name, before any work.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.errors import LibraryError

STDOUT = "-"
OutputKind = Literal["stdout", "file", "new", "stream"]
_HINT = "Give a regular file, a new file in a folder that exists and that you can write, or - for stdout."


@dataclass(frozen=True, slots=True)
class OutputTarget:
    """Where an output goes: ``kind`` says how it is written, ``path`` is what is written to
    (a symlink resolved to its target; ``None`` for stdout)."""

    kind: OutputKind
    path: Path | None
    named: str  # the path as the user gave it, for messages


def _refuse(named: object, problem: str) -> LibraryError:
    return LibraryError(f"Cannot write {named}: {problem}.", hint=_HINT)


def check_output(path: str | Path) -> OutputTarget:
    """What kind of output ``path`` is, or :class:`LibraryError` naming why it cannot be written.
    Nothing is created or changed."""
    named = str(path)
    if named == STDOUT:
        return OutputTarget("stdout", None, named)
    given = Path(path)
    try:
        st = os.stat(given)  # follows a symlink to what it points at
    except FileNotFoundError:
        if given.is_symlink():
            raise _refuse(named, "it is a symlink to nothing (a dangling link is not replaced)") from None
        folder = given.parent
        if not folder.is_dir():
            raise _refuse(named, f"the folder {folder} does not exist") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise _refuse(named, f"the folder {folder} is not writable") from None
        return OutputTarget("new", given, named)
    except OSError as exc:
        raise _refuse(named, exc.strerror or str(exc)) from None
    mode = st.st_mode
    if stat.S_ISREG(mode):
        target = given.resolve() if given.is_symlink() else given
        if not os.access(target, os.W_OK):
            raise _refuse(named, "the file is read-only")
        if not os.access(target.parent, os.W_OK | os.X_OK):
            raise _refuse(named, f"the folder {target.parent} is not writable (the file is replaced whole)")
        return OutputTarget("file", target, named)
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        if not os.access(given, os.W_OK):
            raise _refuse(named, "it is not writable")
        return OutputTarget("stream", given, named)
    kind = ("a folder" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a block device" if stat.S_ISBLK(mode) else "not a regular file")
    raise _refuse(named, f"it is {kind}")


def check_writable(path: str | Path) -> OutputTarget:
    """Fail early, before any work, where :func:`write_output` would refuse ``path``."""
    return check_output(path)


def write_output(path: str | Path, data: str | bytes) -> OutputTarget:
    """Write ``data`` to ``path`` as :func:`check_output` classifies it: whole or not at all for a
    file, through as a stream for stdout, a device or a FIFO."""
    target = check_output(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if target.kind == "stdout":
            _write_stdout(raw)
        elif target.kind == "stream":
            assert target.path is not None
            _write_stream(target.path, raw)
        else:
            assert target.path is not None
            _replace(target.path, raw, keep=target.kind == "file")
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise LibraryError(f"Cannot write {target.named}: no space left on the device.",
                               hint="Free some space (or give another path) and run the command again; "
                               "an older file there is unchanged.") from exc
        raise _refuse(target.named, exc.strerror or str(exc)) from exc
    return target


#: Kept for callers of the earlier name: every write goes through the checks.
atomic_write = write_output


def _write_stdout(raw: bytes) -> None:
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a replaced sys.stdout (tests, notebooks) that takes text only
        sys.stdout.write(raw.decode("utf-8"))
        sys.stdout.flush()
        return
    out.write(raw)
    out.flush()


def _write_stream(path: Path, raw: bytes) -> None:
    """Write through a device or FIFO: no create, no truncate, no rename. A FIFO with no reader is
    refused rather than waited on forever."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise _refuse(path, "it is a pipe (FIFO) that nobody reads") from None
        raise
    try:
        os.set_blocking(fd, True)
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def _replace(path: Path, raw: bytes, *, keep: bool) -> None:
    """Through a temporary file in the same folder and a rename: a reader never sees half a file,
    and a failed write leaves an old file as it was (mode and owner of an old file kept)."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:50]}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if keep:
            old = os.stat(path)
            os.chmod(tmp, stat.S_IMODE(old.st_mode))
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.chown(tmp, old.st_uid, old.st_gid)
                except PermissionError:  # not root: the file becomes ours, its mode kept
                    pass
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
