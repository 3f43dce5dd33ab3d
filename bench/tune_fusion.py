"""Choose the fusion method and its parameters on the train/dev splits (never test).

    .venv/bin/python bench/tune_fusion.py [--sets nfcorpus:dev scifact:train] [--test]

Uses the cached eval databases and indexes of ``medsearch eval`` (data/eval/):
for every query it takes the BM25 and dense top 1,000 once, then fuses them
offline with each candidate setting and prints nDCG@10 / Recall@100 per set
and their mean. ``--test`` adds the test split for information only, after
the choice is made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.beir import load_qrels, load_queries  # noqa: E402
from search.eval.beir import eval_store  # noqa: E402
from search.eval.metrics import ndcg_at_k, recall_at_k  # noqa: E402
from search.index.build import IndexManager  # noqa: E402
from search.retrieval import fusion  # noqa: E402

BEIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "beir"
DEPTH = 1000


def _lists(index, queries: dict[str, str]) -> dict[str, tuple[list, list, np.ndarray]]:
    out = {}
    for qid, text in queries.items():
        bm25 = index.lexical.search(text, DEPTH)
        qvec = index.dense.query_vector(text)
        dense = index.dense.search(qvec, DEPTH)
        out[qid] = (bm25, dense, qvec)
    return out


def _prf(index, rows_of: dict, qvec: np.ndarray, top: list[str], beta: float) -> list:
    """Rocchio on embeddings: move the query towards its top documents, search again."""
    centroid = np.asarray(index.dense.vectors[[rows_of[d] for d in top]], dtype=np.float32).mean(axis=0)
    q = qvec + beta * centroid
    return index.dense.search(q / np.linalg.norm(q), DEPTH)


def _run(ranking) -> dict[str, float]:
    return {h[0]: float(len(ranking) - i) for i, h in enumerate(ranking[:100])}


def candidates(index, lists):
    """name -> {qid: ranking} for every setting tried."""
    settings: dict[str, dict] = {"bm25": {}, "dense": {}}
    for qid, (bm25, dense, _) in lists.items():
        settings["bm25"][qid] = bm25
        settings["dense"][qid] = dense
    for k in (10, 30, 60, 100):
        for depth in (100, 1000):
            settings[f"rrf k={k} depth={depth}"] = {
                q: [(h.doc_id,) for h in fusion.rrf([b[:depth], d[:depth]], k=k)] for q, (b, d, _) in lists.items()
            }
    for w in (0.2, 0.3, 0.4, 0.5, 0.6):
        for norm in ("minmax", "zscore"):
            settings[f"{norm} w_bm25={w}"] = {
                q: [(h.doc_id,) for h in fusion.weighted_fusion([b[:100], d[:100]], weights=[w, 1 - w], normalization=norm)]
                for q, (b, d, _) in lists.items()
            }
    rows_of = {d: i for i, d in enumerate(index.doc_ids)}
    for m in (3, 5):
        for beta in (0.5, 1.0):
            runs = {}
            for q, (b, d, qvec) in lists.items():
                first = [h.doc_id for h in fusion.rrf([b[:1000], d[:1000]], k=60)[:m]]
                prf = _prf(index, rows_of, qvec, first, beta)
                runs[q] = [(h.doc_id,) for h in fusion.rrf([b[:1000], prf], k=60)]
            settings[f"rrf60 + dense PRF m={m} b={beta}"] = runs
    return settings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=["nfcorpus:dev", "scifact:train"])
    ap.add_argument("--test", action="store_true", help="also print the test split (information only)")
    args = ap.parse_args()
    specs = [s.split(":") for s in args.sets] + ([[s.split(":")[0], "test"] for s in args.sets] if args.test else [])
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for name, split in specs:
        store = eval_store(BEIR / name, Path("data/eval"), progress=False)
        manager = IndexManager(store)
        manager.build_or_update(progress=False)
        index = manager.load()
        qrels = load_qrels(BEIR / name, split)
        queries = {q: t for q, t in load_queries(BEIR / name).items() if q in qrels}
        lists = _lists(index, queries)
        for setting, runs in candidates(index, lists).items():
            run = {q: _run(r) for q, r in runs.items()}
            table.setdefault(setting, {})[f"{name}:{split}"] = (ndcg_at_k(qrels, run, 10), recall_at_k(qrels, run, 100))
        store.close()
    cols = [f"{n}:{s}" for n, s in specs]
    tune_cols = [f"{n}:{s}" for n, s in (x.split(":") for x in args.sets)]
    print(f"{'setting':<28}" + "".join(f"{c:>22}" for c in cols) + f"{'mean nDCG (tuning)':>20}")
    rows = sorted(table.items(), key=lambda kv: -np.mean([kv[1][c][0] for c in tune_cols]))
    for setting, vals in rows:
        cells = "".join(f"{vals[c][0]:>12.4f} / {vals[c][1]:.3f}" for c in cols)
        print(f"{setting:<28}{cells}{np.mean([vals[c][0] for c in tune_cols]):>20.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
