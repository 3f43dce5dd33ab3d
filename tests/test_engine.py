"""The engine over a real store and a real index (packaged MiniLM, bm25s): filters before top-k,
per-stage scores that agree with each stage run alone, fusion as documented, rerank ordering."""

from __future__ import annotations

import pytest

from ingest.pipeline import ingest_files
from ingest.records import Deletion
from ingest.store import Store
from search import fusion
from search.engine import Engine, EngineConfig
from search.index import IndexManager
from search.types import Filters
from tests.conftest import PUBMED_DATA

QUERY = "breast cancer risk"

pytestmark = pytest.mark.slow  # builds a real index with the packaged embedding model


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    folder = tmp_path_factory.mktemp("engine")
    store = Store(folder / "e.duckdb")
    ingest_files(store, [PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"], progress=False)
    manager = IndexManager(store)
    manager.build_or_update(progress=False)
    yield Engine(store, manager.load(), EngineConfig(mode="hybrid", fusion="weighted"))
    store.close()


def _ids(ranked):
    return [h.doc_id for h in ranked.hits]


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_a_filter_leaving_three_records_returns_those_three(engine, mode):
    years = engine.store.con.execute(
        "SELECT pub_year FROM articles WHERE pub_year IS NOT NULL GROUP BY 1 HAVING count(*) = 3 LIMIT 1"
    ).fetchone()
    assert years, "the fixture needs a year with exactly 3 records"
    year = years[0]
    wanted = set(engine.store.filter_doc_ids(year_from=year, year_to=year))
    ranked = engine.rank(QUERY, k=10, filters=Filters(year_from=year, year_to=year), mode=mode)
    assert set(_ids(ranked)) == wanted and ranked.candidates == 3


@pytest.mark.parametrize("mode", ["bm25", "dense"])
def test_filters_combine_and_apply_before_top_k(engine, mode):
    f = Filters(publication_types=("journal article",), has_abstract=True, languages=("eng",))
    allowed = set(engine.store.filter_doc_ids(publication_types=["Journal Article"], has_abstract=True, languages=["eng"]))
    ranked = engine.rank(QUERY, k=30, filters=f, mode=mode)
    assert _ids(ranked) and set(_ids(ranked)) <= allowed
    # scores are absolute: filtering first equals filtering the full ranking afterwards
    everything = [h for h in engine.rank(QUERY, k=500, mode=mode).hits if mode == "dense" or h.score > 0]
    assert [d for d in _ids(ranked)][: len(everything)] == [h.doc_id for h in everything if h.doc_id in allowed][:30]


def test_hybrid_stage_scores_agree_with_each_stage_alone(engine):
    bm25 = engine.rank(QUERY, k=100, mode="bm25").hits
    dense = engine.rank(QUERY, k=100, mode="dense").hits
    hybrid = engine.rank(QUERY, k=20, mode="hybrid").hits
    b = {h.doc_id: h.rank for h in bm25 if h.score > 0}
    d = {h.doc_id: h.rank for h in dense}
    for h in hybrid:
        assert h.bm25.rank == b.get(h.doc_id) and h.dense.rank == d.get(h.doc_id)
        assert h.fused.rank == h.rank
    lists = [[(x.doc_id, x.score) for x in bm25 if x.score > 0], [(x.doc_id, x.score) for x in dense]]
    expected = fusion.weighted_fusion(lists, weights=[0.5, 0.5], normalization="minmax")
    assert [h.doc_id for h in hybrid] == [f.doc_id for f in expected[:20]]
    rrf = Engine(engine.store, engine.index, EngineConfig(mode="hybrid", fusion="rrf")).rank(QUERY, k=20).hits
    assert [h.doc_id for h in rrf] == [f.doc_id for f in fusion.rrf(lists)[:20]]


def test_learned_fusion_ranks_the_union_of_both_lists_by_the_model(engine):
    import numpy as np

    from search.ltr import LearnedFusion, candidate_features
    from search.text import Tokenizer

    learned = Engine(engine.store, engine.index, EngineConfig(mode="hybrid", fusion="learned"))
    hits = learned.rank(QUERY, k=15).hits
    bm25 = [(h.doc_id, h.score) for h in engine.rank(QUERY, k=100, mode="bm25").hits if h.score > 0]
    dense = [(h.doc_id, h.score) for h in engine.rank(QUERY, k=100, mode="dense").hits]
    qvec = engine.index.dense.query_vector(QUERY)
    ids, x = candidate_features(engine.index, engine.store, Tokenizer(engine.index.lexical.tokenizer_config),
                                QUERY, qvec, bm25, dense, learned.rows_of())
    scores = LearnedFusion().score(x)
    expected = [ids[i] for i in np.argsort(-scores, kind="stable")[:15]]
    assert [h.doc_id for h in hits] == expected
    assert [h.fused.rank for h in hits] == list(range(1, 16))


def test_weighted_fusion_config(engine):
    cfg = EngineConfig(mode="hybrid", fusion="weighted", bm25_weight=1.0)
    only_bm25 = Engine(engine.store, engine.index, cfg).rank(QUERY, k=5).hits
    bm25 = engine.rank(QUERY, k=5, mode="bm25").hits
    assert [h.doc_id for h in only_bm25] == [h.doc_id for h in bm25]


class _ByLength:
    """A transparent reranker for ordering tests: longer passages score higher."""

    def rerank(self, query, docs):
        return [float(len(text)) for _, text in docs]


def test_rerank_reorders_the_head_and_keeps_the_tail(engine):
    cfg = EngineConfig(mode="rerank", fusion="weighted", rerank_depth=5, rerank_alpha=1.0)
    eng = Engine(engine.store, engine.index, cfg, reranker=_ByLength())
    hybrid = engine.rank(QUERY, k=10, mode="hybrid").hits
    reranked = eng.rank(QUERY, k=10).hits
    head = [h.doc_id for h in hybrid[:5]]
    texts = engine.store.texts(head)
    by_length = sorted(head, key=lambda d: -len("\n".join(p for p in texts[d] if p)))
    assert [h.doc_id for h in reranked[:5]] == by_length
    assert [h.doc_id for h in reranked[5:]] == [h.doc_id for h in hybrid[5:10]]
    assert all(h.rerank.rank is not None for h in reranked[:5]) and reranked[5].rerank.rank is None
    assert {h.doc_id: h.fused.rank for h in reranked[:5]} == {h.doc_id: h.rank for h in hybrid[:5]}


def test_search_hydrates_and_warns_when_the_index_is_stale(engine, tmp_path):
    results = engine.search(QUERY, k=3)
    assert len(results.hits) == 3 and all(h.title for h in results.hits)
    assert results.hits[0].rank == 1 and results.warnings == ()


def test_rerank_without_a_reranker_says_what_to_do(engine):
    from ingest.errors import ConfigError

    with pytest.raises(ConfigError, match="needs a cross-encoder") as info:
        engine.rank(QUERY, mode="rerank")
    assert "MEDSEARCH_RERANKER" in info.value.hint


def test_deleted_records_disappear_and_staleness_is_reported(tmp_path):
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    with Store(tmp_path / "s.duckdb") as store:
        ingest_files(store, [PUBMED_DATA / "biopython"], progress=False)
        manager = IndexManager(store)
        manager.build_or_update(progress=False)
        eng = Engine(store, manager.load(), EngineConfig(mode="bm25"))
        first = eng.search("protein", k=5).hits[0].doc_id
        store.apply_batch([Deletion(first)])
        stale = Engine(store, manager.load(), EngineConfig(mode="bm25")).search("protein", k=5)
        assert first not in [h.doc_id for h in stale.hits]
        assert stale.warnings and "medsearch index" in stale.warnings[0]
