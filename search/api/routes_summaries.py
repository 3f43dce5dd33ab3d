"""``POST /summaries`` (a summary, streamed as server-sent events when asked) and
``GET /summaries`` (the cached summary of the same request, when one exists).

The papers are chosen as ``medsearch summarize`` chooses them (the top ``n`` results of the
query, or the PMIDs given; one PMID alone: its TL;DR), and the summariser, its checks, its
cache and its labels are the CLI's and the app's. Writing one may run a model: it needs an API
key, and a key writes one summary at a time. Reading the cache runs nothing: no key needed
where reads are open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from ingest.errors import ConfigError
from search.api.access import Caller, reader, writer
from search.api.params import filters
from search.api.problems import NotFoundError
from search.api.schemas import MODE, SummaryIn, SummaryOut, filters_of
from search.api.streaming import MEDIA_TYPE, stream_events
from search.llm.base import LLMError
from search.types import Filters

router = APIRouter(tags=["summaries"])


def _papers(api, query: str, pmids: list[str], n: int | None, chosen: Filters, mode: str | None):
    """(kind, papers) the request asks for; a PMID the index lacks is a 404."""
    from search.api.routes_search import find_record
    from search.summarize import papers_by_id, papers_from_search

    if pmids:
        ids = [find_record(api.engine, p) for p in pmids]
        papers = papers_by_id(api.engine, ids)
        if len(papers) == 1 and not query.strip():
            return "tldr", papers
        if not query.strip():
            raise ConfigError("An overview of several papers needs the question it answers.",
                              hint='Give "query" as well as "pmids" (one PMID alone gets its TL;DR).')
        return "overview", papers
    if not query.strip():
        raise ConfigError("The query is empty.", hint='Give "query" (a clinical question) or "pmids".')
    return "overview", papers_from_search(api.engine, query, n=n or api.summary_papers, filters=chosen, mode=mode)


def _events(summarizer, kind: str, query: str, papers) -> Iterator[Any]:
    if kind == "tldr":
        return summarizer.stream_tldr(query, papers[0])
    return summarizer.stream_overview(query, papers)


def _last(events: Iterator[Any]) -> dict[str, Any]:
    from search.summarize import SummaryReady

    summary = None
    for event in events:
        if isinstance(event, SummaryReady):
            summary = event.summary
    assert summary is not None  # the stream always ends with it
    return summary.to_json()


@router.post("/summaries", response_model=SummaryOut, summary="Write a cited summary (JSON or a stream)",
             responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The summary; with `Accept: "
                              "text/event-stream`, events: finding, sentence, summary (or error)."}})
async def write_summary(request: Request, body: SummaryIn, caller: Caller = Depends(writer)):
    api = request.app.state.api
    chosen = filters_of(body.filters)
    kind, papers = await run_in_threadpool(_papers, api, body.query, body.pmids, body.n, chosen, body.mode)
    api.access.take_summary_slot(caller)
    released = False

    def done() -> None:
        nonlocal released
        if not released:
            released = True
            api.access.release_summary_slot(caller)

    if MEDIA_TYPE in request.headers.get("accept", ""):
        stream = stream_events(lambda: _events(api.summarizer, kind, body.query, papers), done=done)
        return StreamingResponse(stream, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    try:
        return JSONResponse(await run_in_threadpool(lambda: _last(_events(api.summarizer, kind, body.query, papers))))
    finally:
        done()


class _CacheProbe:
    """The summariser's model as the cache knows it (same name and identity, so the same cache
    keys), which writes nothing: asked for text, it fails, and the probe remembers it was asked."""

    def __init__(self, model) -> None:
        self.model = model
        self.asked = False

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def identity(self) -> str:
        return self.model.identity

    @property
    def destination(self) -> str | None:
        return self.model.destination

    def stream(self, messages, options) -> Iterator[str]:
        self.asked = True
        raise LLMError("Not in the summary cache.")


def cached_summary(api, kind: str, query: str, papers) -> dict[str, Any] | None:
    """The summary the cache holds for this request, or None; no model runs. Without a model
    the summary is the extractive one, which costs no model either."""
    from search.summarize import Summarizer

    real = api.summarizer
    if real.model is None:
        return _last(_events(real, kind, query, papers))
    probe = _CacheProbe(real.model)
    reading = Summarizer(probe, real.cache, abstract_chars=real.abstract_chars, clock=real.clock)
    data = _last(_events(reading, kind, query, papers))
    return None if probe.asked else data


@router.get("/summaries", response_model=SummaryOut, summary="The cached summary of a request, if any")
def read_summary(request: Request,
                 q: str = Query("", description="The question (as for POST /summaries)."),
                 pmid: list[str] = Query([], description="PMIDs instead of a search, repeatable."),
                 n: int | None = Query(None, ge=1, le=20, description="Top results (as for POST /summaries)."),
                 mode: MODE | None = Query(None), chosen: Filters = Depends(filters),
                 caller: Caller = Depends(reader)) -> JSONResponse:
    api = request.app.state.api
    kind, papers = _papers(api, q, pmid, n, chosen, mode)
    data = cached_summary(api, kind, q, papers)
    if data is None:
        raise NotFoundError("No cached summary for this request: it has not been written yet (or the papers "
                            "or the model changed since).", hint="Write it with POST /summaries (needs an API key).")
    return JSONResponse(data)
