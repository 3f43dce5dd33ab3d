"""``GET /health`` (the process answers) and ``GET /status`` (records, snapshot, whether the
index is behind the store, the writer at work if one is)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from search.api.access import Caller, reader
from search.api.schemas import Health, StatusResponse

router = APIRouter(tags=["status"])


@router.get("/health", response_model=Health, summary="Whether the server answers (no key, no rate limit)")
def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


def models_in_use(api) -> dict[str, str]:
    s, engine, model = api.settings, api.engine, api.summarizer.model
    embedder = "off (BM25 only)" if s.embedding_model.lower() == "none" else f"{s.embedding_model} ({s.embedding_backend})"
    if model is None:
        writer = f"none: extractive summaries ({api.summarizer.unavailable})"
    elif model.destination:
        writer = f"{model.name} at {model.destination} (external)"
    else:
        writer = f"{model.name} (on this machine)"
    return {"embeddings": embedder, "reranker": "off" if engine.reranker is None else s.reranker,
            "summaries": writer}


@router.get("/status", response_model=StatusResponse, summary="The index snapshot and the store's freshness")
def status(request: Request, caller: Caller = Depends(reader)) -> JSONResponse:
    """The snapshot that answers searches now, its record count, whether it is behind the store
    (``index.fresh``, with the reasons), and the writer (``ingest``, ``update``, ``index``) at work
    if one is. The server reads snapshots only, so it keeps answering while a writer runs, and
    switches to a new snapshot by itself once ``medsearch index`` publishes it."""
    from importlib.metadata import version

    api = request.app.state.api
    snap = api.engine.snapshot
    return JSONResponse({"records": len(snap.doc_ids), "snapshot": snap.name, "index": api.engine.status().to_json(),
                         "mode": api.engine.config.mode, "models": models_in_use(api),
                         "version": version("medsearch")})
