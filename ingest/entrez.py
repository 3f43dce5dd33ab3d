"""A PubMed client for NCBI E-utilities (esearch, epost, efetch) built on Biopython.

``EntrezClient.search`` runs esearch and returns every matching PMID, splitting the
date range when PubMed's 9,999-id esearch cap is hit; ``EntrezClient.fetch`` posts
PMIDs to the history server and yields checked PubMed XML in batches. The client
never touches the database and never prints; it logs through :mod:`logging`.

What is Biopython's and what is ours:

* Requests are built by ``Bio.Entrez._build_request`` (parameter encoding, GET vs
  POST) and esearch/epost replies are read by ``Bio.Entrez.read``. Biopython's
  endpoint URLs are hard-coded, so the client builds them from ``base_url``.
* Requests are opened with :func:`urllib.request.urlopen`, as ``Bio.Entrez._open``
  does, but not through ``_open``: it has no timeout, one process-wide rate limit
  and its own retries. Here every client has a thread-safe :class:`RateLimiter`
  (3 requests/s, 10 with an API key) and retries with exponential backoff and
  jitter on 429 (honouring ``Retry-After``), 5xx, timeouts, dropped connections
  and truncated bodies.
* Every reply is checked before use: an HTML page, an ``<ERROR>`` element or an
  unexpected root is an :class:`EntrezError` quoting NCBI's text; XML that ends
  mid-document is retried like a network failure.
"""

from __future__ import annotations

import email.utils
import http.client
import io
import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from Bio import Entrez
from lxml import etree

from ingest.errors import ConfigError, EntrezError, EntrezHTTPError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
#: PubMed's esearch returns at most this many ids for one query, whatever retstart says;
#: efetch from a history set likewise refuses a retstart above 9,998.
ESEARCH_CAP = 9_999
#: Lower bound of a date split when the caller gave no ``since``: older than any entry date.
EARLIEST = date(1700, 1, 1)
NCBI_STATUS_URL = "https://www.ncbi.nlm.nih.gov/Status/"

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
    backoff_base: float = 1.0  # first retry waits about this long (s), doubling each time
    backoff_cap: float = 60.0  # no backoff wait is longer than this (s)
    retry_after_cap: float = 300.0  # a longer Retry-After is shortened to this (s)
    efetch_batch_size: int = 200  # records per efetch (NCBI allows 10,000; small = cheap retry)
    epost_chunk_size: int = 5_000  # ids per epost; efetch cannot page past 9,998 in one set
    esearch_page_size: int = ESEARCH_CAP  # retmax of each esearch
    requests_per_second: float | None = None  # None: NCBI's limit, 3/s (10/s with an API key)

    def __post_init__(self) -> None:
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
        _check_range("backoff_base", self.backoff_base, 0, 3600)
        _check_range("backoff_cap", self.backoff_cap, 0, 3600)
        _check_range("retry_after_cap", self.retry_after_cap, 0, 86400)
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


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What esearch found.

    ``count`` is PubMed's hit count for the whole query; ``ids`` every PMID found,
    once each, in a stable order (date slices oldest first, PubMed's order within a
    slice). ``webenv``/``query_key`` name the top-level search on the history
    server (``fetch`` does not need them: it posts its own ids). ``warnings`` are
    PubMed's query-translation notes ("PhraseNotFound: abcXYZ"...), never errors.
    """

    count: int
    ids: list[str]
    webenv: str | None = None
    query_key: str | None = None
    query_translation: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FetchedBatch:
    """One efetch reply: a complete ``PubmedArticleSet`` document.

    ``ids`` are the requested PMIDs this batch accounts for: those whose records
    are in ``xml`` and, on the last batch of each posted chunk, those NCBI sent
    nothing for (deleted or unknown PMIDs), so that every requested id is in
    exactly one batch's ``ids``. ``index`` counts batches from 1.
    """

    ids: tuple[str, ...]
    xml: bytes
    index: int


@dataclass(frozen=True, slots=True)
class _Page:
    """One esearch reply, as read."""

    count: int
    ids: list[str]
    webenv: str | None
    query_key: str | None
    translation: str | None
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class _History:
    """A set of ids on NCBI's history server."""

    webenv: str
    query_key: str


