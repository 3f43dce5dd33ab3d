"""The user's own data: saved queries, citation lists, notes and the summary cache.

They live in a DuckDB file of their own (setting ``MEDSEARCH_LIBRARY_DB``, default
``library.duckdb`` beside the corpus database), apart from the corpus store, so that:

- they survive re-ingests, deletions, index rebuilds and migrations of the corpus;
- a save never waits for, or fails because of, an ``ingest`` / ``index`` run, which holds
  the corpus store (one writer, see ``ingest/lock.py``).

DuckDB lets one process at a time open a file for writing. The app (one process, many
browser sessions) and the CLI (other processes) must all be able to write here, so no
process keeps this file open: every operation attaches it, runs one short transaction and
detaches it, which checkpoints, so the file on disk is whole between operations. The file
is attached to one in-memory DuckDB connection per process (``ATTACH``/``DETACH``)
rather than opened with ``duckdb.connect`` each time: creating a database instance costs
an order of magnitude more than attaching a file to a running one. When another process
holds the file at that very moment, the attach is retried for up to ``wait_seconds``.
Within a process a lock serialises the operations, so threads (the app's sessions) never
step on each other.

Migrations are the numbered SQL files in ``search/library/migrations/``, applied in
order once per process and file, each recorded in ``schema_migrations``.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

from ingest import schema
from ingest.diskfull import disk_full
from ingest.errors import StoreError

_MIGRATIONS_PACKAGE = "search.library.migrations"
#: Applications id written into the file: tells our library from any other DuckDB file.
APPLICATION = "medsearch-library"
#: The name the file is attached under while an operation runs.
_ALIAS = "userdata"
_process_lock = threading.RLock()
_migrated: set[str] = set()
_memory: tuple[int, duckdb.DuckDBPyConnection] | None = None  # (pid, connection)
_attached: list[Path] = []  # the file attached now (at most one; guarded by _process_lock)


def _memory_connection() -> duckdb.DuckDBPyConnection:
    """This process's in-memory connection (a new one after a fork: DuckDB's is not fork-safe)."""
    global _memory
    if _memory is None or _memory[0] != os.getpid():
        _memory = (os.getpid(), duckdb.connect(":memory:"))
    return _memory[1]


def _forget_connection() -> None:
    """Drop this process's in-memory connection (one a failed write left unusable)."""
    global _memory
    if _memory is not None:
        try:
            _memory[1].close()
        except duckdb.Error:
            pass
    _memory = None


def migrations() -> list[schema.Migration]:
    """The library's packaged migrations, in order."""
    return schema.packaged(_MIGRATIONS_PACKAGE)


class UserData:
    """The user-data file; every method opens it for one short transaction and closes it."""

    def __init__(self, path: str | Path, *, wait_seconds: float = 15.0) -> None:
        self.path = Path(path)
        self.wait_seconds = wait_seconds

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the file (migrated), detached afterwards; no transaction of its own.

        The connection is shared by the process: use it inside the ``with`` block only and
        do not close it. Operations do not nest."""
        with _process_lock:
            if _attached:
                raise RuntimeError("UserData operations do not nest: finish one before starting another.")
            con = self._attach()
            _attached.append(self.path)
            try:
                key = str(self.path.resolve())
                if key not in _migrated:
                    self._migrate(con)
                    _migrated.add(key)
                yield con
            except BaseException as exc:
                _rollback_if_open(con)
                full = disk_full(exc, self.path)
                if full is not None and full is not exc:
                    raise full from exc
                raise
            finally:
                _attached.clear()
                try:
                    con.execute("USE memory")
                    con.execute(f"DETACH {_ALIAS}")
                except duckdb.Error:  # a connection a failed write invalidated: start afresh next time
                    _forget_connection()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """:meth:`connect` inside BEGIN ... COMMIT (ROLLBACK on any exception, Ctrl-C too)."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                _rollback_if_open(con)
                raise
            con.execute("COMMIT")

    def _attach(self) -> duckdb.DuckDBPyConnection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the folder of the library file {self.path}: {exc.strerror or exc}.",
                hint="Set MEDSEARCH_LIBRARY_DB to a file in a folder you can write.",
            ) from exc
        if self.path.exists() and not self.path.is_file():
            raise StoreError(
                f"The library path {self.path} is not a regular file.",
                hint="Set MEDSEARCH_LIBRARY_DB to the path of a .duckdb file.",
            )
        con = _memory_connection()
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.01
        new = not self.path.exists()
        while True:
            try:
                con.execute(f"ATTACH ? AS {_ALIAS}", [str(self.path)])
                con.execute(f"USE {_ALIAS}")
                return con
            except duckdb.IOException as exc:
                full = disk_full(exc, self.path)
                if full is not None:
                    if new:  # a file begun on a full disk is no database: leave none behind
                        self.path.unlink(missing_ok=True)
                        Path(f"{self.path}.wal").unlink(missing_ok=True)
                    raise full from exc
                text = str(exc)
                if "lock" not in text.lower() or time.monotonic() >= deadline:
                    raise StoreError(
                        f"Cannot open the library file {self.path}: {text.splitlines()[0]}",
                        hint="Another program keeps it open for longer than a save takes; close it "
                        "and try again." if "lock" in text.lower() else
                        "Check that it is a medsearch library file (MEDSEARCH_LIBRARY_DB) that you can write.",
                    ) from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.25)
            except duckdb.Error as exc:
                raise StoreError(
                    f"{self.path} is not a DuckDB file medsearch can use: {str(exc).splitlines()[0]}",
                    hint="Set MEDSEARCH_LIBRARY_DB to another path; this file was left as it is.",
                ) from exc

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?", [_ALIAS]
        ).fetchall()}
        if tables and "library_info" not in tables:
            raise StoreError(
                f"{self.path} holds tables of another program ({', '.join(sorted(tables)[:5])}).",
                hint="Set MEDSEARCH_LIBRARY_DB to another path; this file was left as it is.",
            )
        if not tables:
            con.execute("BEGIN TRANSACTION")
            con.execute("CREATE TABLE library_info (application VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)")
            con.execute("INSERT INTO library_info VALUES (?, ?)", [APPLICATION, datetime.now()])
            con.execute("COMMIT")
        schema.migrate(con, migrations(), what=f"The library file {self.path}",
                       hint=f"{schema.UPGRADE_HINT} Or point MEDSEARCH_LIBRARY_DB at another file.")


def _rollback_if_open(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back a transaction a failed operation left open, so that the file can detach."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction was open
