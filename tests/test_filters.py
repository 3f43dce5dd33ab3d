"""Filter helpers of the engine that need no index."""

from __future__ import annotations


def test_publication_type_aliases_expand():
    from search.engine import expand_types

    assert expand_types(["guideline"]) == ("Guideline", "Practice Guideline")
    assert expand_types(["RCT", "Randomized Controlled Trial"]) == ("Randomized Controlled Trial",)
    assert expand_types(["Letter"]) == ("Letter",)


# -- evidence levels (search/results/evidence.py), on hand-made type lists ------------------------------


def test_the_best_design_gives_the_level_and_names_its_sources():
    from search.results.evidence import evidence_of

    e = evidence_of(["Journal Article", "Randomized Controlled Trial", "Comment", "Clinical Trial, Phase III"],
                    ["Humans", "Prospective Studies"])
    assert (e.level, e.label) == (2, "Randomized controlled trial")
    assert [(s.field, s.value) for s in e.sources] == [("publication_type", "Randomized Controlled Trial")]
    both = evidence_of(["Meta-Analysis", "Systematic Review"])
    assert both.level == 1 and [s.value for s in both.sources] == ["Meta-Analysis", "Systematic Review"]


def test_topics_and_design_qualifiers_give_no_level():
    from search.results.evidence import UNCLASSIFIED, evidence_of

    e = evidence_of(["Journal Article", "Comparative Study", "Multicenter Study"],
                    ["Randomized Controlled Trials as Topic", "Cohort Studies as Topic"])
    assert e.level == UNCLASSIFIED and e.sources == ()
    assert evidence_of([], ["Case-Control Studies"]).level == 4


def test_opinion_and_notices_rank_below_unclassified_records():
    from search.results.evidence import UNCLASSIFIED, evidence_of

    assert evidence_of(["Letter"]).level == 7 > UNCLASSIFIED
    assert evidence_of(["Retraction of Publication"]).level == 7
    assert evidence_of(["Case Reports", "Letter"]).level == 5
    assert evidence_of(["randomized controlled trial"]).level == 2  # case is ignored
