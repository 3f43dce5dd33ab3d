"""Pages of hits: the relevance list cut at an offset, and the orders that are not relevance.

- :func:`page_hits`: a page of a fused (or reranked) list as hits with every stage's score;
- :func:`sorted_page`: the records of a result set (``search/results/result_set.py``) by
  date or first author, ties by relevance;
- :func:`listing`: a query without free text, its matches newest first (PubMed's order for
  such searches), or by author or evidence level.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search.index.snapshot import Snapshot
from search.query.mask import ms
from search.query.syntax import ParsedQuery
from search.results.facets import order_rows
from search.retrieval.ranking import Fused, Scored
from search.types import Hit, StageScore


@dataclass(frozen=True, slots=True)
class Ranked:
    """A ranking before hydration: the doc ids in order with every stage's scores."""

    hits: tuple[Hit, ...]
    candidates: int  # records passing the filters and the restriction
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()
    total: int = 0  # records that match (the result set, search.results.result_set)
    sort: str = "relevance"  # the order the hits are in
    parsed: ParsedQuery | None = None
    tokens: tuple[str, ...] = ()  # the free text's BM25 tokens
    did_you_mean: str = ""  # the query with unknown words corrected (search.results.hints)


def positions(ranking: Sequence[Scored]) -> dict[str, tuple[float, int]]:
    """doc_id -> (score, 1-based rank) in one retriever's list."""
    return {d: (float(s), r) for r, (d, s) in enumerate(ranking, start=1)}


def page_hits(
    final: Sequence[Fused], bm25: Sequence[Scored], dense: Sequence[Scored],
    fused_at: dict[str, tuple[float, int]], reranked: dict[str, tuple[float, int]], offset: int = 0,
) -> tuple[Hit, ...]:
    """``final`` (one page, best first) as hits ranked from ``offset + 1``, with each stage's place."""
    b, d = positions(bm25), positions(dense)
    out = []
    for rank, f in enumerate(final, start=offset + 1):
        out.append(Hit(
            doc_id=f.doc_id, rank=rank, score=float(f.score),
            bm25=StageScore(*b[f.doc_id]) if f.doc_id in b else StageScore(),
            dense=StageScore(*d[f.doc_id]) if f.doc_id in d else StageScore(),
            fused=StageScore(*fused_at[f.doc_id]) if f.doc_id in fused_at else StageScore(),
            rerank=StageScore(*reranked[f.doc_id]) if f.doc_id in reranked else StageScore(),
        ))
    return tuple(out)


def sorted_page(snap: Snapshot, tokens: Sequence[str], reached: np.ndarray, bm25: Sequence[Scored],
                dense: Sequence[Scored], mode: str, sort: str, k: int, offset: int,
                cosines: dict[str, float]) -> list[Hit]:
    """Results ``offset+1 .. offset+k`` of the ``reached`` records by date or author; ties, and
    each hit's score, by relevance: the BM25 score (the cosine in dense mode, from ``cosines``:
    every record of a dense-mode result set came from that list)."""
    rows = np.flatnonzero(reached)
    cosine = positions(dense)
    if mode == "dense":
        relevance = np.array([cosines.get(snap.doc_ids[r], 0.0) for r in rows], dtype=np.float64)
    else:
        relevance = snap.lexical.scores_from_tokens(tokens)[rows].astype(np.float64)
    order = order_rows(snap.records.columns(), rows, sort, relevance)
    score_of = dict(zip(rows.tolist(), relevance.tolist(), strict=True))
    ranks = positions(bm25)
    hits = []
    for i, r in enumerate(order[offset : offset + k].tolist(), start=offset + 1):
        d = snap.doc_ids[r]
        b = score_of[r] if mode != "dense" else None
        hits.append(Hit(
            doc_id=d, rank=i, score=float(score_of[r]),
            bm25=StageScore(b if b else None, ranks[d][1] if d in ranks else None),
            dense=StageScore(*cosine[d]) if d in cosine else StageScore(),
        ))
    return hits


def listing(snap: Snapshot, parsed: ParsedQuery, mask: np.ndarray | None, candidates: int,
            k: int, offset: int, sort: str, timings: dict[str, float]) -> Ranked:
    """A query without free text: its matches newest first (or by author / evidence)."""
    t = time.perf_counter()
    sort = "date" if sort == "relevance" else sort
    rows = np.flatnonzero(mask) if mask is not None else np.arange(len(snap.doc_ids))
    order = order_rows(snap.records.columns(), rows, sort)
    hits = tuple(Hit(doc_id=snap.doc_ids[r], rank=i, score=0.0)
                 for i, r in enumerate(order[offset : offset + k].tolist(), start=offset + 1))
    timings["sort"] = ms(t)
    warnings = () if len(rows) else ("No record matches the query's restriction and the filters.",)
    return Ranked(hits, candidates, timings, warnings, len(rows), sort, parsed, ())
