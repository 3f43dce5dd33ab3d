"""The library's costs: exporting a 1,000-paper list, and what `saved run` adds to a search.

The corpus: the real PubMed records under ``../shared/data/pubmed`` repeated with new
PMIDs (``tests/builders.py``) up to ``--papers`` records, ingested and indexed into a
temporary folder like ``medsearch ingest files`` + ``medsearch index`` do. By default
the index is BM25 only (no model loads; ``--mode hybrid`` embeds with the packaged
MiniLM, a few minutes on 2 cores): the library's share of a run does not depend on the
mode, and a cheaper search makes it easier to see.

1. Export: a list holding every paper, exported in each format through the library's
   path (``lists.entries`` -> ``Engine.articles`` from the snapshot -> ``search.citations.export``
   -> atomic file write), best of ``--repeat``; the record lookup is also timed alone.
2. Saved runs: 20 saved queries (the first 20 questions of ``bench/questions.jsonl``)
   with k=50. For each round and query, back to back: the bare ``Engine.search`` the run
   wraps, then what ``medsearch saved run`` does after loading the engine (read the saved
   query, search, record the run and its results, decide which are new). Reported: the
   medians of both and of their difference per query (target: + under 20 ms), and the
   library's own operations timed alone, in wall time and in CPU time (which, unlike wall
   time, does not grow when other jobs compete for the cores).

    .venv/bin/python bench/bench_library.py [--papers 1000] [--rounds 5] [--repeat 3] [--mode bm25]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.pipeline import ingest_files  # noqa: E402
from ingest.store import Store  # noqa: E402
from search.citations.export import FORMATS  # noqa: E402
from search.config import Settings  # noqa: E402
from search.library import Library, open_searcher, run_query  # noqa: E402
from search.library.pull import update_index  # noqa: E402
from search.library.views import export_papers  # noqa: E402
from tests.builders import real_records, replicate, write_pubmed_xml  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed"
QUESTIONS = Path(__file__).resolve().parent / "questions.jsonl"
FIRST_PMID = 90_000_000


def build_corpus(folder: Path, papers: int, mode: str) -> Settings:
    env = {"MEDSEARCH_DB": str(folder / "m.duckdb"), "MEDSEARCH_LIBRARY_DB": str(folder / "library.duckdb"),
           "MEDSEARCH_RERANKER": "none", "MEDSEARCH_SEARCH_MODE": mode}
    if mode == "bm25":
        env["MEDSEARCH_EMBEDDING_MODEL"] = "none"
    settings = Settings.from_env(env)
    xml = folder / "records.xml.gz"
    write_pubmed_xml(xml, replicate(real_records(DATA), papers, first_pmid=FIRST_PMID))
    with Store(settings.db) as store:
        ingest_files(store, [xml], progress=False)
        update_index(store, settings, progress=mode != "bm25")
    return settings


def bench_export(settings: Settings, papers: int, repeat: int, folder: Path) -> None:
    lib = Library(settings.library_path)
    pmids = [str(FIRST_PMID + i) for i in range(papers)]
    lib.lists.add("bench", pmids, note=None, create=True)
    with open_searcher(settings) as engine:
        lookup = min(_timed(lambda: engine.articles(pmids)) for _ in range(repeat))
        print(f"\nExport of a {papers}-paper list (best of {repeat}); record lookup alone {lookup * 1000:.0f} ms")
        print(f"{'format':<16}{'seconds':>9}{'ms/paper':>10}{'MB':>8}")
        for name in FORMATS:
            out = folder / f"export{FORMATS[name].extension}"

            def once(name: str = name, out: Path = out) -> None:
                entries = lib.lists.entries("bench")[1]
                export_papers([e.pmid for e in entries], engine, name, out)

            best = min(_timed(once) for _ in range(repeat))
            print(f"{name:<16}{best:>9.3f}{best * 1000 / papers:>10.3f}{out.stat().st_size / 1e6:>8.2f}")


def bench_saved_runs(settings: Settings, rounds: int) -> None:
    lib = Library(settings.library_path)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()[:20]]
    for i, q in enumerate(questions):
        lib.saved.add(f"q{i:02d}", q, k=50)
    bare, wrapped, diff = [], [], []
    with open_searcher(settings) as engine:
        engine.search(questions[0], k=50)  # warm-up: first search loads what it needs
        for _ in range(rounds):
            for i, q in enumerate(questions):
                saved = lib.saved.get(f"q{i:02d}")
                b = _timed(lambda q=q, saved=saved: engine.search(q, k=50, filters=saved.filters, mode=saved.mode))
                w = _timed(lambda i=i: run_query(lib.saved, lib.saved.get(f"q{i:02d}"), engine))
                bare.append(b)
                wrapped.append(w)
                diff.append(w - b)
        saved = lib.saved.get("q00")
        results = engine.search(saved.query, k=50)
    get = [_timed2(lambda: lib.saved.get("q00")) for _ in range(50)]
    record = [_timed2(lambda: lib.saved.record_run(saved, results.mode, results.candidates, results.hits))
              for _ in range(50)]
    runs = len(questions) * rounds
    print(f"\n`saved run` of {len(questions)} saved queries x {rounds} rounds ({runs} runs, k=50, "
          f"mode {results.mode}), ms:")
    print(f"  bare Engine.search        p50 {_p(bare, 50):7.1f}  p95 {_p(bare, 95):7.1f}")
    print(f"  saved run (get + run)     p50 {_p(wrapped, 50):7.1f}  p95 {_p(wrapped, 95):7.1f}")
    print(f"  difference per query      p50 {_p(diff, 50):7.1f}  p95 {_p(diff, 95):7.1f}   target < 20")
    print(f"  library alone, wall (CPU of the process, all threads), p50: read the saved query "
          f"{_p([w for w, _ in get], 50):.1f} ({_p([c for _, c in get], 50):.1f}), record a run of "
          f"{len(results.hits)} results {_p([w for w, _ in record], 50):.1f} ({_p([c for _, c in record], 50):.1f})")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _timed2(fn) -> tuple[float, float]:
    """(wall, CPU) seconds: CPU time does not count waiting for a core on a loaded machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _p(values: list[float], pct: int) -> float:
    """Percentile in milliseconds."""
    if pct == 50:
        return statistics.median(values) * 1000
    return statistics.quantiles(values, n=100)[pct - 1] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=1000, help="records in the corpus and the exported list")
    parser.add_argument("--rounds", type=int, default=5, help="runs of every saved query")
    parser.add_argument("--repeat", type=int, default=3, help="exports per format (best counts)")
    parser.add_argument("--mode", default="bm25", choices=["bm25", "hybrid"], help="search mode of the index")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-library-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        settings = build_corpus(folder, args.papers, args.mode)
        print(f"Corpus: {args.papers} records from the real ones, ingested and indexed in "
              f"{time.perf_counter() - start:.1f} s")
        bench_export(settings, args.papers, args.repeat, folder)
        bench_saved_runs(settings, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
