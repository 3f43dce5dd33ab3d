"""The FastAPI application: its routes, its error bodies, its docs (``/docs``, ``/openapi.json``).

    from search.api.app import create_app
    from search.api.services import open_services
    app = create_app(open_services(settings))   # what `medsearch serve` runs on uvicorn
"""

from __future__ import annotations

from fastapi import FastAPI

from search.api import problems
from search.api.services import ApiServices

DESCRIPTION = """The medsearch engine over HTTP: search with PubMed syntax and filters, result
cards, similar articles, cited summaries (streamed as server-sent events), saved searches with
Atom/RSS feeds, citation lists and their exports. Errors are `application/problem+json`
(RFC 9457). Writes and summaries that run a model need an API key
(`Authorization: Bearer KEY`); every caller is rate-limited (429 with `Retry-After`)."""


def create_app(services: ApiServices) -> FastAPI:
    from importlib.metadata import version

    from search.api import (
        routes_lists,
        routes_saved,
        routes_search,
        routes_status,
        routes_summaries,
    )

    app = FastAPI(title="medsearch", version=version("medsearch"), description=DESCRIPTION)
    app.state.api = services
    problems.install(app)
    for module in (routes_status, routes_search, routes_summaries, routes_saved, routes_lists):
        app.include_router(module.router)
    return app
