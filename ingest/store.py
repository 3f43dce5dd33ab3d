"""The DuckDB store of record: opening and migrating it, batched upserts, deletions, reading.

:class:`Store` also keeps the books of ingest runs and files (``ingest/store_runs.py``) and
the registry of PubMed queries (``ingest/store_queries.py``), mixed in. These three modules
hold all corpus SQL. Every value reaches DuckDB as a parameter or through a registered
Arrow table, never by string formatting.

Replacement rule (PubMed semantics): an incoming record replaces the stored one
when its ``(pmid_version, date_revised)`` is the same or newer; an older one is
counted as ``older_skipped`` and left out. A record identical to the stored one
(same ``record_hash``) is counted as ``unchanged`` and not rewritten, so
ingesting the same file twice changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingest import opening, schema
from ingest.diskfull import disk_full
from ingest.errors import StoreError
from ingest.interrupts import HeldInterrupts
from ingest.lock import Holder, WriterLock
from ingest.records import Article, Item
from ingest.rows import (
    CHILD_SCHEMAS,
    HASH_VERSION,
    PreparedBatch,
    article_from_rows,
    prepare_batch,
    record_hash,
    version_key,
)
from ingest.store_queries import PubmedQuery, QueryRegistry  # noqa: F401 - PubmedQuery: part of this API
from ingest.store_runs import IngestRun, RunBook  # noqa: F401 - IngestRun: part of this API

CHILD_TABLES = tuple(CHILD_SCHEMAS)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did to the store."""

    seen: int = 0
    stored: int = 0
    unchanged: int = 0
    older_skipped: int = 0
    deleted: int = 0
    problems: int = 0

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )


@dataclass(frozen=True, slots=True)
class Stats:
    records: int
    with_abstract: int
    deleted: int
    retracted: int
    by_source: dict[str, int]
    by_publication_type: dict[str, int]
    by_year: dict[str, int]  # "unknown" for records without a year
    last_runs: tuple[IngestRun, ...]

    @classmethod
    def from_json(cls, data: dict) -> Stats:
        """The inverse of :meth:`to_json` (an index snapshot keeps its store's stats so)."""
        def when(text: str | None) -> datetime | None:
            return datetime.fromisoformat(text) if text else None

        runs = tuple(IngestRun(**{**r, "started_at": when(r["started_at"]), "finished_at": when(r["finished_at"])})
                     for r in data.get("last_runs", []))
        return cls(data["records"], data["with_abstract"], data["deleted"], data["retracted"],
                   data["by_source"], data["by_publication_type"], data["by_year"], runs)

    def to_json(self) -> dict:
        return {
            "records": self.records,
            "with_abstract": self.with_abstract,
            "deleted": self.deleted,
            "retracted": self.retracted,
            "by_source": self.by_source,
            "by_publication_type": self.by_publication_type,
            "by_year": self.by_year,
            "last_runs": [
                {
                    **{k: getattr(r, k) for k in r.__dataclass_fields__},
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                }
                for r in self.last_runs
            ],
        }


def _migrations() -> list[schema.Migration]:
    """The store's packaged migrations, in order."""
    return schema.packaged("ingest.migrations")


