"""Result sets measured against qrels: how many records a rule calls matches, and how many of
the judged-relevant records it keeps.

For each query of a BEIR split and each search mode, :func:`measure_sets` computes the result
set under several rules (``search/results/result_set.py``) and reports, averaged over the
queries:

- ``size``: the mean number of records in the set;
- ``recall``: the share of the query's judged-relevant records that the set holds;
- ``precision``: the share of the set that is judged relevant (0 for an empty set).

BEIR judgements are incomplete (unjudged records count as not relevant), so precision is a
lower bound; recall is the number that says whether a rule loses what a searcher needs.
The rules compared are the rule before the result set was defined (any word, or the dense
top 100), the strict AND of the words, and the engine's rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search.engine import Engine
from search.results.result_set import (
    ANY_WORD_OR_DENSE_TOP,
    STRICT_AND,
    SetRule,
    apply_rule,
    bm25_relevance,
    concepts,
)

#: The rules a report compares, by name.
RULES: dict[str, SetRule | None] = {"before": ANY_WORD_OR_DENSE_TOP, "strict-and": STRICT_AND, "engine": None}


@dataclass(frozen=True, slots=True)
class SetStats:
    size: float
    recall: float
    precision: float
    empty: float  # share of queries whose set is empty

    def to_json(self) -> dict[str, float]:
        return {"size": self.size, "recall": self.recall, "precision": self.precision, "empty": self.empty}


@dataclass(frozen=True, slots=True)
class QuerySignals:
    """What any rule needs of one query: concept counts per record, cosines, relevant rows."""

    counts: np.ndarray  # int16 per record: concepts held
    n_concepts: int
    known: bool  # some record holds some concept
    cosine_order: np.ndarray  # record rows by cosine, best first (empty: no dense index)
    cosines: np.ndarray  # cosine of each row of cosine_order
    fused_order: np.ndarray  # the BM25 and dense top records by learned-fusion score, best first
    fused: np.ndarray  # learned-fusion score of each row of fused_order
    bm25_order: np.ndarray  # the BM25 top records, best first
    bm25: np.ndarray  # their BM25 scores over the query's best possible
    relevant: np.ndarray  # rows judged relevant


def signals(engine: Engine, text: str, relevant_ids: Sequence[str], depth: int = 1000) -> QuerySignals:
    """The per-record signals of one free-text query (no filters)."""
    from search.results.result_set import Presence, concept_counts

    snap = engine.snapshot
    n = len(snap.doc_ids)
    found = concepts(text, engine._tokenizer())
    counts = concept_counts(Presence(snap.lexical, n), found, n)
    rows_of = snap.rows_of()
    def arrays(scored):
        return (np.array([rows_of[d] for d, _ in scored], dtype=np.int64),
                np.array([s for _, s in scored], dtype=np.float32))

    order, cos = arrays([])
    f_order, fused = arrays([])
    tokens = engine._tokenize(text)
    if snap.dense is not None:
        qvec = snap.dense.query_vector(text)
        wide = snap.dense.search(qvec, depth)
        order, cos = arrays(wide)
        f_order, fused = arrays(engine.fused_candidates(snap, text, tokens, qvec, None, wide))
    b_order, b_rel = arrays(bm25_relevance(snap.lexical, tokens, depth, None))
    relevant = np.array([rows_of[d] for d in relevant_ids if d in rows_of], dtype=np.int64)
    return QuerySignals(counts, len(found), bool(counts.any()), order, cos, f_order, fused, b_order, b_rel, relevant)


def set_of(sig: QuerySignals, rule: SetRule, mode: str, n: int) -> np.ndarray:
    """The result set of one query under ``rule`` (no filters), from its signals."""
    if not sig.known:
        return np.zeros(n, dtype=bool)
    rows, scores = {"fused": (sig.fused_order, sig.fused), "bm25": (sig.bm25_order, sig.bm25)}.get(
        rule.semantic(mode, sig.n_concepts) or "", (sig.cosine_order, sig.cosines))
    lex, sem = apply_rule(sig.counts, sig.n_concepts, rows, scores, mode, rule)
    return lex | sem


def stats(sets_and_relevant: Sequence[tuple[np.ndarray, np.ndarray]]) -> SetStats:
    sizes, recalls, precisions, empty = [], [], [], 0
    for s, rel in sets_and_relevant:
        size = int(s.sum())
        hit = int(s[rel].sum()) if len(rel) else 0
        sizes.append(size)
        recalls.append(hit / len(rel) if len(rel) else 0.0)
        precisions.append(hit / size if size else 0.0)
        empty += size == 0
    k = max(len(sizes), 1)
    return SetStats(float(np.mean(sizes)), float(np.mean(recalls)), float(np.mean(precisions)), empty / k)


def measure_sets(engine: Engine, queries: dict[str, str], qrels: dict[str, dict[str, int]],
                 modes: Sequence[str], rules: dict[str, SetRule | None] | None = None) -> dict[str, dict[str, SetStats]]:
    """``{mode: {rule name: SetStats}}`` over ``queries`` (a rule of None: the engine's own)."""
    rules = rules or RULES
    n = len(engine.snapshot.doc_ids)
    sigs = [signals(engine, text, [d for d, g in qrels.get(q, {}).items() if g > 0]) for q, text in queries.items()]
    out: dict[str, dict[str, SetStats]] = {}
    for mode in modes:
        out[mode] = {}
        for name, rule in rules.items():
            r = rule or engine.config.result_set
            out[mode][name] = stats([(set_of(sg, r, mode, n), sg.relevant) for sg in sigs])
    return out
