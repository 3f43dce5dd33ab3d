"""Writing an index snapshot's record copy and checking a snapshot's files.

A snapshot's ``corpus.duckdb`` holds a copy of the store's record tables, with the
store's schema plus:

- ``ix`` on every table: the record's row in the index (0..n-1, in ``doc_id`` order,
  the order of the BM25 and dense indexes), so a filter returns index rows directly;
- ``articles.year_filter`` and ``articles.year_last``: the earliest and the latest year
  the record gives (its journal issue date, its electronic publication date, the years of
  a MedlineDate: the store's ``earliest_year`` and ``latest_year``). A year range matches
  a record when it overlaps them, as PubMed's ``[dp]`` does, so an epub-ahead-of-print
  paper belongs to the year it went online as well as to the year of its issue; timelines
  and facets count a record in its earliest year;
- the view ``abstract_section_texts`` (every abstract section with its text).

Searches, exports and summaries read this copy, never the store: the store belongs to
its one writer (``ingest/lock.py``), and a snapshot never changes once written.

Every file of a snapshot is listed in its manifest with its size and SHA-256;
:func:`verify_parts` checks them (all sums, or sizes plus the sums of small files).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.errors import SearchIndexError
from ingest.rows import CHILD_SCHEMAS
from ingest.store import Store

CORPUS_FILE = "corpus.duckdb"
MANIFEST = "manifest.json"
#: Files up to this size have their checksum verified at every load; larger ones at
#: `medsearch index` (their size is always checked).
QUICK_SUM_MAX_BYTES = 16 * 1024 * 1024

SECTION_VIEW = """
CREATE VIEW abstract_section_texts AS
SELECT s.ix, s.doc_id, s.abstract_index, s.position, s.label, s.nlm_category,
       coalesce(s.text, substr(a.abstract, s.text_start + 1, s.text_length)) AS text,
       s.other_type, s.other_language
FROM abstract_sections s LEFT JOIN articles a ON a.ix = s.ix AND s.text IS NULL
"""

def _prepare_query_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The word, term and date tables that query restrictions are evaluated on (search/query/tables.py)."""
    from search.query.tables import prepare_snapshot

    prepare_snapshot(con)


def _write_card_file(con: duckdb.DuckDBPyConnection) -> None:
    """cards.arrow beside corpus.duckdb: result cards read by offset (search/index/cards.py)."""
    from search.index.cards import write_cards

    write_cards(con)


#: Hooks run on the new corpus.duckdb (read-write) after the tables are copied; each
#: may add tables that its searches need (e.g. the query-syntax evaluator's word index).
PREPARE_HOOKS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [_prepare_query_tables, _write_card_file]


def _quote(path: Path) -> str:
    """A file path as a SQL string literal (ATTACH takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def write_corpus_db(store: Store, path: Path) -> int:
    """Copy the store's records into a new DuckDB file at ``path``; return the record count."""
    if path.exists():
        path.unlink()
    con = store.con
    con.execute(f"ATTACH {_quote(path)} AS snap (READ_WRITE)")
    try:
        con.execute(
            "CREATE TABLE snap.articles AS SELECT (row_number() OVER (ORDER BY doc_id) - 1)::INTEGER AS ix, *, "
            "coalesce(earliest_year, least(pub_year, year(article_date)))::INTEGER AS year_filter, "
            "coalesce(latest_year, greatest(pub_year, year(article_date)))::INTEGER AS year_last "
            "FROM articles ORDER BY doc_id"
        )
        for table, schema in CHILD_SCHEMAS.items():
            order = "a.ix, c.position" if "position" in schema.names else "a.ix, c.rowid"  # the stored order
            con.execute(
                f"CREATE TABLE snap.{table} AS SELECT a.ix, c.* FROM {table} c "
                f"JOIN snap.articles a ON a.doc_id = c.doc_id ORDER BY {order}"
            )
        count = con.execute("SELECT count(*) FROM snap.articles").fetchall()[0][0]
    finally:
        con.execute("DETACH snap")
    snap = duckdb.connect(str(path))
    try:
        snap.execute(SECTION_VIEW)
        for hook in PREPARE_HOOKS:
            hook(snap)
        snap.execute("CHECKPOINT")
    finally:
        snap.close()
    return count


@dataclass(frozen=True, slots=True)
class Part:
    """One file of a snapshot as the manifest lists it."""

    path: str  # relative to the snapshot folder
    size: int
    sha256: str


def describe_parts(folder: Path) -> list[Part]:
    """Every file under ``folder`` but the manifest, with size and SHA-256, sorted by path."""
    parts = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder).as_posix()
        if rel == MANIFEST:
            continue
        parts.append(Part(rel, file.stat().st_size, _sha256(file)))
    return parts


def verify_parts(folder: Path, parts: list[dict], *, full: bool) -> list[str]:
    """What is wrong with a snapshot's files: missing, other size, other checksum (``full``:
    every file's sum; otherwise the sums of files up to :data:`QUICK_SUM_MAX_BYTES`)."""
    problems = []
    for part in parts:
        file = folder / part["path"]
        try:
            size = file.stat().st_size
        except OSError:
            problems.append(f"{part['path']} is missing")
            continue
        if size != part["size"]:
            problems.append(f"{part['path']} has {size} bytes, the manifest says {part['size']}")
        elif (full or size <= QUICK_SUM_MAX_BYTES) and _sha256(file) != part["sha256"]:
            problems.append(f"{part['path']} does not match its checksum")
    return problems


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk before the snapshot is published."""
    for path in [*folder.rglob("*"), folder]:
        flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
        try:
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def damaged(folder: Path, problems: list[str]) -> SearchIndexError:
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return SearchIndexError(
        f"The search index in {folder} is damaged: {shown}.",
        hint="Run `medsearch index`: it checks the index and rebuilds what is damaged.",
    )
