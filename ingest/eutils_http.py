"""HTTP for NCBI E-utilities: one pooled urllib3 client, its retries, the rate limit, and the
checks every reply passes before it is read.

What is whose:

* urllib3 sends every request (a connection pool shared by threads) and retries it with its
  ``Retry``: 429 and 5xx (honouring ``Retry-After``), timeouts, refused or dropped
  connections, bodies cut short of their ``Content-Length``; exponential backoff with jitter.
* Some failures only show in the body: an HTML "Service unavailable" page sent with status
  200, XML that ends mid-document, an ``<ERROR>`` saying "try again". They are counted on
  the same ``Retry`` (one budget of ``max_tries`` per request) and waited out the same way.
* The waits go through :class:`_ClientRetry`, urllib3's ``Retry`` with two hooks replaced,
  so that a retried request also passes the client's rate limiter and tests can inject the
  sleep. The rate limiter is written here because urllib3 has none: NCBI allows 3 requests
  per second per IP, 10 with an API key.
* Every request is a form POST: parameters (the API key among them) travel in the body,
  never in a URL that a proxy, urllib3's log or an error page could repeat. Messages show
  the request as a URL without the key, and everything we raise or log is :func:`redact`-ed.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import urllib3
from lxml import etree
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from ingest.errors import ConfigError, EntrezError, EntrezHTTPError
from ingest.redact import RedactingFilter, redact, register_secret

log = logging.getLogger(__name__)
for _name in (__name__, "ingest.entrez", "urllib3"):
    logging.getLogger(_name).addFilter(RedactingFilter())

#: NCBI's E-utilities; search.config reads it from here (ingest is the lower layer).
DEFAULT_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
NCBI_STATUS_URL = "https://www.ncbi.nlm.nih.gov/Status/"
#: PubMed's esearch returns at most this many ids for one query, whatever retstart says;
#: efetch from a history set likewise refuses a retstart above 9,998.
ESEARCH_CAP = 9_999
#: Statuses worth another try (NCBI's 429 rate limit and server-side failures).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EntrezConfig:
    """How to reach E-utilities; the settings layer fills it from the environment."""

    email: str | None  # NCBI wants a contact address with every request; None: not sent
    api_key: str | None = None  # raises the rate limit from 3 to 10 requests/s
    base_url: str = DEFAULT_BASE_URL  # env NCBI_EUTILS_URL (read by the settings layer)
    tool: str = "medsearch"
    timeout: float = 60.0  # seconds, per request (connect and each read)
    max_tries: int = 5  # tries per request, the first included
    backoff_factor: float = 1.0  # retry n waits about factor * 2**(n-1) s (the first: none)
    backoff_max: float = 60.0  # no backoff wait is longer than this (s)
    retry_after_max: float = 300.0  # a longer Retry-After is shortened to this (s)
    efetch_batch_size: int = 200  # records per efetch (NCBI allows 10,000; small = cheap retry)
    epost_chunk_size: int = 5_000  # ids per epost; efetch cannot page past 9,998 in one set
    esearch_page_size: int = ESEARCH_CAP  # retmax of each esearch
    requests_per_second: float | None = None  # None: NCBI's limit, 3/s (10/s with an API key)

    def __post_init__(self) -> None:
        register_secret(self.api_key)
        if self.email and "@" not in self.email:
            raise ConfigError(
                f"NCBI e-mail address {self.email!r} is not an e-mail address",
                hint="set your e-mail address: NCBI sends it with every request and "
                "contacts it before blocking a client",
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"E-utilities URL {self.base_url!r} is not an http(s) URL",
                hint=f"use the default {DEFAULT_BASE_URL} or a full http(s) URL",
            )
        _check_range("timeout", self.timeout, 0.001, 3600)
        _check_range("max_tries", self.max_tries, 1, 100)
        _check_range("backoff_factor", self.backoff_factor, 0, 3600)
        _check_range("backoff_max", self.backoff_max, 0, 3600)
        _check_range("retry_after_max", self.retry_after_max, 0, 86400)
        _check_range("efetch_batch_size", self.efetch_batch_size, 1, 10_000)
        _check_range("epost_chunk_size", self.epost_chunk_size, 1, ESEARCH_CAP)
        _check_range("esearch_page_size", self.esearch_page_size, 1, ESEARCH_CAP)
        if self.requests_per_second is not None:
            _check_range("requests_per_second", self.requests_per_second, 0.01, self.ncbi_rate)

    @property
    def ncbi_rate(self) -> float:
        """NCBI's limit: 3 requests/s without an API key, 10 with one."""
        return 10.0 if self.api_key else 3.0

    @property
    def rate(self) -> float:
        """The requests per second this client allows itself."""
        return self.requests_per_second or self.ncbi_rate


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(
            f"E-utilities setting {name}={value!r} is out of range",
            hint=f"use a value between {low:g} and {high:g}",
        )


