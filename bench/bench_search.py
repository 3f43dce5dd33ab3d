"""Search latency and index cost at 10k, 100k and 1M documents; embedder and text-recipe checks.

``python bench/bench_search.py latency`` measures one query through BM25 + dense
+ reciprocal rank fusion (``search.retrieval.fusion.rrf``; no rerank), query embedding
included, over indexes saved to disk and loaded back as the engine loads them
(dense memory-mapped). Each size runs in two fresh processes, ``build`` and
``query``, so each peak RSS (``ru_maxrss``) is that phase's own.

The corpus: no 1M-abstract corpus lies on disk and embedding 1M texts on 2 cores
would take days, so documents are recombined from real text and their vectors
derived from real embeddings:

1. A pool of 4,000 real documents (every second one of the 8,816 NFCorpus and
   SciFact documents; ``pool``), embedded once with the packaged MiniLM and cached
   under ``data/bench/``. Each is split into sentences.
2. Synthetic document ``i`` takes the title of a random pool document and runs of
   1-5 consecutive sentences from 1-3 random pool documents (p = .5/.3/.2). Its
   vector is the mean of its sources' embeddings weighted by sentence count,
   plus Gaussian noise of norm 0.5, L2-normalised: two documents drawn from the
   same source then have cosine ~0.8, like close neighbours in a real corpus,
   instead of being duplicates.
3. BM25 indexes the real words: each pool sentence is tokenised once with the
   project's tokenizer and a document's tokens are its sentences' tokens
   concatenated (identical to tokenising the joined text; checked on a sample).
   Index build time is therefore bm25s' own time plus the tokenizer's cost, which
   is measured on 5,000 joined texts and reported as a rate (it dominates: see
   below).

Queries: 200 real test queries of NFCorpus and SciFact; 5 warm-up queries are
not counted; BM25 and dense each return their top 100, RRF keeps the fused order.
A "filtered" run repeats the queries with a random 30% mask (mask building is the
engine's cost, not counted).

Other commands: ``backends`` (ONNX int8 vs torch fp32 speed and agreement, the
numbers behind ``search.retrieval.encoders.DEFAULT_BACKEND``), ``recipe`` (BM25 with and
without MeSH/keywords on the demo PubMed records, see ``search.index.documents``).

Figures: ``docs/search.md`` ("Speed"), with the command that measures each.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BEIR = REPO.parent / "shared" / "data" / "beir"
CACHE = REPO / "data" / "bench"
POOL_SIZE = 4_000
NOISE_NORM = 0.5
K_FIRST_STAGE = 100
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


# -- real data ------------------------------------------------------------------------------


def beir_docs() -> list[tuple[str, str, str]]:
    """(doc_id, title, text) of the NFCorpus and SciFact corpora, in file order."""
    docs = []
    for name in ("nfcorpus", "scifact"):
        with open(BEIR / name / "corpus.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("text"):
                    docs.append((f"{name}:{row['_id']}", row.get("title") or "", row["text"]))
    return docs


def beir_queries(n: int) -> list[str]:
    """``n`` real test queries, alternating NFCorpus and SciFact."""
    per = {}
    for name in ("nfcorpus", "scifact"):
        with open(BEIR / name / "queries.jsonl", encoding="utf-8") as f:
            per[name] = [json.loads(line)["text"] for line in f]
    mixed = [q for pair in zip(per["nfcorpus"], per["scifact"], strict=False) for q in pair]
    return mixed[:n]


def pool(size: int = POOL_SIZE, backend: str = "onnx") -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """``size`` real documents spread over both corpora and their embeddings (cached)."""
    docs = beir_docs()
    chosen = docs[:: max(1, len(docs) // size)][:size]
    path = CACHE / f"pool_{backend}_{len(chosen)}.npy"
    if path.is_file():
        return chosen, np.load(path)
    from search.index.documents import compose_text
    from search.retrieval.encoders import load_embedder

    embedder = load_embedder(backend=backend)  # type: ignore[arg-type]
    start = time.perf_counter()
    vectors = embedder.embed_documents([compose_text(t, x) for _, t, x in chosen], progress=True)
    seconds = time.perf_counter() - start
    print(f"embedded {len(chosen)} documents in {seconds:.0f} s ({len(chosen) / seconds:.1f}/s)")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return chosen, vectors


# -- the synthetic corpus -------------------------------------------------------------------


class Synthetic:
    """Documents recombined from the sentences of the pool (see the module doc)."""

    def __init__(self, docs: list[tuple[str, str, str]], vectors: np.ndarray) -> None:
        self.titles = [t for _, t, _ in docs]
        self.vectors = vectors
        self.sentences: list[str] = []
        self.ranges: list[tuple[int, int]] = []
        for _, _, text in docs:
            parts = [s for s in _SENTENCE.split(text) if s.strip()]
            self.ranges.append((len(self.sentences), len(self.sentences) + len(parts)))
            self.sentences.extend(parts)

    def plan(self, n: int, seed: int = 0) -> np.ndarray:
        """Per document: title source, then (source, first sentence, count) x 3 (count 0: unused)."""
        rng = np.random.default_rng(seed)
        p = len(self.titles)
        out = np.zeros((n, 10), dtype=np.int32)
        out[:, 0] = rng.integers(0, p, n)
        n_src = rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2])
        starts = np.array([r[0] for r in self.ranges])
        sizes = np.array([r[1] - r[0] for r in self.ranges])
        for j in range(3):
            src = rng.integers(0, p, n)
            count = np.minimum(rng.integers(1, 6, n), sizes[src])
            first = starts[src] + (rng.random(n) * (sizes[src] - count + 1)).astype(np.int32)
            used = n_src > j
            out[:, 1 + 3 * j] = src
            out[:, 2 + 3 * j] = first
            out[:, 3 + 3 * j] = np.where(used, count, 0)
        return out

    def text(self, row: np.ndarray) -> str:
        body = [
            " ".join(self.sentences[row[2 + 3 * j] : row[2 + 3 * j] + row[3 + 3 * j]])
            for j in range(3)
            if row[3 + 3 * j]
        ]
        return self.titles[row[0]] + "\n" + " ".join(body)

    def token_lists(self, plan: np.ndarray, tokenize: Callable[[str], list[str]]) -> Iterator[list[str]]:
        """Each document's tokens, from sentences tokenised once."""
        title_tokens = [tokenize(t) for t in self.titles]
        sentence_tokens = [tokenize(s) for s in self.sentences]
        for row in plan:
            tokens = list(title_tokens[row[0]])
            for j in range(3):
                first, count = row[2 + 3 * j], row[3 + 3 * j]
                for s in range(first, first + count):
                    tokens.extend(sentence_tokens[s])
            yield tokens

    def vectors_for(self, plan: np.ndarray, seed: int = 0, chunk: int = 65_536) -> np.ndarray:
        """Normalised mix of the source embeddings (weights: sentence counts) plus noise."""
        rng = np.random.default_rng(seed + 1)
        dims = self.vectors.shape[1]
        out = np.empty((len(plan), dims), dtype=np.float32)
        for start in range(0, len(plan), chunk):
            rows = plan[start : start + chunk]
            mix = np.zeros((len(rows), dims), dtype=np.float32)
            for j in range(3):
                mix += rows[:, 3 + 3 * j, None] * self.vectors[rows[:, 1 + 3 * j]]
            mix /= np.linalg.norm(mix, axis=1, keepdims=True)
            mix += rng.standard_normal(mix.shape, dtype=np.float32) * (NOISE_NORM / np.sqrt(dims))
            out[start : start + len(rows)] = mix / np.linalg.norm(mix, axis=1, keepdims=True)
        return out


