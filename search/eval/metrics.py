"""Ranking metrics with trec_eval's definitions: nDCG@k, Recall@k, MRR@k.

Inputs follow BEIR / pytrec_eval: ``qrels = {qid: {doc_id: grade}}`` and
``run = {qid: {doc_id: score}}``.

- Ranking: a query's documents are sorted by score descending, **ties broken by
  doc id descending** (string order), exactly as trec_eval sorts its input.
- Relevant: grade > 0 (trec_eval's default ``relevance_level`` 1).
- nDCG@k (trec_eval ``ndcg_cut.k``, Järvelin & Kekäläinen 2002, linear gain):
  ``DCG = sum_{i<=k} grade_i / log2(i + 1)``; the ideal DCG sorts all judged
  grades of the query (not only those retrieved) descending.
- Recall@k (``recall.k``): relevant documents in the top k / all relevant ones.
- MRR@k (``recip_rank`` on the top k): 1 / rank of the first relevant document
  within the top k, else 0.

Queries whose qrels hold no relevant document are skipped (they would make every
metric undefined), as BEIR and trec_eval do. A query with relevant documents but
absent from the run counts as 0 (trec_eval ``-c``), so a retriever cannot score
higher by returning nothing. Scores are averaged over the evaluated queries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
QueryMetric = Callable[[Mapping[str, int], list[str], int], float]


def ranked(docs: Mapping[str, float]) -> list[str]:
    """Doc ids best first: score descending, then doc id descending (trec_eval's order)."""
    return sorted(docs, key=lambda d: (docs[d], d), reverse=True)


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_query(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    ideal = dcg(sorted((g for g in judged.values() if g > 0), reverse=True)[:k])
    gains = [max(judged.get(d, 0), 0) for d in ranking[:k]]
    return dcg(gains) / ideal if ideal > 0 else 0.0


def recall_query(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    relevant = sum(1 for g in judged.values() if g > 0)
    found = sum(1 for d in ranking[:k] if judged.get(d, 0) > 0)
    return found / relevant if relevant else 0.0


def mrr_query(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    for rank, d in enumerate(ranking[:k], start=1):
        if judged.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0


def per_query(metric: QueryMetric, qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    """``{qid: value}`` over the queries of ``qrels`` that have a relevant document."""
    out: dict[str, float] = {}
    for qid, judged in qrels.items():
        if any(g > 0 for g in judged.values()):
            out[qid] = metric(judged, ranked(run.get(qid, {})), k)
    return out


def mean(values: Mapping[str, float]) -> float:
    return sum(values.values()) / len(values) if values else 0.0


def ndcg_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    return mean(per_query(ndcg_query, qrels, run, k))


def recall_at_k(qrels: Qrels, run: Run, k: int = 100) -> float:
    return mean(per_query(recall_query, qrels, run, k))


def mrr_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    return mean(per_query(mrr_query, qrels, run, k))


def evaluate(qrels: Qrels, run: Run) -> dict[str, float]:
    """The project's headline numbers: nDCG@10, Recall@100, MRR@10."""
    return {
        "nDCG@10": ndcg_at_k(qrels, run, 10),
        "Recall@100": recall_at_k(qrels, run, 100),
        "MRR@10": mrr_at_k(qrels, run, 10),
    }
