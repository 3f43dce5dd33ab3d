"""PubMed's Clinical Queries and other evidence filters, as query-syntax strings with sources.

Each filter is the published search string, verbatim, parsed by :mod:`search.query.syntax` and
evaluated by :mod:`search.query.restrict` like any query. Where the local evaluation differs
from PubMed's (no MeSH explosion, no automatic term mapping) ``docs/query-syntax.md``
says how.

    clinical_filter("therapy", "narrow")      # -> Node
    named_filter("age/aged").node             # -> Node
    FILTER_NAMES                              # the values of the CLI's --clinical
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ingest.errors import ConfigError
from search.query.syntax import Node, parse_restriction

#: PubMed Help, "Clinical Queries filters" table (Haynes RB, Wilczynski NL et al., McMaster
#: University Health Information Research Unit; strategies as revised in 2011).
CLINICAL_QUERIES_SOURCE = (
    "https://pubmed.ncbi.nlm.nih.gov/help/#clinical-queries-filters "
    "(earlier: https://www.ncbi.nlm.nih.gov/books/NBK3827/#pubmedhelp.Clinical_Queries_Filters)"
)
#: NLM, "Search Strategy Used to Create the PubMed Systematic Reviews Filter", updated
#: February 2019 (NLM Tech Bull. 2019 Mar-Apr;(427):b6).
SYSTEMATIC_SOURCE = (
    "https://www.nlm.nih.gov/bsd/pubmed_subsets/sysreviews_strategy.html "
    "(announced: https://www.nlm.nih.gov/pubs/techbull/ma19/brief/ma19_systematic_review.html)"
)
#: Cochrane Handbook, Technical Supplement to Chapter 4 (searching), the humans-only line of
#: the Cochrane Highly Sensitive Search Strategies for PubMed.
HUMANS_SOURCE = "https://training.cochrane.org/handbook/current/chapter-04-technical-supplement-searching-and-selecting-studies"
#: PubMed Help, "Filters": the age filters search MeSH check tags.
AGE_SOURCE = "https://pubmed.ncbi.nlm.nih.gov/help/#filters"
#: PubMed Help, "Filters": free full text; PMC copies are free to read.
FULL_TEXT_SOURCE = "https://pubmed.ncbi.nlm.nih.gov/help/#filters"


@dataclass(frozen=True, slots=True)
class FilterDef:
    """A named filter: its query string, where the string comes from, and how it is applied."""

    name: str
    title: str
    query: str
    source: str
    note: str = ""

    @property
    def node(self) -> Node:
        return _parsed(self.query)


@cache
def _parsed(query: str) -> Node:
    return parse_restriction(query)


_CQ = {
    ("therapy", "broad"): "((clinical[Title/Abstract] AND trial[Title/Abstract]) OR clinical trials as topic[MeSH Terms] OR clinical trial[Publication Type] OR random*[Title/Abstract] OR random allocation[MeSH Terms] OR therapeutic use[MeSH Subheading])",
    ("therapy", "narrow"): "(randomized controlled trial[Publication Type] OR (randomized[Title/Abstract] AND controlled[Title/Abstract] AND trial[Title/Abstract]))",
    ("diagnosis", "broad"): "(sensitiv*[Title/Abstract] OR sensitivity and specificity[MeSH Terms] OR diagnose[Title/Abstract] OR diagnosed[Title/Abstract] OR diagnoses[Title/Abstract] OR diagnosing[Title/Abstract] OR diagnosis[Title/Abstract] OR diagnostic[Title/Abstract] OR diagnosis[MeSH:noexp] OR diagnostic * [MeSH:noexp] OR diagnosis,differential[MeSH:noexp] OR diagnosis[Subheading:noexp])",
    ("diagnosis", "narrow"): "(specificity[Title/Abstract])",
    ("etiology", "broad"): "(risk*[Title/Abstract] OR risk*[MeSH:noexp] OR risk *[MeSH:noexp] OR cohort studies[MeSH Terms] OR group[Text Word] OR groups[Text Word] OR grouped [Text Word])",
    ("etiology", "narrow"): "((relative[Title/Abstract] AND risk*[Title/Abstract]) OR (relative risk[Text Word]) OR risks[Text Word] OR cohort studies[MeSH:noexp] OR (cohort[Title/Abstract] AND study[Title/Abstract]) OR (cohort[Title/Abstract] AND studies[Title/Abstract]))",
    ("prognosis", "broad"): "(incidence[MeSH:noexp] OR mortality[MeSH Terms] OR follow up studies[MeSH:noexp] OR prognos*[Text Word] OR predict*[Text Word] OR course*[Text Word])",
    ("prognosis", "narrow"): "(prognos*[Title/Abstract] OR (first[Title/Abstract] AND episode[Title/Abstract]) OR cohort[Title/Abstract])",
    ("prediction", "broad"): "(predict*[tiab] OR predictive value of tests[mh] OR score[tiab] OR scores[tiab] OR scoring system[tiab] OR scoring systems[tiab] OR observ*[tiab] OR observer variation[mh])",
    ("prediction", "narrow"): "(validation[tiab] OR validate[tiab])",
}  # fmt: skip
CATEGORY_TITLES = {
    "therapy": "Therapy",
    "diagnosis": "Diagnosis",
    "etiology": "Etiology",
    "prognosis": "Prognosis",
    "prediction": "Clinical prediction guides",
}
CATEGORY_ALIASES = {"clinical prediction guides": "prediction", "prediction guides": "prediction",
                    "cpg": "prediction", "aetiology": "etiology", "treatment": "therapy"}
SCOPES = {"broad": "sensitive", "narrow": "specific"}

SYSTEMATIC_REVIEW = FilterDef(
    "systematic-review",
    "Systematic reviews (PubMed's systematic[sb])",
    "(((systematic review[ti] OR systematic literature review[ti] OR systematic scoping review[ti] OR systematic narrative review[ti] OR systematic qualitative review[ti] OR systematic evidence review[ti] OR systematic quantitative review[ti] OR systematic meta-review[ti] OR systematic critical review[ti] OR systematic mixed studies review[ti] OR systematic mapping review[ti] OR systematic cochrane review[ti] OR systematic search and review[ti] OR systematic integrative review[ti]) NOT comment[pt] NOT (protocol[ti] OR protocols[ti])) NOT MEDLINE [subset]) OR (Cochrane Database Syst Rev[ta] AND review[pt]) OR systematic review[pt]",
    SYSTEMATIC_SOURCE,
)  # fmt: skip

HUMANS = FilterDef(
    "humans",
    "Humans (not animal-only studies)",
    "all[sb] NOT (animals[mh] NOT humans[mh])",
    HUMANS_SOURCE,
    "published as the line 'NOT (animals [mh] NOT humans [mh])' to append to a search; "
    "'all[sb]' stands for that search. Records without MeSH (not yet indexed) pass.",
)

#: PubMed's age filters search the check tag with its narrower descriptors (MeSH
#: explosion); the store has no MeSH tree, so the narrower check tags are written out.
_AGES = (
    ("infant", "Infant: birth-23 months", "infant[mh] OR infant, newborn[mh]"),
    ("preschool-child", "Preschool child: 2-5 years", "child, preschool[mh]"),
    ("child", "Child: 6-12 years", "child[mh:noexp]"),
    ("adolescent", "Adolescent: 13-18 years", "adolescent[mh]"),
    ("young-adult", "Young adult: 19-24 years", "young adult[mh]"),
    ("adult", "Adult: 19+ years",
     "adult[mh] OR young adult[mh] OR middle aged[mh] OR aged[mh] OR aged, 80 and over[mh] OR frail elderly[mh]"),
    ("middle-aged", "Middle aged: 45-64 years", "middle aged[mh]"),
    ("aged", "Aged: 65+ years", "aged[mh] OR aged, 80 and over[mh] OR frail elderly[mh]"),
    ("80-and-over", "80 and over: 80+ years", "aged, 80 and over[mh]"),
)  # fmt: skip
AGE_FILTERS = tuple(
    FilterDef(f"age/{key}", title, query, AGE_SOURCE,
              "MeSH check tags; narrower descriptors written out (no MeSH tree locally)")
    for key, title, query in _AGES
)

FREE_FULL_TEXT = FilterDef(
    "free-full-text",
    "Free full text (has a PMCID)",
    "pubmed pmc[sb]",
    FULL_TEXT_SOURCE,
    "PubMed's free full text filter also counts free publisher copies, which a record does "
    "not carry: locally it is 'has a PMCID'.",
)


def _clinical_defs() -> tuple[FilterDef, ...]:
    return tuple(
        FilterDef(f"{cat}/{scope}", f"{CATEGORY_TITLES[cat]}, {scope} ({SCOPES[scope]})",
                  query, CLINICAL_QUERIES_SOURCE)
        for (cat, scope), query in _CQ.items()
    )


FILTERS: dict[str, FilterDef] = {
    f.name: f for f in (*_clinical_defs(), SYSTEMATIC_REVIEW, HUMANS, *AGE_FILTERS, FREE_FULL_TEXT)
}
#: Every valid filter name, e.g. for the CLI's ``--clinical therapy/narrow``.
FILTER_NAMES: tuple[str, ...] = tuple(FILTERS)
CLINICAL_NAMES: tuple[str, ...] = tuple(f"{c}/{s}" for c, s in _CQ)


def named_filter(name: str) -> FilterDef:
    """The filter called ``name`` (case-insensitive; a bare category means its broad scope)."""
    key = " ".join(name.strip().lower().replace("_", "-").split())
    cat, _, scope = key.partition("/")
    cat = CATEGORY_ALIASES.get(cat, cat)
    if cat in CATEGORY_TITLES:
        key = f"{cat}/{scope or 'broad'}"
    if key in ("systematic", "systematic review", "systematic-reviews"):
        key = "systematic-review"
    found = FILTERS.get(key)
    if found is None:
        raise ConfigError(
            f"Unknown filter {name!r}.",
            hint="Use one of: " + ", ".join(FILTER_NAMES) + ".",
        )
    return found


def clinical_filter(category: str, scope: str = "broad") -> Node:
    """The Clinical Queries filter for ``category`` (therapy, diagnosis, etiology, prognosis,
    prediction) in ``scope`` (broad = sensitive, narrow = specific), as a query tree."""
    cat = CATEGORY_ALIASES.get(category.strip().lower(), category.strip().lower())
    sc = scope.strip().lower()
    if (cat, sc) not in _CQ:
        raise ConfigError(
            f"Unknown clinical query {category!r}/{scope!r}.",
            hint="Categories: " + ", ".join(CATEGORY_TITLES) + "; scopes: broad, narrow "
            "(e.g. therapy/narrow).",
        )
    return FILTERS[f"{cat}/{sc}"].node