# -- one size: build, then query ----------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(n: int, folder: Path) -> dict:
    """Build and save both indexes for ``n`` synthetic documents; times and peak memory."""
    from search.retrieval.bm25 import LexicalIndex
    from search.retrieval.dense import DenseIndex, DenseParams
    from search.retrieval.tokenizer import Tokenizer

    docs, vectors = pool()
    corpus = Synthetic(docs, vectors)
    plan = corpus.plan(n)
    ids = [f"S{i:08d}" for i in range(n)]
    tok = Tokenizer()
    out: dict = {"n": n}
    t = time.perf_counter()
    tokens = corpus.token_lists(plan, tok)  # streamed: no list of every document's tokens
    lexical = LexicalIndex.from_tokens(zip(ids, tokens, strict=True), fingerprint="bench")
    out["bm25_index_s"] = time.perf_counter() - t
    gc.collect()
    t = time.perf_counter()
    matrix = corpus.vectors_for(plan)
    out["bench_vectors_s"] = time.perf_counter() - t
    t = time.perf_counter()
    params = DenseParams("packaged:all-MiniLM-L6-v2", "onnx", matrix.shape[1])
    dense = DenseIndex(matrix, ids, ["h"] * n, params=params, fingerprint="bench")
    if n >= _int8_min():
        dense.int8()
    out["dense_index_s"] = time.perf_counter() - t
    t = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    lexical.save(folder / "bm25")
    dense.save(folder / "dense")
    out["save_s"] = time.perf_counter() - t
    out["build_peak_mb"] = _peak_mb()
    out["disk_mb"] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
    return out


