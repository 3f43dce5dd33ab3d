"""One contract suite (search/retrieval/contract.py) run against every first-stage backend:
one test class per backend (txtai's pattern), all over the shared real-data snapshot
(tests/engine_snapshot.py: every record of ../shared/data/pubmed, fake embedder).

Oracles come from the *store's* records (tests/engine_snapshot.Real: the articles and the
BM25 texts read back from the store) and from brute force over the fake embedder's vectors,
never from the backend under test; the restriction oracles are the in-process evaluator's
masks (search/query/mask.py, itself checked against the store by tests/test_restrict.py),
which the Milvus backend must reproduce through its own filter expressions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ingest.errors import SearchIndexError
from search.query.syntax import parse
from search.retrieval.contract import FirstStage, IndexedRecord, Restriction, TextQuery
from search.retrieval.tokenizer import Tokenizer
from search.types import Filters
from tests.engine_snapshot import real_snapshot
from tests.fake_embedder import FakeEmbedder

NO_FILTERS = Filters()
QUERIES = ("aspirin stroke prevention", "covid-19 vaccine", "breast cancer metformin", "beta-blockers heart failure")

#: Restrictions whose every clause Milvus translates, and ones it cannot (word searches):
#: the latter go as an id list when selective, else as a post-filter of an over-fetched list.
CLAUSES = (
    "\"randomized controlled trial\"[pt]",
    "humans[mh] NOT aged[mh]",
    "2015:2018[dp]",
    "eng[la] AND (review[pt] OR \"meta-analysis\"[pt])",
    "aspirin[tiab]",  # a word search: not an expression
    "cancer OR neoplasms[mh]",  # an OR with a word search inside
)
FILTERS = (
    Filters(year_from=2010, year_to=2015),
    Filters(publication_types=("rct", "Review")),
    Filters(languages=("eng",), has_abstract=True),
    Filters(mesh_terms=("Humans",), year_from=2020),
    Filters(clinical="therapy/narrow"),
    Filters(humans_only=True, ages=("aged",)),
    Filters(systematic_review=True),
)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return real_snapshot(tmp_path_factory)


@pytest.fixture(scope="module")
def engine(real):
    from search.engine import Engine, EngineConfig
    from search.index.build import default_index_dir
    from search.index.snapshot import load_snapshot

    snap = load_snapshot(default_index_dir(real.db), embedding_model=FakeEmbedder.name, embedder=FakeEmbedder())
    return Engine(snap, EngineConfig(fusion="weighted"))


@pytest.fixture(scope="module")
def dense_texts(real):
    """doc_id -> the text each record's vector embeds, read from the store (the index recipe)."""
    from ingest.store import Store
    from search.index.documents import iter_documents

    with Store(real.db, read_only=True) as store:
        return {d.doc_id: d.text for d in iter_documents(store)}


@pytest.fixture(scope="module")
def tokens_of(real):
    tok = Tokenizer()
    return {d: set(tok(text)) for d, text in real.lexical.items()}


def lucene_okapi(corpus: list[list[str]], *, k1: float, b: float):
    """rank-bm25's Okapi BM25 with Lucene's idf (as in tests/test_lexical.py): the BM25 oracle."""
    from rank_bm25 import BM25Okapi

    class LuceneIdfOkapi(BM25Okapi):
        def _calc_idf(self, nd: dict[str, int]) -> None:
            n = self.corpus_size
            self.idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w, df in nd.items()}

    return LuceneIdfOkapi(corpus, k1=k1, b=b)


def restriction(engine, query: str | None, filters: Filters = NO_FILTERS, notices: bool = True) -> Restriction:
    """The predicate and its in-process evaluation (the oracle for what passes)."""
    snap = engine.snapshot
    clauses = engine.restriction(parse(query) if query else None, filters)
    rows = engine.mask(snap, filters, clauses)
    if not notices:
        keep = ~snap.records.columns().notice
        rows = keep if rows is None else rows & keep
    return Restriction(clauses, filters, notices, rows=rows)