class _Retryable(Exception):
    """A failure worth another try: 429, 5xx, timeout, dropped connection, cut-off body."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(reason)


class _HistoryLost(EntrezError):
    """efetch says the WebEnv/query_key is gone; ``fetch`` re-posts and goes on."""


class RateLimiter:
    """Spaces calls at least ``1/rate`` seconds apart, across threads.

    Each caller reserves the next free slot under a lock and sleeps outside it,
    so at most ``rate`` calls start in any one-second window.
    """

    def __init__(self, rate: float, *, margin: float = 1.05) -> None:
        self.interval = margin / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


# --- reading replies -----------------------------------------------------------------------

_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!doctype\s+html|<html)", re.I)
_HTML_TITLE = re.compile(rb"<title>(.*?)</title>", re.I | re.S)
_HISTORY_LOST = re.compile(
    r"unable to obtain query|cannot retrieve history|invalid (webenv|query.?key)|"
    r"(webenv|query.?key).{0,40}(expired|not found|unknown|invalid)",
    re.I,
)
_TRANSIENT = re.compile(
    r"backend failed|timeout|timed out|temporarily|try again|empty response|"
    r"service unavailable|too many requests",
    re.I,
)
_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
)


def _root(body: bytes, what: str, url: str) -> etree._Element:
    """Parse a reply; HTML or ``<ERROR>`` raise EntrezError, cut-off XML is retryable."""
    if not body.strip():
        raise _Retryable(f"{what} sent an empty reply")
    if _HTML_START.match(body):
        raise _html_error(body, what, url)
    if not body.lstrip().startswith(b"<"):
        raise EntrezError(
            f"NCBI {what} sent something that is not XML: {_excerpt(body)!r} ({url})",
            hint=f"check that the E-utilities URL is right and see {NCBI_STATUS_URL}",
        )
    try:
        root = etree.fromstring(body, parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise _Retryable(f"{what} reply is cut off or malformed XML ({exc})") from None
    if root.tag.lower() == "html":
        raise _html_error(body, what, url)
    texts = _error_texts(root)
    if texts:
        raise _ncbi_error(texts, what, url)
    return root


def _error_texts(root: etree._Element) -> list[str]:
    """The text of ``<ERROR>`` elements at the top of a reply (where NCBI puts them)."""
    found = [root] if root.tag == "ERROR" else root.findall("ERROR")
    return [" ".join("".join(e.itertext()).split()) for e in found if "".join(e.itertext()).strip()]


def _is_transient(text: str) -> bool:
    """NCBI error texts that say "try later" (a retstart refusal never goes away)."""
    return bool(_TRANSIENT.search(text)) and "retstart" not in text


def _ncbi_error(texts: list[str], what: str, url: str) -> EntrezError | _Retryable:
    """The exception for ``<ERROR>`` texts: lost history, transient, or a plain error."""
    quoted = "; ".join(f'"{t}"' for t in texts)
    message = f"NCBI {what} answered with an error: {quoted} ({url})"
    joined = " ".join(texts)
    if _HISTORY_LOST.search(joined) and "retstart" not in joined:
        return _HistoryLost(message)
    if _is_transient(joined):
        return _Retryable(f"{what}: NCBI reported a transient error: {quoted}")
    return EntrezError(
        message,
        hint="check the query and the E-utilities settings; if the request looks right, "
        f"NCBI may be having trouble ({NCBI_STATUS_URL}): try again later",
    )


def _html_error(body: bytes, what: str, url: str) -> EntrezError:
    match = _HTML_TITLE.search(body)
    title = " ".join(match.group(1).decode("utf-8", "replace").split()) if match else "untitled"
    return EntrezError(
        f"NCBI {what} sent an HTML page ({title!r}) where XML was expected ({url})",
        hint=f"NCBI may be down or under maintenance ({NCBI_STATUS_URL}), or the "
        "E-utilities URL points at a web page: check it and try again later",
    )


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = " ".join(body[: limit * 2].decode("utf-8", "replace").split())
    return text[:limit] + ("..." if len(text) > limit else "")


_HTTP_DTD = re.compile(rb'(<!DOCTYPE[^>]*?")http://((?:www|eutils)\.ncbi\.nlm\.nih\.gov/)')


def _entrez_read(body: bytes, what: str, url: str) -> dict:
    """Read esearch/epost XML with Biopython (its bundled DTDs, no validation errors).

    Older NCBI replies name their DTD by an ``http://`` URL, which Biopython
    refuses even though it reads the DTD from its local copy; it is made https.
    """
    try:
        return Entrez.read(
            io.BytesIO(_HTTP_DTD.sub(rb"\1https://\2", body)), validate=False, ignore_errors=True
        )
    except Exception as exc:  # Biopython raises ValueError, RuntimeError and kin
        raise EntrezError(
            f"could not read NCBI's {what} reply ({type(exc).__name__}: {exc}) ({url})",
            hint=f"NCBI may have changed its reply format; see {NCBI_STATUS_URL}",
        ) from exc


def _read_search(body: bytes, url: str) -> _Page:
    root = _root(body, "esearch", url)
    _expect_root(root, "eSearchResult", "esearch", url)
    rec = _entrez_read(body, "esearch", url)
    return _Page(
        count=int(rec.get("Count", 0)),
        ids=[str(i) for i in rec.get("IdList", [])],
        webenv=_opt_str(rec.get("WebEnv")),
        query_key=_opt_str(rec.get("QueryKey")),
        translation=_opt_str(rec.get("QueryTranslation")),
        warnings=_search_warnings(rec),
    )


def _search_warnings(rec: dict) -> list[str]:
    """PubMed's ErrorList/WarningList (PhraseNotFound...) as "Kind: text" lines."""
    out: list[str] = []
    for section in ("ErrorList", "WarningList"):
        for kind, values in dict(rec.get(section) or {}).items():
            out.extend(f"{kind}: {v}" for v in values if str(v).strip())
    return out


