"""Tokenisation speed: the pure-Python WordPiece (search/retrieval/wordpiece.py) vs tokenizers.

Real NFCorpus + SciFact abstracts (title + newline + abstract, as the engine embeds them),
encoded in batches of 32 as OnnxEncoder does (single texts, 256 tokens) and as pairs
(query, abstract) at 128 as OnnxReranker does; texts/s of each, best of ``--rounds``
interleaved rounds, on one thread (``RAYON_NUM_THREADS=1`` for tokenizers, whose batch
encoding is otherwise parallel), and with tokenizers' default threads. Ours is measured
cold (a fresh tokenizer, empty word cache) in the first round and warm after.

    python bench/bench_wordpiece.py [--docs 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BEIR = REPO.parent / "shared" / "data" / "beir"
TOKENIZER = REPO / "search" / "models" / "minilm" / "tokenizer.json"


def load(limit: int) -> tuple[list[str], list[str]]:
    from search.retrieval.rerank import passage

    docs: list[str] = []
    queries: list[str] = []
    for name in ("nfcorpus", "scifact"):
        with (BEIR / name / "corpus.jsonl").open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                docs.append(passage(row.get("title", ""), row.get("text", "")))
        with (BEIR / name / "queries.jsonl").open(encoding="utf-8") as f:
            queries.extend(json.loads(line)["text"] for line in f)
    step = max(1, len(docs) // limit)
    return docs[::step][:limit], queries


def run(kind: str, texts: list, max_length: int, batch: int = 32) -> float:
    """texts/s of one pass."""
    if kind == "ours":
        from search.retrieval.wordpiece import WordPiece

        tok = WordPiece(TOKENIZER)
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            tok.encode_batch(texts[i : i + batch], max_length)
        return len(texts) / (time.perf_counter() - start)
    import numpy as np
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(TOKENIZER))
    ref.enable_truncation(max_length, strategy="longest_first")
    ref.enable_padding()
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        enc = ref.encode_batch(texts[i : i + batch])
        np.array([e.ids for e in enc], dtype=np.int64)
        np.array([e.attention_mask for e in enc], dtype=np.int64)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    docs, queries = load(args.docs)
    pairs = [(queries[i % len(queries)], d) for i, d in enumerate(docs)]
    if args.child:  # one measurement in a fresh process: kind, what, max_length
        kind, what, length = args.child
        print(run(kind, docs if what == "single" else pairs, int(length)))
        return
    print(f"{len(docs)} abstracts, batches of 32, texts/s (best of {args.rounds} rounds)")
    rows = []
    for what, length in (("single", 256), ("pair", 128)):
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for kind, env in (("ours", {}), ("tokenizers 1 thread", {"RAYON_NUM_THREADS": "1"}),
                              ("tokenizers", {})):
                out = subprocess.run(
                    [sys.executable, __file__, "--docs", str(args.docs), "--child",
                     "ours" if kind == "ours" else "ref", what, str(length)],
                    capture_output=True, text=True, check=True, env={**os.environ, **env},
                )
                best[kind] = max(best.get(kind, 0.0), float(out.stdout.strip()))
        rows.append((what, length, best))
    print(f"{'input':<8} {'max':>4} {'ours':>10} {'tokenizers 1 thread':>20} {'tokenizers':>11}")
    for what, length, best in rows:
        print(f"{what:<8} {length:>4} {best['ours']:>10.0f} {best['tokenizers 1 thread']:>20.0f} "
              f"{best['tokenizers']:>11.0f}")


if __name__ == "__main__":
    main()
