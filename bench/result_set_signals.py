"""Per-query signals of a BEIR split, cached, for choosing and measuring result-set rules
(bench/tune_result_set.py).

For every query of a split: the concepts each record holds, the BM25 relevance list (BM25 over
the query's best possible score, top 1,000), the dense top 1,000 with cosines, the learned-fusion
scores of the BM25 and dense top 100 (the hybrid ranking itself, before any set), and the packaged
cross-encoder's score of the fused candidates at the head (computed on demand, cached). From these
the ranking of each mode under any rule is simulated exactly as the engine ranks: the mode's list
with the records outside the set left out, the rest of the set after it by BM25 (by cosine in dense
mode), and in rerank mode the first ``rerank_depth`` members reordered by
:func:`search.retrieval.rerank.combine` of their fused and cross-encoder scores.

The cache is a pickle per split under the eval cache folder (``resultset-<name>-<split>.pkl``).
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.beir import load_qrels, load_queries  # noqa: E402
from search.eval.metrics import ndcg_query  # noqa: E402
from search.eval.sets import QuerySignals  # noqa: E402
from search.results.result_set import SetRule, apply_rule  # noqa: E402
from search.retrieval.rerank import combine  # noqa: E402

RERANK_DEPTH = 30


@dataclass
class Query:
    qid: str
    text: str
    judged: dict[str, int]
    sig: QuerySignals
    bm25_top: np.ndarray  # rows of the BM25 top 100 (bm25 mode's list), best first
    ce: dict[int, float] = field(default_factory=dict)  # row -> cross-encoder score


@dataclass
class Split:
    name: str
    split: str
    doc_ids: list[str]
    queries: list[Query]
    alpha: float  # the packaged reranker's weight

    @property
    def n(self) -> int:
        return len(self.doc_ids)


def cache_path(cache: Path, name: str, split: str) -> Path:
    return cache / f"resultset-{name}-{split}.pkl"


def load(beir: Path, name: str, split: str, cache: Path) -> Split:
    path = cache_path(cache, name, split)
    if path.is_file():
        with path.open("rb") as f:
            return pickle.load(f)  # noqa: S301 - our own cache
    got = build(beir, name, split, cache)
    save(got, cache)
    return got


def save(s: Split, cache: Path) -> None:
    path = cache_path(cache, s.name, s.split)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(s, f)
    tmp.replace(path)


def engine_for(beir: Path, name: str, cache: Path):
    from search.assembly import PACKAGED_RERANKER
    from search.engine import Engine, EngineConfig
    from search.eval.beir import eval_store
    from search.index.build import IndexManager
    from search.results.result_set import ANY_WORD_OR_DENSE_TOP
    from search.retrieval.rerank import load_reranker

    with eval_store(beir / name, cache, progress=False) as store:
        snap = IndexManager(store, None).load()
    return Engine(snap, EngineConfig(result_set=ANY_WORD_OR_DENSE_TOP), load_reranker(PACKAGED_RERANKER))


def build(beir: Path, name: str, split: str, cache: Path) -> Split:
    from search.assembly import PACKAGED_RERANKER
    from search.eval.sets import signals
    from search.retrieval.rerank import read_meta

    folder = beir / name
    qrels = load_qrels(folder, split)
    texts = load_queries(folder)
    engine = engine_for(beir, name, cache)
    snap = engine.snapshot
    rows_of = snap.rows_of()
    out = []
    for i, (qid, judged) in enumerate(qrels.items()):
        if qid not in texts or not any(g > 0 for g in judged.values()):
            continue
        text = texts[qid]
        sig = signals(engine, text, [d for d, g in judged.items() if g > 0])
        tokens = engine._tokenize(text)
        top = np.array([rows_of[d] for d, _ in snap.lexical.search_tokens(list(tokens), 100, None)], dtype=np.int64)
        out.append(Query(qid, text, dict(judged), sig, top))
        if i % 100 == 0:
            print(f"  {name} {split}: {i} / {len(qrels)}", file=sys.stderr, flush=True)
    alpha = float(read_meta(PACKAGED_RERANKER).get("alpha", 1.0))
    return Split(name, split, list(snap.doc_ids), out, alpha)


def fill_ce(s: Split, wanted: dict[int, list[int]], beir: Path, cache: Path) -> None:
    """Cross-encoder scores for ``wanted`` ({query index: rows}) not yet cached."""
    todo = {i: [r for r in rows if r not in s.queries[i].ce] for i, rows in wanted.items()}
    todo = {i: rows for i, rows in todo.items() if rows}
    if not todo:
        return
    from search.retrieval.rerank import passage

    engine = engine_for(beir, s.name, cache)
    snap = engine.snapshot
    print(f"  {s.name} {s.split}: cross-encoder for {sum(map(len, todo.values()))} pairs", file=sys.stderr, flush=True)
    for n, (i, rows) in enumerate(todo.items()):
        q = s.queries[i]
        ids = [s.doc_ids[r] for r in rows]
        texts = snap.records.texts(ids)
        ce = engine.reranker.rerank(q.text, [(d, passage(*texts.get(d, ("", "")))) for d in ids])  # type: ignore[union-attr]
        q.ce.update({r: float(c) for r, c in zip(rows, ce, strict=True)})
        if n % 100 == 99:
            save(s, cache)
    save(s, cache)


def ranking(q: Query, inside: np.ndarray, mode: str, k: int = 10) -> tuple[list[int], list[float]]:
    """The first rows the engine lists in ``mode`` with the set ``inside`` (no rerank), and the
    fused score of each (hybrid; the rest of the set scores -1e9 - i, as the engine gives it)."""
    sig = q.sig
    if mode == "dense":
        rows = [r for r in sig.cosine_order[:100].tolist() if inside[r]]
        scores = [0.0] * len(rows)
        if len(rows) < k:
            rows += [r for r in sig.cosine_order[100:].tolist() if inside[r]][: k - len(rows)]
            scores = [0.0] * len(rows)
        return rows[:max(k, RERANK_DEPTH)], scores[:max(k, RERANK_DEPTH)]
    if mode == "bm25":
        rows = [r for r in q.bm25_top.tolist() if inside[r]]
    else:
        keep = inside[sig.fused_order]
        rows = sig.fused_order[keep].tolist()
        fused = sig.fused[keep].tolist()
    scores = fused if mode != "bm25" else [0.0] * len(rows)
    want = max(k, RERANK_DEPTH)
    if len(rows) < want:
        have = set(rows)
        rest = [r for r in sig.bm25_order.tolist() if inside[r] and r not in have]
        have |= set(rest)
        rest += [r for r in np.flatnonzero(inside).tolist() if r not in have]
        rest = rest[: want - len(rows)]
        rows = rows + rest
        scores = scores + [-1e9 - i for i in range(len(rest))]
    return rows[:want], scores[:want]


def reranked(q: Query, rows: list[int], scores: list[float], alpha: float) -> list[int]:
    head = rows[:RERANK_DEPTH]
    if not head:
        return []
    final = combine(scores[:RERANK_DEPTH], [q.ce[r] for r in head], alpha)
    order = sorted(range(len(head)), key=lambda i: (-final[i], i))
    return [head[i] for i in order] + rows[RERANK_DEPTH:]


def heads_needed(s: Split, sets: list[np.ndarray]) -> dict[int, list[int]]:
    """The rows whose cross-encoder score a rerank over these sets reads."""
    return {i: ranking(q, inside, "hybrid")[0][:RERANK_DEPTH] for i, (q, inside) in enumerate(zip(s.queries, sets, strict=True))}


@dataclass(frozen=True)
class Scores:
    ndcg: float
    size: float
    recall: float
    precision: float
    empty: float


def evaluate(s: Split, sets: list[np.ndarray], mode: str) -> Scores:
    ndcgs, sizes, recalls, precisions, empty = [], [], [], [], 0
    for q, inside in zip(s.queries, sets, strict=True):
        rows, scores = ranking(q, inside, "hybrid" if mode == "rerank" else mode)
        if mode == "rerank":
            rows = reranked(q, rows, scores, s.alpha)
        ndcgs.append(ndcg_query(q.judged, [s.doc_ids[r] for r in rows[:10]], 10))
        size = int(inside.sum())
        rel = q.sig.relevant
        hit = int(inside[rel].sum()) if len(rel) else 0
        sizes.append(size)
        recalls.append(hit / len(rel) if len(rel) else 0.0)
        precisions.append(hit / size if size else 0.0)
        empty += size == 0
    return Scores(float(np.mean(ndcgs)), float(np.mean(sizes)), float(np.mean(recalls)), float(np.mean(precisions)),
                  empty / max(len(sizes), 1))


def rule_sets(s: Split, rule: SetRule, mode: str) -> list[np.ndarray]:
    from search.eval.sets import set_of

    m = "hybrid" if mode == "rerank" else mode
    return [set_of(q.sig, rule, m, s.n) for q in s.queries]


def everything(s: Split) -> list[np.ndarray]:
    return [np.ones(s.n, dtype=bool) for _ in s.queries]


__all__ = ["Query", "Split", "apply_rule", "evaluate", "everything", "fill_ce", "heads_needed", "load", "ranking",
           "rule_sets", "save"]
