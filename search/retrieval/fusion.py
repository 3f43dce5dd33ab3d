"""Fusion of ranked lists from several retrievers: pure functions, no I/O.

Each input is one retriever's ranked list ``[(doc_id, score), ...]``, best first;
the list order *is* the ranking (rank 1 = first item) and a doc id repeated
within a list counts at its first position only. The output is a list of
:class:`FusedHit`, best first, each keeping its 1-based rank and raw score in
every input (``None`` where absent) so a result can explain itself.

- :func:`rrf`: reciprocal rank fusion, ``score(d) = sum_i w_i / (k + rank_i(d))``
  over the inputs that hold ``d``; Cormack, Clarke & Büttcher, "Reciprocal Rank
  Fusion outperforms Condorcet and Individual Rank Learning Methods", SIGIR 2009
  (``k = 60``, unweighted: all ``w_i = 1``; weights are our extension).
- :func:`weighted_fusion`: ``score(d) = sum_i w_i * norm_i(d)``, i.e. CombSUM
  (Fox & Shaw, TREC-2, 1994) over normalised scores, the convex combination that
  Bruch, Gai & Ingber ("An Analysis of Fusion Functions for Hybrid Retrieval",
  ACM TOIS 2023) found robust. ``"minmax"`` normalisation (Lee, SIGIR 1997):
  ``(s - min) / (max - min)``, and every score 1.0 when ``max == min``; a
  document absent from a list gets 0.0 there. ``"zscore"`` (Montague & Aslam,
  CIKM 2001): ``(s - mean) / std`` with the population std, every score 0.0
  when ``std == 0``; an absent document gets the list's lowest z-score (it ranked
  below everything the list returned).

Order: fused score descending, then best (lowest) rank in any input, then doc
id ascending, so equal inputs always give the same output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ingest.errors import ConfigError
from search.retrieval.ranking import Ranking

Normalization = Literal["minmax", "zscore"]
RRF_K = 60


@dataclass(frozen=True, slots=True)
class FusedHit:
    """One fused result: its fused score and, per input, its rank and raw score."""

    doc_id: str
    score: float
    ranks: tuple[int | None, ...]
    scores: tuple[float | None, ...]


def rrf(
    rankings: Sequence[Ranking], *, k: float = RRF_K, weights: Sequence[float] | None = None
) -> list[FusedHit]:
    """Reciprocal rank fusion (Cormack et al., SIGIR 2009) of ``rankings``."""
    if k < 0:
        raise ConfigError(
            f"The RRF constant k must be >= 0, got {k}.", hint="The paper's value is 60."
        )
    w = _weights(weights, len(rankings))
    table = _table(rankings)
    fused = {
        doc: sum(wi / (k + r) for wi, r in zip(w, ranks, strict=True) if r is not None)
        for doc, (ranks, _) in table.items()
    }
    return _ordered(table, fused)


def weighted_fusion(
    rankings: Sequence[Ranking],
    *,
    weights: Sequence[float] | None = None,
    normalization: Normalization = "minmax",
) -> list[FusedHit]:
    """Weighted sum of per-list normalised scores (see the module doc for both normalisations)."""
    w = _weights(weights, len(rankings))
    table = _table(rankings)
    fused = dict.fromkeys(table, 0.0)
    for i, ranking in enumerate(rankings):
        norm, floor = _normalise(_first_scores(ranking), normalization)
        for doc in fused:
            fused[doc] += w[i] * norm.get(doc, floor)
    return _ordered(table, fused)


def minmax(scores: Sequence[float]) -> list[float]:
    """``(s - min) / (max - min)``; all 1.0 when ``max == min`` (no spread: all equally top)."""
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    return [1.0] * len(scores) if hi == lo else [(s - lo) / (hi - lo) for s in scores]


def zscore(scores: Sequence[float]) -> list[float]:
    """``(s - mean) / std`` (population std); all 0.0 when ``std == 0``."""
    if not scores:
        return []
    mu = sum(scores) / len(scores)
    sd = math.sqrt(sum((s - mu) ** 2 for s in scores) / len(scores))
    return [0.0] * len(scores) if sd == 0 else [(s - mu) / sd for s in scores]


def _normalise(scores: dict[str, float], how: Normalization) -> tuple[dict[str, float], float]:
    """Normalised scores by doc id, and the value a document absent from the list gets."""
    if how not in ("minmax", "zscore"):
        raise ConfigError(f"Unknown score normalisation {how!r}.", hint="Use 'minmax' or 'zscore'.")
    if any(not math.isfinite(s) for s in scores.values()):
        raise ValueError("weighted_fusion needs finite scores (no inf or NaN).")
    values = (minmax if how == "minmax" else zscore)(list(scores.values()))
    floor = 0.0 if how == "minmax" or not values else min(values)
    return dict(zip(scores, values, strict=True)), floor


def _first_scores(ranking: Ranking) -> dict[str, float]:
    out: dict[str, float] = {}
    for doc, score in ranking:
        out.setdefault(doc, float(score))
    return out


def _table(rankings: Sequence[Ranking]) -> dict[str, tuple[list[int | None], list[float | None]]]:
    """doc id -> (rank in each input, score in each input), ``None`` where absent."""
    n = len(rankings)
    table: dict[str, tuple[list[int | None], list[float | None]]] = {}
    for i, ranking in enumerate(rankings):
        for rank, (doc, score) in enumerate(ranking, start=1):
            ranks, scores = table.setdefault(doc, ([None] * n, [None] * n))
            if ranks[i] is None:
                ranks[i], scores[i] = rank, float(score)
    return table


def _weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise ConfigError(
            f"Got {len(weights)} fusion weights for {n} ranked lists.",
            hint="Give one weight per retriever.",
        )
    if any(not math.isfinite(x) or x < 0 for x in weights):
        raise ConfigError(f"Fusion weights must be finite and >= 0, got {list(weights)}.")
    return [float(x) for x in weights]


def _ordered(
    table: dict[str, tuple[list[int | None], list[float | None]]], fused: dict[str, float]
) -> list[FusedHit]:
    def key(doc: str) -> tuple[float, int, str]:
        return (-fused[doc], min(r for r in table[doc][0] if r is not None), doc)

    return [
        FusedHit(doc, fused[doc], tuple(table[doc][0]), tuple(table[doc][1]))
        for doc in sorted(fused, key=key)
    ]
