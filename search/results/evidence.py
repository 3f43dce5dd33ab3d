"""Evidence levels: a documented ordering of study designs, read from publication types and MeSH.

Each record gets the *best* level any of its publication types (or study-design MeSH
headings) reaches; :class:`search.types.Evidence` carries the level, its label and the
values it came from, so a result card can show a badge and say why. The engine never
re-ranks by it silently: it is shown on every hit, and used as an order only when asked
(``sort="evidence"``: evidence level first, relevance inside a level).

The ordering is the usual evidence pyramid for questions of therapy (Oxford CEBM Levels
of Evidence 2011, https://www.cebm.ox.ac.uk/resources/levels-of-evidence/ocebm-levels-of-evidence;
the GRADE starting points, https://www.gradeworkinggroup.org/), cut where PubMed's
publication types can tell designs apart:

====  ===========================================  ============================================
1     Guideline, systematic review, meta-analysis  Practice Guideline, Guideline, Consensus
                                                   Development Conference (NIH), Systematic
                                                   Review, Meta-Analysis, Network Meta-Analysis
2     Randomized controlled trial                  Randomized Controlled Trial, Equivalence Trial
3     Other clinical trial                         Clinical Trial (phases I-IV), Controlled
                                                   Clinical Trial, Pragmatic Clinical Trial,
                                                   Adaptive Clinical Trial
4     Observational study (cohort, case-control)   Observational Study, Twin Study; MeSH Cohort /
                                                   Case-Control / Prospective / Retrospective /
                                                   Longitudinal / Follow-Up / Cross-Sectional
                                                   Studies
5     Case report                                  Case Reports
6     Other or unclassified                        everything else: Journal Article, Review
                                                   (narrative), basic research ...
7     Editorial, letter, comment, notice           Editorial, Letter, Comment, News, Interview,
                                                   Retraction of Publication, Published Erratum
====  ===========================================  ============================================

Two facts override the designs, so that the badge agrees with the filters:

- A record that PubMed's systematic review filter (``systematic[sb]``, the filter of
  ``--systematic-review``) matches is level 1 even when PubMed types it only "Review" (the
  filter also reads the title and the journal: a Cochrane review is typed "Review").
- A retracted paper (``RetractionIn``, or the type "Retracted Publication") is level 8,
  *Retracted*, whatever its design: it is no evidence, and sorts after everything else.

MeSH "... as Topic" headings (e.g. *Randomized Controlled Trials as Topic*) describe what
a paper is *about*, not its design, and give no level; nor do types that qualify any design
(Comparative Study, Multicenter Study, Validation Study) or announce one (Clinical Trial
Protocol). Level 6 sits below case reports and
above opinion pieces: a record PubMed has not typed may be anything from a cohort study
indexed late to bench research.
"""

from __future__ import annotations

from collections.abc import Iterable

from search.types import Evidence, EvidenceSource

UNCLASSIFIED = 6
#: The level of a record the systematic review filter matches, and of a retracted paper.
SYSTEMATIC = 1
RETRACTED = 8

#: level -> label shown on a badge.
LABELS = {
    1: "Guideline / systematic review / meta-analysis",
    2: "Randomized controlled trial",
    3: "Other clinical trial",
    4: "Observational study",
    5: "Case report",
    6: "Other / unclassified",
    7: "Editorial, letter, comment or notice",
    8: "Retracted publication",
}

#: Publication type (lower case) -> level.
PUBLICATION_TYPE_LEVELS: dict[str, int] = {
    **dict.fromkeys(
        ("practice guideline", "guideline", "consensus development conference",
         "consensus development conference, nih", "systematic review", "meta-analysis",
         "network meta-analysis"), 1),
    **dict.fromkeys(("randomized controlled trial", "equivalence trial"), 2),
    **dict.fromkeys(
        ("clinical trial", "clinical trial, phase i", "clinical trial, phase ii",
         "clinical trial, phase iii", "clinical trial, phase iv", "controlled clinical trial",
         "pragmatic clinical trial", "adaptive clinical trial"), 3),
    **dict.fromkeys(("observational study", "twin study"), 4),
    "case reports": 5,
    **dict.fromkeys(
        ("editorial", "letter", "comment", "news", "newspaper article", "interview",
         "retraction of publication", "published erratum", "expression of concern"), 7),
}  # fmt: skip

#: MeSH descriptor (lower case) of a study design -> level.
MESH_LEVELS: dict[str, int] = dict.fromkeys(
    ("cohort studies", "case-control studies", "prospective studies", "retrospective studies",
     "longitudinal studies", "follow-up studies", "cross-sectional studies"), 4,
)


def evidence_of(publication_types: Iterable[str], mesh_terms: Iterable[str] = (), *,
                systematic: bool = False, retracted: bool = False) -> Evidence:
    """The best level that ``publication_types`` or study-design ``mesh_terms`` reach;
    ``systematic``: the systematic review filter matches the record (level 1);
    ``retracted``: the paper is retracted (level 8, whatever else it is).

    Level 7 (opinion, notices) counts only when nothing better is present: a trial
    published with a comment attached is still a trial.
    """
    if retracted:
        return Evidence(RETRACTED, LABELS[RETRACTED], (EvidenceSource("retraction", "retracted"),))
    found: dict[int, list[EvidenceSource]] = {}
    if systematic:
        found[SYSTEMATIC] = [EvidenceSource("filter", "PubMed systematic review filter")]
    for name in publication_types:
        level = PUBLICATION_TYPE_LEVELS.get(name.strip().lower())
        if level is not None:
            found.setdefault(level, []).append(EvidenceSource("publication_type", name))
    for name in mesh_terms:
        level = MESH_LEVELS.get(name.strip().lower())
        if level is not None:
            found.setdefault(level, []).append(EvidenceSource("mesh", name))
    if not found:
        return Evidence(UNCLASSIFIED, LABELS[UNCLASSIFIED])
    best = min(found)
    return Evidence(best, LABELS[best], tuple(found[best]))
