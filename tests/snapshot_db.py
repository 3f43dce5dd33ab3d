"""A search snapshot's ``corpus.duckdb`` made from a real store, for the restriction tests.

The engine's snapshot builder copies the store's record tables and numbers the records
``ix`` = 0..n-1 in doc_id order; this helper does the same with ``ATTACH``, then calls
:func:`search.query.tables.prepare_snapshot`, and hands back the file opened read-only.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

CHILD_TABLES = ("authors", "abstract_sections", "mesh_headings", "publication_types",
                "article_ids", "keywords", "chemicals", "comments_corrections")


def make_snapshot(store_path: Path, snap_path: Path) -> Path:
    """Copy the store's record tables into ``snap_path`` with ``articles.ix``; prepare it."""
    from search.query.tables import prepare_snapshot

    con = duckdb.connect(str(snap_path))
    try:
        con.execute("ATTACH ? AS store (READ_ONLY)", [str(store_path)])
        con.execute(
            "CREATE TABLE articles AS SELECT (row_number() OVER (ORDER BY doc_id) - 1)::INTEGER AS ix, * "
            "FROM store.articles ORDER BY doc_id"
        )
        for table in CHILD_TABLES:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM store.{table}")
        con.execute("DETACH store")
        prepare_snapshot(con)
    finally:
        con.close()
    return snap_path
