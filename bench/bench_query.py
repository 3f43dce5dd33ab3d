"""Speed of query restriction (search/query/restrict.py) on synthetic snapshots of 10k and 100k records.

The snapshots are made of the real records under ``../shared/data/pubmed`` (ingested into a
scratch store), replicated with new doc_ids and publication years spread over 2000-2024, with
every child table (MeSH, authors, keywords...) copied alongside. For each size it prints the
build cost of the auxiliary tables (seconds, MB on disk) and p50/p95 latency of restriction
queries on a read-only connection, as the engine opens a snapshot.

    .venv/bin/python bench/bench_query.py [--sizes 10000 100000] [--runs 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from search.query.clinical import named_filter  # noqa: E402
from search.query.restrict import evaluate  # noqa: E402
from search.query.syntax import parse  # noqa: E402
from search.query.tables import prepare_snapshot  # noqa: E402

CHILD_TABLES = ("authors", "abstract_sections", "mesh_headings", "publication_types",
                "article_ids", "keywords", "chemicals", "comments_corrections")
QUERIES = [
    "metformin[tiab] AND randomized controlled trial[pt] AND 2015:2024[dp]",
    "trial[tiab] AND randomized controlled trial[pt] AND 2015:2024[dp]",
    "random*[tiab] AND humans[mh] AND 2010:2020[dp]",
    '"breast cancer"[tiab] NOT review[pt]',
    "(cohort[tiab] AND study[tiab]) OR risk*[mh]",
    "cancer[tiab] AND systematic[sb]",
    "smith[au] OR eng[la] NOT 2019[dp]",
]


def base_store(folder: Path, data: Path) -> Path:
    from ingest.pipeline import ingest_files
    from ingest.store import Store

    path = folder / "store.duckdb"
    with Store(path) as store:
        ingest_files(store, [data], progress=False)
    return path


def synthetic_snapshot(store: Path, path: Path, n: int) -> float:
    """Write ``n`` replicated records to ``path``; returns the size of the record tables (MB)."""
    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    con.execute("ATTACH ? AS s (READ_ONLY)", [str(store)])
    base = con.execute("SELECT count(*) FROM s.articles").fetchone()[0]
    copies = -(-n // base)
    con.execute(
        "CREATE TEMP TABLE pick AS SELECT doc_id AS old, k, doc_id || '.' || k AS new, "
        "(2000 + (hash(doc_id) + k) % 25)::INTEGER AS year FROM s.articles, range(?) r(k) "
        "ORDER BY k, doc_id LIMIT ?", [copies, n],
    )
    con.execute(
        "CREATE TABLE articles AS SELECT (row_number() OVER (ORDER BY p.new) - 1)::INTEGER AS ix, "
        "a.* REPLACE (p.new AS doc_id, (100000000 + row_number() OVER ())::VARCHAR AS pmid, "
        "p.year AS pub_year, CASE WHEN a.article_date IS NULL THEN NULL "
        "ELSE make_date(p.year, month(a.article_date), 1) END AS article_date) "
        "FROM s.articles a JOIN pick p ON p.old = a.doc_id ORDER BY p.new"
    )
    for table in CHILD_TABLES:
        con.execute(f"CREATE TABLE {table} AS SELECT c.* REPLACE (p.new AS doc_id) "
                    f"FROM s.{table} c JOIN pick p ON p.old = c.doc_id")
    con.execute("DETACH s")
    con.execute("CHECKPOINT")
    con.close()
    return path.stat().st_size / 1e6


def timed(con, node, runs: int) -> tuple[float, float, int]:
    for _ in range(3):
        evaluate(con, node)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        hits = evaluate(con, node)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))], len(hits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "pubmed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = base_store(folder, args.data)
        for n in args.sizes:
            path = folder / f"corpus-{n}.duckdb"
            records_mb = synthetic_snapshot(store, path, n)
            con = duckdb.connect(str(path))
            con.execute("SET enable_progress_bar = false")
            report = prepare_snapshot(con)
            con.execute("CHECKPOINT")
            con.close()
            aux_mb = path.stat().st_size / 1e6 - records_mb
            print(f"\n{n:,} records: record tables {records_mb:.0f} MB; query tables built in "
                  f"{report.seconds:.1f} s, +{aux_mb:.0f} MB ({report.vocabulary:,} words, "
                  f"{report.word_rows:,} word occurrences, {report.term_rows:,} names)")
            con = duckdb.connect(str(path), read_only=True)
            print(f"  {'query':68s} {'hits':>7s} {'p50 ms':>7s} {'p95 ms':>7s}")
            cases = [(q, parse(q).restriction) for q in QUERIES]
            cases += [(f"--clinical {name}", named_filter(name).node)
                      for name in ("therapy/narrow", "diagnosis/broad", "humans")]
            for label, node in cases:
                p50, p95, hits = timed(con, node, args.runs)
                print(f"  {label:68s} {hits:7,d} {p50:7.1f} {p95:7.1f}")
            con.close()


if __name__ == "__main__":
    main()
