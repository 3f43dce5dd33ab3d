"""Rerank latency: torch fp32 cross-encoder vs int8 ONNX, side by side.

For ~50 real SciFact queries, the BM25 top-30 (title + abstract) is scored in one
``rerank`` call per query; p50 / p95 / mean seconds per query are printed, with
the target of the design (< 1.5 s for 30 candidates on 2 cores).

    python bench/bench_rerank.py [--torch DIR] [--onnx DIR] [--queries 50] [--k 30]
    python bench/bench_rerank.py --hybrid [--onnx DIR] [--k 30] [--split dev|test]

``--hybrid`` measures quality instead: the engine's hybrid top-``k`` (learned
fusion over BM25 + dense, from the cached ``data/eval`` stores and indexes that
``medsearch eval`` builds) reranked with ``combine(alpha)`` for alpha in 0..1, on
NFCorpus dev and on the SciFact train queries that *both* the reranker and the
learned fusion held out (each held out its own 20%; only the overlap is clean).

``--torch`` defaults to the trained checkpoint ``data/reranker/best`` when it
exists, else the packaged all-MiniLM-L6-v2 with a fresh head (same cost);
``--onnx`` defaults to the shipped ``search/models/reranker``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.train_reranker import DEFAULT_BEIR, base_model_path, load_set  # noqa: E402
from search.retrieval.rerank import CrossEncoderReranker, OnnxReranker, Reranker, holds_onnx  # noqa: E402

TARGET_S = 1.5


def latencies(reranker: Reranker, work: list[tuple[str, list[tuple[str, str]]]]) -> list[float]:
    """Seconds per ``rerank`` call, after two warm-up calls."""
    for query, docs in work[:2]:
        reranker.rerank(query, docs)
    out = []
    for query, docs in work:
        start = time.perf_counter()
        reranker.rerank(query, docs)
        out.append(time.perf_counter() - start)
    return out


def p(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ltr_held_out(qid: str) -> bool:
    """The learned fusion's SciFact hold-out rule (``bench/train_ltr.py``)."""
    return int(hashlib.md5(qid.encode()).hexdigest(), 16) % 5 == 0


def hybrid_quality(onnx_dir: str, k: int, split: str = "dev") -> None:
    """nDCG@10 of the engine's hybrid top-``k`` reranked with ``combine(alpha)``, per alpha."""
    from bench.train_reranker import ALPHAS, dev_qrels, ndcg_by_alpha
    from ingest.beir import load_qrels, load_queries
    from ingest.store import Store
    from search.engine import Engine, EngineConfig
    from search.index.build import IndexManager
    from search.retrieval.rerank import passage

    reranker = OnnxReranker(onnx_dir)
    print(f"| set (queries) | {' | '.join(f'a={a}' for a in ALPHAS)} |\n|---|" + "---|" * len(ALPHAS))
    for folder in DEFAULT_BEIR:
        qrels = dev_qrels(folder) if split == "dev" else load_qrels(folder, split)
        if folder.name == "scifact" and split == "dev":
            qrels = {q: d for q, d in qrels.items() if ltr_held_out(q)}
        queries = load_queries(folder)
        db = sorted((REPO / "data" / "eval").glob(f"{folder.name}-*.duckdb"))[-1]
        with Store(db, read_only=True, lock=True) as store:
            manager = IndexManager(store)
            manager.build_or_update(progress=False)
            engine = Engine(manager.load(), EngineConfig(mode="hybrid"))
            cands, scores = {}, {}
            for q in sorted(qrels):
                hits = engine.rank(queries[q], k=k, mode="hybrid").hits
                cands[q] = [(h.doc_id, h.score) for h in hits]
                texts = engine.snapshot.records.texts([h.doc_id for h in hits])
                docs = [(h.doc_id, passage(*texts.get(h.doc_id, ("", "")))) for h in hits]
                scores[q] = reranker.rerank(queries[q], docs)
        table = ndcg_by_alpha(qrels, cands, scores)
        cells = " | ".join(f"{table[a]:.4f}" for a in ALPHAS)
        print(f"| {folder.name} ({len(qrels)}) | {cells} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_torch = REPO / "data" / "reranker" / "best"
    ap.add_argument("--torch", default=str(default_torch) if default_torch.is_dir() else None)
    ap.add_argument("--onnx", default=str(REPO / "search" / "models" / "reranker"))
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hybrid", action="store_true", help="quality over the engine's hybrid candidates")
    ap.add_argument("--split", default="dev", choices=("dev", "test"), help="--hybrid: dev, or test (once, for information)")
    args = ap.parse_args()
    if args.hybrid:
        hybrid_quality(args.onnx, args.k, args.split)
        return

    import torch

    torch.set_num_threads(args.threads)
    scifact = load_set(DEFAULT_BEIR[1])
    qids = sorted(scifact.queries)[: args.queries]
    work = [
        (scifact.queries[q], [(d, scifact.texts[d]) for d, _ in scifact.index.search(scifact.queries[q], args.k)])
        for q in qids
    ]
    rows = {}
    if holds_onnx(args.onnx):  # a model.onnx, or the packed weights the project ships
        onnx = OnnxReranker(args.onnx, threads=args.threads)
        rows[f"ONNX int8 ({Path(args.onnx).name}, max_length {onnx.max_length})"] = latencies(onnx, work)
    model = args.torch or base_model_path()
    ce = CrossEncoderReranker(model, max_length=128, batch_size=32)
    rows[f"torch fp32 ({Path(model).name}, max_length 128)"] = latencies(ce, work)
    print(f"\n{len(work)} SciFact queries, BM25 top-{args.k}, {args.threads} threads; target < {TARGET_S} s\n")
    print("| reranker | p50 s | p95 s | mean s |\n|---|---|---|---|")
    for name, t in rows.items():
        print(f"| {name} | {p(t, 0.5):.3f} | {p(t, 0.95):.3f} | {statistics.mean(t):.3f} |")


if __name__ == "__main__":
    main()
