"""Errors as ``application/problem+json`` (RFC 9457), never a traceback.

A project error (``ingest.errors``) keeps its own message as ``detail`` and its hint as
``hint``; its class decides the status: bad input 422 (a cap passed, an unknown mode or
filter), a malformed query 400, an unknown name or record 404, a name taken 409, no index or
a busy file 503, a failing model 502. FastAPI's own validation errors are 422 with each
problem named; anything unexpected is a 500 whose body says only that the log has the details.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.errors import (
    ConfigError,
    LibraryError,
    MedsearchError,
    NameTakenError,
    SearchIndexError,
    StoreError,
    UnknownNameError,
)

log = logging.getLogger("medsearch.api")
MEDIA_TYPE = "application/problem+json"


class NotFoundError(MedsearchError):
    """A record the request names is not in the search index (404)."""


class ApiError(MedsearchError):
    """An HTTP-level refusal (auth, rate limit, busy model) with its status and headers."""

    def __init__(self, status: int, kind: str, message: str, *, hint: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.kind = kind  # e.g. "rate-limited": the problem's type is urn:medsearch:problem:<kind>
        self.headers = dict(headers or {})


def status_of(exc: MedsearchError) -> int:
    from search.llm.base import LLMError
    from search.query.syntax import QuerySyntaxError

    if isinstance(exc, ApiError):
        return exc.status
    for kind, status in ((NotFoundError, 404), (UnknownNameError, 404), (NameTakenError, 409),
                         (QuerySyntaxError, 400), (ConfigError, 422), (LibraryError, 422),
                         (SearchIndexError, 503), (StoreError, 503), (LLMError, 502)):
        if isinstance(exc, kind):
            return status
    return 400


def problem(status: int, detail: str, *, hint: str | None = None, kind: str = "about:blank",
            instance: str | None = None, headers: Mapping[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if hint:
        body["hint"] = hint
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=dict(headers or {}))


def problem_of(exc: MedsearchError, instance: str | None = None) -> JSONResponse:
    from ingest.redact import redact

    headers = exc.headers if isinstance(exc, ApiError) else {}
    if isinstance(exc, (SearchIndexError, StoreError)) and "Retry-After" not in headers:
        headers = {**headers, "Retry-After": "30"}
    kind = exc.kind if isinstance(exc, ApiError) else type(exc).__name__
    return problem(status_of(exc), redact(exc.message), hint=redact(exc.hint) if exc.hint else None,
                   kind=f"urn:medsearch:problem:{kind}", instance=instance, headers=headers)


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "body", "header"):
        head = {"query": "query parameter", "path": "path parameter", "body": "body", "header": "header"}[parts[0]]
        return f"{head} {'.'.join(parts[1:])}".strip()
    return ".".join(parts)


def install(app: FastAPI) -> None:
    """The handlers that turn every error into a problem+json response."""

    @app.exception_handler(MedsearchError)
    async def project_error(request: Request, exc: MedsearchError) -> JSONResponse:
        return problem_of(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"where": _where(e.get("loc", ())), "problem": str(e.get("msg", ""))} for e in exc.errors()]
        detail = "; ".join(f"{e['where']}: {e['problem']}" for e in errors[:5])
        return problem(422, detail or "The request is not valid.", hint="See /docs for what each endpoint takes.",
                       kind="urn:medsearch:problem:RequestValidationError", instance=request.url.path,
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no endpoint {request.url.path}."
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        return problem(exc.status_code, detail, hint="See /docs for the endpoints and what they take.",
                       instance=request.url.path, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "The server failed on this request; the details are in its log.",
                       hint="Try again; if it fails again, report it with the time of the request.",
                       instance=request.url.path)
