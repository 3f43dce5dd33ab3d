"""Who may do what: API keys (``Authorization: Bearer KEY``), open or closed reads, rate limits.

Reads (search, records, lists, feeds, status) need no key when the server was started for
this machine only (the default host, 127.0.0.1) or with ``--open-reads``; otherwise they need
one. Writes (library changes) and summaries that run a model always need a key. A key that is
presented and wrong is refused everywhere (401), so a client learns of a typo at once. Every
request but ``/health`` counts against its caller's rate limit: the key's name, or the client
address without a key. A key is never logged: only its name is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from search.api.keys import KeyRing
from search.api.problems import ApiError
from search.api.ratelimit import RateLimiter

_BEARER = HTTPBearer(auto_error=False, description="An API key of MEDSEARCH_API_KEYS "
                     "(`medsearch serve --new-key NAME` makes one).")
_AUTH = {"WWW-Authenticate": 'Bearer realm="medsearch"'}


@dataclass(frozen=True, slots=True)
class Caller:
    key: str | None  # the key's name; None: no key was given
    client: str  # what the rate limit counts against


class Access:
    def __init__(self, keys: KeyRing, limiter: RateLimiter, *, open_reads: bool) -> None:
        self.keys = keys
        self.limiter = limiter
        self.open_reads = open_reads
        self._summaries: set[str] = set()
        self._lock = threading.Lock()

    def identify(self, request: Request, cred: HTTPAuthorizationCredentials | None) -> Caller:
        if cred is None:
            host = request.client.host if request.client else "unknown"
            return Caller(None, f"address {host}")
        name = self.keys.name_of(cred.credentials)
        if name is None:
            raise ApiError(401, "invalid-key", "The API key is not valid.",
                           hint="Check the key, or ask for a new one (`medsearch serve --new-key NAME`).",
                           headers=_AUTH)
        return Caller(name, f"key {name}")

    def check(self, request: Request, cred: HTTPAuthorizationCredentials | None, *, write: bool) -> Caller:
        caller = self.identify(request, cred)
        if caller.key is None and (write or not self.open_reads):
            what = "This request changes data or runs a model" if write else "This server serves reads to key holders only"
            if not self.keys:
                raise ApiError(403, "no-keys", f"{what}, and the server has no API keys.",
                               hint="Make one with `medsearch serve --new-key NAME`, put its entry in "
                               "MEDSEARCH_API_KEYS and restart the server.")
            raise ApiError(401, "key-needed", f"{what}: it needs an API key.",
                           hint="Send it as the header `Authorization: Bearer KEY`.", headers=_AUTH)
        wait = self.limiter.take(caller.client)
        if wait is not None:
            raise ApiError(429, "rate-limited", f"Too many requests from {caller.client}: the limit is "
                           f"{round(self.limiter.rate * 60)} a minute.",
                           hint=f"Wait {wait} s (Retry-After) and send it again.", headers={"Retry-After": str(wait)})
        return caller

    def take_summary_slot(self, caller: Caller) -> None:
        """One summary at a time per caller: a second is refused (429) while the first runs;
        :meth:`release_summary_slot` when it ends."""
        with self._lock:
            if caller.client in self._summaries:
                raise ApiError(429, "summary-running", f"A summary for {caller.client} is being written.",
                               hint="Wait for it to finish, then ask again.", headers={"Retry-After": "10"})
            self._summaries.add(caller.client)

    def release_summary_slot(self, caller: Caller) -> None:
        with self._lock:
            self._summaries.discard(caller.client)


def _access(request: Request) -> Access:
    return request.app.state.api.access


def reader(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(_BEARER)) -> Caller:
    """A dependency: the caller of a read (key optional where reads are open), rate-limited."""
    return _access(request).check(request, cred, write=False)


def writer(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(_BEARER)) -> Caller:
    """A dependency: the caller of a write, who must hold a key; rate-limited."""
    return _access(request).check(request, cred, write=True)
