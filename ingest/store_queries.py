"""The store's registry of PubMed queries ingested before, so that ``medsearch update`` and
``ingest pubmed --refresh`` can bring them up to date (migration 0003: tables
``pubmed_queries``, ``pubmed_query_records``): a part of :class:`ingest.store.Store`."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pyarrow as pa


@dataclass(frozen=True, slots=True)
class PubmedQuery:
    """A PubMed query ingested before (table ``pubmed_queries``)."""

    query: str
    max_records: int | None  # None: every hit
    sort: str  # recent | relevance | pub_date
    since: date | None  # entry-date range of the last run
    until: date | None
    first_run_id: int
    last_run_id: int
    added_at: datetime
    current_through: date | None  # PubMed's changes up to this day are stored; None: never


class QueryRegistry:
    """PubMed queries and the records they selected; mixed into :class:`ingest.store.Store`."""

    con: duckdb.DuckDBPyConnection

    def _registered(self, name: str, table: pa.Table | Sequence[str]) -> AbstractContextManager[None]:
        raise NotImplementedError  # Store's

    def remember_pubmed_query(
        self, query: str, *, max_records: int | None, sort: str, since: date | None,
        until: date | None, run_id: int,
    ) -> None:
        """Record a PubMed query ingested by run ``run_id`` (its settings: the last run's)."""
        self.con.execute(
            "INSERT INTO pubmed_queries (query, max_records, sort, since, until, first_run_id, "
            "last_run_id, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (query) DO UPDATE "
            "SET max_records = excluded.max_records, sort = excluded.sort, since = excluded.since, "
            "until = excluded.until, last_run_id = excluded.last_run_id",
            [query, max_records, sort, since, until, run_id, run_id, datetime.now()],
        )

    def mark_pubmed_query_current(self, query: str, day: date) -> None:
        """PubMed's changes to ``query`` up to ``day`` are in the store."""
        self.con.execute("UPDATE pubmed_queries SET current_through = ? WHERE query = ?", [day, query])

    def pubmed_queries(self, query: str | None = None) -> list[PubmedQuery]:
        """Every PubMed query ingested before (or the one named), oldest first."""
        sql = (
            "SELECT query, max_records, sort, since, until, first_run_id, last_run_id, added_at, "
            "current_through FROM pubmed_queries"
        )
        if query is None:
            rows = self.con.execute(sql + " ORDER BY added_at, query").fetchall()
        else:
            rows = self.con.execute(sql + " WHERE query = ?", [query]).fetchall()
        return [PubmedQuery(*r) for r in rows]

    def link_pubmed_query_records(self, query: str, doc_ids: Sequence[str]) -> None:
        """Note that ``query`` selected ``doc_ids`` (already noted ones are left as they are)."""
        if not doc_ids:
            return
        with self._registered("_selected", list(dict.fromkeys(doc_ids))):
            self.con.execute(
                "INSERT OR IGNORE INTO pubmed_query_records SELECT ?, doc_id FROM _selected", [query]
            )

    def pubmed_query_stored_ids(self, query: str) -> list[str]:
        """The stored records that ``query`` selected."""
        rows = self.con.execute(
            "SELECT q.doc_id FROM pubmed_query_records q JOIN articles a USING (doc_id) "
            "WHERE q.query = ? ORDER BY q.doc_id",
            [query],
        ).fetchall()
        return [r[0] for r in rows]

    def stored_ids(self, doc_ids: Sequence[str]) -> list[str]:
        """Those of ``doc_ids`` that are stored records, in the given order."""
        if not doc_ids:
            return []
        with self._registered("_asked", doc_ids):
            found = {r[0] for r in self.con.execute(
                "SELECT doc_id FROM _asked JOIN articles USING (doc_id)"
            ).fetchall()}
        return [d for d in doc_ids if d in found]

    def pubmed_check_plan(self) -> list[tuple[str, date]]:
        """Every stored PubMed record with the first day whose PubMed changes it may lack.

        That day is the latest of: the day after its DateRevised (a record read from a
        file is as new as that), the day before it was fetched from PubMed (runs 'pubmed'
        and 'update'), and the day before the last completed update started, if the
        record was stored before it. The day before: PubMed's dates are US Eastern days,
        ours local ones, and reading an unchanged record again changes nothing. Sorted by
        that day, so that records checked together share a date.
        """
        rows = self.con.execute(
            "WITH last AS (SELECT max(started_at) AS t FROM ingest_runs "
            "WHERE kind = 'update' AND status = 'completed') "
            "SELECT a.doc_id, coalesce(greatest("
            "  a.date_revised + 1, "
            "  CASE WHEN r.kind IN ('pubmed', 'update') THEN CAST(a.ingested_at AS DATE) - 1 END, "
            "  CASE WHEN a.ingested_at <= last.t THEN CAST(last.t AS DATE) - 1 END"
            "), DATE '1900-01-01') AS since "
            "FROM articles a LEFT JOIN ingest_runs r ON r.id = a.ingest_run_id, last "
            "WHERE a.source = 'pubmed' AND a.pmid IS NOT NULL ORDER BY since, a.doc_id"
        ).fetchall()
        return [(d, s) for d, s in rows]