def _read_post(body: bytes, url: str) -> _History:
    root = _root(body, "epost", url)
    _expect_root(root, "ePostResult", "epost", url)
    rec = _entrez_read(body, "epost", url)
    if not rec.get("WebEnv") or not rec.get("QueryKey"):
        raise _Retryable("epost reply has no WebEnv/QueryKey")
    return _History(str(rec["WebEnv"]), str(rec["QueryKey"]))


def _read_fetch(body: bytes, url: str) -> list[str]:
    """Check an efetch reply is a whole PubmedArticleSet; return the PMIDs in it."""
    root = _root(body, "efetch", url)
    _expect_root(root, "PubmedArticleSet", "efetch", url)
    pmids = []
    for child in root:
        path = {"PubmedArticle": "MedlineCitation/PMID", "PubmedBookArticle": "BookDocument/PMID"}
        pmid = child.findtext(path[child.tag]) if child.tag in path else None
        if pmid:
            pmids.append(pmid.strip())
    return pmids


def _expect_root(root: etree._Element, tag: str, what: str, url: str) -> None:
    if root.tag != tag:
        raise EntrezError(
            f"NCBI {what} sent <{root.tag}> where <{tag}> was expected ({url})",
            hint="check that the E-utilities URL points at NCBI E-utilities",
        )


def _opt_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- the client ------------------------------------------------------------------------------


