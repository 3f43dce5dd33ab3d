"""The engine over a real store's snapshot (real PubMed records, bm25s, a small fake embedder):
filters checked against an independent oracle, per-stage scores, fusion, learned fusion against a
feature oracle, rerank order, result cards, staleness, snapshot switching, bad queries."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.errors import ConfigError
from ingest.pipeline import ingest_files
from ingest.store import Store
from search.engine import Engine, EngineConfig
from search.index.build import IndexManager, IndexSettings
from search.results.result_set import ANY_WORD_OR_DENSE_TOP, SetRule
from search.retrieval import fusion
from search.types import Filters
from tests.conftest import PUBMED_DATA
from tests.fake_embedder import FakeEmbedder

QUERY = "breast cancer risk"
SETTINGS = IndexSettings(embedder=FakeEmbedder.name)
RECORDS = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not RECORDS.is_dir():
        pytest.skip("real data not found")
    folder = tmp_path_factory.mktemp("engine")
    with Store(folder / "e.duckdb") as store:
        ingest_files(store, [RECORDS], progress=False)
        IndexManager(store, settings=SETTINGS, embedder=FakeEmbedder()).build_or_update(progress=False)
        articles = {d: store.get_article(d) for (d,) in store.con.execute("SELECT doc_id FROM articles").fetchall()}
    return folder, articles


#: Every record a match in dense mode (a cosine cut below any cosine, over every record): the
#: filter tests below check that the filters select exactly the oracle's records.
EVERY_RECORD = SetRule(all_up_to=1, share=0.0, dense_threshold=-2.0, fused_threshold=None, bm25_threshold=None,
                       semantic_depth=10**6)


def _engine(built, rule: SetRule) -> Engine:
    folder, _ = built
    with Store(folder / "e.duckdb", read_only=True) as store:
        snap = IndexManager(store, settings=SETTINGS, embedder=FakeEmbedder()).load()
    return Engine(snap, EngineConfig(mode="hybrid", fusion="weighted", result_set=rule))


@pytest.fixture(scope="module")
def everything(built):
    return _engine(built, EVERY_RECORD)


@pytest.fixture(scope="module")
def engine(built):
    # the rule before the result set was defined (any word, or the dense top 100): these tests
    # check the filters and the ranking's mechanics against oracles of whole lists
    return _engine(built, ANY_WORD_OR_DENSE_TOP)


def _ids(ranked):
    return [h.doc_id for h in ranked.hits]


# -- filters, against an oracle over the parsed records (no engine or SQL code) -------------------


def _oracle(articles, *, year=None, types=(), languages=(), has_abstract=None):
    out = set()
    for d, a in articles.items():
        years = [y for y in (a.pub_year, a.article_date.year if a.article_date else None) if y]
        if year is not None and (not years or not min(years) <= year <= max(years)):
            continue
        names = {p.name.lower() for p in a.publication_types}
        if types and not names & {t.lower() for t in types}:
            continue
        if languages and not {x.lower() for x in a.languages} & {x.lower() for x in languages}:
            continue
        if has_abstract is not None and a.has_abstract != has_abstract:
            continue
        out.add(d)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_a_filter_applies_before_top_k(everything, built, mode):
    engine = everything
    _, articles = built
    year = 2019
    wanted = _oracle(articles, year=year)
    assert 0 < len(wanted) < 20, "the fixture needs a year with a few records"
    ranked = engine.rank("cancer patients", k=50, filters=Filters(year_from=year, year_to=year), mode=mode)
    assert ranked.candidates == len(wanted)
    assert set(_ids(ranked)) <= wanted
    if mode == "dense":
        assert set(_ids(ranked)) == wanted  # every candidate has a cosine


def test_filters_combine_as_the_oracle_says(everything, built):
    engine = everything
    _, articles = built
    f = Filters(publication_types=("review",), has_abstract=True, languages=("eng",))
    wanted = _oracle(articles, types=("Review", "Systematic Review", "Scoping Review"), languages=("eng",),
                     has_abstract=True)
    ranked = engine.rank("disease", k=200, filters=f, mode="dense")
    assert ranked.candidates == len(wanted) > 0
    assert set(_ids(ranked)) == wanted


def test_a_year_range_matches_the_online_and_the_print_year_of_an_epub_ahead_of_print_paper(everything, built):
    engine = everything
    """PMID 31588070 appeared online in October 2019; its journal issue is dated 2020 Apr 20."""
    _, articles = built
    a = articles["31588070"]
    assert a.pub_year == 2020 and a.article_date.year == 2019
    for year in (2019, 2020):
        ranked = engine.rank("cancer", k=200, filters=Filters(year_from=year, year_to=year), mode="dense")
        assert "31588070" in _ids(ranked), year
    for years in ((2015, 2018), (2021, 2024)):
        ranked = engine.rank("cancer", k=200, filters=Filters(year_from=years[0], year_to=years[1]), mode="dense")
        assert "31588070" not in _ids(ranked), years


# -- stages and fusion ---------------------------------------------------------------------------


def test_hybrid_stage_scores_agree_with_each_stage_alone(engine):
    bm25 = engine.rank(QUERY, k=100, mode="bm25").hits
    dense = engine.rank(QUERY, k=100, mode="dense").hits
    hybrid = engine.rank(QUERY, k=20, mode="hybrid").hits
    b = {h.doc_id: h.rank for h in bm25}
    d = {h.doc_id: h.rank for h in dense}
    for h in hybrid:
        assert h.bm25.rank == b.get(h.doc_id) and h.dense.rank == d.get(h.doc_id)
        assert h.fused.rank == h.rank
    lists = [[(x.doc_id, x.score) for x in bm25], [(x.doc_id, x.score) for x in dense]]
    expected = fusion.weighted_fusion(lists, weights=[0.5, 0.5], normalization="minmax")
    assert [h.doc_id for h in hybrid] == [f.doc_id for f in expected[:20]]
    rrf = Engine(engine.snapshot, EngineConfig(mode="hybrid", fusion="rrf", result_set=ANY_WORD_OR_DENSE_TOP)).rank(
        QUERY, k=20).hits
    assert [h.doc_id for h in rrf] == [f.doc_id for f in fusion.rrf(lists)[:20]]


def _oracle_features(snap, query_words, ids, bm25_scores, dense_scores, bm25_rank, dense_rank):
    """The 12 learned-fusion features written out from their definitions (docs of search/retrieval/learned_fusion.py)."""
    def minmax(v):
        lo, hi = min(v), max(v)
        return [1.0] * len(v) if hi == lo else [(x - lo) / (hi - lo) for x in v]

    def recip(ranks, d):
        return 1.0 / math.log2(ranks[d] + 1) if d in ranks else 0.0

    texts = snap.records.texts(ids)
    bm, dn = minmax(bm25_scores), minmax(dense_scores)
    tokenize = snap.lexical.tokenize
    rows = []
    for i, d in enumerate(ids):
        title, abstract = texts[d]
        overlap = len(set(query_words) & set(tokenize(title))) / max(len(set(query_words)), 1)
        rows.append([bm25_scores[i], recip(bm25_rank, d), bm[i], dense_scores[i], recip(dense_rank, d), dn[i],
                     0.5 * bm[i] + 0.5 * dn[i], overlap, math.log1p(len(title)), math.log1p(len(abstract)),
                     math.log1p(len(set(query_words))), float(d in bm25_rank and d in dense_rank)])
    return np.array(rows, dtype=np.float32)


def test_learned_fusion_orders_the_union_of_both_lists_by_the_model(engine):
    from search.retrieval.learned_fusion import LearnedFusion

    snap = engine.snapshot
    learned = Engine(snap, EngineConfig(mode="hybrid", fusion="learned", result_set=ANY_WORD_OR_DENSE_TOP))
    hits = learned.rank(QUERY, k=15).hits
    bm25 = engine.rank(QUERY, k=100, mode="bm25").hits
    dense = engine.rank(QUERY, k=100, mode="dense").hits
    ids = list(dict.fromkeys([h.doc_id for h in bm25] + [h.doc_id for h in dense]))
    rows = [snap.doc_ids.index(d) for d in ids]
    all_bm25 = snap.lexical.scores(QUERY)
    qvec = FakeEmbedder().embed_query(QUERY)
    x = _oracle_features(
        snap, snap.lexical.tokenize(QUERY), ids, [float(all_bm25[r]) for r in rows],
        [float(np.dot(snap.dense.vectors[r], qvec)) for r in rows],
        {h.doc_id: h.rank for h in bm25}, {h.doc_id: h.rank for h in dense},
    )
    scores = LearnedFusion().score(x)
    expected = [ids[i] for i in np.argsort(-scores, kind="stable")[:15]]
    assert [h.doc_id for h in hits] == expected
    assert [h.fused.rank for h in hits] == list(range(1, 16))


def test_weighted_fusion_with_all_weight_on_bm25_is_bm25(engine):
    cfg = EngineConfig(mode="hybrid", fusion="weighted", bm25_weight=1.0, result_set=ANY_WORD_OR_DENSE_TOP)
    only_bm25 = Engine(engine.snapshot, cfg).rank(QUERY, k=5).hits
    assert _ids_of(only_bm25) == _ids_of(engine.rank(QUERY, k=5, mode="bm25").hits)


def _ids_of(hits):
    return [h.doc_id for h in hits]


class _ByLength:
    """A transparent reranker for ordering tests: longer passages score higher."""

    def rerank(self, query, docs):
        return [float(len(text)) for _, text in docs]


def test_rerank_reorders_the_head_and_keeps_the_tail(engine):
    cfg = EngineConfig(mode="rerank", fusion="weighted", rerank_depth=5, rerank_alpha=1.0,
                       result_set=ANY_WORD_OR_DENSE_TOP)
    eng = Engine(engine.snapshot, cfg, reranker=_ByLength())
    hybrid = engine.rank(QUERY, k=10, mode="hybrid").hits
    reranked = eng.rank(QUERY, k=10).hits
    head = [h.doc_id for h in hybrid[:5]]
    texts = engine.snapshot.records.texts(head)
    by_length = sorted(head, key=lambda d: -len("\n".join(p for p in texts[d] if p)))
    assert _ids_of(reranked[:5]) == by_length
    assert _ids_of(reranked[5:]) == _ids_of(hybrid[5:10])
    assert all(h.rerank.rank is not None for h in reranked[:5]) and reranked[5].rerank.rank is None


def test_rerank_without_a_reranker_says_what_to_do(engine):
    with pytest.raises(ConfigError, match="needs a cross-encoder") as info:
        engine.rank(QUERY, mode="rerank")
    assert "MEDSEARCH_RERANKER" in info.value.hint


# -- what a result holds ---------------------------------------------------------------------------


def test_a_hit_carries_its_result_card(engine, built):
    _, articles = built
    hit = next(h for h in engine.search(QUERY, k=10).hits if articles[h.doc_id].abstract)
    a = articles[hit.doc_id]
    assert hit.title == a.title and hit.pmid == a.pmid and hit.doi == a.doi
    assert hit.authors == tuple(x.display_name for x in a.authors)
    assert hit.publication_types == tuple(p.name for p in a.publication_types)
    assert hit.abstract == a.abstract_text
    assert [hit.abstract[s.start : s.start + s.length] for s in hit.sections] == [s.text for s in a.abstract]
    assert [s.label for s in hit.sections] == [s.label for s in a.abstract]


def test_errata_and_comments_are_linked_from_the_hit(engine, built):
    """PMID 35649368 has an ErratumIn pointing at PMID 35767954 (checked in its XML)."""
    hits = engine.search("fatty acid oxidation apoptosis mitochondrial membrane lipids", k=5, mode="bm25").hits
    hit = next(h for h in hits if h.doc_id == "35649368")
    assert hit.errata == ("35767954",) and not hit.is_retracted and hit.retracted_by == ()


def test_a_query_that_matches_nothing_returns_no_hits_and_says_why(engine):
    none = engine.search("zzzzqqq", k=5, mode="bm25")
    assert none.hits == () and any("No record matches" in w for w in none.warnings)
    for mode in ("bm25", "hybrid", "dense"):
        punct = engine.search("?!... ;;", k=5, mode=mode)
        assert punct.hits == () and any("no words to search for" in w for w in punct.warnings)
    stop = engine.search("the of and", k=5, mode="hybrid")
    assert stop.hits == () and stop.warnings


def test_oversized_queries_are_refused_with_the_limit(engine):
    with pytest.raises(ConfigError, match="limit is 2,000"):
        engine.search("x" * 2001)
    many = " ".join(f"term{i}" for i in range(65))
    with pytest.raises(ConfigError, match="65 distinct search terms; the limit is 64"):
        engine.search(many)
    with pytest.raises(ConfigError, match="k must lie between"):
        engine.search("cancer", k=5000)


# -- snapshots: staleness and switching -------------------------------------------------------------


def _copy(built, tmp_path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(built[0], folder)
    return folder / "e.duckdb"


def _new_record(tmp_path: Path) -> Path:
    """A real record under a PMID the fixture does not hold, with a distinctive title."""
    text = (PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml").glob("*.xml").__next__().read_text()
    text = re.sub(r'<PMID Version="1">\d+</PMID>', '<PMID Version="1">99999901</PMID>', text, count=1)
    text = text.replace("<ArticleTitle>", "<ArticleTitle>Zanubrutinib xylophone trial: ", 1)
    path = tmp_path / "new.xml"
    path.write_text(text)
    return path


def test_a_search_warns_when_the_store_changed_after_the_snapshot(built, tmp_path):
    db = _copy(built, tmp_path)
    eng = Engine.open(db_path=db, index_settings=SETTINGS, config=EngineConfig(mode="bm25"))
    assert eng.search("cancer", k=3).warnings == ()  # fresh
    with Store(db) as store:
        ingest_files(store, [_new_record(tmp_path)], progress=False)
    stale = eng.search("cancer", k=3)
    assert any("older than the store" in w and "medsearch index" in w for w in stale.warnings)
    assert not eng.status().fresh


def test_an_engine_serves_a_new_snapshot_without_a_restart(built, tmp_path):
    db = _copy(built, tmp_path)
    eng = Engine.open(db_path=db, index_settings=SETTINGS, config=EngineConfig(mode="bm25"))
    before = eng.snapshot
    assert eng.search("zanubrutinib xylophone", k=3, mode="bm25").hits == ()
    with Store(db) as store:
        ingest_files(store, [_new_record(tmp_path)], progress=False)
    with Store(db, read_only=True, lock=True) as store:
        IndexManager(store, settings=SETTINGS, embedder=FakeEmbedder()).build_or_update(progress=False)
    hits = eng.search("zanubrutinib xylophone", k=3, mode="bm25").hits
    assert [h.doc_id for h in hits] == ["99999901"]
    assert eng.snapshot is not before and eng.status().fresh
    assert len(before.doc_ids) + 1 == len(eng.snapshot.doc_ids)  # the old snapshot is untouched


def test_whole_records_come_from_the_snapshot(engine, built):
    _, articles = built
    some = list(articles)[:5]
    got = engine.articles([*some, "not-a-pmid"])
    assert list(got) == some
    for d in some:
        assert got[d] == articles[d]