class ContractSuite:
    """The contract; a subclass gives the backend (``stage``) and a writable one (``writable``)."""

    exact_bm25 = True  # scores equal the in-process BM25 (else: the same records, close order)

    def test_it_is_a_first_stage_and_describes_what_it_holds(self, stage, engine, real):
        m = stage.manifest()
        assert isinstance(stage, FirstStage)
        assert m.records == len(real.articles) and m.model == FakeEmbedder.name and m.dims == FakeEmbedder.dims
        assert m.fingerprint == engine.snapshot.fingerprint and m.built_at

    @pytest.mark.parametrize("query", QUERIES)
    def test_text_search_reaches_exactly_the_records_holding_a_query_token(self, stage, tokens_of, query):
        q = TextQuery(query, tuple(Tokenizer()(query)))
        got = stage.search_text(q, 5000)
        holders = {d for d, toks in tokens_of.items() if toks & set(q.tokens)}
        assert holders and {d for d, _ in got} == holders
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True) and min(scores) > 0

    @pytest.mark.parametrize("query", QUERIES)
    def test_text_scores_are_bm25_over_our_tokens(self, stage, real, query):
        ids = list(real.lexical)
        tok = Tokenizer()
        oracle = lucene_okapi([tok(real.lexical[d]) for d in ids], k1=1.2, b=0.5)
        q = TextQuery(query, tuple(tok(query)))
        top = stage.search_text(q, 10)
        expected = oracle.get_scores(list(q.tokens))
        by_id = dict(zip(ids, expected, strict=True))
        best = sorted(by_id, key=lambda d: -by_id[d])[:10]
        if self.exact_bm25:  # rank-bm25 scores carry Lucene's factor k1 + 1, ours do not
            np.testing.assert_allclose([s for _, s in top], [by_id[d] / 2.2 for d, _ in top], rtol=1e-4)
        assert len({d for d, _ in top} & set(best)) >= (10 if self.exact_bm25 else 6)

    def test_scores_of_given_ids_match_the_lists(self, stage):
        q = TextQuery(QUERIES[0], tuple(Tokenizer()(QUERIES[0])))
        top = stage.search_text(q, 20)
        ids = [d for d, _ in top][::-1]
        np.testing.assert_allclose(stage.text_scores(q, ids), [dict(top)[d] for d in ids], rtol=1e-5)
        vec = stage.query_vector(QUERIES[1])
        near = stage.search_vector(vec, 15)
        np.testing.assert_allclose(stage.vector_scores(vec, [d for d, _ in near]), [s for _, s in near], atol=1e-5)

    @pytest.mark.parametrize("query", QUERIES)
    def test_vector_search_is_the_exact_top_k(self, stage, dense_texts, query):
        emb = FakeEmbedder()
        ids, texts = zip(*dense_texts.items(), strict=True)
        matrix = emb.embed_documents(list(texts))
        scores = matrix @ emb.embed_query(query)
        got = stage.search_vector(stage.query_vector(query), 20)
        expected = np.sort(scores)[::-1][:20]
        np.testing.assert_allclose([s for _, s in got], expected, atol=1e-5)
        by_id = dict(zip(ids, scores, strict=True))
        assert all(abs(by_id[d] - s) < 1e-5 for d, s in got)

    @pytest.mark.parametrize("clause", CLAUSES)
    def test_query_clauses_restrict_to_exactly_the_oracle_records(self, stage, engine, clause):
        r = restriction(engine, clause)
        allowed = {engine.snapshot.doc_ids[i] for i in np.flatnonzero(r.rows)}
        vec = stage.query_vector("trial")
        got = {d for d, _ in stage.search_vector(vec, len(engine.snapshot.doc_ids), r)}
        assert allowed and got == allowed

    @pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(k for k in f.__slots__ if getattr(f, k)))
    def test_filters_restrict_to_exactly_the_oracle_records(self, stage, engine, filters):
        r = restriction(engine, None, filters, notices=False)
        allowed = {engine.snapshot.doc_ids[i] for i in np.flatnonzero(r.rows)}
        got = {d for d, _ in stage.search_vector(stage.query_vector("patients"), len(engine.snapshot.doc_ids), r)}
        assert allowed and got == allowed

    def test_the_restriction_applies_before_top_k(self, stage, engine):
        r = restriction(engine, "humans[mh] NOT aged[mh]", Filters(year_from=2005))
        q = TextQuery("blood pressure", tuple(Tokenizer()("blood pressure")))
        everything = stage.search_text(q, 5000)
        allowed = {engine.snapshot.doc_ids[i] for i in np.flatnonzero(r.rows)}
        expected = [d for d, _ in everything if d in allowed][:5]
        assert len(expected) == 5
        got = [d for d, _ in stage.search_text(q, 5, r)]
        if self.exact_bm25:
            assert got == expected
        else:
            assert set(got) <= allowed and len(got) == 5

    def test_notices_left_out_never_come_back(self, stage, engine, real):
        from search.index.records import NOTICE_TYPES

        notice = {d for d, a in real.articles.items()
                  if {p.name for p in a.publication_types} & set(NOTICE_TYPES)} - {
                      d for d in real.articles if engine.snapshot.records.columns().retracted[engine.snapshot.rows_of()[d]]}
        r = restriction(engine, None, notices=False)
        got = {d for d, _ in stage.search_vector(stage.query_vector("retraction"), len(real.articles), r)}
        assert notice and not got & notice and len(got) == len(real.articles) - len(notice)

    def test_excluded_and_only_ids(self, stage):
        vec = stage.query_vector(QUERIES[2])
        top = [d for d, _ in stage.search_vector(vec, 5)]
        assert top[0] not in {d for d, _ in stage.search_vector(vec, 5, Restriction(exclude=(top[0],)))}
        assert [d for d, _ in stage.search_vector(vec, 5, Restriction(only=tuple(top[2:])))] == top[2:]

    def test_add_replace_and_delete(self, writable):
        emb = FakeEmbedder()

        def record(doc_id: str, text: str) -> IndexedRecord:
            return IndexedRecord(doc_id, text, doc_id + text, emb.embed_documents([text])[0], year=2024,
                                 publication_types=("Review",), languages=("eng",))

        def find(word: str) -> list[str]:
            return [d for d, _ in writable.search_text(TextQuery(word, (word,)), 5)]

        before = writable.manifest().records
        writable.upsert([record("new-1", "zyxomycin cures the common cold")])
        assert find("zyxomycin") == ["new-1"]
        writable.upsert([record("new-1", "quorblast replaces it")])
        assert find("zyxomycin") == [] and find("quorblast") == ["new-1"]
        assert writable.delete(["new-1"]) == 1
        assert find("quorblast") == []
        assert writable.search_text(TextQuery("aspirin", ("aspirin",)), 3)
        assert writable.manifest().records in (before, before + 1)  # Milvus counts at its next flush


