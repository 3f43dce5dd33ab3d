"""Similar articles over every real record: the paper's vector fused with a BM25 query of its title
and MeSH major topics (min-max fusion, BM25 weight 0.2), itself and retraction notices left out,
filters honoured."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ingest.errors import ConfigError
from search.engine import Engine, EngineConfig
from search.retrieval import fusion
from search.types import Filters

ASTHMA_RCT = "29768149"  # NEJM budesonide-formoterol trial; MeSH major topics include Asthma


def notices(real) -> set[str]:
    kinds = {"Retraction of Publication", "Published Erratum", "Expression of Concern"}
    return {d for d, a in real.articles.items() if kinds & {p.name for p in a.publication_types}}


def test_neighbours_fuse_the_papers_vector_with_its_title_and_major_topics(engine, real):
    a = real.articles[ASTHMA_RCT]
    majors = [m.descriptor for m in a.mesh_headings if m.is_major]
    assert "Asthma" in majors
    snap = engine.snapshot
    allowed = np.ones(len(snap.doc_ids), dtype=bool)
    allowed[snap.rows_of()[ASTHMA_RCT]] = False
    allowed[[snap.rows_of()[d] for d in notices(real)]] = False
    by_text = snap.lexical.search(a.title + "\n" + "; ".join(majors), 100, allowed)
    by_vector = snap.dense.search(snap.dense.vectors[snap.rows_of()[ASTHMA_RCT]], 100, allowed)
    fused = fusion.weighted_fusion([by_text, by_vector], weights=[0.2, 0.8], normalization="minmax")
    expected = [f.doc_id for f in fused[:10]]
    r = engine.similar(ASTHMA_RCT, k=10)
    assert [h.doc_id for h in r.hits] == expected
    assert r.query == a.title + "\n" + "; ".join(majors) and r.source.doc_id == ASTHMA_RCT
    assert r.source.title == a.title and r.candidates == int(allowed.sum())
    assert all(h.fused.rank == h.rank for h in r.hits)


def test_the_paper_itself_and_retraction_notices_are_left_out_unless_asked(engine, real):
    notice = sorted(notices(real))[0]  # a notice's nearest records are other notices
    default = engine.similar(notice, k=20)
    assert default.hits and not {h.doc_id for h in default.hits} & (notices(real) | {notice})
    asked = engine.similar(notice, k=20, include_notices=True)
    got = {h.doc_id for h in asked.hits}
    assert notice not in got and got & notices(real)


def test_similar_articles_honour_the_filters(engine, real):
    f = Filters(year_from=2015, languages=("eng",), humans_only=True)
    humans = {h.doc_id for h in engine.search("all[sb]", k=1000, filters=Filters(humans_only=True)).hits}
    r = engine.similar(ASTHMA_RCT, k=30, filters=f)
    assert len(r.hits) == 30
    for h in r.hits:
        a = real.articles[h.doc_id]
        years = [y for y in (a.pub_year, a.article_date.year if a.article_date else None) if y]
        assert max(years) >= 2015 and "eng" in a.languages and h.doc_id in humans  # any year it gives


def test_an_unknown_pmid_says_what_to_do(engine):
    with pytest.raises(ConfigError, match="not in the search index") as info:
        engine.similar("99999999")
    assert "ingest pubmed" in info.value.hint


def test_similar_articles_work_without_a_dense_index(engine, real):
    bm25_only = Engine(dataclasses.replace(engine.snapshot, dense=None), EngineConfig(mode="bm25", fusion="weighted"))
    r = bm25_only.similar(ASTHMA_RCT, k=5)
    tokens = set(bm25_only._tokenize(r.query))
    assert r.hits and all(h.dense.rank is None and h.bm25.rank == h.rank for h in r.hits)
    assert all({t.term for t in h.matched_terms} <= tokens and h.matched_terms for h in r.hits)