def _int8_min() -> int:
    from search.retrieval.dense import INT8_MIN_ROWS

    return INT8_MIN_ROWS


def query(folder: Path, n_queries: int) -> dict:
    """Load the saved indexes and time BM25 + dense + RRF per query (also filtered)."""
    from search.retrieval.bm25 import LexicalIndex
    from search.retrieval.dense import DenseIndex
    from search.retrieval.encoders import load_embedder
    from search.retrieval.fusion import rrf

    t = time.perf_counter()
    lexical = LexicalIndex.load(folder / "bm25", fingerprint="bench", mmap=True)
    dense = DenseIndex.load(folder / "dense", fingerprint="bench")
    out: dict = {"load_s": time.perf_counter() - t}
    embedder = load_embedder()
    queries = beir_queries(n_queries + 5)
    mask = np.random.default_rng(7).random(len(dense)) < 0.3
    for label, m in (("all", None), ("filtered", mask)):
        stages = {"embed": [], "bm25": [], "dense": [], "fuse": [], "total": []}
        for i, q in enumerate(queries):
            times = _one_query(q, m, embedder, lexical, dense, rrf)
            if i >= 5:
                for key, value in times.items():
                    stages[key].append(value)
        out[label] = {key: _pcts(v) for key, v in stages.items()}
    out["dense_exact_ms"] = _dense_path_ms(dense, embedder, queries[5:45], "_top_k_exact")
    dense.int8()  # made here when the index is too small to have saved one
    out["dense_int8_ms"] = _dense_path_ms(dense, embedder, queries[5:45], "_top_k_int8")
    out["query_peak_mb"] = _peak_mb()
    return out


def _one_query(q, mask, embedder, lexical, dense, rrf) -> dict[str, float]:
    t0 = time.perf_counter()
    vec = embedder.embed_query(q)
    t1 = time.perf_counter()
    bm25_hits = lexical.search(q, K_FIRST_STAGE, mask)
    t2 = time.perf_counter()
    dense_hits = dense.search(vec, K_FIRST_STAGE, mask)
    t3 = time.perf_counter()
    rrf([bm25_hits, dense_hits])[:10]
    t4 = time.perf_counter()
    ms = [1000 * (b - a) for a, b in ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t0, t4))]
    return dict(zip(("embed", "bm25", "dense", "fuse", "total"), ms, strict=True))


def _dense_path_ms(dense, embedder, queries: list[str], path: str) -> dict[str, float]:
    """One dense search path (float32-only or int8 first pass) on the same index and queries."""
    times = []
    for q in queries:
        vec = embedder.embed_query(q)
        t = time.perf_counter()
        getattr(dense, path)(vec, K_FIRST_STAGE, None)
        times.append(1000 * (time.perf_counter() - t))
    return _pcts(times)


def _pcts(values: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}


