"""What a result list means, tried as a clinician and a librarian would on the demo records
(the issue's table): the engine with learned fusion, as by default, over the real records and
the fake embedder. What "mentions the topic" means is checked here by regular expressions over
the records read back from the store, never by the engine's matcher."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from search.types import Filters
from tests.engine_snapshot import engine_over

NOTICE_TYPES = {"Retraction of Publication", "Published Erratum", "Expression of Concern"}


@pytest.fixture(scope="module")
def learned(real):
    return engine_over(real.db, fusion="learned", mode="hybrid")


def text_of(a) -> str:
    mesh = " ".join(m.descriptor for m in a.mesh_headings)
    return " ".join([a.title or "", a.abstract_text or "", mesh, " ".join(k.text for k in a.keywords)]).lower()


def mentions(a, pattern: str) -> bool:
    return re.search(pattern, text_of(a)) is not None


def is_notice(a) -> bool:
    return bool({p.name for p in a.publication_types} & NOTICE_TYPES) and not a.is_retracted


def every_id(engine, query, **kw) -> list[str]:
    return [h.doc_id for h in engine.search(query, k=1000, **kw).hits]


CANCER = r"cancer|carcinom|neoplas|tumou?r|malignan|oncolog|lymphoma|leuk(a)?emia|sarcoma|melanoma|metasta"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_words_no_record_has_find_nothing_and_say_so(learned, mode):
    r = learned.search("xyzzyqq", mode=mode)
    assert r.total == 0 and not r.hits
    assert any("xyzzyqq" in w for w in r.warnings)


def test_a_misspelled_word_gets_a_suggestion_from_the_collection(learned, real):
    r = learned.search("asthama children", mode="bm25")
    assert any("did you mean asthma" in w for w in r.warnings)
    assert r.did_you_mean == "asthma children"
    assert any(mentions(a, r"\basthma\b") for a in real.articles.values())


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_clinical_filter_narrows_the_query_and_adds_nothing(learned, real, mode):
    ids = every_id(learned, "cancer", filters=Filters(clinical="therapy/narrow"), mode=mode)
    therapy = set(every_id(learned, "all[sb]", filters=Filters(clinical="therapy/narrow")))
    assert ids and set(ids) <= therapy
    assert all(mentions(real.articles[d], CANCER) for d in ids), [
        real.articles[d].title for d in ids if not mentions(real.articles[d], CANCER)]


def test_systematic_reviews_of_type_2_diabetes_all_mention_diabetes(learned, real):
    ids = every_id(learned, "type 2 diabetes", filters=Filters(systematic_review=True))
    assert ids and all(mentions(real.articles[d], r"diabet") for d in ids)


def test_newest_first_lists_papers_about_the_query(learned, real):
    """bm25 mode here: with the fake embedder, hybrid's relevance side is not the real model's
    (tests/test_cli_result_set.py checks it with the packaged models)."""
    mode = "bm25"
    r = learned.search("asthma", k=10, sort="date", mode=mode)
    about = [d for d, a in real.articles.items() if mentions(a, r"\basthma") and not is_notice(a)]
    assert len(about) >= 5
    assert all(mentions(real.articles[h.doc_id], r"asthma") for h in r.hits)
    assert set(about) <= {h.doc_id for h in r.hits}
    assert r.total == len(about)


def test_notices_are_left_out_of_relevance_results_unless_asked(learned, real):
    q = "inhaled corticosteroids in children with asthma"
    hits = learned.search(q, k=10).hits
    assert hits and not any(is_notice(real.articles[h.doc_id]) for h in hits)
    plain = set(every_id(learned, "breast cancer"))
    asked = set(every_id(learned, "breast cancer", filters=Filters(include_notices=True)))
    noticed = {d for d in asked if is_notice(real.articles[d])}
    assert noticed and not any(is_notice(real.articles[d]) for d in plain)
    assert asked == plain | noticed  # asking for notices only adds them
    by_type = every_id(learned, "cancer AND retraction of publication[pt]")
    assert by_type and all(is_notice(real.articles[d]) for d in by_type)


def test_the_count_is_the_size_of_the_literature_on_the_question(learned, real):
    r = learned.search("metformin dosing in renal impairment", mode="bm25")
    metformin = [d for d, a in real.articles.items() if mentions(a, r"metformin") and not is_notice(a)]
    assert r.total <= len(metformin)
    assert all(mentions(real.articles[d], r"metformin") for d in every_id(
        learned, "metformin dosing in renal impairment", mode="bm25"))


def test_a_mesh_term_the_collection_lacks_names_the_headings_it_has(learned, real):
    r = learned.search("diabetes[mh] AND randomized controlled trial[pt]")
    assert r.total == 0
    counts = Counter(m.descriptor for a in real.articles.values() for m in a.mesh_headings
                     if "diabetes" in m.descriptor.lower())
    name, n = counts.most_common(1)[0]
    assert any(f"{name} ({n:,})" in w for w in r.warnings), r.warnings


def test_sorts_pages_facets_and_the_total_share_one_set(learned):
    q = "asthma children"
    total = learned.search(q).total
    assert learned.facets(q).total == total
    for sort in ("date", "author", "evidence"):
        r = learned.search(q, k=5, sort=sort)
        assert r.total == total
    everything = set(every_id(learned, q, sort="date"))
    assert len(everything) == total == len(learned.matching_ids(q))
    assert everything == set(learned.matching_ids(q))


def test_a_filter_only_ever_narrows_the_set(learned):
    q = "asthma children"
    base = learned.matching_ids(q)
    for f in (Filters(humans_only=True), Filters(year_from=2015), Filters(systematic_review=True),
              Filters(clinical="therapy/broad")):
        assert learned.matching_ids(q, filters=f) <= base


def test_a_query_of_clauses_only_is_the_exact_boolean_listing(learned, real):
    ids = every_id(learned, "asthma[mh] AND humans[mh]")
    wanted = {d for d, a in real.articles.items()
              if {"Asthma", "Humans"} <= {m.descriptor for m in a.mesh_headings}}
    assert set(ids) == wanted
