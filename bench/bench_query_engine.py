"""Speed of the engine's clinical search at 10k and 100k records: PubMed syntax, facets, sorts.

For each size, in one run, side by side, through ``Engine.search`` / ``Engine.facets`` (hybrid:
BM25 + dense top 100 + learned fusion, no rerank; query embedding and the result cards of 10
hits included):

- ``free text``: the query's free text alone (the unfiltered query);
- ``+ 3 clauses``: the same free text AND three field clauses, ``random*[tiab] AND humans[mh]
  AND 2010:2024[dp]`` (a selective restriction) and ``english[la] AND journal article[pt] AND
  2005:2024[dp]`` (a broad one); the restriction's own cost (``timings_ms["restrict"]``) is
  reported separately;
- ``facets``: ``Engine.facets`` for the selective query;
- ``date sort``: the selective query sorted newest first (every match ordered);
- ``clauses only``: the selective restriction without free text (a PubMed-style listing).

The corpus: the real records under ``../shared/data/pubmed`` (about 790 PubMed XML records and
1,621 retraction notices) replicated with new doc_ids and PMIDs and publication years spread
over 2000-2024, every child table (MeSH, authors, publication types ...) copied with them, in a
real store indexed by ``IndexManager`` (corpus copy, query tables, BM25, dense). Copies share
their text, so the dense index embeds each distinct text once (packaged MiniLM, int8 ONNX) and
reuses the vector for every copy. Queries: 50 real test queries of NFCorpus and SciFact; 3
warm-up queries are not counted. The stores and indexes are cached under ``data/bench/``.

    .venv/bin/python bench/bench_query_engine.py [--sizes 10000 100000] [--queries 50]

Figures, and what limits the broad case: ``docs/search.md`` ("Speed").
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "pubmed"
BEIR = REPO.parent / "shared" / "data" / "beir"
CACHE = REPO / "data" / "bench" / "query_engine"
SELECTIVE = "random*[tiab] AND humans[mh] AND 2010:2024[dp]"
BROAD = "english[la] AND journal article[pt] AND 2005:2024[dp]"
CHILD_TABLES = ("authors", "abstract_sections", "mesh_headings", "publication_types",
                "article_ids", "keywords", "chemicals", "comments_corrections")


def queries(n: int) -> list[str]:
    """``n`` real test queries, alternating NFCorpus and SciFact."""
    per = {}
    for name in ("nfcorpus", "scifact"):
        with open(BEIR / name / "queries.jsonl", encoding="utf-8") as f:
            per[name] = [json.loads(line)["text"] for line in f]
    return [q for pair in zip(per["nfcorpus"], per["scifact"], strict=False) for q in pair][:n]


def base_index() -> tuple[Path, Path]:
    """The real records in a store, indexed with the packaged MiniLM (built once, cached)."""
    from ingest.pipeline import ingest_files
    from ingest.store import Store
    from search.index.build import IndexManager, IndexSettings

    db, index = CACHE / "base.duckdb", CACHE / "base.index"
    if (index / "CURRENT").is_file():
        _bring_up_to_date(db, index)
        return db, index
    CACHE.mkdir(parents=True, exist_ok=True)
    with Store(db) as store:
        ingest_files(store, [DATA], progress=False)
        IndexManager(store, index, IndexSettings()).build_or_update(progress=True)
    return db, index


def _bring_up_to_date(db: Path, index: Path) -> dict:
    """The index brought up to date with its store (a copied or cached index: new records, another
    index format, damage); the build's timings, or {} when it was current."""
    from ingest.store import Store
    from search.index.build import IndexManager, IndexSettings

    with Store(db, read_only=True, lock=True) as store:
        report = IndexManager(store, index, IndexSettings()).build_or_update(progress=True)
    return {} if report.up_to_date else report.seconds


def replicated(base: Path, base_index_dir: Path, n: int) -> tuple[Path, Path, dict]:
    """A store of ``n`` replicated records and its index (cached); the build's timings."""
    from ingest.store import Store

    db, index = CACHE / f"n{n}.duckdb", CACHE / f"n{n}.index"
    if (index / "CURRENT").is_file():
        return db, index, _bring_up_to_date(db, index)
    for p in (db, index):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    with Store(db) as store:
        _copy_records(store.con, base, n)
    shutil.copytree(base_index_dir, index)  # its vectors are reused by text hash: nothing is embedded
    return db, index, _bring_up_to_date(db, index)


