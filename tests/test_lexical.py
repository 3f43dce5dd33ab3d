"""BM25 index: scores against the rank-bm25 oracle, filters, persistence, findability."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ingest.errors import MedsearchError, SearchIndexError
from search.retrieval.bm25 import BM25Params, LexicalIndex
from search.retrieval.ranking import top_k_order
from search.retrieval.tokenizer import Tokenizer, TokenizerConfig
from tests.conftest import SHARED_DATA

SCIFACT = SHARED_DATA / "beir" / "scifact"

DOCS = [
    ("d0", "COVID-19 outcomes in hospitalised adults"),
    ("d1", "Serum IL-6 levels predict mortality"),
    ("d2", "5-FU chemotherapy for colorectal cancer"),
    ("d3", "Glycaemic control in type 2 diabetes measured by HbA1c"),
    ("d4", "β-blocker therapy after myocardial infarction"),
    ("d5", "TNF-α and IL-1β in rheumatoid arthritis"),
    ("d6", "Cancer screening uptake in rural clinics"),
    ("d7", "Diabetes prevention programmes in adults"),
]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build(DOCS, fingerprint="fp-1")


# -- oracle -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scifact_tokens() -> tuple[list[tuple[str, list[str]]], list[list[str]]]:
    if not (SCIFACT / "corpus.jsonl").is_file():
        pytest.skip(f"BEIR SciFact not found under {SCIFACT}")
    tok = Tokenizer()
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    docs = [(r["_id"], tok(f"{r['title']} {r['text']}")) for r in rows]
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as f:
        queries = [tok(json.loads(line)["text"]) for line in f][:50]
    return docs, queries


@pytest.mark.slow
@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.5), (0.9, 0.4)])
def test_lucene_scores_equal_rank_bm25_with_lucene_idf(scifact_tokens, k1: float, b: float) -> None:
    """bm25s "lucene" = rank-bm25's BM25Okapi term weight with Lucene's idf, divided by k1 + 1.

    BM25Okapi computes ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``
    with the Robertson idf; Lucene's idf is ``ln(1 + (N - df + 0.5) / (df + 0.5))``
    and its term weight drops the constant ``k1 + 1`` (Kamphuis et al., ECIR 2020).
    """
    from rank_bm25 import BM25Okapi

    class LuceneIdfOkapi(BM25Okapi):
        def _calc_idf(self, nd: dict[str, int]) -> None:
            n = self.corpus_size
            self.idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w, df in nd.items()}

    docs, queries = scifact_tokens
    ours = LexicalIndex.from_tokens(docs, fingerprint="x", params=BM25Params(k1=k1, b=b))
    oracle = LuceneIdfOkapi([t for _, t in docs], k1=k1, b=b)
    for query in queries:
        expected = oracle.get_scores(query) / (k1 + 1)
        assert np.allclose(ours.scores_from_tokens(query), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_robertson_scores_equal_rank_bm25_okapi(scifact_tokens) -> None:
    """bm25s "robertson" clips negative idf to 0: BM25Okapi with epsilon=0 does the same."""
    from rank_bm25 import BM25Okapi

    docs, queries = scifact_tokens
    params = BM25Params(k1=1.5, b=0.75, method="robertson")
    ours = LexicalIndex.from_tokens(docs, fingerprint="x", params=params)
    oracle = BM25Okapi([t for _, t in docs], k1=1.5, b=0.75, epsilon=0.0)
    assert sum("we" in t for _, t in docs) > len(docs) / 2  # "we": a negative Robertson idf
    for query in [*queries, ["we", *queries[0]]]:
        expected = oracle.get_scores(query) / (1.5 + 1)
        assert np.allclose(ours.scores_from_tokens(query), expected, rtol=1e-5, atol=1e-6)


# -- search semantics ---------------------------------------------------------------------------


def test_search_ranks_and_scores(index: LexicalIndex) -> None:
    hits = index.search("diabetes", 10)
    assert [d for d, _ in hits] in (["d7", "d3"], ["d3", "d7"])
    assert all(s > 0 for _, s in hits)
    assert hits == sorted(hits, key=lambda h: -h[1])


def test_mask_applies_before_top_k_and_unmatched_docs_are_not_returned(index: LexicalIndex) -> None:
    mask = np.zeros(len(index), dtype=bool)
    mask[[1, 4, 6]] = True
    hits = index.search("cancer", 1, mask=mask)  # "cancer" is in d2 (masked out) and d6
    assert [d for d, _ in hits] == ["d6"] and hits[0][1] > 0
    assert index.search("cancer", 10, mask=mask) == hits  # d1 and d4 pass the mask but do not match


def test_mask_never_returns_masked_docs(index: LexicalIndex) -> None:
    mask = np.ones(len(index), dtype=bool)
    mask[[0, 7]] = False  # the two records that mention adults
    assert index.search("adults", 100, mask=mask) == []
    mask[7] = True
    assert [d for d, _ in index.search("adults", 100, mask=mask)] == ["d7"]
    assert index.search("adults", 5, mask=np.zeros(len(index), dtype=bool)) == []


def test_bad_mask_raises_with_a_hint(index: LexicalIndex) -> None:
    with pytest.raises(SearchIndexError, match="boolean mask over its 8 documents") as info:
        index.search("x", 5, mask=np.ones(3, dtype=bool))
    assert "same index snapshot" in str(info.value)
    with pytest.raises(SearchIndexError):
        index.search("x", 5, mask=np.ones(len(index), dtype=int))


def test_k_bounds_and_empty_query(index: LexicalIndex) -> None:
    assert {d for d, _ in index.search("adults", 100)} == {"d0", "d7"}
    assert len(index.search("adults", 1)) == 1
    assert index.search("adults", 0) == []
    assert index.search("", 3) == []
    assert index.search("zzzunknown", 3) == []


def test_ties_keep_index_order() -> None:
    assert top_k_order(np.array([1.0, 3.0, 3.0, 2.0, 3.0]), 2).tolist() == [1, 2]
    assert top_k_order(np.array([0.0, 0.0, 0.0]), 5).tolist() == [0, 1, 2]
    assert top_k_order(np.array([]), 5).tolist() == []


@pytest.mark.parametrize(
    ("query", "doc"),
    [
        ("covid19", "d0"),
        ("COVID 19 outcomes", "d0"),
        ("IL6", "d1"),
        ("5FU", "d2"),
        ("hba1c", "d3"),
        ("type 2 diabetes HbA1c", "d3"),
        ("beta-blockers", "d4"),
        ("betablocker", "d4"),
        ("TNF alpha", "d5"),
        ("IL-1beta", "d5"),
        ("il1β", "d5"),
    ],
)
def test_biomedical_variants_rank_their_document_first(
    index: LexicalIndex, query: str, doc: str
) -> None:
    assert index.search(query, 1)[0][0] == doc


# -- persistence --------------------------------------------------------------------------------


def test_save_load_round_trip(index: LexicalIndex, tmp_path) -> None:
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", fingerprint="fp-1")
    assert loaded.doc_ids == index.doc_ids and loaded.params == index.params
    assert loaded.tokenizer_config == index.tokenizer_config
    for query in ["diabetes adults", "β-blocker", "IL-6"]:
        assert loaded.search(query, 8) == index.search(query, 8)
    meta = json.loads((tmp_path / "bm25" / "params.json").read_text())
    assert meta["fingerprint"] == "fp-1" and meta["doc_count"] == 8
    assert (meta["k1"], meta["b"], meta["method"]) == (1.2, 0.5, "lucene")
    assert meta["tokenizer"]["stemmer"] == "english"


def test_load_keeps_non_default_settings(tmp_path) -> None:
    config = TokenizerConfig(stemmer=None, stopwords=None)
    built = LexicalIndex.build(
        DOCS, fingerprint="f", tokenizer=config, params=BM25Params(k1=0.9, b=0.4)
    )
    built.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path, fingerprint="f", mmap=True)
    assert loaded.tokenizer_config == config and loaded.params == BM25Params(k1=0.9, b=0.4)
    assert loaded.search("the diabetes", 3) == built.search("the diabetes", 3)


def test_fingerprint_mismatch_refuses_to_load(index: LexicalIndex, tmp_path) -> None:
    index.save(tmp_path)
    with pytest.raises(SearchIndexError) as info:
        LexicalIndex.load(tmp_path, fingerprint="fp-2")
    message = str(info.value)
    assert "built from a different corpus" in message
    assert "'fp-1'" in message and "'fp-2'" in message
    assert "Run `medsearch index` to rebuild the search index." in message
    assert LexicalIndex.load(tmp_path, fingerprint=None).fingerprint == "fp-1"


def test_missing_or_stale_index_errors(index: LexicalIndex, tmp_path) -> None:
    with pytest.raises(SearchIndexError, match="No BM25 index in .*params.json is missing"):
        LexicalIndex.load(tmp_path / "nowhere", fingerprint="fp-1")
    index.save(tmp_path)
    meta = json.loads((tmp_path / "params.json").read_text())
    meta["tokenizer"]["version"] = 0
    (tmp_path / "params.json").write_text(json.dumps(meta))
    with pytest.raises(SearchIndexError, match="tokenizer version 0") as info:
        LexicalIndex.load(tmp_path, fingerprint="fp-1")
    assert isinstance(info.value, MedsearchError) and "medsearch index" in str(info.value)


def test_build_refuses_empty_or_duplicate_corpora() -> None:
    with pytest.raises(SearchIndexError, match="zero documents"):
        LexicalIndex.build([], fingerprint="f")
    with pytest.raises(SearchIndexError, match="repeat a doc_id"):
        LexicalIndex.build([("a", "x"), ("a", "y")], fingerprint="f")


def test_documents_without_tokens_are_indexed(tmp_path) -> None:
    built = LexicalIndex.build([("a", ""), ("b", "aspirin"), ("c", "...")], fingerprint="f")
    assert len(built) == 3
    assert [d for d, _ in built.search("aspirin", 3)] == ["b"]
