"""Read-only queries over a snapshot's record copy (``corpus.duckdb``): filters, result
cards, texts for the reranker, and whole records for exports and summaries.

One read-only DuckDB connection per loaded snapshot, shared by the threads of a
process: every call takes its own cursor, so concurrent searches (the app's browser
sessions) never share a statement. Values reach DuckDB as parameters or registered
Arrow tables, never as SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ingest.errors import SearchIndexError
from ingest.records import Article
from ingest.rows import CHILD_SCHEMAS, article_from_rows
from search.types import Link, Section

#: comments_corrections kinds a result card shows (PubMed's RefType values).
CARD_LINKS = ("RetractionIn", "RetractionOf", "ErratumIn", "ErratumFor", "ExpressionOfConcernIn",
              "UpdateIn", "UpdateOf", "RepublishedIn", "CommentIn", "CommentOn")


class RecordsView:
    """The records of one snapshot, read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
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
        return self._query("SELECT count(*) FROM articles").fetchall()[0][0]

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
        if year_from is not None:
            clauses.append("year_filter >= ?")
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

    # -- result cards -------------------------------------------------------------------
    def cards(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Everything a result card shows, for a page of records, in four queries."""
        if not doc_ids:
            return {}
        ids = pa.table({"doc_id": pa.array(list(doc_ids), pa.string())})
        cur = self._query(
            "SELECT a.doc_id, a.title, a.pub_year, coalesce(a.journal_iso, a.journal_title), a.journal_title, "
            "a.pmid, a.doi, a.pmcid, a.publication_types, a.is_retracted, coalesce(a.abstract, ''), "
            "a.pub_date_text, a.volume, a.issue, a.pages, a.languages FROM articles a JOIN _ids USING (doc_id)",
            _ids=ids,
        )
        cards: dict[str, dict[str, Any]] = {}
        for (doc_id, title, year, journal, journal_title, pmid, doi, pmcid, types, retracted, abstract,
             date_text, volume, issue, pages, languages) in cur.fetchall():
            cards[doc_id] = {
                "title": title, "year": year, "journal": journal, "journal_title": journal_title,
                "pmid": pmid, "doi": doi, "pmcid": pmcid, "publication_types": tuple(types or ()),
                "is_retracted": bool(retracted), "abstract": abstract, "pub_date": date_text,
                "volume": volume, "issue": issue, "pages": pages, "languages": tuple(languages or ()),
                "authors": (), "sections": (), "links": (),
            }
        self._add_authors(cards, ids)
        self._add_sections(cards, ids)
        self._add_links(cards, ids)
        return cards

    def _add_authors(self, cards: dict[str, dict[str, Any]], ids: pa.Table) -> None:
        names: dict[str, list[str]] = {}
        for doc_id, last, fore, initials, collective in self._query(
            "SELECT c.doc_id, c.last_name, c.fore_name, c.initials, c.collective_name FROM authors c "
            "JOIN _ids USING (doc_id) ORDER BY c.doc_id, c.position", _ids=ids,
        ).fetchall():
            name = collective or " ".join(p for p in (last, initials or fore) if p)
            if name:
                names.setdefault(doc_id, []).append(name)
        for doc_id, authors in names.items():
            cards[doc_id]["authors"] = tuple(authors)

    def _add_sections(self, cards: dict[str, dict[str, Any]], ids: pa.Table) -> None:
        found: dict[str, list[Section]] = {}
        for doc_id, label, category, start, length, text in self._query(
            "SELECT s.doc_id, s.label, s.nlm_category, s.text_start, s.text_length, s.text FROM abstract_sections s "
            "JOIN _ids USING (doc_id) WHERE s.abstract_index = 0 ORDER BY s.doc_id, s.position", _ids=ids,
        ).fetchall():
            abstract = cards[doc_id]["abstract"]
            if start is None:  # rows stored before sections pointed into the abstract
                start = abstract.find(text or "")
                length = len(text or "")
                if start < 0:
                    continue
            found.setdefault(doc_id, []).append(Section(label, category, int(start), int(length)))
        for doc_id, sections in found.items():
            cards[doc_id]["sections"] = tuple(sections)

    def _add_links(self, cards: dict[str, dict[str, Any]], ids: pa.Table) -> None:
        found: dict[str, list[Link]] = {}
        for doc_id, kind, source, pmid in self._query(
            "SELECT c.doc_id, c.ref_type, c.ref_source, c.ref_pmid FROM comments_corrections c "
            "JOIN _ids USING (doc_id) WHERE c.ref_type IN ? ORDER BY c.doc_id, c.position",
            [list(CARD_LINKS)], _ids=ids,
        ).fetchall():
            found.setdefault(doc_id, []).append(Link(kind, pmid, source))
        for doc_id, links in found.items():
            cards[doc_id]["links"] = tuple(links)

    # -- texts and whole records --------------------------------------------------------
    def texts(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(title, abstract) of each record, for the reranker and learned fusion."""
        if not doc_ids:
            return {}
        ids = pa.table({"doc_id": pa.array(list(doc_ids), pa.string())})
        rows = self._query(
            "SELECT a.doc_id, a.title, coalesce(a.abstract, '') FROM articles a JOIN _ids USING (doc_id)", _ids=ids
        ).fetchall()
        return {d: (t, a) for d, t, a in rows}

    def articles(self, doc_ids: Sequence[str]) -> dict[str, Article]:
        """Whole records (``ingest.records.Article``); ids not in the snapshot are left out."""
        if not doc_ids:
            return {}
        ids = pa.table({"doc_id": pa.array(list(dict.fromkeys(doc_ids)), pa.string())})
        cur = self._query("SELECT a.* EXCLUDE (ix, year_filter) FROM articles a JOIN _ids USING (doc_id)", _ids=ids)
        names = [d[0] for d in cur.description]
        rows = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        children: dict[str, dict[str, list[dict]]] = {d: {t: [] for t in CHILD_SCHEMAS} for d in rows}
        for table in CHILD_SCHEMAS:
            source = "abstract_section_texts" if table == "abstract_sections" else table
            order = "c.ix, c.position" if "position" in CHILD_SCHEMAS[table].names else "c.ix"
            cur = self._query(
                f"SELECT c.* EXCLUDE (ix) FROM {source} c JOIN _ids USING (doc_id) ORDER BY {order}", _ids=ids
            )
            names = [d[0] for d in cur.description]
            for r in cur.fetchall():
                children[r[0]][table].append(dict(zip(names, r, strict=True)))
        out = {d: article_from_rows(rows[d], children[d]) for d in rows}
        return {d: out[d] for d in dict.fromkeys(doc_ids) if d in out}