class RateLimiter:
    """Spaces calls at least ``margin/rate`` seconds apart, across threads.

    Each caller reserves the next free slot under a lock and sleeps outside it, so at
    most ``rate`` calls start in any one-second window. ``clock`` and ``sleep`` are
    injectable so that tests check the spacing without waiting for it.
    """

    def __init__(
        self,
        rate: float,
        *,
        margin: float = 1.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = margin / rate
        self._next = float("-inf")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> float:
        """Wait for the next free slot; return the time slept."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
        return max(0.0, slot - now)


class _ClientRetry(Retry):
    """urllib3's ``Retry`` whose waits use an injected sleep and then the rate limiter.

    urllib3 sleeps with ``time.sleep`` between tries and knows nothing of NCBI's rate
    limit; overriding its two sleep hooks is the documented way to change that.
    """

    def __init__(
        self,
        *args: Any,  # Retry's own arguments, passed on as they are
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sleeper = sleep
        self.limiter = limiter

    def new(self, **kw: object) -> _ClientRetry:
        fresh = super().new(**kw)
        fresh.sleeper, fresh.limiter = self.sleeper, self.limiter
        return fresh

    def sleep_for_retry(self, response: urllib3.BaseHTTPResponse) -> bool:
        seconds = self.get_retry_after(response)
        if not seconds:
            return False
        self._wait(seconds)
        return True

    def _sleep_backoff(self) -> None:
        self._wait(self.get_backoff_time())

    def _wait(self, seconds: float) -> None:
        last = self.history[-1] if self.history else None
        if last is not None:
            what = last.url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".fcgi") if last.url else "?"
            reason = f"HTTP {last.status}" if last.status else _network_reason(last.error)
            log.warning("%s: %s (try %d); retrying in %.1f s", what, reason, len(self.history), seconds)
        if seconds > 0:
            self.sleeper(seconds)
        if self.limiter is not None:
            self.limiter.wait()


class _ContentError(Exception):
    """A reply that arrived whole but is worth another try (counted on the Retry)."""


class Retryable(Exception):
    """A reply worth another try: an HTML page, cut-off XML, NCBI's "try again" text.

    ``final``, when set, is the error to raise once the tries are spent (an HTML page
    keeps its own clear message); otherwise the request "failed after N tries".
    """

    def __init__(self, reason: str, *, final: EntrezError | None = None) -> None:
        self.reason = reason
        self.final = final
        super().__init__(reason)


class Transport:
    """Sends E-utility requests for one client: pool, retries, rate limit, redaction."""

    def __init__(
        self,
        config: EntrezConfig,
        *,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.limiter = limiter or RateLimiter(config.rate)
        self.base = config.base_url if config.base_url.endswith("/") else config.base_url + "/"
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=8, headers={"Accept-Encoding": "gzip", "User-Agent": config.tool}
        )
        self._timeout = urllib3.Timeout(connect=config.timeout, read=config.timeout)
        self._retry = _ClientRetry(
            total=config.max_tries - 1,
            connect=None,
            read=None,
            redirect=3,
            status=None,
            other=None,
            allowed_methods=None,  # every request is a POST; all of them are safe to repeat
            status_forcelist=RETRY_STATUSES,
            backoff_factor=config.backoff_factor,
            backoff_max=config.backoff_max,
            backoff_jitter=config.backoff_factor / 2,
            retry_after_max=int(config.retry_after_max),
            raise_on_status=False,  # the last 429/5xx comes back, so its status can be told
            respect_retry_after_header=True,
            sleep=sleep,
            limiter=self.limiter,
        )

    def request(self, endpoint: str, params: dict[str, object], read: Callable[[bytes, str], T]) -> T:
        """One E-utility call with retries; ``read`` checks the body (it may raise Retryable)."""
        try:
            return self._request(endpoint, params, read)
        except EntrezError as exc:
            raise redacted(exc) from None

    def _request(self, endpoint: str, params: dict[str, object], read: Callable[[bytes, str], T]) -> T:
        url, shown = f"{self.base}{endpoint}.fcgi", self.describe(endpoint, params)
        fields = self._fields(params)
        retry: Retry = self._retry  # a _ClientRetry; the response hands back its copies typed as Retry
        self.limiter.wait()
        while True:
            log.debug("POST %s", shown)
            try:
                response = self._pool.request(
                    "POST", url, fields=fields, encode_multipart=False, retries=retry,
                    timeout=self._timeout,
                )
            except MaxRetryError as exc:
                raise self._gave_up(endpoint, _network_reason(exc.reason), shown, None) from None
            except urllib3.exceptions.HTTPError as exc:
                raise self._gave_up(endpoint, _network_reason(exc), shown, None) from None
            try:
                return read(self._body(response, endpoint, shown), shown)
            except Retryable as exc:
                try:
                    retry = (response.retries or retry).increment(
                        "POST", url, error=_ContentError(exc.reason)
                    )
                except MaxRetryError:
                    raise exc.final or self._gave_up(endpoint, exc.reason, shown, None) from None
                retry.sleep()

    def _fields(self, params: dict[str, object]) -> dict[str, str]:
        """The form: the call's parameters, tool, e-mail and API key; absent values left out."""
        full = dict(params, tool=self.config.tool, email=self.config.email, api_key=self.config.api_key)
        return {
            k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
            for k, v in full.items()
            if v is not None and v != ""
        }

    def _body(self, response: urllib3.BaseHTTPResponse, endpoint: str, shown: str) -> bytes:
        """The body of a usable reply; a refused or given-up request raises."""
        status, body = response.status, response.data
        if status in RETRY_STATUSES:  # urllib3 returns these only once its tries are spent
            reason = f"HTTP {status} {response.reason or ''}".strip()
            raise self._gave_up(endpoint, reason, shown, status)
        if status >= 400:
            texts = body_error_texts(body)
            if texts and is_transient(" ".join(texts)):
                raise Retryable(f"HTTP {status}: {'; '.join(texts)}")
            said = "; ".join(f'"{t}"' for t in texts) if texts else repr(excerpt(body))
            raise EntrezHTTPError(
                f"NCBI {endpoint} refused the request with HTTP {status} {response.reason or ''}"
                f": {said} ({shown})",
                status=status,
                url=shown,
                hint=_refusal_hint(status),
            )
        return body

    def _gave_up(self, endpoint: str, reason: str, shown: str, status: int | None) -> EntrezHTTPError:
        tries = self.config.max_tries
        return EntrezHTTPError(
            f"NCBI {endpoint} failed after {tries} tr{'y' if tries == 1 else 'ies'}: {reason} ({shown})",
            status=status,
            url=shown,
            hint=_give_up_hint(status, self.config),
        )

    def describe(self, endpoint: str, params: dict[str, object]) -> str:
        """The request as a URL for messages: no API key, long id lists shortened."""
        shown = {k: v for k, v in params.items() if k != "id" and v is not None}
        shown.update(tool=self.config.tool)
        if self.config.email:
            shown["email"] = self.config.email
        query = urlencode(shown)
        ids = params.get("id")
        if isinstance(ids, (list, tuple)):
            query += "&id=" + ",".join(ids[:3]) + (f",...({len(ids)} ids)" if len(ids) > 3 else "")
        return f"{self.base}{endpoint}.fcgi?{query}"


def redacted(exc: EntrezError) -> EntrezError:
    """``exc`` with its message, hint and URL redacted (the same exception object)."""
    exc.message = redact(exc.message)
    exc.hint = redact(exc.hint) if exc.hint else exc.hint
    if isinstance(exc, EntrezHTTPError):
        exc.url = redact(exc.url)
    exc.args = (f"{exc.message}\n  -> {exc.hint}" if exc.hint else exc.message,)
    return exc


def _network_reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown failure"
    if isinstance(exc, _ContentError):
        return str(exc)
    if isinstance(exc, ReadTimeoutError) or "timed out" in str(exc):
        return "no reply within the timeout"
    if isinstance(exc, ProtocolError):
        inner = exc.args[1] if len(exc.args) > 1 else exc
        return f"connection broken ({type(inner).__name__}: {inner})"
    return f"{type(exc).__name__}: {exc}"


def _refusal_hint(status: int) -> str:
    if status in (400, 401, 403):
        return (
            "check the NCBI API key and e-mail settings, and the query; the request "
            "itself was refused, so retrying will not help"
        )
    if status == 404:
        return "the E-utilities URL looks wrong: check it (default " + DEFAULT_BASE_URL + ")"
    return f"check the request settings and {NCBI_STATUS_URL}"


def _give_up_hint(status: int | None, config: EntrezConfig) -> str:
    if status == 429:
        key = "" if config.api_key else "use an NCBI API key (10 requests/s instead of 3), "
        return (
            f"NCBI is rate-limiting this client: {key}make sure no other program shares "
            "this IP's quota, and try again later"
        )
    return (
        f"check your network connection and NCBI's status ({NCBI_STATUS_URL}) and try again "
        f"later; if large replies keep failing, lower the efetch batch size "
        f"(now {config.efetch_batch_size})"
    )


# --- reading replies -----------------------------------------------------------------------

_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!doctype\s+html|<html)", re.I)
_HTML_TITLE = re.compile(rb"<title>(.*?)</title>", re.I | re.S)
_HEAD = re.compile(r"<(head|script|style)\b.*?</\1>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_TRANSIENT = re.compile(
    r"backend failed|timeout|timed out|temporarily|try again|empty response|"
    r"service unavailable|too many requests",
    re.I,
)
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def parse_root(body: bytes, what: str, url: str) -> etree._Element:
    """Parse a reply: an empty body, an HTML page or cut-off XML is Retryable.

    ``<ERROR>`` elements are left to the caller (:func:`error_texts` finds them).
    """
    if not body.strip():
        raise Retryable(f"{what} sent an empty reply")
    if _HTML_START.match(body):
        raise Retryable(f"{what} sent an HTML page", final=html_error(body, what, url))
    if not body.lstrip().startswith(b"<"):
        raise EntrezError(
            f"NCBI {what} sent something that is not XML: {excerpt(body)!r} ({url})",
            hint=f"check that the E-utilities URL is right and see {NCBI_STATUS_URL}",
        )
    try:
        root = etree.fromstring(body, parser=XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise Retryable(f"{what} reply is cut off or malformed XML ({exc})") from None
    if root.tag.lower() == "html":
        raise Retryable(f"{what} sent an HTML page", final=html_error(body, what, url))
    return root


def error_texts(root: etree._Element) -> list[str]:
    """The text of ``<ERROR>`` elements at the top of a reply (where NCBI puts them)."""
    found = [root] if root.tag == "ERROR" else root.findall("ERROR")
    return [" ".join("".join(e.itertext()).split()) for e in found if "".join(e.itertext()).strip()]


def is_transient(text: str) -> bool:
    """NCBI error texts that say "try later" (a retstart refusal never goes away)."""
    return bool(_TRANSIENT.search(text)) and "retstart" not in text


def html_error(body: bytes, what: str, url: str) -> EntrezError:
    match = _HTML_TITLE.search(body)
    title = " ".join(match.group(1).decode("utf-8", "replace").split()) if match else "untitled"
    return EntrezError(
        f"NCBI {what} sent an HTML page ({title!r}) where XML was expected ({url})",
        hint=f"NCBI may be down or under maintenance ({NCBI_STATUS_URL}), or the "
        "E-utilities URL points at a web page: check it and try again later",
    )


def excerpt(body: bytes, limit: int = 300) -> str:
    """The start of a body as one line; an HTML page's text without its tags."""
    text = body[: limit * 8].decode("utf-8", "replace")
    if _HTML_START.match(body) or "<body" in text.lower():
        text = html.unescape(_TAG.sub(" ", _HEAD.sub(" ", text)))
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def body_error_texts(body: bytes) -> list[str]:
    """``<ERROR>`` texts or a JSON ``"error"`` from an HTTP error body, if any."""
    match = re.search(rb'"error"\s*:\s*"([^"]*)"', body)
    if match:
        return [match.group(1).decode("utf-8", "replace")]
    try:
        return error_texts(etree.fromstring(body, parser=XML_PARSER))
    except (etree.XMLSyntaxError, ValueError):
        return []
