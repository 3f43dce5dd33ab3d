"""Read-only queries over a snapshot's record copy (``corpus.duckdb``): filters, result
cards, texts for the reranker, and whole records for exports and summaries.

One read-only DuckDB connection per loaded snapshot, shared by the threads of a
process: every call takes its own cursor, so concurrent searches (the app's browser
sessions) never share a statement. Values reach DuckDB as parameters or registered
Arrow tables, never as SQL text.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa

from ingest.errors import SearchIndexError
from ingest.records import Article
from ingest.store import read_articles
from search.index.cards import CARDS_FILE, CardFile

if TYPE_CHECKING:
    from search.query.syntax import Node



#: Publication types of notices about another paper: a retraction notice, an erratum, an
#: expression of concern. They show on the card of the paper they concern and are left out of
#: relevance results and similar articles unless asked for (search.results.result_set).
NOTICE_TYPES = ("Retraction of Publication", "Published Erratum", "Expression of Concern")
#: The named filter whose records get the systematic review level (search.results.evidence).
SYSTEMATIC_FILTER = "systematic-review"
#: Sort key of a record without a date or an author: after every other record.
_MISSING = np.iinfo(np.int32).min


@dataclass(frozen=True, slots=True, eq=False)
class RecordColumns:
    """Per-record values for facets and sorts, as arrays indexed by ``ix`` (index row).

    Loaded once per snapshot (:meth:`RecordsView.columns`): counting facets or sorting a
    match set is then array arithmetic, with no query per search. Lists (publication
    types, languages) are stored as ``(owner, code)`` pairs, one per value of a record;
    codes index ``*_names``.
    """

    n: int
    year: np.ndarray  # int32, the earliest year the record gives (the year filter's); 0: none
    date: np.ndarray  # int32 days since 1970 of the earliest publication date; _MISSING: none
    pmid: np.ndarray  # int64 PMID (0: none), breaks date ties: newer PMIDs first
    author: np.ndarray  # int32 rank of the first author's name, A to Z; _MISSING: no author
    journal: np.ndarray  # int32 code into journal_names; -1: none
    journal_names: tuple[str, ...]
    has_abstract: np.ndarray  # bool
    retracted: np.ndarray  # bool
    notice: np.ndarray  # bool: a notice about another paper (NOTICE_TYPES), not itself retracted
    systematic: np.ndarray  # bool: matched by PubMed's systematic review filter
    level: np.ndarray  # int8 evidence level (search.results.evidence)
    pt_owner: np.ndarray
    pt_code: np.ndarray
    pt_names: tuple[str, ...]
    la_owner: np.ndarray
    la_code: np.ndarray
    la_names: tuple[str, ...]


class RecordsView:
    """The records of one snapshot, read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._count: int | None = None
        self._columns: RecordColumns | None = None
        self._columns_lock = threading.Lock()
        card_path = path.with_name(CARDS_FILE)
        self.card_file = CardFile(card_path) if card_path.is_file() else None
        try:
            self._con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise SearchIndexError(
                f"Cannot open the record copy {path}: {str(exc).splitlines()[0]}",
                hint="Run `medsearch index`: it checks the index and rebuilds what is damaged.",
            ) from exc

    def close(self) -> None:
        self._con.close()

    def _query(self, sql: str, params: Sequence[Any] = (), **tables: pa.Table) -> duckdb.DuckDBPyConnection:
        cur = self._con.cursor()
        for name, table in tables.items():
            cur.register(name, table)
        return cur.execute(sql, list(params))

    def count(self) -> int:
        if self._count is None:  # a snapshot never changes
            self._count = self._query("SELECT count(*) FROM articles").fetchall()[0][0]
        return self._count

    def publication_types(self) -> dict[str, int]:
        """Every publication type in the snapshot with its number of records, most frequent first."""
        return dict(self._query(
            "SELECT name, count(DISTINCT ix) FROM publication_types GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall())

    # -- filters ------------------------------------------------------------------------
    def filter_rows(
        self,
        *,
        year_from: int | None = None,
        year_to: int | None = None,
        publication_types: Sequence[str] = (),
        journals: Sequence[str] = (),
        languages: Sequence[str] = (),
        mesh_terms: Sequence[str] = (),
        has_abstract: bool | None = None,
    ) -> np.ndarray:
        """Index rows (sorted) of the records that pass every given restriction.

        Lists match case-insensitively, any value of a list (OR); restrictions combine with
        AND. Years are the earliest year a record gives (issue or electronic publication).
        """
        clauses: list[str] = []
        params: list[object] = []
        if year_from is not None:  # the range overlaps the record's earliest..latest year
            clauses.append("coalesce(year_last, year_filter) >= ?")
            params.append(year_from)
        if year_to is not None:
            clauses.append("year_filter <= ?")
            params.append(year_to)
        for column, values in (("publication_types", publication_types), ("languages", languages),
                               ("mesh_terms", mesh_terms)):
            if values:
                clauses.append(f"list_has_any(list_transform({column}, lambda x: lower(x)), ?::VARCHAR[])")
                params.append([v.lower() for v in values])
        if journals:
            clauses.append("(lower(journal_title) IN ? OR lower(journal_iso) IN ?)")
            params.extend([[j.lower() for j in journals]] * 2)
        if has_abstract is not None:
            clauses.append("has_abstract = ?")
            params.append(has_abstract)
        where = " AND ".join(clauses) or "TRUE"
        rows = self._query(f"SELECT ix FROM articles WHERE {where} ORDER BY ix", params).fetchnumpy()["ix"]
        return np.asarray(rows, dtype=np.int64)

    def restrict_mask(self, node: Node) -> np.ndarray:
        """The records matching a query restriction (``search.query.syntax`` tree), as a boolean mask
        over the index rows; evaluated by :mod:`search.query.restrict` on this snapshot's tables."""
        from search.query.restrict import evaluate_mask

        try:
            return evaluate_mask(self._con.cursor(), node, self.count())
        except SearchIndexError as exc:
            if "no query tables" not in exc.message:
                raise
            # a snapshot built before the query tables existed: its fingerprint still matches
            # the store, so a plain `medsearch index` would find nothing to do
            raise SearchIndexError(exc.message, hint="Run `medsearch index --force` to rebuild the "
                                   "search index with the tables field searches need.") from exc

    def vocabulary(self) -> list[str]:
        """Every word of the snapshot's word table (search.query.restrict: titles, abstracts,
        MeSH, keywords, names), unstemmed, for spelling suggestions."""
        return [r[0] for r in self._query("SELECT word FROM qx_vocab").fetchall()]

    def headings_with(self, words: Sequence[str], limit: int = 5) -> list[tuple[str, int]]:
        """MeSH descriptors of the snapshot whose name contains every one of ``words`` (case
        ignored), with their numbers of records, most frequent first."""
        if not words:
            return []
        where = " AND ".join("contains(lower(descriptor), ?)" for _ in words)
        return [(r[0], int(r[1])) for r in self._query(
            f"SELECT descriptor, count(DISTINCT doc_id) AS n FROM mesh_headings WHERE {where} "
            "GROUP BY descriptor ORDER BY n DESC, descriptor LIMIT ?", [*(w.lower() for w in words), limit],
        ).fetchall()]

    def find(self, key: str) -> str | None:
        """The doc_id of the record whose doc_id or PMID is ``key`` (None: not in the snapshot)."""
        rows = self._query(
            "SELECT doc_id FROM articles WHERE doc_id = ? OR pmid = ? ORDER BY doc_id <> ? LIMIT 1",
            [key, key, key],
        ).fetchall()
        return rows[0][0] if rows else None

    def major_topics(self, doc_id: str) -> list[str]:
        """The MeSH descriptors of a record marked major topic (itself or through a qualifier)."""
        rows = self._query(
            "SELECT descriptor FROM mesh_headings WHERE doc_id = ? AND (major_topic OR "
            "coalesce(list_bool_or(list_transform(qualifiers, lambda q: q.major_topic)), false)) "
            "ORDER BY position", [doc_id],
        ).fetchall()
        return [r[0] for r in rows]

    # -- per-record columns for facets and sorts ------------------------------------------
    def columns(self) -> RecordColumns:
        """:class:`RecordColumns` of this snapshot, loaded on first use (thread-safe)."""
        if self._columns is None:
            with self._columns_lock:
                if self._columns is None:
                    self._columns = self._load_columns()
        return self._columns

    def _load_columns(self) -> RecordColumns:
        from search.results.evidence import (
            MESH_LEVELS,
            PUBLICATION_TYPE_LEVELS,
            RETRACTED,
            SYSTEMATIC,
            UNCLASSIFIED,
        )

        a = self._query(
            "SELECT greatest(coalesce(year_filter, 0), 0)::INTEGER AS year, coalesce(date_diff('day', DATE '1970-01-01', "
            "least(try(make_date(pub_year, coalesce(pub_month, 1), coalesce(pub_day, 1))), article_date)), ?)"
            "::INTEGER AS date, coalesce(try_cast(pmid AS BIGINT), 0) AS pmid, has_abstract, is_retracted, "
            "coalesce(list_has_any(publication_types, ?::VARCHAR[]), false) AND NOT is_retracted AS notice "
            "FROM articles ORDER BY ix",
            [int(_MISSING), list(NOTICE_TYPES)],
        ).fetchnumpy()
        n = len(a["year"])
        author = np.full(n, _MISSING, dtype=np.int32)
        r = self._query(
            "SELECT ix, dense_rank() OVER (ORDER BY name)::INTEGER AS k FROM (SELECT ix, arg_min(lower(strip_accents("
            "coalesce(collective_name, concat_ws(' ', last_name, coalesce(initials, fore_name))))), position) AS name "
            "FROM authors GROUP BY ix) WHERE name IS NOT NULL AND name <> ''"
        ).fetchnumpy()
        author[np.asarray(r["ix"], dtype=np.int64)] = r["k"]
        journal, journal_names = self._codes("SELECT ix, coalesce(journal_iso, journal_title) AS v FROM articles")
        pt_owner, pt_code, pt_names = self._pairs("publication_types")
        la_owner, la_code, la_names = self._pairs("languages")
        level = np.full(n, UNCLASSIFIED, dtype=np.int8)
        pt_level = np.array([PUBLICATION_TYPE_LEVELS.get(x.lower(), 99) for x in pt_names] or [99], dtype=np.int8)
        has = pt_level[pt_code] < 99 if len(pt_code) else np.zeros(0, dtype=bool)
        best = np.full(n, 99, dtype=np.int8)
        np.minimum.at(best, pt_owner[has], pt_level[pt_code[has]])
        m = self._query(
            "SELECT DISTINCT ix, lower(unnest(mesh_terms)) AS v FROM articles"
        ).fetchnumpy()
        mesh_level = np.array([MESH_LEVELS.get(v, 99) for v in m["v"]] or [99], dtype=np.int8)[: len(m["v"])]
        np.minimum.at(best, np.asarray(m["ix"], dtype=np.int64), mesh_level)
        systematic = np.zeros(n, dtype=bool)
        sr = self._query("SELECT ix FROM qx_filters WHERE name = ?", [SYSTEMATIC_FILTER]).fetchnumpy()["ix"]
        systematic[np.asarray(sr, dtype=np.int64)] = True
        best[systematic] = np.minimum(best[systematic], SYSTEMATIC)
        level[best < 99] = best[best < 99]
        retracted = np.asarray(a["is_retracted"], dtype=bool)
        level[retracted] = RETRACTED
        return RecordColumns(
            n=n, year=np.asarray(a["year"], dtype=np.int32), date=np.asarray(a["date"], dtype=np.int32),
            pmid=np.asarray(a["pmid"], dtype=np.int64), author=author, journal=journal,
            journal_names=journal_names, has_abstract=np.asarray(a["has_abstract"], dtype=bool),
            retracted=retracted, notice=np.asarray(a["notice"], dtype=bool), systematic=systematic,
            level=level, pt_owner=pt_owner, pt_code=pt_code, pt_names=pt_names,
            la_owner=la_owner, la_code=la_code, la_names=la_names,
        )

    def _codes(self, sql: str) -> tuple[np.ndarray, tuple[str, ...]]:
        """One value per record (``sql`` gives ix, v) as codes; -1 where it is NULL."""
        got = self._query(
            f"SELECT ix, (dense_rank() OVER (ORDER BY v) - 1)::INTEGER AS code, v FROM ({sql}) "
            "WHERE v IS NOT NULL ORDER BY code"
        ).fetchnumpy()
        out = np.full(self.count(), -1, dtype=np.int32)
        out[np.asarray(got["ix"], dtype=np.int64)] = got["code"]
        return out, _names(got["code"], got["v"])

    def _pairs(self, column: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """A list column of articles as (owner ix, code) pairs, each value once per record."""
        got = self._query(
            f"SELECT ix, (dense_rank() OVER (ORDER BY v) - 1)::INTEGER AS code, v FROM "  # column: a constant
            f"(SELECT DISTINCT ix, unnest({column}) AS v FROM articles) WHERE v IS NOT NULL ORDER BY code"
        ).fetchnumpy()
        return (np.asarray(got["ix"], dtype=np.int64), np.asarray(got["code"], dtype=np.int64),
                _names(got["code"], got["v"]))

    # -- result cards -------------------------------------------------------------------
    def _cards(self) -> CardFile:
        if self.card_file is None:
            raise SearchIndexError(
                f"The search index snapshot {self.path.parent} has no {CARDS_FILE}, the result cards.",
                hint="Run `medsearch index --force` to rebuild it.",
            )
        return self.card_file

    def cards(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Everything a result card shows, for a page of records, from the snapshot's card
        file (``search/index/cards.py``)."""
        return self._cards().cards(doc_ids)

    # -- texts and whole records --------------------------------------------------------
    def texts(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(title, abstract) of each record, for the reranker and learned fusion."""
        return self._cards().texts(doc_ids)

    def articles(self, doc_ids: Sequence[str]) -> dict[str, Article]:
        """Whole records (``ingest.records.Article``); ids not in the snapshot are left out."""
        return read_articles(self._con, doc_ids)


def _names(codes: np.ndarray, values: np.ndarray) -> tuple[str, ...]:
    """The value of each code 0..k-1, from rows sorted by code."""
    codes = np.asarray(codes)
    if not len(codes):
        return ()
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return tuple(str(values[i]) for i in first)
