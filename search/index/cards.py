"""A snapshot's result cards as a memory-mapped Arrow file (``cards.arrow``), one row per record.

Reading a page of cards from ``corpus.duckdb`` costs DuckDB a decompression of the whole
vector around every row it fetches, once per column: for 10 hits of a 100,000-record
snapshot about 20 ms of CPU for the four card queries, most of it the abstracts, and as
much again for the 200 (title, abstract) pairs learned fusion reads. The same values in an
uncompressed Arrow IPC file, memory-mapped, are read by offset: a few microseconds per
record, and the operating system's page cache shares them between processes.

The file is written once per snapshot, by a hook of ``search/index/snapshot_build.py``, from the
snapshot's own tables (so it holds exactly the records of the indexes, in ``ix`` order,
which is ``doc_id`` order); :class:`CardFile` reads it, the one reader of result cards.
Every value is what the record tables hold (``tests/test_card_file.py`` checks it against
its own SQL reading of every real record).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from search.types import Link, Section

CARDS_FILE = "cards.arrow"
#: comments_corrections kinds a result card shows (PubMed's RefType values).
CARD_LINKS = ("RetractionIn", "RetractionOf", "ErratumIn", "ErratumFor", "ExpressionOfConcernIn",
              "UpdateIn", "UpdateOf", "RepublishedIn", "CommentIn", "CommentOn")
BATCH_ROWS = 65_536

#: One row per record. Authors as a card shows them ("Smith JA", or a group's name);
#: sections of the abstract as offsets into it (older rows without offsets: found by text);
#: links of the kinds in CARD_LINKS. Values of CARD_LINKS are constants, not user text.
CARDS_SQL = f"""
WITH au AS (
    SELECT ix, list(name ORDER BY position) AS authors FROM (
        SELECT ix, position, coalesce(nullif(collective_name, ''), nullif(concat_ws(' ', nullif(last_name, ''),
               coalesce(nullif(initials, ''), nullif(fore_name, ''))), '')) AS name FROM authors)
    WHERE name IS NOT NULL GROUP BY ix),
se AS (
    SELECT s.ix, list(struct_pack(label := s.label, category := s.nlm_category,
           start := coalesce(s.text_start, instr(coalesce(a.abstract, ''), coalesce(s.text, '')) - 1),
           length := coalesce(s.text_length, length(coalesce(s.text, '')))) ORDER BY s.position) AS sections
    FROM abstract_sections s JOIN articles a ON a.ix = s.ix
    WHERE s.abstract_index = 0 AND coalesce(s.text_start, instr(coalesce(a.abstract, ''), coalesce(s.text, '')) - 1) >= 0
    GROUP BY s.ix),
li AS (
    SELECT ix, list(struct_pack(kind := ref_type, pmid := ref_pmid, citation := ref_source) ORDER BY position) AS links
    FROM comments_corrections WHERE ref_type IN ({", ".join(f"'{k}'" for k in CARD_LINKS)}) GROUP BY ix)
SELECT a.doc_id, a.title, a.pub_year AS year, coalesce(a.journal_iso, a.journal_title) AS journal,
       a.journal_title, a.pmid, a.doi, a.pmcid, a.publication_types, a.is_retracted,
       coalesce(a.abstract, '') AS abstract, a.pub_date_text AS pub_date, a.volume, a.issue, a.pages,
       a.languages, a.mesh_terms, au.authors, se.sections, li.links
FROM articles a LEFT JOIN au USING (ix) LEFT JOIN se USING (ix) LEFT JOIN li USING (ix)
ORDER BY a.ix
"""


def database_path(con) -> Path:
    """The file of the DuckDB database ``con`` is connected to."""
    return Path(con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0])


def write_cards(con) -> Path:
    """Write ``cards.arrow`` beside the snapshot database of ``con`` (a PREPARE hook)."""
    path = database_path(con).with_name(CARDS_FILE)
    cur = con.cursor()  # the reader streams: its own cursor, closed when done
    try:
        reader = cur.sql(CARDS_SQL).to_arrow_reader(BATCH_ROWS)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    finally:
        cur.close()
    return path


class CardFile:
    """The cards of one snapshot, memory-mapped; thread-safe (read-only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        self._doc_ids = self._table.column("doc_id")

    def __len__(self) -> int:
        return self._table.num_rows

    def row_of(self, doc_id: str) -> int | None:
        """The record's row (its ``ix``): a binary search, rows being in doc_id order."""
        ids = _Column(self._doc_ids)
        i = bisect.bisect_left(ids, doc_id)
        return i if i < len(ids) and ids[i] == doc_id else None

    def value(self, column: str, row: int) -> Any:
        return self._table.column(column)[row].as_py()

    def texts(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        out = {}
        for d in doc_ids:
            row = self.row_of(d)
            if row is not None:
                out[d] = (self.value("title", row), self.value("abstract", row))
        return out

    def cards(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out = {}
        for d in doc_ids:
            row = self.row_of(d)
            if row is not None:
                out[d] = self._card(row)
        return out

    def _card(self, row: int) -> dict[str, Any]:
        v = {name: self.value(name, row) for name in self._table.column_names if name != "doc_id"}
        return {
            **v, "is_retracted": bool(v["is_retracted"]),
            "publication_types": tuple(v["publication_types"] or ()), "languages": tuple(v["languages"] or ()),
            "mesh_terms": tuple(v["mesh_terms"] or ()), "authors": tuple(v["authors"] or ()),
            "sections": tuple(Section(s["label"], s["category"], int(s["start"]), int(s["length"]))
                              for s in v["sections"] or ()),
            "links": tuple(Link(x["kind"], x["pmid"], x["citation"]) for x in v["links"] or ()),
        }


class _Column(Sequence):
    """An Arrow string column as a read-only sequence of str, for :mod:`bisect`."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        self._column = column

    def __len__(self) -> int:
        return len(self._column)

    def __getitem__(self, i):
        return self._column[i].as_py()
