"""Evidence levels agree with the filters (search/results/evidence.py): a record that PubMed's
systematic review filter matches is level 1 even when typed only "Review"; a retracted paper is
level 8 "Retracted publication". The records below were checked by hand in the demo data."""

from __future__ import annotations

import pytest

from search.results.evidence import LABELS, evidence_of
from search.types import Filters

#: PubMed-not-MEDLINE records typed Journal Article + Review whose titles say "systematic
#: review": the filter's first clause ("systematic review[ti] ... NOT MEDLINE[subset]") takes them.
REVIEWS_BY_THE_FILTER = ("26702238", "26702254")
#: The two demo records typed "Retracted Publication" (they also carry the notice's type).
RETRACTED = ("17047255", "16782903")


def hits_of(engine, pmids):
    r = engine.search(" OR ".join(f"{p}[pmid]" for p in pmids), k=20)
    return {h.doc_id: h for h in r.hits}


def test_a_review_the_systematic_review_filter_matches_is_level_1(engine, real):
    for pmid in REVIEWS_BY_THE_FILTER:
        types = {p.name for p in real.articles[pmid].publication_types}
        assert types == {"Journal Article", "Review"} and real.articles[pmid].status == "PubMed-not-MEDLINE"
    sr = {h.doc_id for h in engine.search("all[sb]", k=1000, filters=Filters(systematic_review=True)).hits}
    assert set(REVIEWS_BY_THE_FILTER) <= sr
    for pmid, h in hits_of(engine, REVIEWS_BY_THE_FILTER).items():
        assert h.evidence.level == 1, pmid
        assert ("filter", "PubMed systematic review filter") in {(s.field, s.value) for s in h.evidence.sources}


def test_a_retracted_paper_is_labelled_retracted_whatever_its_types(engine, real):
    for pmid in RETRACTED:
        assert real.articles[pmid].is_retracted
    for pmid, h in hits_of(engine, RETRACTED).items():
        assert (h.evidence.level, h.evidence.label) == (8, "Retracted publication"), pmid
    cols = engine.snapshot.records.columns()
    rows = engine.snapshot.rows_of()
    assert all(int(cols.level[rows[p]]) == 8 for p in RETRACTED)
    assert not any(cols.notice[rows[p]] for p in RETRACTED)  # the paper itself: never hidden as a notice


def test_the_evidence_sort_puts_retracted_papers_last(engine):
    r = engine.search("collagen", k=200, sort="evidence", mode="bm25")
    levels = [h.evidence.level for h in r.hits]
    assert levels == sorted(levels) and 8 in levels


@pytest.mark.parametrize(("types", "systematic", "retracted", "level"), [
    (("Review",), True, False, 1), (("Review",), False, False, 6),
    (("Randomized Controlled Trial",), True, False, 1), (("Randomized Controlled Trial",), False, True, 8),
    (("Letter", "Retraction of Publication"), False, False, 7),
])
def test_evidence_of_applies_the_filter_and_the_retraction(types, systematic, retracted, level):
    ev = evidence_of(types, systematic=systematic, retracted=retracted)
    assert (ev.level, ev.label) == (level, LABELS[level])
