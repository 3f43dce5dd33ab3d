"""Query-string parameters shared by the endpoints that search: the filters of ``GET /search``
(the CLI's filter flags, by the same names), turned into the engine's :class:`Filters`, which
checks them (an impossible year range, an unknown Clinical Queries filter: a ConfigError, 422)."""

from __future__ import annotations

from fastapi import Query

from search.types import AGE_GROUPS, Filters

Many = list[str]
_AGES = "MeSH age group, repeatable: " + ", ".join(AGE_GROUPS) + "."


def filters(
    year_from: int | None = Query(None, description="Only records published in or after this year."),
    year_to: int | None = Query(None, description="Only records published in or before this year."),
    type: Many = Query([], description='Publication type, repeatable (OR), e.g. "Randomized Controlled '
                       'Trial", rct, guideline, meta-analysis, review.'),
    journal: Many = Query([], description="Journal title or ISO abbreviation, repeatable."),
    language: Many = Query([], description="Language code, e.g. eng, repeatable."),
    mesh: Many = Query([], description="MeSH descriptor, repeatable."),
    has_abstract: bool = Query(False, description="Only records with an abstract."),
    clinical: str | None = Query(None, description="A Clinical Queries filter, CATEGORY/SCOPE, e.g. therapy/narrow."),
    systematic_review: bool = Query(False, description="Only systematic reviews (PubMed's filter)."),
    humans: bool = Query(False, description="Leave out animal-only studies."),
    age: Many = Query([], description=_AGES),
    free_full_text: bool = Query(False, description="Only records with a PMCID."),
    include_notices: bool = Query(False, description="List retraction notices, errata and expressions of concern too."),
) -> Filters:
    return Filters(
        year_from=year_from, year_to=year_to, publication_types=tuple(type), journals=tuple(journal),
        languages=tuple(language), mesh_terms=tuple(mesh), has_abstract=True if has_abstract else None,
        clinical=clinical, systematic_review=systematic_review, humans_only=humans, ages=tuple(age),
        free_full_text=free_full_text, include_notices=include_notices,
    )