class EntrezClient:
    """Search and fetch PubMed through E-utilities; see the module docstring."""

    def __init__(self, config: EntrezConfig, *, limiter: RateLimiter | None = None) -> None:
        self.config = config
        self.limiter = limiter or RateLimiter(config.rate)
        self._base = config.base_url if config.base_url.endswith("/") else config.base_url + "/"
        self._random = random.Random()
        if not config.email:
            log.warning("no e-mail address for NCBI: requests go without one")

    # -- search --

    def search(
        self,
        query: str,
        *,
        since: date | None = None,
        until: date | None = None,
        datetype: str = "edat",
    ) -> SearchResult:
        """All PMIDs matching ``query``, entered between ``since`` and ``until`` (inclusive).

        Dates filter on ``datetype``, by default ``edat``, the Entrez date: the day a
        record entered PubMed. New records appear by entry date (a record published
        in 2019 may enter in 2024), so "everything since my last update" is an edat
        range; publication dates would miss late arrivals.

        PubMed returns at most 9,999 ids per esearch; beyond that the date range is
        halved until each slice fits. A single day over the cap is an EntrezError.
        """
        if since and until and since > until:
            raise EntrezError(f"since {since} is after until {until}", hint="swap the dates")
        top = self._esearch(query, since, until, datetype, history=True)
        warnings = list(dict.fromkeys(top.warnings))
        found: dict[str, None] = {}  # an insertion-ordered set
        if top.count <= ESEARCH_CAP:
            found.update(dict.fromkeys(self._all_pages(query, since, until, datetype, top)))
        else:
            log.info("esearch: %d hits for %r; splitting the date range", top.count, query)
            lo, hi = since or EARLIEST, until or _tomorrow()
            self._split(query, lo, hi, datetype, found, page=top)
        ids = list(found)
        if len(ids) != top.count:
            warnings.append(
                f"PubMed reported {top.count} hits but returned {len(ids)} ids "
                "(records may have been added or removed during the search)"
            )
        return SearchResult(top.count, ids, top.webenv, top.query_key, top.translation, warnings)

    def _split(
        self,
        query: str,
        lo: date,
        hi: date,
        datetype: str,
        found: dict[str, None],
        page: _Page | None = None,
    ) -> None:
        """Collect the ids of [lo, hi] into ``found``, halving while a slice is over the cap."""
        page = page or self._esearch(query, lo, hi, datetype)
        if page.count <= ESEARCH_CAP:
            found.update(dict.fromkeys(self._all_pages(query, lo, hi, datetype, page)))
            return
        if lo >= hi:
            raise EntrezError(
                f"{page.count:,} PubMed records entered on {lo.isoformat()} match {query!r}; "
                f"esearch returns at most {ESEARCH_CAP:,} ids per query and a day cannot be split",
                hint="narrow the query (more terms, a publication type or journal filter) "
                "so that no single day has more than 9,999 hits",
            )
        mid = lo + (hi - lo) // 2
        log.debug("esearch: %d hits in %s..%s; halving", page.count, lo, hi)
        self._split(query, lo, mid, datetype, found)
        self._split(query, mid + timedelta(days=1), hi, datetype, found)

    def _all_pages(
        self, query: str, lo: date | None, hi: date | None, datetype: str, page: _Page
    ) -> list[str]:
        """The ids of ``page`` and of the pages after it (count <= cap, page size below it)."""
        ids = dict.fromkeys(page.ids)
        start = len(page.ids)
        while page.ids and start < min(page.count, ESEARCH_CAP):
            page = self._esearch(query, lo, hi, datetype, retstart=start)
            before = len(ids)
            ids.update(dict.fromkeys(page.ids))
            if len(ids) == before:  # a page with nothing new: stop rather than loop
                break
            start += len(page.ids)
        return list(ids)

    def _esearch(
        self,
        query: str,
        lo: date | None,
        hi: date | None,
        datetype: str,
        *,
        history: bool = False,
        retstart: int = 0,
    ) -> _Page:
        params: dict[str, object] = {"db": "pubmed", "term": query, "retstart": retstart}
        params["retmax"] = min(self.config.esearch_page_size, ESEARCH_CAP - retstart)
        if history:
            params["usehistory"] = "y"
        if lo or hi:
            params.update(
                datetype=datetype,
                mindate=(lo or EARLIEST).strftime("%Y/%m/%d"),
                maxdate=(hi or _tomorrow()).strftime("%Y/%m/%d"),
            )
        return self._request("esearch", params, _read_search)

    # -- fetch --

    def fetch(self, ids: Sequence[str]) -> Iterator[FetchedBatch]:
        """Yield the PubMed XML of ``ids`` in batches of ``efetch_batch_size`` records.

        Ids are posted to the history server ``epost_chunk_size`` at a time and each
        chunk is read back with efetch (WebEnv, query_key, retstart, retmax). If NCBI
        has forgotten the WebEnv or query key, the ids of the chunk not yet received
        are posted again and fetching goes on from there.
        """
        wanted = _clean_ids(ids)
        index = 0
        size = self.config.epost_chunk_size
        for start in range(0, len(wanted), size):
            for batch in self._fetch_chunk(wanted[start : start + size], index):
                index = batch.index
                yield batch

    def _fetch_chunk(self, chunk: list[str], index: int) -> Iterator[FetchedBatch]:
        pending = dict.fromkeys(chunk)  # requested, not yet received; insertion-ordered
        history, posted, retstart, lost = self._epost(list(pending)), len(pending), 0, 0
        step = self.config.efetch_batch_size
        while retstart < posted:
            try:
                xml, pmids = self._efetch(history, retstart, step)
            except _HistoryLost as exc:
                lost += 1
                history, posted, retstart = self._repost(exc, pending, lost), len(pending), 0
                continue
            lost, retstart, index = 0, retstart + step, index + 1
            ids = _settle(pending, pmids, last=retstart >= posted, index=index)
            yield FetchedBatch(ids, xml, index)

    def _repost(self, exc: _HistoryLost, pending: dict[str, None], lost: int) -> _History:
        """Post the ids not yet received again, unless the history keeps getting lost."""
        if lost >= self.config.max_tries:
            raise EntrezError(
                f"{exc.message}, {lost} times in a row",
                hint=f"NCBI's history server keeps losing posted ids; see {NCBI_STATUS_URL} "
                "and try again later",
            ) from exc
        log.warning("%s; posting the %d ids not yet fetched again", exc.message, len(pending))
        return self._epost(list(pending))

    def _epost(self, ids: list[str]) -> _History:
        return self._request("epost", {"db": "pubmed", "id": ids}, _read_post, post=True)

    def _efetch(self, history: _History, retstart: int, retmax: int) -> tuple[bytes, list[str]]:
        params = {
            "db": "pubmed",
            "WebEnv": history.webenv,
            "query_key": history.query_key,
            "retstart": retstart,
            "retmax": retmax,
            "rettype": "xml",
            "retmode": "xml",
        }
        return self._request("efetch", params, lambda body, url: (body, _read_fetch(body, url)))

    # -- transport --

    def _request(
        self,
        endpoint: str,
        params: dict[str, object],
        read: Callable[[bytes, str], T],
        *,
        post: bool | None = None,
    ) -> T:
        """One E-utility call with retries; ``read`` checks the body (it may raise _Retryable)."""
        url = self._describe(endpoint, params, post)
        tries = self.config.max_tries
        for attempt in range(1, tries + 1):
            try:
                return read(self._open_once(endpoint, params, post, url), url)
            except _Retryable as exc:
                if attempt == tries:
                    raise self._gave_up(endpoint, exc, url) from None
                wait = self._backoff(attempt, exc.retry_after)
                log.warning(
                    "%s: %s (try %d of %d); retrying in %.1f s",
                    endpoint,
                    exc.reason,
                    attempt,
                    tries,
                    wait,
                )
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _open_once(
        self, endpoint: str, params: dict[str, object], post: bool | None, url: str
    ) -> bytes:
        """Send one request and read the whole body; failures worth a retry raise _Retryable."""
        request = self._build(endpoint, params, post)
        self.limiter.wait()
        log.debug("%s %s", request.get_method(), url)
        try:
            with urlopen(request, timeout=self.config.timeout) as response:
                return response.read()
        except HTTPError as exc:
            raise self._http_error(exc, endpoint, url) from None
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
            raise _Retryable(_network_reason(exc)) from None

    def _build(self, endpoint: str, params: dict[str, object], post: bool | None) -> Request:
        # None values drop Biopython's global email/api_key rather than fall back to them
        full = dict(
            params,
            tool=self.config.tool,
            email=self.config.email or None,
            api_key=self.config.api_key,
        )
        cgi = f"{self._base}{endpoint}.fcgi"
        if self.config.email:
            return Entrez._build_request(cgi, full, post=post)
        with warnings.catch_warnings():  # Biopython's own no-email warning; we logged ours
            warnings.filterwarnings("ignore", r"\s*Email address is not specified", UserWarning)
            return Entrez._build_request(cgi, full, post=post)

    def _http_error(self, exc: HTTPError, endpoint: str, url: str) -> Exception:
        """A 429/5xx is retryable; another 4xx is final unless its body says otherwise."""
        try:
            body = exc.read()
        except (OSError, http.client.HTTPException):
            body = b""
        retry_after = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
        if exc.code == 429 or exc.code >= 500:
            return _Retryable(
                f"HTTP {exc.code} {exc.reason}", status=exc.code, retry_after=retry_after
            )
        texts = _body_error_texts(body)
        if texts and _is_transient(" ".join(texts)):
            return _Retryable(f"HTTP {exc.code}: {'; '.join(texts)}", status=exc.code)
        said = "; ".join(f'"{t}"' for t in texts) if texts else repr(_excerpt(body))
        return EntrezHTTPError(
            f"NCBI {endpoint} refused the request with HTTP {exc.code} {exc.reason}: {said}"
            f" ({url})",
            status=exc.code,
            url=url,
            hint=_refusal_hint(exc.code),
        )

    def _gave_up(self, endpoint: str, exc: _Retryable, url: str) -> EntrezHTTPError:
        tries = self.config.max_tries
        return EntrezHTTPError(
            f"NCBI {endpoint} failed after {tries} tr{'y' if tries == 1 else 'ies'}: "
            f"{exc.reason} ({url})",
            status=exc.status,
            url=url,
            hint=_give_up_hint(exc, self.config),
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; never shorter than the server's Retry-After."""
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (attempt - 1))
        wait = self._random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.config.retry_after_cap))
        return wait

    def _describe(self, endpoint: str, params: dict[str, object], post: bool | None) -> str:
        """The request's URL for messages: no api_key, long id lists shortened."""
        shown = {k: v for k, v in params.items() if k != "id"}
        shown.update(tool=self.config.tool, email=self.config.email or "")
        query = urlencode(shown)
        ids = params.get("id")
        if isinstance(ids, list):
            query += "&id=" + ",".join(ids[:3]) + (f",...({len(ids)} ids)" if len(ids) > 3 else "")
        method = "POST " if post else ""
        return f"{method}{self._base}{endpoint}.fcgi?{query}"


