"""One writer at a time: the lock that `ingest`, `update` and `index` hold on a store.

DuckDB lets one process open a database file for writing, and then no other process
may open it at all, not even to read. So the store belongs to one writer at a time,
and everything that only reads (search, the app, exports, summaries) reads an index
snapshot instead (``search/index/snapshot.py``), never the store.

Two writers (an ``ingest`` started while ``index`` runs, say) must not fail on
DuckDB's lock with a trace: the second one waits for the first, saying whom it waits
for. This module is that queue: an advisory ``flock`` on ``<db>.writer.lock`` beside
the database. The holder writes its pid, command and start time into the file, so
that anyone who finds the store busy can say which process holds it. The kernel
drops the lock when the holder's process ends, however it ends, so a killed ingest
never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest.errors import StoreError


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) a store's writer lock."""

    pid: int
    command: str
    started_at: str

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid}, since {self.started_at})"


def lock_path(db_path: str | Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".writer.lock")


def current_command() -> str:
    """``medsearch ingest files ...`` for the running process, shortened."""
    args = [Path(sys.argv[0]).name, *sys.argv[1:4]] if sys.argv and sys.argv[0] else ["python"]
    return " ".join(args)[:120]


class WriterLock:
    """The writer lock of one store; use as a context manager or acquire/release."""

    def __init__(self, db_path: str | Path, command: str | None = None) -> None:
        self.path = lock_path(db_path)
        self.command = command or current_command()
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, wait: bool = True, on_wait: Callable[[Holder | None], None] | None = None) -> None:
        """Take the lock; if another process has it, call ``on_wait`` once and block until it is free
        (``wait=False``: raise :class:`StoreError` naming the holder instead)."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the lock file {self.path}: {exc.strerror or exc}.",
                hint="The folder of the database must be writable for ingest and index.",
            ) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = read_holder(self.path)
                if not wait:
                    raise StoreError(
                        f"The store is being written by {holder.describe() if holder else 'another process'}.",
                        hint="Wait for it to finish, or stop it (Ctrl-C keeps its finished batches).",
                    ) from None
                if on_wait is not None:
                    on_wait(holder)
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks; Ctrl-C interrupts it
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        info = {"pid": os.getpid(), "command": self.command,
                "started_at": datetime.now().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(path: Path) -> Holder | None:
    """What the lock file says about its (last) holder; None if unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        return Holder(int(data["pid"]), str(data["command"]), str(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def active_writer(db_path: str | Path) -> Holder | None:
    """The process writing the store now, or None when no writer holds the lock."""
    path = lock_path(db_path)
    if not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(path) or Holder(0, "another medsearch process", "unknown")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def wait_message(holder: Holder | None) -> str:
    who = holder.describe() if holder else "another medsearch process"
    return f"waiting for {who} to finish writing the store (Ctrl-C to stop waiting) ..."

