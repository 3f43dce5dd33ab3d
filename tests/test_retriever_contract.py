"""One suite of checks run against every first-stage retriever (search/retrieval/contract.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.errors import SearchIndexError
from search.retrieval.bm25 import LexicalIndex
from search.retrieval.contract import Retriever
from search.retrieval.dense import DenseIndex
from tests.fake_embedder import FakeEmbedder

TEXTS = [
    "aspirin for the prevention of stroke", "aspirin and bleeding risk", "metformin in type 2 diabetes",
    "statins lower cholesterol", "aspirin aspirin aspirin dosing", "exercise and blood pressure",
    "vitamin d and fractures", "aspirin resistance in diabetes",
]
IDS = [f"d{i}" for i in range(len(TEXTS))]
QUERY = "aspirin diabetes"


def _lexical() -> LexicalIndex:
    return LexicalIndex.build(zip(IDS, TEXTS, strict=True), fingerprint="c")


def _dense() -> DenseIndex:
    return DenseIndex.build([(d, t, f"h{i}") for i, (d, t) in enumerate(zip(IDS, TEXTS, strict=True))],
                            FakeEmbedder(), fingerprint="c")


@pytest.fixture(params=["bm25", "dense"])
def retriever(request) -> Retriever:
    return _lexical() if request.param == "bm25" else _dense()


def test_it_is_a_retriever(retriever):
    assert isinstance(retriever, Retriever) and retriever.doc_ids == IDS


def test_results_are_best_first_and_at_most_k(retriever):
    hits = retriever.search(QUERY, 3)
    assert 0 < len(hits) <= 3
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_the_mask_applies_before_top_k(retriever):
    mask = np.zeros(len(IDS), dtype=bool)
    mask[[2, 6, 7]] = True  # metformin/diabetes, vitamin d, aspirin/diabetes
    everything = [d for d, _ in retriever.search(QUERY, len(IDS))]
    allowed = [d for d in everything if d in {"d2", "d6", "d7"}]
    assert [d for d, _ in retriever.search(QUERY, 3, mask)] == allowed[:3]
    assert [d for d, _ in retriever.search(QUERY, 1, mask)] == allowed[:1]


def test_masked_out_documents_never_come_back(retriever):
    mask = np.ones(len(IDS), dtype=bool)
    mask[[0, 1, 4, 7]] = False  # every aspirin record
    assert not {d for d, _ in retriever.search("aspirin", 10, mask)} & {"d0", "d1", "d4", "d7"}
    assert retriever.search(QUERY, 5, np.zeros(len(IDS), dtype=bool)) == []


def test_a_mask_of_another_length_is_an_error(retriever):
    with pytest.raises(SearchIndexError, match="boolean mask"):
        retriever.search(QUERY, 3, np.ones(len(IDS) + 1, dtype=bool))


def test_ties_keep_index_order(retriever):
    twins = ["same words here", "same words here", "other"]
    if isinstance(retriever, LexicalIndex):
        r = LexicalIndex.build(zip(["a", "b", "c"], twins, strict=True), fingerprint="t")
    else:
        r = DenseIndex.build([("a", twins[0], "h0"), ("b", twins[1], "h1"), ("c", twins[2], "h2")],
                             FakeEmbedder(), fingerprint="t")
    assert [d for d, _ in r.search("same words", 2)] == ["a", "b"]


def test_bm25_returns_only_documents_that_match_a_query_term():
    assert {d for d, _ in _lexical().search("aspirin", 10)} == {"d0", "d1", "d4", "d7"}
    assert _lexical().search("zzzz", 10) == []
