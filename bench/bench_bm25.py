"""BM25 benchmarks on the BEIR sets under ``../shared/data/beir``.

``speed`` (default): queries per second of ``LexicalIndex.search`` against
rank-bm25's ``BM25Okapi`` on SciFact, same tokens and queries, side by side.
``tune``: nDCG@10 of tokenizer settings and of a (k1, b) grid on the NFCorpus dev
and SciFact train splits (the selection criterion: their mean), the test splits
shown for information only. These numbers chose the defaults of
``search.retrieval.tokenizer.TokenizerConfig`` and ``search.retrieval.bm25.BM25Params``.

    python bench/bench_bm25.py speed [--queries 200]
    python bench/bench_bm25.py tune [--grid]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.beir import load_qrels, load_queries  # noqa: E402
from search.eval.metrics import ndcg_at_k  # noqa: E402
from search.retrieval.bm25 import BM25Params, LexicalIndex  # noqa: E402
from search.retrieval.tokenizer import Tokenizer, TokenizerConfig  # noqa: E402

BEIR = REPO.parent / "shared" / "data" / "beir"
SPLITS = {"nfcorpus": ("dev", "test"), "scifact": ("train", "test")}


def load_corpus(name: str) -> list[tuple[str, str]]:
    """``(doc_id, title + text)`` pairs of a BEIR corpus, in file order."""
    with open(BEIR / name / "corpus.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(r["_id"], f"{r.get('title') or ''} {r.get('text') or ''}".strip()) for r in rows]


def simple_tokens(text: str) -> list[str]:
    """A reference point: bm25s' default pattern (``\\w\\w+``, lower case), no compounds."""
    return re.findall(r"(?u)\b\w\w+\b", text.lower())


# -- tune -------------------------------------------------------------------------------------


def ndcg10(index: LexicalIndex, name: str, split: str, tok: Callable[[str], list[str]]) -> float:
    qrels = load_qrels(BEIR / name, split)
    queries = load_queries(BEIR / name)
    qids = [q for q in qrels if q in queries]
    run = {}
    for qid in qids:
        run[qid] = dict(index.search_tokens(tok(queries[qid]), 100))
    return ndcg_at_k(qrels, run, 10)


def evaluate(label: str, tok: Callable[[str], list[str]], params: BM25Params, cache: dict) -> dict:
    row = {"setting": label}
    for name, (tune_split, test_split) in SPLITS.items():
        key = (label, name)
        if key not in cache:
            cache[key] = [(d, tok(t)) for d, t in load_corpus(name)]
        index = LexicalIndex.from_tokens(cache[key], fingerprint="bench", params=params)
        row[f"{name}/{tune_split}"] = ndcg10(index, name, tune_split, tok)
        row[f"{name}/{test_split}"] = ndcg10(index, name, test_split, tok)
    row["mean(tune)"] = (row["nfcorpus/dev"] + row["scifact/train"]) / 2
    return row


def print_table(rows: list[dict]) -> None:
    cols = [
        "setting",
        "nfcorpus/dev",
        "scifact/train",
        "mean(tune)",
        "nfcorpus/test",
        "scifact/test",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [r["setting"]] + [f"{r[c]:.4f}" for c in cols[1:]]
        print("| " + " | ".join(cells) + " |", flush=True)


def tune(grid: bool) -> None:
    cache: dict = {}
    base = BM25Params(k1=0.9, b=0.4)
    rows = [evaluate("bm25s regex \\w\\w+, no stem, no stop", simple_tokens, base, cache)]
    for stemmer in (None, "english", "porter"):
        for stop in (None, "lucene"):
            config = TokenizerConfig(stemmer=stemmer, stopwords=stop)
            rows.append(
                evaluate(f"ours stem={stemmer} stop={stop}", Tokenizer(config), base, cache)
            )
    print(f"## Tokenizer (k1={base.k1}, b={base.b}, method={base.method}), nDCG@10\n")
    print_table(rows)
    if not grid:
        return
    config = TokenizerConfig()
    print(f"\n## k1, b grid with the default tokenizer {config}, nDCG@10\n")
    label = f"ours stem={config.stemmer} stop={config.stopwords}"
    rows = []
    for k1 in (0.6, 0.9, 1.2, 1.5):
        for b in (0.3, 0.4, 0.5, 0.6, 0.75, 0.9):
            row = evaluate(label, Tokenizer(config), BM25Params(k1=k1, b=b), cache)
            rows.append({**row, "setting": f"k1={k1} b={b}"})
    print_table(sorted(rows, key=lambda r: -r["mean(tune)"]))


# -- speed ------------------------------------------------------------------------------------


def speed(n_queries: int) -> None:
    from rank_bm25 import BM25Okapi

    tok = Tokenizer(TokenizerConfig())
    corpus = load_corpus("scifact")
    tokens = [(d, tok(t)) for d, t in corpus]
    queries = list(load_queries(BEIR / "scifact").values())[:n_queries]
    params = BM25Params()
    t0 = time.perf_counter()
    ours = LexicalIndex.from_tokens(tokens, fingerprint="bench", params=params)
    t1 = time.perf_counter()
    oracle = BM25Okapi([t for _, t in tokens], k1=params.k1, b=params.b)
    t2 = time.perf_counter()
    print(
        f"SciFact: {len(corpus)} docs, {len(queries)} queries; build ours {t1 - t0:.2f} s, rank-bm25 {t2 - t1:.2f} s"
    )

    start = time.perf_counter()
    for q in queries:  # query tokenisation included, like a user's search
        ours.search(q, 10)
    ours_qps = len(queries) / (time.perf_counter() - start)

    doc_ids = [d for d, _ in tokens]
    start = time.perf_counter()
    for q in queries:  # the same queries, tokenised the same way
        oracle.get_top_n(tok(q), doc_ids, n=10)
    theirs_qps = len(queries) / (time.perf_counter() - start)
    print(f"lexical.search : {ours_qps:10.1f} queries/s")
    print(f"rank-bm25      : {theirs_qps:10.1f} queries/s")
    print(f"ratio          : {ours_qps / theirs_qps:10.1f}x (target >= 50x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("speed", "tune"), default="speed")
    parser.add_argument("--queries", type=int, default=200, help="queries timed (speed)")
    parser.add_argument("--grid", action="store_true", help="also run the k1 x b grid (tune)")
    args = parser.parse_args(argv)
    if args.mode == "tune":
        tune(args.grid)
    else:
        speed(args.queries)


if __name__ == "__main__":
    main()
