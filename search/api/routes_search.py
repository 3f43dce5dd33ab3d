"""``GET /search``, ``GET /records/{pmid}``, ``GET /records/{pmid}/similar``: the engine's own
results, as ``medsearch search --json`` prints them. Every check (the caps, the syntax, the
filters) is the engine's; its error becomes the problem+json body."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from search.api.access import Caller, reader
from search.api.params import filters
from search.api.problems import NotFoundError
from search.api.schemas import MODE, SORT, HitModel, SearchResponse, SimilarResponse
from search.types import Filters, Hit

router = APIRouter(tags=["search"])
PMID = Path(description="A PubMed id (or another doc id of the index).", max_length=64)


def _engine(request: Request):
    return request.app.state.api.engine


def _shown(hit: Hit, *, highlights: bool, explain: bool) -> dict[str, Any]:
    """A hit as JSON; what was not asked for is empty, never missing (one shape)."""
    if not highlights:
        hit = replace(hit, highlights=())
    if not explain:
        hit = replace(hit, matched_terms=())
    return hit.to_json()


@router.get("/search", response_model=SearchResponse, summary="Search with PubMed syntax and filters")
def search(
    request: Request,
    q: str = Query(description='The question, keywords or PubMed query, e.g. "metformin AND '
                   'randomized controlled trial[pt]".'),
    mode: MODE | None = Query(None, description="Retrieval mode (default: the server's)."),
    sort: SORT = Query("relevance"),
    k: int = Query(10, description="Results to return (the engine's cap applies: 422 beyond it)."),
    offset: int = Query(0, description="Results to skip first: k=10&offset=10 is the second page."),
    facets: bool = Query(False, description="Also count the matches by type, year, journal, language."),
    explain: bool = Query(False, description="Each hit's matched terms with their BM25 share, and how the "
                          "query was read."),
    highlights: bool = Query(True, description="The spans of the query's words in each title and abstract."),
    chosen: Filters = Depends(filters),
    caller: Caller = Depends(reader),
) -> JSONResponse:
    engine = _engine(request)
    results = engine.search(q, k=k, offset=offset, filters=chosen, mode=mode, sort=sort)
    data = results.to_json()
    data["hits"] = [_shown(h, highlights=highlights, explain=explain) for h in results.hits]
    data["facets"] = engine.facets(q, filters=chosen, mode=mode).to_json() if facets else None
    data["explanation"] = _explanation(q, chosen) if explain else None
    return JSONResponse(data)


def _explanation(query: str, chosen: Filters) -> str:
    from search.cli.search_output import query_explanation

    return query_explanation(query, chosen)


def find_record(engine, pmid: str) -> str:
    """The doc id of ``pmid`` in the current snapshot, or a 404 that says how to get it."""
    key = pmid.strip()
    doc_id = engine.snapshot.records.find(key) if key else None
    if doc_id is None:
        raise NotFoundError(f"PMID {key!r} is not in the search index.",
                            hint=f'Check the number, or fetch it: medsearch ingest pubmed "{key}[pmid]", '
                            "then medsearch index.")
    return doc_id


@router.get("/records/{pmid}", response_model=HitModel, summary="A record's full card")
def record(request: Request, pmid: str = PMID, caller: Caller = Depends(reader)) -> JSONResponse:
    """The result card of one record: authors, journal, dates, identifiers, publication types,
    MeSH terms, the labelled abstract, its evidence level, and its links (retraction notices in
    ``retracted_by``, errata in ``errata``, every link in ``links``)."""
    engine = _engine(request)
    cards = engine.cards_of([find_record(engine, pmid)])
    if not cards:  # a new snapshot between the two reads that lacks it
        raise NotFoundError(f"PMID {pmid!r} is not in the search index.", hint="Run `medsearch index`.")
    return JSONResponse(cards[0].to_json())


@router.get("/records/{pmid}/similar", response_model=SimilarResponse, summary="Records similar to one paper")
def similar(request: Request, pmid: str = PMID, k: int = Query(10, description="How many (the engine's cap applies)."),
            chosen: Filters = Depends(filters), caller: Caller = Depends(reader)) -> JSONResponse:
    engine = _engine(request)
    find_record(engine, pmid)
    return JSONResponse(engine.similar(pmid, k=k, filters=chosen,
                                       include_notices=chosen.include_notices).to_json())