def _body_error_texts(body: bytes) -> list[str]:
    """``<ERROR>`` texts or a JSON ``"error"`` from an HTTP error body, if any."""
    match = re.search(rb'"error"\s*:\s*"([^"]*)"', body)
    if match:
        return [match.group(1).decode("utf-8", "replace")]
    try:
        return _error_texts(etree.fromstring(body, parser=_XML_PARSER))
    except (etree.XMLSyntaxError, ValueError):
        return []


def _network_reason(exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "no reply within the timeout"
    if isinstance(exc, http.client.IncompleteRead):
        return f"connection closed mid-reply ({len(exc.partial)} bytes received)"
    return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__


def _refusal_hint(status: int) -> str:
    if status in (400, 401, 403):
        return (
            "check the NCBI API key and e-mail settings, and the query; the request "
            "itself was refused, so retrying will not help"
        )
    if status == 404:
        return "the E-utilities URL looks wrong: check it (default " + DEFAULT_BASE_URL + ")"
    return f"check the request settings and {NCBI_STATUS_URL}"


def _give_up_hint(exc: _Retryable, config: EntrezConfig) -> str:
    if exc.status == 429:
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


def _settle(
    pending: dict[str, None], pmids: list[str], *, last: bool, index: int
) -> tuple[str, ...]:
    """Take the received PMIDs out of ``pending``; on a chunk's last batch, also the rest."""
    got = tuple(p for p in dict.fromkeys(pmids) if p in pending)
    for pmid in got:
        del pending[pmid]
    if len(got) < len(pmids):
        log.warning(
            "efetch batch %d: %d records not asked for, or repeated", index, len(pmids) - len(got)
        )
    if not last or not pending:
        return got
    left = tuple(pending)
    pending.clear()
    shown = ", ".join(left[:10]) + (" ..." if len(left) > 10 else "")
    log.warning("efetch: NCBI returned nothing for %d PMIDs: %s", len(left), shown)
    return got + left


def _clean_ids(ids: Sequence[str]) -> list[str]:
    """PMIDs as strings, de-duplicated in order; anything else is an EntrezError."""
    if isinstance(ids, str):
        raise EntrezError(
            "fetch() takes a sequence of PMIDs, not one string",
            hint="pass a list such as ['12345678']",
        )
    out = [str(i).strip() for i in ids]
    bad = [i for i in out if not i.isdigit() or int(i) == 0]
    if bad:
        raise EntrezError(
            f"not PubMed ids: {', '.join(map(repr, bad[:5]))}",
            hint="PMIDs are positive whole numbers such as 12345678",
        )
    return list(dict.fromkeys(out))


def _tomorrow() -> date:
    """Upper bound of an open date range: PubMed dates are US Eastern, so allow a day."""
    return date.today() + timedelta(days=1)