def check_tokens(sample: int = 5_000) -> dict:
    """Tokenizer rate on joined texts, and token concatenation == tokenising the joined text."""
    from search.retrieval.tokenizer import Tokenizer

    docs, vectors = pool()
    corpus = Synthetic(docs, vectors)
    plan = corpus.plan(sample, seed=11)
    tok = Tokenizer()
    texts = [corpus.text(row) for row in plan]
    t = time.perf_counter()
    joined = [tok(x) for x in texts]
    seconds = time.perf_counter() - t
    assert joined == list(corpus.token_lists(plan, tok)), "token concatenation differs"
    return {"tokenize_docs_per_s": sample / seconds, "chars_per_doc": sum(map(len, texts)) / sample}


def latency(sizes: list[int], n_queries: int) -> None:
    """Run ``build`` and ``query`` for each size in fresh processes and print a table."""
    pool()  # embed the pool once, outside the timed runs
    rows = []
    tokens = check_tokens()
    for n in sizes:
        folder = CACHE / f"index_{n}"
        b = _child(["build", str(n), str(folder)])
        q = _child(["query", str(folder), str(n_queries)])
        rows.append({**b, **q})
        shutil.rmtree(folder, ignore_errors=True)
        print(json.dumps(rows[-1]), flush=True)
    _print_table(rows, tokens)


