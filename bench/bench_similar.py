"""Quality of similar articles (``Engine.similar``) on BEIR sets: are documents judged relevant to
the same query each other's neighbours more often than chance?

For every document ``d`` judged relevant (grade >= 1) to a query of the split that has at least
two relevant documents in the corpus, its *co-relevant* documents are the other documents
judged relevant to any of the same queries. ``Engine.rank_similar(d, k=10)`` lists its 10
nearest records; the figure is

- **P@10**: the share of those 10 that are co-relevant to ``d``, averaged over every such ``d``;
- **chance**: the share a random draw of 10 other documents would get, |co-relevant| / (N - 1),
  averaged the same way; **lift** = P@10 / chance;
- **hit@10**: the share of documents with at least one co-relevant record among their 10.

It reads the index ``medsearch eval`` caches under ``data/eval/`` (real packaged MiniLM vectors:
run ``medsearch eval ../shared/data/beir/<set>`` first). Methods (``search/results/similar.py``): rrf,
weighted (``weighted:W``: BM25 weight W), dense, bm25. The default was chosen on the *train*
splits; test is reported.

    .venv/bin/python bench/bench_similar.py [--sets nfcorpus scifact] [--splits train test] [--methods ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BEIR = REPO.parent / "shared" / "data" / "beir"
K = 10


def co_relevant(folder: Path, split: str, corpus: set[str]) -> dict[str, set[str]]:
    """doc -> the other documents judged relevant to a query it is relevant to."""
    by_query: dict[str, set[str]] = defaultdict(set)
    for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        q, d, grade = line.split("\t")
        if int(grade) >= 1 and d in corpus:
            by_query[q].add(d)
    out: dict[str, set[str]] = defaultdict(set)
    for docs in by_query.values():
        if len(docs) >= 2:
            for d in docs:
                out[d] |= docs - {d}
    return out


def open_engine(name: str):
    from ingest.store import Store
    from search.engine import Engine, EngineConfig
    from search.index.build import IndexManager, IndexSettings

    dbs = sorted((REPO / "data" / "eval").glob(f"{name}-*.duckdb"))
    if not dbs:
        sys.exit(f"no cached index of {name} in data/eval: run medsearch eval ../shared/data/beir/{name}")
    with Store(dbs[-1], read_only=True) as store:
        snap = IndexManager(store, settings=IndexSettings()).load()
    return Engine(snap, EngineConfig(mode="hybrid", fusion="weighted"))


def measure(engine, co: dict[str, set[str]], method: str) -> dict[str, float]:
    """``method``: a method of search/results/similar.py; ``weighted:W`` is min-max fusion with BM25 weight W."""
    n = len(engine.snapshot.doc_ids)
    name, _, weight = method.partition(":")
    kw = {"bm25_weight": float(weight)} if weight else {}
    precision, chance, hits, seconds = [], [], 0, []
    for d, others in co.items():
        t = time.perf_counter()
        near = engine.rank_similar(d, k=K, method=name, **kw)
        seconds.append(time.perf_counter() - t)
        found = sum(h.doc_id in others for h in near.hits)
        precision.append(found / K)
        chance.append(len(others) / (n - 1))
        hits += found > 0
    p, c = sum(precision) / len(precision), sum(chance) / len(chance)
    seconds.sort()
    return {"docs": len(co), "p@10": p, "chance": c, "lift": p / c, "hit@10": hits / len(co),
            "ms_p50": 1000 * seconds[len(seconds) // 2]}


def main() -> None:
    from search.results.similar import METHODS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=["nfcorpus", "scifact"])
    ap.add_argument("--splits", nargs="+", default=["train", "test"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS),
                    help=f"of {', '.join(METHODS)}; weighted:W sets BM25's weight W (default 0.5)")
    ap.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = ap.parse_args()
    rows = []
    print(f"{'set':<9} {'split':<6} {'method':<12} {'docs':>5} {'P@10':>7} {'chance':>7} {'lift':>6} "
          f"{'hit@10':>7} {'ms p50':>7}")
    for name in args.sets:
        engine = open_engine(name)
        corpus = set(engine.snapshot.doc_ids)
        for split in args.splits:
            if not (BEIR / name / "qrels" / f"{split}.tsv").is_file():
                continue
            co = co_relevant(BEIR / name, split, corpus)
            for method in args.methods:
                m = measure(engine, co, method)
                rows.append({"set": name, "split": split, "method": method, **m})
                print(f"{name:<9} {split:<6} {method:<12} {m['docs']:>5} {m['p@10']:7.4f} {m['chance']:7.4f} "
                      f"{m['lift']:6.1f} {m['hit@10']:7.3f} {m['ms_p50']:7.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
