"""The retriever contract: what the engine needs of a first-stage retriever.

Both :class:`search.retrieval.bm25.LexicalIndex` (BM25) and :class:`search.retrieval.dense.DenseIndex`
fulfil it, and ``tests/test_retriever_contract.py`` runs one suite of checks against
each, so a further backend (another vector store, say) is checked the same way:

- ``doc_ids``: the documents in index order; row ``i`` of any mask is ``doc_ids[i]``.
- ``search(query, k, mask=None)``: at most ``k`` :class:`search.retrieval.ranking.Scored`, best first,
  ties in index order; ``mask`` (boolean, one entry per document) is applied *before*
  the top-k, so a filter leaving 3 matching documents returns those 3, and a masked-out
  document is never returned; a mask of another length is an error.
- Only documents that match the query are returned: for BM25 a query term must occur; a
  dense retriever scores every document, so every allowed document matches.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from search.retrieval.ranking import Scored


@runtime_checkable
class Retriever(Protocol):
    doc_ids: list[str]

    def search(self, query: Any, k: int, mask: np.ndarray | None = None) -> list[Scored]: ...
