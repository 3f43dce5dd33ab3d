"""Similar articles: the records nearest to one paper, for ``Engine.similar``.

Two views of "near", fused:

- dense: the paper's own stored vector (title + abstract embedded at index time) against
  every other record's, exact inner product;
- BM25: a query of the paper's title and its MeSH major topics (the descriptors the
  indexers marked as what the paper is mainly about), which favours records sharing the
  paper's specific words and headings.

Fused by min-max weighted fusion (``search/retrieval/fusion.py``), BM25 weighing 0.2 and the dense
list 0.8. The choice among dense only, BM25 only, reciprocal rank fusion and weighted
fusion with BM25 weights 0.1-0.5 was made on the NFCorpus and SciFact *train* splits
(``bench/bench_similar.py``; figures and the rule in ``docs/quality.md``). The paper itself
and, unless asked, retraction notices are masked out *before* each top-k, like any filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from search.results.paging import page_hits
from search.retrieval import fusion as fusion_lib
from search.retrieval.ranking import Fused, Scored
from search.types import Hit

METHODS = ("rrf", "weighted", "dense", "bm25")
DEFAULT_METHOD = "weighted"
#: BM25's share in min-max weighted fusion (method "weighted"); the dense list gets the rest.
#: 0.1 and 0.2 tied on the train splits (docs/quality.md); 0.2 keeps more of the MeSH major
#: topics, which PubMed records add to the BM25 query and the BEIR sets lack.
BM25_WEIGHT = 0.2


@dataclass(frozen=True, slots=True)
class Near:
    """The nearest records to one paper, before their result cards are read."""

    doc_id: str  # the paper
    query: str  # the BM25 query: its title and MeSH major topics
    tokens: tuple[str, ...]
    hits: tuple[Hit, ...]
    candidates: int  # records the mask leaves, the paper and (unless asked) notices excluded
    timings_ms: dict[str, float] = field(default_factory=dict)


def nearest(snap, doc_id: str, mask: np.ndarray | None, tokenize: Callable[[str], list[str]], *, k: int,
            depth: int, max_terms: int, include_notices: bool = False, method: str = DEFAULT_METHOD,
            bm25_weight: float = BM25_WEIGHT, stage: Any = None, restriction: Any = None) -> Near:
    """The ``k`` records of ``snap`` nearest to ``doc_id`` among those ``mask`` allows (None: all).

    The BM25 query keeps its repeats (a word of both the title and a major topic counts
    twice) and its first ``max_terms`` distinct tokens.
    """
    row = snap.rows_of()[doc_id]
    allowed = np.ones(len(snap.doc_ids), dtype=bool) if mask is None else mask.copy()
    allowed[row] = False
    if not include_notices:
        allowed &= ~snap.records.columns().notice
    title, _ = snap.records.texts([doc_id])[doc_id]
    text = query_text(title, snap.records.major_topics(doc_id))
    tokens = tokenize(text)
    kept = set(list(dict.fromkeys(tokens))[:max_terms])
    tokens = [t for t in tokens if t in kept]
    if restriction is not None:  # the predicate of ``allowed``, for a first stage that translates it
        restriction = replace(restriction, notices=include_notices, exclude=(doc_id,), rows=allowed)
    bm25, dense, fused = neighbours(snap, row, tokens, allowed, max(k, depth), method, bm25_weight, stage,
                                    restriction)
    fused_at = {f.doc_id: (float(f.score), f.fused_rank) for f in fused if f.fused_rank is not None}
    hits = page_hits(fused[:k], bm25, dense, fused_at, {})
    return Near(doc_id, text, tuple(tokens), hits, int(allowed.sum()))


def query_text(title: str, major_topics: Sequence[str]) -> str:
    """The BM25 query for a paper: its title, then its MeSH major topics."""
    return "\n".join(p for p in (title.strip(), "; ".join(major_topics)) if p)


def neighbours(
    snap, row: int, tokens: Sequence[str], mask: np.ndarray, depth: int, method: str = DEFAULT_METHOD,
    bm25_weight: float = BM25_WEIGHT, stage: Any = None, restriction: Any = None,
) -> tuple[list[Scored], list[Scored], list[Fused]]:
    """(BM25 list, dense list, fused list) of the records nearest to index row ``row``.

    ``snap`` is a loaded snapshot; ``mask`` must already exclude the paper itself.
    Without a dense index (BM25-only snapshots) the BM25 list alone ranks. ``stage`` answers
    both lists (``search/retrieval/contract.py``; None: the snapshot's in-process indexes) under
    ``restriction`` (None: ``mask`` alone).
    """
    from search.retrieval.contract import Restriction, TextQuery
    from search.retrieval.inprocess import InProcessFirstStage

    stage = stage or InProcessFirstStage.of_snapshot(snap)
    restriction = restriction or Restriction(rows=mask)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {METHODS}")
    use_dense = snap.dense is not None and method != "bm25"
    use_bm25 = bool(tokens) and (method != "dense" or snap.dense is None)
    bm25 = stage.search_text(TextQuery(" ".join(tokens), tuple(tokens)), depth, restriction) if use_bm25 else []
    dense: list[Scored] = []
    if use_dense:
        vec = np.asarray(snap.dense.vectors[row], dtype=np.float32)
        dense = stage.search_vector(vec, depth, restriction)
    if not (use_dense and use_bm25):
        return bm25, dense, [Fused(d, s, None) for d, s in (bm25 or dense)]
    if method == "rrf":
        fused = fusion_lib.rrf([bm25, dense])
    else:
        fused = fusion_lib.weighted_fusion([bm25, dense], weights=[bm25_weight, 1.0 - bm25_weight],
                                           normalization="minmax")
    return bm25, dense, [Fused(h.doc_id, h.score, i) for i, h in enumerate(fused, start=1)]
