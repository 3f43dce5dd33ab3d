"""The typed names a ranking passes through, and the two helpers every retriever shares.

- :class:`Scored`: one document of one retriever's list, ``(doc_id, score)``; a list of
  them, best first, is a :data:`Ranking` (BM25, dense, and the inputs of fusion).
- :class:`Fused`: one document after fusion (or after a single retriever passed through),
  with its fused rank where a fusion ranked it.
- :func:`allowed_rows`: a filter mask checked and turned into row numbers.
- :func:`top_k_order`: positions of the best ``k`` scores, ties in index order.

What leaves the engine is a :class:`search.types.Hit`, with every stage's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ingest.errors import SearchIndexError


class Scored(NamedTuple):
    """One document of a retriever's ranked list."""

    doc_id: str
    score: float


#: One retriever's ranked list, best first.
Ranking = Sequence[Scored]


class Fused(NamedTuple):
    """One document of the fused list; ``fused_rank`` is None where no fusion ranked it."""

    doc_id: str
    score: float
    fused_rank: int | None


def allowed_rows(mask: np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    """The rows a boolean filter ``mask`` over ``n`` documents allows (None: no filter)."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.shape != (n,):
        raise SearchIndexError(
            f"The filter mask has shape {mask.shape} and dtype {mask.dtype}; the {what} "
            f"needs a boolean mask over its {n} documents.",
            hint="Filters and index must come from the same index snapshot.",
        )
    return np.flatnonzero(mask)


def top_k_order(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``values``, best first; ties keep the lower position first."""
    k = min(k, len(values))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < len(values):
        threshold = np.partition(values, len(values) - k)[len(values) - k]
        candidates = np.flatnonzero(values >= threshold)
    else:
        candidates = np.arange(len(values))
    # lexsort: last key is primary -> score descending, then position ascending.
    return candidates[np.lexsort((candidates, -values[candidates]))][:k]