class TestInProcess(ContractSuite):
    @pytest.fixture
    def stage(self, engine):
        return engine.first_stage()

    @pytest.fixture
    def writable(self, real):
        from search.retrieval.inprocess import InProcessFirstStage

        emb = FakeEmbedder()
        ids = [d for i, (d, text) in enumerate(real.lexical.items()) if i < 200 or "aspirin" in text.lower()]
        vecs = emb.embed_documents([real.lexical[d] for d in ids])
        records = [IndexedRecord(d, real.lexical[d], d, v) for d, v in zip(ids, vecs, strict=True)]
        return InProcessFirstStage.build(records, embedder=emb)

    def test_a_published_snapshot_is_read_only(self, stage):
        with pytest.raises(SearchIndexError, match="read-only") as err:
            stage.delete(["x"])
        assert "medsearch index" in (err.value.hint or "")


class TestMilvusLite(ContractSuite):
    exact_bm25 = False  # Milvus' BM25 function keeps its own statistics (docs/scale.md)

    @pytest.fixture(scope="class")
    @classmethod
    def target(cls, tmp_path_factory, engine):
        from search.retrieval.milvus.collection import build_from_snapshot
        from search.retrieval.milvus.connect import Target

        target = Target.from_settings(str(tmp_path_factory.mktemp("milvus") / "milvus.db"))
        build_from_snapshot(engine.snapshot, target)
        return target

    @pytest.fixture(scope="class")
    @classmethod
    def stage(cls, target, engine):
        from search.retrieval.milvus.stage import MilvusFirstStage

        return MilvusFirstStage.open(target, engine.snapshot)

    @pytest.fixture
    def writable(self, stage):
        return stage

    def test_milvus_lite_scores_are_bm25_with_our_b_through_the_padding(self, stage, real):
        """milvus-lite computes BM25 with k1 1.5 and b 0.75 whatever the index asks; the fillers
        appended to every text make its length norm ours (b 0.5). Oracle: rank-bm25 over our
        tokens, without fillers, at k1 1.5 and b 0.5, its factor k1 + 1 = 2.5, over the 2.2 the
        stage divides by."""
        ids = list(real.lexical)
        tok = Tokenizer()
        ours = lucene_okapi([tok(real.lexical[d]) for d in ids], k1=1.5, b=0.5)
        lite_b = lucene_okapi([tok(real.lexical[d]) for d in ids], k1=1.5, b=0.75)  # what no padding gives
        for query in QUERIES:
            q = TextQuery(query, tuple(tok(query)))
            top = stage.search_text(q, 20)
            want = dict(zip(ids, ours.get_scores(list(q.tokens)), strict=True))
            unpadded = dict(zip(ids, lite_b.get_scores(list(q.tokens)), strict=True))
            got = [s for _, s in top]
            np.testing.assert_allclose(got, [want[d] / 2.2 for d, _ in top], rtol=5e-3)
            assert not np.allclose(got, [unpadded[d] / 2.2 for d, _ in top], rtol=5e-3)


class TestMilvusLiteExpressions(TestMilvusLite):
    """Every restriction that translates sent as a Milvus filter expression (on milvus-lite the
    engine's plan applies broad ones by over-fetching instead: docs/scale.md)."""

    @pytest.fixture(scope="class")
    @classmethod
    def stage(cls, target, engine):
        from search.retrieval.milvus.stage import MilvusFirstStage

        return MilvusFirstStage.open(target, engine.snapshot, expressions=True)
