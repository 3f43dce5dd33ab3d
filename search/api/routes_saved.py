"""Saved searches: create, list, read, rename, delete, run (recording the run, as ``medsearch
saved run`` does), their runs, and their feed (``search/api/feeds.py``). The rules (names, caps,
what is new) are the library's (``search/library``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from search.api.access import Caller, reader, writer
from search.api.schemas import QueryRunModel, Rename, RunOut, SavedIn, SavedOut, filters_of

router = APIRouter(prefix="/saved", tags=["saved searches"])


def _lib(request: Request):
    return request.app.state.api.library


@router.get("", response_model=list[SavedOut], summary="Every saved search with its last run")
def all_saved(request: Request, caller: Caller = Depends(reader)) -> JSONResponse:
    return JSONResponse([s.to_json() for s in _lib(request).saved.all()])


@router.post("", response_model=SavedOut, status_code=201, summary="Save a search under a name")
def create(request: Request, body: SavedIn, caller: Caller = Depends(writer)) -> JSONResponse:
    from search.library import DEFAULT_K

    saved = _lib(request).saved.add(body.name, body.query, filters=filters_of(body.filters), mode=body.mode,
                                    k=body.k or DEFAULT_K)
    return JSONResponse(saved.to_json(), status_code=201)


@router.get("/{name}", response_model=SavedOut, summary="One saved search")
def one(request: Request, name: str, caller: Caller = Depends(reader)) -> JSONResponse:
    return JSONResponse(_lib(request).saved.get(name).to_json())


@router.patch("/{name}", response_model=SavedOut, summary="Rename a saved search")
def rename(request: Request, name: str, body: Rename, caller: Caller = Depends(writer)) -> JSONResponse:
    return JSONResponse(_lib(request).saved.rename(name, body.name).to_json())


@router.delete("/{name}", status_code=204, summary="Delete a saved search and its runs")
def delete(request: Request, name: str, caller: Caller = Depends(writer)) -> Response:
    _lib(request).saved.remove(name)
    return Response(status_code=204)


@router.post("/{name}/run", response_model=RunOut, summary="Run a saved search; mark what is new")
def run(request: Request, name: str, caller: Caller = Depends(writer)) -> JSONResponse:
    """Search now, record the run, and return its results with ``is_new`` on those that entered
    the result set since the last run (the first run is the baseline: nothing is new)."""
    from search.library import run_query

    lib, engine = _lib(request), request.app.state.api.engine
    return JSONResponse(run_query(lib.saved, lib.saved.get(name), engine).to_json())


@router.get("/{name}/runs", response_model=list[QueryRunModel], summary="Every run, newest first")
def runs(request: Request, name: str, caller: Caller = Depends(reader)) -> JSONResponse:
    return JSONResponse([r.to_json() for r in _lib(request).saved.runs(name)])


@router.get("/{name}/feed", summary="The saved search as an Atom (or RSS 2.0) feed",
            responses={200: {"content": {"application/atom+xml": {}, "application/rss+xml": {}},
                             "description": "New results since the last run first, then the others."}})
def feed(request: Request, name: str,
         format: str = Query("atom", pattern="^(atom|rss)$", description="atom (default) or rss"),
         caller: Caller = Depends(reader)) -> Response:
    """The saved search's results now, NEW ones (entered its result set since its last run)
    first. Reading the feed records no run, so a feed reader polling it never uses up what is
    new for ``POST /saved/{name}/run`` or ``medsearch saved run``."""
    from search.api.feeds import build_feed
    from search.library import preview_query

    lib, engine = _lib(request), request.app.state.api.engine
    outcome = preview_query(lib.saved, lib.saved.get(name), engine)
    body, media_type = build_feed(outcome, str(request.url), format)
    return Response(body, media_type=media_type)
