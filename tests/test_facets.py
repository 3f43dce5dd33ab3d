"""Facet counts and the timeline over the records that match a query, against counts computed
from the records read back from the store; sort orders on hand-made columns."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from search.index.records import RecordColumns
from search.results.facets import count_facets, order_rows
from search.retrieval.tokenizer import Tokenizer
from search.types import Filters


def year_of(a) -> int | None:
    years = [y for y in (a.pub_year, a.article_date.year if a.article_date else None) if y]
    return min(years) if years else None


def oracle(articles) -> dict:
    """The facets of ``articles``, counted from the records' own fields."""
    years = Counter(year_of(a) for a in articles)
    return {
        "total": len(articles),
        "publication_types": Counter(t for a in articles for t in {p.name for p in a.publication_types}),
        "journals": Counter(a.journal_iso or a.journal_title for a in articles if a.journal_iso or a.journal_title),
        "languages": Counter(x for a in articles for x in set(a.languages)),
        "years": {y: c for y, c in years.items() if y is not None},
        "no_year": years.get(None, 0),
        "has_abstract": sum(a.has_abstract for a in articles),
    }


def as_counts(facet) -> dict[str, int]:
    return {v.value: v.count for v in facet}


def check(facets, articles, limit=20):
    want = oracle(articles)
    assert facets.total == want["total"] and facets.no_year == want["no_year"]
    assert facets.has_abstract == want["has_abstract"]
    for name in ("publication_types", "journals", "languages"):
        got = getattr(facets, name)
        assert len(got) == min(limit, len(want[name]))
        assert all(want[name][v.value] == v.count for v in got)  # each count is right
        counts = [v.count for v in got]
        assert counts == sorted(counts, reverse=True)
        if len(want[name]) > limit:  # nothing left out counts more than the last one listed
            assert max(c for v, c in want[name].items() if v not in as_counts(got)) <= counts[-1]
    assert {y.year: y.count for y in facets.years} == want["years"]
    assert [y.year for y in facets.years] == sorted(want["years"], reverse=True)


def test_facets_of_a_boolean_query_count_its_matches(engine, real):
    facets = engine.facets("humans[mh] AND 2000:2024[dp]", filters=Filters(languages=("eng",)))
    r = engine.search("humans[mh] AND 2000:2024[dp]", k=1000, filters=Filters(languages=("eng",)))
    assert facets.total == r.total == len(r.hits) > 50
    check(facets, [real.articles[h.doc_id] for h in r.hits])


def test_facets_of_free_text_count_the_papers_that_hold_both_words(engine, real):
    """The notices repeat the retracted paper's title, so they hold the words too; they are
    counted only when asked for."""
    tok = Tokenizer()
    notices = {"Retraction of Publication", "Published Erratum", "Expression of Concern"}
    words = [set(tok("breast")), set(tok("cancer"))]
    reached = [a for d, a in real.articles.items()
               if all(w & set(tok(real.lexical[d])) for w in words)
               and not notices & {p.name for p in a.publication_types}]
    facets = engine.facets("breast cancer", mode="bm25")
    assert facets.total == len(reached) > 0
    check(facets, reached)
    assert facets.total == engine.search("breast cancer", mode="bm25").total
    with_notices = engine.facets("breast cancer", mode="bm25", filters=Filters(include_notices=True))
    assert with_notices.total > facets.total


def test_facets_under_a_clinical_filter_shrink_with_it(engine):
    everything = engine.facets("patients", mode="bm25")
    therapy = engine.facets("patients", mode="bm25", filters=Filters(clinical="therapy/narrow"))
    rct = as_counts(therapy.publication_types)
    assert 0 < therapy.total < everything.total
    assert rct["Randomized Controlled Trial"] == as_counts(everything.publication_types)["Randomized Controlled Trial"]


def test_the_timeline_runs_year_by_year_with_zeros(engine):
    facets = engine.facets("all[sb]")
    years = [y.year for y in facets.timeline]
    assert years == list(range(years[0], years[-1] + 1))
    assert sum(y.count for y in facets.timeline) == facets.total - facets.no_year
    assert any(y.count == 0 for y in facets.timeline)  # the real records leave gaps
    assert facets.retracted == 2  # the two records typed "Retracted Publication" (see test_engine_query)


# -- counting and ordering on hand-made columns -----------------------------------------------------


def columns() -> RecordColumns:
    """Five records: (year, date, pmid, first-author rank, journal, types, languages, level)."""
    def a(values, dtype):
        return np.array(values, dtype=dtype)

    return RecordColumns(
        n=5, year=a([2020, 2020, 2018, 0, 2021], np.int32),
        date=a([18300, 18300, 17600, np.iinfo(np.int32).min, 18700], np.int32),
        pmid=a([10, 11, 12, 13, 14], np.int64), author=a([2, 1, np.iinfo(np.int32).min, 3, 1], np.int32),
        journal=a([0, 1, 0, -1, 1], np.int32), journal_names=("BMJ", "Lancet"),
        has_abstract=a([1, 0, 1, 1, 0], bool), retracted=a([0, 0, 1, 0, 0], bool), notice=a([0] * 5, bool),
        systematic=a([0] * 5, bool),
        level=a([6, 2, 2, 1, 7], np.int8),
        pt_owner=a([0, 1, 1, 2, 3, 4], np.int64), pt_code=a([0, 0, 1, 1, 2, 0], np.int64),
        pt_names=("Journal Article", "Randomized Controlled Trial", "Review"),
        la_owner=a([0, 1, 2, 3, 4, 4], np.int64), la_code=a([0, 0, 1, 0, 0, 1], np.int64), la_names=("eng", "fre"),
    )


def test_count_facets_counts_only_the_matching_records():
    f = count_facets(columns(), np.array([True, True, True, True, False]), limit=2)
    assert [(v.value, v.count) for v in f.publication_types] == [
        ("Journal Article", 2), ("Randomized Controlled Trial", 2)]  # ties A to Z; Review cut by the limit
    assert [(v.value, v.count) for v in f.journals] == [("BMJ", 2), ("Lancet", 1)]
    assert [(y.year, y.count) for y in f.years] == [(2020, 2), (2018, 1)]
    assert [(y.year, y.count) for y in f.timeline] == [(2018, 1), (2019, 0), (2020, 2)]
    assert (f.total, f.no_year, f.has_abstract, f.retracted) == (4, 1, 3, 1)


@pytest.mark.parametrize(("sort", "expected"), [
    ("date", [4, 1, 0, 2, 3]),  # 0 and 1 share a date: the higher relevance (1) first; undated last
    ("author", [1, 4, 0, 3, 2]),  # 1 and 4 share a first author: 1 is more relevant; no author last
    ("evidence", [3, 1, 2, 0, 4]),  # level 1, then the two level-2 records by relevance
])
def test_order_rows_sorts_by_the_key_then_relevance_then_date(sort, expected):
    relevance = np.array([0.1, 0.9, 0.5, 0.2, 0.3])
    assert order_rows(columns(), np.arange(5), sort, relevance).tolist() == expected