def _copy_records(con, base: Path, n: int) -> None:
    con.execute("ATTACH ? AS s (READ_ONLY)", [str(base)])
    count = con.execute("SELECT count(*) FROM s.articles").fetchone()[0]
    con.execute(
        "CREATE TEMP TABLE pick AS SELECT doc_id AS old, k, printf('%09d', 100000000 + row_number() OVER "
        "(ORDER BY k, doc_id)) AS new, CASE WHEN k = 0 THEN NULL ELSE (2000 + (hash(doc_id) + k) % 25)::INTEGER "
        "END AS year FROM s.articles, range(?) r(k) ORDER BY k, doc_id LIMIT ?", [-(-n // count), n],
    )
    con.execute(
        "INSERT INTO articles SELECT a.* REPLACE (p.new AS doc_id, p.new AS pmid, coalesce(p.year, a.pub_year) "
        "AS pub_year, CASE WHEN p.year IS NULL THEN a.article_date ELSE NULL END AS article_date) "
        "FROM s.articles a JOIN pick p ON p.old = a.doc_id"
    )
    for table in CHILD_TABLES:
        con.execute(f"INSERT INTO {table} SELECT c.* REPLACE (p.new AS doc_id) "
                    f"FROM s.{table} c JOIN pick p ON p.old = c.doc_id")
    con.execute("DETACH s")


def timed(fn, items: list, warmup: int = 3) -> tuple[list[float], list]:
    for x in items[:warmup]:
        fn(x)
    times, results = [], []
    for x in items:
        t = time.perf_counter()
        results.append(fn(x))
        times.append((time.perf_counter() - t) * 1000)
    return times, results


def pct(values: list[float]) -> str:
    v = sorted(values)
    return f"{statistics.median(v):7.1f} {v[min(len(v) - 1, int(0.95 * len(v)))]:7.1f}"


def run(db: Path, index: Path, qs: list[str]) -> None:
    from search.engine import Engine, EngineConfig
    from search.index.build import IndexSettings

    engine = Engine.open(index_dir=index, db_path=db, index_settings=IndexSettings(),
                         config=EngineConfig(mode="hybrid"))
    engine.facets(SELECTIVE)  # loads the per-record columns once, as the first facet request would
    cases = [
        ("free text", lambda q: engine.search(q, k=10)),
        ("+ 3 clauses, selective", lambda q: engine.search(f"{q} AND {SELECTIVE}", k=10)),
        ("+ 3 clauses, broad", lambda q: engine.search(f"{q} AND {BROAD}", k=10)),
        ("facets, selective", lambda q: engine.facets(f"{q} AND {SELECTIVE}")),
        ("date sort, selective", lambda q: engine.search(f"{q} AND {SELECTIVE}", k=10, sort="date")),
    ]
    print(f"  {'case':<24} {'p50 ms':>7} {'p95 ms':>7}   {'restrict p50 p95':>16}  {'matches':>9}  stages p50")
    for label, fn in cases:
        times, results = timed(fn, qs)
        restrict = [r.timings_ms.get("restrict", 0.0) for r in results]
        total = statistics.median([r.total for r in results])
        stages = {k: statistics.median([r.timings_ms.get(k, 0.0) for r in results])
                  for k in results[-1].timings_ms}
        shown = ", ".join(f"{k} {v:.1f}" for k, v in stages.items() if v >= 0.5)
        print(f"  {label:<24} {pct(times)}   {pct(restrict) if any(restrict) else '':>16}  {total:>9,.0f}  {shown}")
    times, results = timed(lambda _: engine.search(SELECTIVE, k=10), qs[:20])
    print(f"  {'clauses only (listing)':<24} {pct(times)}   {pct([r.timings_ms['restrict'] for r in results])}"
          f"  {results[0].total:>9,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached stores and indexes")
    args = ap.parse_args()
    if args.rebuild:
        shutil.rmtree(CACHE, ignore_errors=True)
    base, base_idx = base_index()
    qs = queries(args.queries)
    for n in args.sizes:
        db, index, seconds = replicated(base, base_idx, n)
        built = f" (index built: {', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())})" if seconds else ""
        print(f"\n{n:,} records{built}")
        run(db, index, qs)


if __name__ == "__main__":
    main()
