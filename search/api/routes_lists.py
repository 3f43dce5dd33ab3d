"""Citation lists: create, read (each paper's status in the current index), rename, delete, add
and remove papers, move a paper, set a note, and export (``?format=``, with the format's media
type and a file name). Every rule is the library's (``search/library``) and every format the
exporters' (``search/citations/export``)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from search.api.access import Caller, reader, writer
from search.api.problems import NotFoundError
from search.api.schemas import (
    AddedOut,
    ListIn,
    ListOut,
    ListViewOut,
    NoteIn,
    PapersIn,
    PositionIn,
    Rename,
)

router = APIRouter(prefix="/lists", tags=["citation lists"])
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _lib(request: Request):
    return request.app.state.api.library


def _view(request: Request, name: str) -> JSONResponse:
    from search.library import list_view

    return JSONResponse(list_view(_lib(request).lists, name, request.app.state.api.engine).to_json())


@router.get("", response_model=list[ListOut], summary="Every list and its size")
def all_lists(request: Request, caller: Caller = Depends(reader)) -> JSONResponse:
    return JSONResponse([lst.to_json() for lst in _lib(request).lists.all()])


@router.post("", response_model=ListOut, status_code=201, summary="Create an empty list")
def create(request: Request, body: ListIn, caller: Caller = Depends(writer)) -> JSONResponse:
    return JSONResponse(_lib(request).lists.create(body.name).to_json(), status_code=201)


@router.get("/{name}", response_model=ListViewOut, summary="A list's papers, in order, with their status")
def one(request: Request, name: str, caller: Caller = Depends(reader)) -> JSONResponse:
    """Each paper with its note and its status in the current index: ``ok``, ``retracted`` or
    ``missing`` (not in the index: a list keeps a PMID whatever happens to its record)."""
    return _view(request, name)


@router.patch("/{name}", response_model=ListOut, summary="Rename a list")
def rename(request: Request, name: str, body: Rename, caller: Caller = Depends(writer)) -> JSONResponse:
    return JSONResponse(_lib(request).lists.rename(name, body.name).to_json())


@router.delete("/{name}", status_code=204, summary="Delete a list")
def delete(request: Request, name: str,
           force: bool = Query(False, description="Delete a list that holds papers (else 422)."),
           caller: Caller = Depends(writer)) -> Response:
    _lib(request).lists.delete(name, even_if_not_empty=force)
    return Response(status_code=204)


@router.post("/{name}/papers", response_model=AddedOut, summary="Add papers at the end of a list")
def add(request: Request, name: str, body: PapersIn, caller: Caller = Depends(writer)) -> JSONResponse:
    report = _lib(request).lists.add(name, body.pmids, note=body.note, create=body.create)
    return JSONResponse({"added": list(report.added), "already": list(report.already)})


@router.delete("/{name}/papers/{pmid}", response_model=ListViewOut, summary="Remove a paper from a list")
def remove(request: Request, name: str, pmid: str, caller: Caller = Depends(writer)) -> JSONResponse:
    _lib(request).lists.remove(name, [pmid])
    return _view(request, name)


@router.put("/{name}/papers/{pmid}/position", response_model=ListViewOut, summary="Move a paper in its list")
def move(request: Request, name: str, pmid: str, body: PositionIn, caller: Caller = Depends(writer)) -> JSONResponse:
    _lib(request).lists.move(name, pmid, body.position)
    return _view(request, name)


@router.put("/{name}/papers/{pmid}/note", response_model=ListViewOut, summary="Set the note of a paper")
def note(request: Request, name: str, pmid: str, body: NoteIn, caller: Caller = Depends(writer)) -> JSONResponse:
    lists = _lib(request).lists
    _, entries = lists.entries(name)
    if pmid.strip() not in {e.pmid for e in entries}:
        raise NotFoundError(f"PMID {pmid!r} is not in the list {name!r}.",
                            hint="Add it first: POST /lists/{name}/papers.")
    lists.add(name, [pmid], note=body.note)
    return _view(request, name)


def file_name(name: str, extension: str) -> str:
    """A list's name as a safe file name (letters, digits, . _ -), with the format's extension."""
    stem = _UNSAFE.sub("-", name).strip("-.") or "list"
    return f"{stem[:80]}{extension}"


@router.get("/{name}/export", summary="Export a list as RIS, BibTeX, MEDLINE, CSL-JSON, CSV or references",
            responses={200: {"description": "The file, with the format's media type; papers not in the index "
                             "are left out and named in the X-Medsearch-Missing header."}})
def export(request: Request, name: str,
           format: str = Query(description="ris, bibtex, medline, csljson, csv, vancouver, ama "
                               "(vancouver-html, ama-html)."),
           caller: Caller = Depends(reader)) -> Response:
    from search.citations.export import get_format
    from search.library.views import export_papers

    chosen = get_format(format)  # an unknown format is a 422 naming the valid ones, before any work
    lst, entries = _lib(request).lists.entries(name)
    notes = {e.pmid: e.note for e in entries if e.note}
    result = export_papers([e.pmid for e in entries], request.app.state.api.engine, chosen.name, None, notes)
    headers = {"Content-Disposition": f'attachment; filename="{file_name(lst.name, chosen.extension)}"'}
    if result.missing:  # the count, and the first 100 PMIDs (a header must stay small)
        headers["X-Medsearch-Missing-Count"] = str(len(result.missing))
        headers["X-Medsearch-Missing"] = ",".join(result.missing[:100])
    charset = "utf-8" if chosen.encoding.startswith("utf-8") else chosen.encoding
    return Response(chosen.encode(result.text), media_type=f"{chosen.mime}; charset={charset}", headers=headers)
