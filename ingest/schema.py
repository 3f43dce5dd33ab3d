"""Schema migrations: one runner for both DuckDB files of medsearch, the store of record
(``ingest/migrations/``) and the user's library (``search/library/migrations/``).

A migration is a numbered SQL file (``0003_pubmed_queries.sql``). Each is applied in its own
transaction and recorded in the file's ``schema_migrations`` table. Every packaged version
the file lacks is applied, in order, also one below the newest it has. A file that records a
version this medsearch does not know was written by a newer medsearch: it is refused, with
the advice to upgrade, since its tables may mean what this version cannot tell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from importlib import resources
from typing import NamedTuple

import duckdb

from ingest.errors import StoreError

UPGRADE_HINT = "Upgrade medsearch (pip install --upgrade medsearch) to the version that wrote it, or newer."


class Migration(NamedTuple):
    version: int
    name: str  # the file's name
    sql: str


def packaged(package: str) -> list[Migration]:
    """The migrations of ``package`` (its ``NNNN_*.sql`` files), by version."""
    found = []
    for entry in resources.files(package).iterdir():
        if entry.name.endswith(".sql"):
            found.append(Migration(int(entry.name.split("_", 1)[0]), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def applied(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The versions recorded in the file (none when it has no ``schema_migrations`` yet)."""
    try:
        return {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:
        return set()


def pending(con: duckdb.DuckDBPyConnection, migrations: Sequence[Migration], *, what: str,
            hint: str = UPGRADE_HINT) -> list[Migration]:
    """The migrations the file lacks; StoreError when it was written by a newer medsearch."""
    have = applied(con)
    known = {m.version for m in migrations}
    unknown = sorted(have - known)
    if unknown:
        raise StoreError(
            f"{what} was written by a newer medsearch (schema {max(have)}, "
            f"this one knows {max(known, default=0)}).",
            hint=hint,
        )
    return [m for m in migrations if m.version not in have]


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection):
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def migrate(con: duckdb.DuckDBPyConnection, migrations: Sequence[Migration], *, what: str,
            hint: str = UPGRADE_HINT,
            transaction: Callable[[], AbstractContextManager[object]] | None = None) -> list[str]:
    """Apply the migrations the file lacks, each in its own transaction (``transaction()``,
    else a plain BEGIN/COMMIT); the names of those applied. ``what`` names the file in the
    refusal of a newer one ("The database data/medsearch.duckdb")."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    done = []
    for m in pending(con, migrations, what=what, hint=hint):
        with (transaction() if transaction is not None else _transaction(con)):
            con.execute(m.sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [m.version, m.name, datetime.now()])
        done.append(m.name)
    return done