def _child(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(rows: list[dict], tokens: dict) -> None:
    rate = tokens["tokenize_docs_per_s"]
    print(f"\ntokenizer: {rate:.0f} docs/s ({tokens['chars_per_doc']:.0f} chars/doc), "
          "token concatenation == tokenising the joined text: yes")
    head = ("docs", "total p50", "p95", "embed", "bm25", "dense", "fuse", "filtered p50",
            "dense f32", "dense int8", "bm25 idx s", "+tokenize s", "dense idx s", "build MB", "query MB", "disk MB")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        a = r["all"]
        cells = (
            f"{r['n']:,}", f"{a['total']['p50']:.1f}", f"{a['total']['p95']:.1f}",
            f"{a['embed']['p50']:.1f}", f"{a['bm25']['p50']:.1f}", f"{a['dense']['p50']:.1f}",
            f"{a['fuse']['p50']:.1f}", f"{r['filtered']['total']['p50']:.1f}",
            f"{r['dense_exact_ms']['p50']:.1f}", f"{r['dense_int8_ms']['p50']:.1f}",
            f"{r['bm25_index_s']:.1f}",
            f"{r['n'] / rate:.0f}", f"{r['dense_index_s']:.1f}", f"{r['build_peak_mb']:.0f}",
            f"{r['query_peak_mb']:.0f}", f"{r['disk_mb']:.0f}",
        )
        print("| " + " | ".join(cells) + " |")
    print("(ms, p50 per stage; 'dense f32'/'dense int8': the dense stage forced to float32-only or to "
          "the int8 first pass; 'bm25 idx s' excludes tokenising, '+tokenize s' is n / the tokenizer rate)")


# -- embedder backends and the text recipe ------------------------------------------------------


def backends(n_docs: int = 200, n_queries: int = 100) -> None:
    """Speed of both backends for documents and queries, and agreement of their vectors."""
    from search.index.documents import compose_text
    from search.retrieval.encoders import load_embedder

    docs, _ = pool()
    texts = [compose_text(t, x) for _, t, x in docs[:n_docs]]
    queries = beir_queries(n_queries)
    results = {}
    for name in ("onnx", "torch", "onnx", "torch"):  # interleaved: the machine is shared
        t = time.perf_counter()
        emb = load_embedder(backend=name)  # type: ignore[arg-type]
        emb.encode(["warm up"])
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        vecs = emb.encode(texts)
        docs_s = len(texts) / (time.perf_counter() - t)
        lat = []
        for q in queries:
            t = time.perf_counter()
            emb.embed_query(q)
            lat.append(1000 * (time.perf_counter() - t))
        first = results.get(name, {"load_s": load_s, "docs_per_s": 0.0})
        if docs_s > first["docs_per_s"]:  # the better of two rounds
            results[name] = {"load_s": first["load_s"], "docs_per_s": docs_s, **_pcts(lat),
                             "docs": vecs, "queries": emb.embed_queries(queries)}
    d = (results["onnx"]["docs"] * results["torch"]["docs"]).sum(1)
    q = (results["onnx"]["queries"] * results["torch"]["queries"]).sum(1)
    for name, r in results.items():
        print(f"{name}: {r['docs_per_s']:.1f} abstracts/s, query p50 {r['p50']:.1f} ms "
              f"p95 {r['p95']:.1f} ms (first load {r['load_s']:.1f} s)")
    print(f"cosine onnx-int8 vs torch-fp32: documents min {d.min():.4f} mean {d.mean():.4f}, "
          f"queries min {q.min():.4f} mean {q.mean():.4f}")
    overlap = _top10_overlap(results["onnx"], results["torch"])
    print(f"top-10 overlap over the {n_docs} documents: {overlap:.3f}")


def _top10_overlap(a: dict, b: dict) -> float:
    sa, sb = a["queries"] @ a["docs"].T, b["queries"] @ b["docs"].T
    return float(np.mean([
        len(set(np.argsort(-x)[:10]) & set(np.argsort(-y)[:10])) / 10 for x, y in zip(sa, sb, strict=True)
    ]))


def recipe(data: Path) -> None:
    """Known-item search on the demo records: the first title words against abstract (+ terms)."""
    import tempfile

    from ingest.pipeline import ingest_files
    from ingest.store import Store
    from search.index.documents import compose_text, iter_documents
    from search.retrieval.bm25 import LexicalIndex
    from search.retrieval.tokenizer import LUCENE_STOPWORDS

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "demo.duckdb") as store:
        ingest_files(store, [data], progress=False)
        docs = list(iter_documents(store))
    targets = [d for d in docs if d.abstract and (d.mesh_terms or d.keywords)]
    with_mesh = [d for d in targets if d.mesh_terms]
    print(f"{len(docs)} records, {len(targets)} with an abstract and MeSH or keywords, "
          f"{len(with_mesh)} of them with MeSH")
    for terms in (False, True):
        index = LexicalIndex.build(
            ((d.doc_id, compose_text("", d.abstract, d.mesh_terms, d.keywords, subject_terms=terms))
             for d in docs), fingerprint="recipe",
        )
        for label, subset in (("all", targets), ("MeSH", with_mesh)):
            rr, hit = [], []
            for d in subset:
                words = [w for w in d.title.replace(":", " ").split() if w.lower() not in LUCENE_STOPWORDS]
                found = [i for i, _ in index.search(" ".join(words[:3]), 10)]
                rank = found.index(d.doc_id) + 1 if d.doc_id in found else None
                rr.append(1 / rank if rank else 0.0)
                hit.append(rank is not None)
            print(f"subject_terms={terms!s:5} {label:4}: MRR@10 {np.mean(rr):.3f}  recall@10 {np.mean(hit):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("latency", help="the latency/memory table (default sizes 10k, 100k, 1M)")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=200)
    p = sub.add_parser("build", help="(internal) build one size")
    p.add_argument("n", type=int)
    p.add_argument("folder", type=Path)
    p = sub.add_parser("query", help="(internal) query one size")
    p.add_argument("folder", type=Path)
    p.add_argument("queries", type=int)
    sub.add_parser("pool", help="embed and cache the pool of real documents")
    sub.add_parser("backends", help="ONNX int8 vs torch fp32: speed and agreement")
    p = sub.add_parser("recipe", help="BM25 with and without MeSH/keywords on the demo records")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "pubmed")
    args = parser.parse_args(argv)
    if args.command == "latency":
        latency(args.sizes, args.queries)
    elif args.command == "build":
        print(json.dumps(build(args.n, args.folder)))
    elif args.command == "query":
        print(json.dumps(query(args.folder, args.queries)))
    elif args.command == "pool":
        pool()
    elif args.command == "backends":
        backends()
    else:
        recipe(args.data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