def state_path(db_path: str | Path) -> Path:
    """``<db>.state.json``, written by a writer that changed records (see ``Store.close``)."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".state.json")


def read_state(db_path: str | Path) -> dict | None:
    try:
        return json.loads(state_path(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


#: Write-ahead log size that triggers a checkpoint (see ``Store.__init__``).
CHECKPOINT_THRESHOLD = "1GB"


class Store(RunBook, QueryRegistry):
    """One DuckDB connection to the store file; use as a context manager."""

    def __init__(
        self, path: str | Path, *, read_only: bool = False, lock: bool | None = None,
        on_wait: Callable[[Holder | None], None] | None = None,
    ) -> None:
        """Open the store. A writer (``read_only=False``, or ``lock=True``) first takes the
        store's writer lock (``ingest/lock.py``), waiting for another writer to finish and
        calling ``on_wait`` once if it has to; ``index`` reads with ``read_only=True, lock=True``."""
        self.path = Path(path)
        self._changed = False
        opening.check_path(self.path, read_only=read_only)
        self._lock = WriterLock(self.path) if (lock if lock is not None else not read_only) else None
        if self._lock is not None:
            self._lock.acquire(on_wait=on_wait)
        try:
            self.con = opening.connect(self.path, read_only=read_only)
            try:
                self._open(read_only)
            except BaseException:
                self.con.close()
                raise
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    def _open(self, read_only: bool) -> None:
        opening.check_ours(self.con, self.path)
        if not read_only:
            # DuckDB rewrites (and recompresses) a table's last, partly filled row group at
            # every checkpoint; its default 16 MB write-ahead log makes a bulk ingest
            # checkpoint every few batches. Committed data are safe in the log either way: it
            # is replayed when the database is next opened after a crash.
            self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            self.migrate()
            return
        if not schema.pending(self.con, _migrations(), what=f"The database {self.path}"):
            return
        if self._lock is not None and os.access(self.path, os.W_OK):
            self.con.close()  # a reader that holds the writer lock (index) may migrate
            self.con = opening.connect(self.path, read_only=False)
            self.migrate()
            self.con.close()
            self.con = opening.connect(self.path, read_only=True)
            return
        raise StoreError(
            f"The database {self.path} has an older schema.",
            hint="Run `medsearch index` or any ingest once to migrate it.",
        )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def read_only(self) -> bool:
        return self.con.execute("SELECT current_setting('access_mode')").fetchall()[0][0] == "read_only"

    def close(self) -> None:
        """Close the connection, note a change for readers (``<db>.state.json``), release the lock."""
        try:
            if self._changed:
                with HeldInterrupts():  # a short query: Ctrl-C waits for it, then stops the program
                    self._write_state()
            self.con.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def _write_state(self) -> None:
        """``<db>.state.json``: the fingerprint after the last change, so that readers of an index
        snapshot can tell it is behind the store without opening the store."""
        count, digest = self.corpus_fingerprint()
        state = {"fingerprint": f"{count}-{digest}", "records": count,
                 "changed_at": datetime.now().isoformat(timespec="seconds")}
        target = state_path(self.path)
        tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, target)

    # -- schema -------------------------------------------------------------------------
    def schema_version(self) -> int:
        has_table = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchall()[0][0]
        if not has_table:
            return 0
        return self.con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]

    def migrate(self) -> list[str]:
        """Apply every migration the database lacks, each in its own transaction
        (``ingest.schema``: a database written by a newer medsearch is refused)."""
        return schema.migrate(self.con, _migrations(), what=f"The database {self.path}",
                              transaction=self._transaction)

    @contextmanager
    def threads(self, n: int) -> Iterator[None]:
        """DuckDB's worker threads limited to ``n`` for a block (the setting it had comes back)."""
        before = self.con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        self.con.execute(f"SET threads = {int(n)}")
        try:
            yield
        finally:
            try:
                with HeldInterrupts():
                    self.con.execute(f"SET threads = {int(before)}")
            except duckdb.Error:
                pass  # a broken connection: the error that broke it is the one to report

    def _transaction(self) -> _Transaction:
        return _Transaction(self.con)

    @contextmanager
    def _registered(self, name: str, table: pa.Table | Sequence[str]) -> Iterator[None]:
        """Make an Arrow table (or a list of doc ids) queryable as ``name`` for a block."""
        if not isinstance(table, pa.Table):
            table = pa.table({"doc_id": pa.array(list(table), pa.string())})
        self.con.register(name, table)
        try:
            yield
        except BaseException:
            try:  # in a transaction the failed statement aborted, DuckDB refuses this too:
                self.con.unregister(name)  # the failure itself is the error to report
            except duckdb.Error:
                pass
            raise
        self.con.unregister(name)

    # -- records ------------------------------------------------------------------------
    def missing_ids(self, doc_ids: Sequence[str]) -> list[str]:
        """The ids neither stored nor deleted, in the given order."""
        if not doc_ids:
            return []
        with self._registered("_wanted", doc_ids):
            known = {
                r[0]
                for r in self.con.execute(
                    "SELECT w.doc_id FROM _wanted w JOIN articles a USING (doc_id) "
                    "UNION SELECT w.doc_id FROM _wanted w JOIN deleted_articles d USING (doc_id)"
                ).fetchall()
            }
        return [d for d in doc_ids if d not in known]

    def count(self) -> int:
        return self.con.execute("SELECT count(*) FROM articles").fetchall()[0][0]

    def apply_batch(self, items: Iterable[Item], run_id: int | None = None) -> BatchResult:
        """Write one batch of parsed items in one transaction; all or nothing."""
        return self.apply_prepared(prepare_batch(items), run_id)

    def apply_prepared(self, batch: PreparedBatch, run_id: int | None = None) -> BatchResult:
        """Write a batch made by ``rows.prepare_batch`` in one transaction; all or nothing."""
        with self._transaction():
            result = self._apply(batch, run_id)
            if run_id is not None:
                self._count_into_run(run_id, result)
        if result.stored or result.deleted:
            self._changed = True
        return result

    def _apply(self, batch: PreparedBatch, run_id: int | None) -> BatchResult:
        now = datetime.now()
        stored = self._stored_versions([k[0] for k in batch.keys] + batch.deletions)
        write_mask, unchanged, older = self._decide(batch, stored)
        writes = [k[0] for k, w in zip(batch.keys, write_mask, strict=True) if w]
        self._remove([d for d in writes if d in stored] + [d for d in batch.deletions if d in stored])
        if batch.deletions:
            self._insert_table(
                "deleted_articles",
                pa.table({
                    "doc_id": pa.array(batch.deletions, pa.string()),
                    "deleted_at": pa.array([now] * len(batch.deletions), pa.timestamp("us")),
                    "ingest_run_id": pa.array([run_id] * len(batch.deletions), pa.int32()),
                }),
                replace=True,
            )
        if writes:
            self._forget_deletions(writes)
            self._insert_records(batch, write_mask, writes, run_id, now)
        if batch.problems and run_id is not None:
            n = len(batch.problems)
            self._insert_table(
                "ingest_problems",
                pa.table({
                    "run_id": pa.array([run_id] * n, pa.int32()),
                    "location": pa.array([p.location for p in batch.problems], pa.string()),
                    "message": pa.array([p.message for p in batch.problems], pa.string()),
                    "noted_at": pa.array([now] * n, pa.timestamp("us")),
                }),
            )
        return BatchResult(
            seen=batch.seen, stored=len(writes), unchanged=unchanged, older_skipped=older,
            deleted=sum(1 for d in batch.deletions if d in stored), problems=len(batch.problems),
        )

    def _insert_records(
        self, batch: PreparedBatch, write_mask: list[bool], writes: list[str], run_id: int | None,
        now: datetime,
    ) -> None:
        """Insert the records to write and their parts; the rest of the batch is left out."""
        everything = len(writes) == len(write_mask)
        keep = None if everything else pa.array(writes, pa.string())
        for name, table in batch.tables.items():
            if keep is not None:
                if name == "articles":
                    table = table.filter(pa.array(write_mask, pa.bool_()))
                else:
                    table = table.filter(pc.is_in(table["doc_id"], value_set=keep))
            if name == "articles":
                self._insert_table(name, table, extra={"ingest_run_id": run_id, "ingested_at": now})
            else:
                self._insert_table(name, table)

    def _decide(self, batch: PreparedBatch, stored: dict[str, _StoredVersion]) -> tuple[list[bool], int, int]:
        """Which records of the batch to write, and how many are unchanged and older.

        A record whose stored row carries an older hash version is compared by the
        canonical hash recomputed from its stored rows (see ``_current_hashes``).
        """
        recheck = [
            doc_id for doc_id, version, revised, digest in batch.keys
            if (old := stored.get(doc_id)) is not None and old.hash_version < HASH_VERSION
            and old.record_hash != digest and version_key(version, revised) >= old.key
        ]
        current = self._current_hashes(recheck)
        write_mask: list[bool] = []
        unchanged = older = 0
        for doc_id, version, revised, digest in batch.keys:
            old = stored.get(doc_id)
            if old is not None and (old.record_hash == digest or current.get(doc_id) == digest):
                unchanged += 1
                write_mask.append(False)
            elif old is not None and version_key(version, revised) < old.key:
                older += 1
                write_mask.append(False)
            else:
                write_mask.append(True)
        return write_mask, unchanged, older

    def _stored_versions(self, doc_ids: list[str]) -> dict[str, _StoredVersion]:
        if not doc_ids:
            return {}
        with self._registered("_batch_ids", doc_ids):
            rows = self.con.execute(
                "SELECT a.doc_id, a.pmid_version, a.date_revised, a.record_hash, a.record_hash_version "
                "FROM articles a JOIN _batch_ids b USING (doc_id)"
            ).fetchall()
        return {r[0]: _StoredVersion(version_key(r[1], r[2]), r[3], r[4]) for r in rows}

    def _current_hashes(self, doc_ids: list[str]) -> dict[str, str]:
        """The canonical hash (``rows.record_hash``) of stored records, recomputed from their rows.

        For rows stored with an older hash version. Such a row keeps its hash when the
        record is unchanged: the search index knows records by their stored hash, and a new
        one would make it embed them again.
        """
        if not doc_ids:
            return {}
        with self._registered("_recheck", doc_ids):
            found = "doc_id IN (SELECT doc_id FROM _recheck)"
            articles = self._dict_rows(f"SELECT * FROM articles WHERE {found}")
            children = {
                table: self._rows_by_doc(f"SELECT * FROM {source} WHERE {found} ORDER BY doc_id, {order}")
                for table, (source, order) in _CHILD_READS.items()
            }
        return {
            row["doc_id"]: record_hash(article_from_rows(
                row, {table: rows.get(row["doc_id"], []) for table, rows in children.items()}
            ))
            for row in articles
        }

    def _dict_rows(self, sql: str) -> list[dict]:
        cur = self.con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def _rows_by_doc(self, sql: str) -> dict[str, list[dict]]:
        by_doc: dict[str, list[dict]] = {}
        for row in self._dict_rows(sql):
            by_doc.setdefault(row["doc_id"], []).append(row)
        return by_doc

    def _remove(self, doc_ids: list[str]) -> None:
        """Delete stored records and all their parts."""
        if not doc_ids:
            return
        with self._registered("_gone", doc_ids):
            for table in (*CHILD_TABLES, "articles"):
                self.con.execute(f"DELETE FROM {table} WHERE doc_id IN (SELECT doc_id FROM _gone)")

    def _forget_deletions(self, doc_ids: list[str]) -> None:
        with self._registered("_back", doc_ids):
            self.con.execute("DELETE FROM deleted_articles WHERE doc_id IN (SELECT doc_id FROM _back)")

    def _insert_table(
        self, name: str, table: pa.Table, *, replace: bool = False, extra: dict[str, object] | None = None
    ) -> None:
        """Insert an Arrow table; ``extra`` columns take one parameter value for every row."""
        if table.num_rows == 0:
            return
        with self._registered("_incoming", table):
            verb = "INSERT OR REPLACE" if replace else "INSERT"
            extra = extra or {}
            cols = ", ".join([*table.column_names, *extra])
            values = ", ".join([*table.column_names, *("?" for _ in extra)])
            self.con.execute(f"{verb} INTO {name} ({cols}) SELECT {values} FROM _incoming", list(extra.values()))

    def _count_into_run(self, run_id: int, r: BatchResult) -> None:
        self.con.execute(
            "UPDATE ingest_runs SET n_seen = n_seen + ?, n_stored = n_stored + ?, "
            "n_unchanged = n_unchanged + ?, n_older_skipped = n_older_skipped + ?, "
            "n_deleted = n_deleted + ?, n_problems = n_problems + ? WHERE id = ?",
            [r.seen, r.stored, r.unchanged, r.older_skipped, r.deleted, r.problems, run_id],
        )

    # -- reading ------------------------------------------------------------------------
    def stats(self, last_runs: int = 5) -> Stats:
        q = self.con.execute
        records, with_abstract, retracted = q(
            "SELECT count(*), count(*) FILTER (WHERE has_abstract), "
            "count(*) FILTER (WHERE is_retracted) FROM articles"
        ).fetchall()[0]
        deleted = q("SELECT count(*) FROM deleted_articles").fetchall()[0][0]
        by_source = dict(q("SELECT source, count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC, 1").fetchall())
        by_type = dict(
            q("SELECT name, count(DISTINCT doc_id) FROM publication_types GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
        )
        by_year = {
            ("unknown" if y is None else str(y)): n
            for y, n in q("SELECT pub_year, count(*) FROM articles GROUP BY 1 ORDER BY 1 NULLS LAST").fetchall()
        }
        return Stats(
            records=records, with_abstract=with_abstract, deleted=deleted, retracted=retracted,
            by_source=by_source, by_publication_type=by_type, by_year=by_year,
            last_runs=self.runs(last_runs),
        )

    def article_row(self, doc_id: str) -> dict | None:
        """The ``articles`` row of one record as a dict (for display and tests)."""
        cur = self.con.execute("SELECT * FROM articles WHERE doc_id = ?", [doc_id])
        rows = cur.fetchall()
        if not rows:
            return None
        return dict(zip([d[0] for d in cur.description], rows[0], strict=True))

    def get_article(self, doc_id: str) -> Article | None:
        """Rebuild the full ``Article`` from its rows (the inverse of storing it)."""
        return read_articles(self.con, [doc_id]).get(doc_id)

    def get_articles(self, doc_ids: Sequence[str]) -> dict[str, Article]:
        """Whole records, read in one query per table; ids not stored are left out."""
        return read_articles(self.con, doc_ids)

    def child_rows(self, table: str, doc_id: str) -> list[dict]:
        """One record's rows of a child table, in their stored order."""
        if table not in CHILD_TABLES:
            raise StoreError(f"Unknown table {table!r}.", hint=f"Use one of {', '.join(CHILD_TABLES)}.")
        source = "abstract_section_texts" if table == "abstract_sections" else table
        order = "position" if "position" in CHILD_SCHEMAS[table].names else "rowid"
        if table == "abstract_sections":
            order = "abstract_index, position"
        return _dicts(self.con.execute(f"SELECT * FROM {source} WHERE doc_id = ? ORDER BY {order}", [doc_id]))

    # -- search index (read-only; used by search.index.documents) -------------------------------
    def corpus_fingerprint(self) -> tuple[int, str]:
        """(record count, digest of every (doc_id, record_hash)): changes with any record.

        XOR of per-record MD5s, so no sort is needed: ~0.3 s at 1M records.
        """
        n, digest = self.con.execute(
            "SELECT count(*), bit_xor(md5_number(doc_id || ':' || record_hash)) FROM articles"
        ).fetchall()[0]
        return n, format(int(digest or 0) & (2**128 - 1), "032x")

    def iter_index_rows(self, batch_size: int = 10_000) -> Iterable[list[tuple]]:
        """Batches of (doc_id, record_hash, title, abstract, mesh_terms, keywords) by doc_id."""
        cur = self.con.cursor()  # its own cursor: other queries may run between batches
        try:
            cur.execute(
                "SELECT doc_id, record_hash, title, abstract, mesh_terms, keywords "
                "FROM articles ORDER BY doc_id"
            )
            while batch := cur.fetchmany(batch_size):
                yield batch
        finally:
            cur.close()

@dataclass(frozen=True, slots=True)
class _StoredVersion:
    """What the replacement rule needs of a stored record."""

    key: tuple[int, date]  # rows.version_key of its (pmid_version, date_revised)
    record_hash: str
    hash_version: int


#: Where and in which order each child table's rows of a record are read back: the
#: abstract's sections with their text (through the view), the rest in stored order.
_CHILD_READS: dict[str, tuple[str, str]] = {
    table: (
        ("abstract_section_texts", "abstract_index, position") if table == "abstract_sections"
        else (table, "position" if "position" in schema.names else "rowid")
    )
    for table, schema in CHILD_SCHEMAS.items()
}


def read_articles(con: duckdb.DuckDBPyConnection, doc_ids: Sequence[str]) -> dict[str, Article]:
    """Whole records from a connection holding the store's record tables (the store, or an
    index snapshot's copy of them), one query per table, in the order of ``doc_ids``."""
    wanted = list(dict.fromkeys(doc_ids))
    if not wanted:
        return {}
    cur = con.cursor()
    try:
        cur.register("_wanted_ids", pa.table({"doc_id": pa.array(wanted, pa.string())}))
        rows = {r["doc_id"]: r for r in _dicts(cur.execute(
            "SELECT a.* FROM articles a JOIN _wanted_ids USING (doc_id)"))}
        children: dict[str, dict[str, list[dict]]] = {d: {t: [] for t in CHILD_TABLES} for d in rows}
        for table in CHILD_TABLES:
            if table == "abstract_sections":  # the abstract's sections point into articles.abstract
                source, order = "abstract_section_texts", "c.doc_id, c.abstract_index, c.position"
            else:
                source = table
                order = "c.doc_id, " + ("c.position" if "position" in CHILD_SCHEMAS[table].names else "c.rowid")
            for r in _dicts(cur.execute(
                f"SELECT c.* FROM {source} c JOIN _wanted_ids USING (doc_id) ORDER BY {order}"
            )):
                children[r["doc_id"]][table].append(r)
    finally:
        cur.close()
    return {d: article_from_rows(rows[d], children[d]) for d in wanted if d in rows}


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


class _Transaction:
    """BEGIN/COMMIT around a block; ROLLBACK when it raises or the COMMIT fails.

    Ctrl-C waits for the end of the block (``ingest.interrupts``): DuckDB would otherwise
    cut the statement it lands in, and the program would stop with DuckDB's error instead
    of a ``KeyboardInterrupt``. It is raised once the transaction is committed or rolled back.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._held = HeldInterrupts()

    def __enter__(self) -> None:
        self._held.__enter__()
        try:
            self.con.execute("BEGIN TRANSACTION")
        except BaseException as exc:
            self._held.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            if exc_type is None:
                self._commit()
            else:
                self._rollback()
        except BaseException as err:
            self._held.__exit__(type(err), err, err.__traceback__)
            raise
        self._held.__exit__(exc_type, exc, None)
        full = disk_full(exc) if exc is not None else None  # rolled back: nothing of the batch is kept
        if full is not None and full is not exc:
            raise full from exc

    def _commit(self) -> None:
        try:
            self.con.execute("COMMIT")
        except BaseException as exc:
            self._rollback()  # a failed COMMIT leaves the transaction open, aborted
            full = disk_full(exc)
            if full is not None:
                raise full from exc
            raise

    def _rollback(self) -> None:
        try:
            self.con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # no transaction left to roll back: the failed statement ended it
