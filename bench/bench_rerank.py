"""Rerank latency: torch fp32 cross-encoder vs int8 ONNX, side by side.

For ~50 real SciFact queries, the BM25 top-30 (title + abstract) is scored in one
``rerank`` call per query; p50 / p95 / mean seconds per query are printed, with
the target of the design (< 1.5 s for 30 candidates on 2 cores).

    python bench/bench_rerank.py [--torch DIR] [--onnx DIR] [--queries 50] [--k 30]

``--torch`` defaults to the trained checkpoint ``data/reranker/best`` when it
exists, else the packaged all-MiniLM-L6-v2 with a fresh head (same cost);
``--onnx`` defaults to the shipped ``search/models/reranker``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from search.rerank import CrossEncoderReranker, OnnxReranker, Reranker  # noqa: E402
from search.train_reranker import DEFAULT_BEIR, base_model_path, load_set  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_torch = REPO / "data" / "reranker" / "best"
    ap.add_argument("--torch", default=str(default_torch) if default_torch.is_dir() else None)
    ap.add_argument("--onnx", default=str(REPO / "search" / "models" / "reranker"))
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    scifact = load_set(DEFAULT_BEIR[1])
    qids = sorted(scifact.queries)[: args.queries]
    work = [
        (scifact.queries[q], [(d, scifact.texts[d]) for d, _ in scifact.index.search(scifact.queries[q], args.k)])
        for q in qids
    ]
    rows = {}
    if Path(args.onnx, "model.onnx").is_file():
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
