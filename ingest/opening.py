"""Opening the store's DuckDB file: every way it can fail, named for what it is.

A path that is not a database, a folder, a device, a file of another program, a file we
may not write, a file another process holds: each gets its own message and hint
instead of DuckDB's trace, and nothing is created or changed on the way.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import duckdb

from ingest.errors import StoreError
from ingest.lock import active_writer

#: How long a writer retries while another process has the file open (a `stats` that
#: reads for a moment, say) before it gives up with a message naming that process.
BUSY_WAIT_SECONDS = 30.0
#: Tables every medsearch store has; a file with other tables and none of ours is foreign.
OUR_MARKERS = ("schema_migrations", "ingest_runs")

NO_DATABASE_HINT = (
    "Ingest something first (`medsearch ingest files PATH` or `medsearch ingest pubmed QUERY`), "
    "or point --db / MEDSEARCH_DB at an existing file."
)


def check_path(path: Path, *, read_only: bool) -> None:
    """Refuse what cannot be a store file before DuckDB touches it."""
    if str(path) == ":memory:" or str(path).startswith(":memory:"):
        raise StoreError(
            "An in-memory database (:memory:) keeps nothing after the command ends.",
            hint="Give --db / MEDSEARCH_DB the path of a .duckdb file.",
        )
    try:
        st = path.stat()
    except FileNotFoundError:
        if read_only:
            raise StoreError(f"No database at {path}.", hint=NO_DATABASE_HINT) from None
        _check_folder(path)
        return
    except OSError as exc:
        raise StoreError(f"Cannot read {path}: {exc.strerror or exc}.", hint="Check the path and its permissions.") from exc
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"--db {path} is a folder.", hint="Give the path of a .duckdb file.")
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(
            f"{path} is not a regular file (a device, pipe or socket) and cannot hold a database.",
            hint="Give --db / MEDSEARCH_DB the path of a .duckdb file.",
        )
    if not os.access(path, os.R_OK):
        raise StoreError(f"No permission to read the database {path}.", hint="Check its owner and mode.")
    if not read_only and not os.access(path, os.W_OK):
        raise StoreError(
            f"The database {path} is read-only for you, and this command writes to it.",
            hint="Commands that only read (stats, index, search) work on it; for ingest and update, "
            "make it writable or copy it.",
        )


def _check_folder(path: Path) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StoreError(f"{folder} exists and is not a folder.", hint="Choose another --db path.") from None
    except OSError as exc:
        raise StoreError(
            f"Cannot create the folder {folder}: {exc.strerror or exc}.", hint="Choose another --db path."
        ) from exc
    if not os.access(folder, os.W_OK):
        raise StoreError(f"No permission to create a database in {folder}.", hint="Choose another --db path.")


def connect(path: Path, *, read_only: bool, wait_seconds: float = BUSY_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """DuckDB's connection, retried while another process holds the file."""
    deadline = time.monotonic() + (wait_seconds if not read_only else 0.0)
    attempt = 0
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            text = str(exc)
            if "lock" in text.lower() and time.monotonic() < deadline:
                time.sleep(min(0.05 * 2**attempt, 1.0))
                attempt += 1
                continue
            raise _explain(path, text, read_only) from exc


def _explain(path: Path, text: str, read_only: bool) -> StoreError:
    first = text.splitlines()[0] if text else "unknown error"
    if "lock" in first.lower():
        writer = active_writer(path)
        pid = re.search(r"PID (\d+)", first)
        who = writer.describe() if writer else (f"process {pid.group(1)}" if pid else "another process")
        if read_only:
            return StoreError(
                f"The database {path} is being written by {who}.",
                hint="Searches keep working on the last index snapshot; for the store's own counts, "
                "wait for it to finish.",
            )
        return StoreError(
            f"The database {path} is held open by {who}.",
            hint="Wait for it to finish, or close the program that holds it.",
        )
    if "not a valid DuckDB database" in first:
        return StoreError(
            f"{path} is not a DuckDB database.", hint="Give --db / MEDSEARCH_DB the path of a medsearch .duckdb file."
        )
    if "older" in first.lower() or "newer" in first.lower() or "version" in first.lower():
        return StoreError(f"{path} was written by another DuckDB version: {first}",
                          hint="Open it with the DuckDB version that wrote it, or re-ingest into a new file.")
    return StoreError(f"Cannot open the database {path}: {first}", hint="Check the path and its permissions.")


def check_ours(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse, without changing it, a DuckDB file that holds another program's tables."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}
    if not (tables - {"schema_migrations"}) or all(t in tables for t in OUR_MARKERS):
        return
    shown = ", ".join(sorted(tables)[:6])
    raise StoreError(
        f"{path} is a DuckDB database of another program (tables: {shown}); medsearch leaves it as it is.",
        hint="Give --db / MEDSEARCH_DB the path of a medsearch database, or of a new file.",
    )
