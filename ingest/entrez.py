"""A PubMed client for NCBI E-utilities (esearch, epost, efetch).

* ``EntrezClient.search`` returns every PMID matching a query, splitting the date range
  when PubMed's 9,999-id esearch cap is hit.
* ``EntrezClient.search_top`` returns the first N in a sort order (most recent entry,
  relevance, publication date): requests in proportion to N, not to the hit count.
* ``EntrezClient.check_stored`` tells which of some PMIDs PubMed revised since a day
  (posted to the history server, then ``#key`` restricted by modification date), and
  which of them PubMed no longer lists.
* ``EntrezClient.gone`` asks PubMed which PMIDs it no longer has (deleted records).
* ``EntrezClient.fetch`` posts PMIDs to the history server and yields checked PubMed
  XML in batches.

The client never touches the database and never prints; it logs through :mod:`logging`.
HTTP, retries, the rate limit and redaction of secrets are :mod:`ingest.eutils_http`'s;
esearch/epost replies are read by Biopython's public ``Bio.Entrez.read``.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from Bio import Entrez
from lxml import etree

from ingest.errors import EntrezError
from ingest.eutils_http import (
    DEFAULT_BASE_URL,
    ESEARCH_CAP,
    NCBI_STATUS_URL,
    EntrezConfig,
    RateLimiter,
    Retryable,
    Transport,
    error_texts,
    is_transient,
    parse_root,
)
from ingest.redact import redact

__all__ = [
    "DEFAULT_BASE_URL",
    "ESEARCH_CAP",
    "SORTS",
    "EntrezClient",
    "EntrezConfig",
    "FetchedBatch",
    "RateLimiter",
    "SearchResult",
]

log = logging.getLogger(__name__)

#: Lower bound of a date split when the caller gave no ``since``: older than any entry date.
EARLIEST = date(1700, 1, 1)
#: ``--sort`` choices and the esearch ``sort`` value each sends. NCBI documents pub_date,
#: Author, JournalName and relevance for PubMed; with no ``sort`` esearch lists the most
#: recently entered records first (by Entrez date), which is what "recent" asks for.
SORTS: dict[str, str | None] = {"recent": None, "relevance": "relevance", "pub_date": "pub_date"}
#: Ids per esearch that asks "which of these still exist?" (``N[uid] OR ...``).
UID_CHECK_CHUNK = 200


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What esearch found.

    ``count`` is PubMed's hit count for the whole query; ``ids`` the PMIDs found, once
    each, in a stable order (``search``: date slices oldest first, PubMed's order within
    a slice; ``search_top``: the sort order asked for). ``webenv``/``query_key`` name the
    top-level search on the history server when one was made. ``warnings`` are PubMed's
    query-translation notes ("PhraseNotFound: abcXYZ"...), never errors.
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

    ``ids`` are the requested PMIDs this batch accounts for: those whose records are in
    ``xml`` and, on the last batch of each posted chunk, those NCBI sent nothing for
    (``missing``: deleted or unknown PMIDs, or a reply that left them out), so that every
    requested id is in exactly one batch's ``ids``. ``index`` counts batches from 1.
    """

    ids: tuple[str, ...]
    xml: bytes
    index: int
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredCheck:
    """What PubMed says about PMIDs we hold: revised since a day, or no longer listed."""

    modified: tuple[str, ...]
    unlisted: tuple[str, ...]  # not found by a search of their own posted set: maybe deleted


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


@dataclass(frozen=True, slots=True)
class _Window:
    """What one esearch asks: the term, a date range on one date type, an order."""

    term: str
    lo: date | None = None
    hi: date | None = None
    datetype: str = "edat"
    sort: str | None = None
    history: _History | None = None  # search within a posted set (term "#key")


class _HistoryLost(EntrezError):
    """efetch says the WebEnv/query_key is gone; ``fetch`` re-posts and goes on."""


# --- reading replies -------------------------------------------------------------------------

_HISTORY_LOST = re.compile(
    r"unable to obtain query|cannot retrieve history|invalid (webenv|query.?key)|"
    r"(webenv|query.?key).{0,40}(expired|not found|unknown|invalid)",
    re.I,
)
_HTTP_DTD = re.compile(rb'(<!DOCTYPE[^>]*?")http://((?:www|eutils)\.ncbi\.nlm\.nih\.gov/)')


def _checked_root(body: bytes, what: str, url: str, tag: str) -> etree._Element:
    """The reply's root element, or the right exception for HTML, ERROR or a wrong root."""
    root = parse_root(body, what, url)
    texts = error_texts(root)
    if texts:
        raise _ncbi_error(texts, what, url)
    if root.tag != tag:
        raise EntrezError(
            f"NCBI {what} sent <{root.tag}> where <{tag}> was expected ({url})",
            hint="check that the E-utilities URL points at NCBI E-utilities",
        )
    return root


def _ncbi_error(texts: list[str], what: str, url: str) -> Exception:
    """The exception for ``<ERROR>`` texts: lost history, transient, or a plain error."""
    quoted = "; ".join(f'"{t}"' for t in texts)
    message = f"NCBI {what} answered with an error: {quoted} ({url})"
    joined = " ".join(texts)
    if _HISTORY_LOST.search(joined) and "retstart" not in joined:
        return _HistoryLost(message)
    if is_transient(joined):
        return Retryable(f"{what}: NCBI reported a transient error: {quoted}")
    return EntrezError(
        message,
        hint="check the query and the E-utilities settings; if the request looks right, "
        f"NCBI may be having trouble ({NCBI_STATUS_URL}): try again later",
    )


def _entrez_read(body: bytes, what: str, url: str) -> dict:
    """Read esearch/epost XML with Biopython (its bundled DTDs, no validation errors).

    Older NCBI replies name their DTD by an ``http://`` URL, which Biopython refuses
    even though it reads the DTD from its local copy; it is made https.
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
    _checked_root(body, "esearch", url, "eSearchResult")
    rec = _entrez_read(body, "esearch", url)
    return _Page(
        count=int(rec.get("Count", 0)),
        ids=[str(i) for i in rec.get("IdList", [])],
        webenv=_opt_str(rec.get("WebEnv")),
        query_key=_opt_str(rec.get("QueryKey")),
        translation=_opt_str(rec.get("QueryTranslation")),
        warnings=[redact(w) for w in _search_warnings(rec)],
    )


def _search_warnings(rec: dict) -> list[str]:
    """PubMed's ErrorList/WarningList (PhraseNotFound...) as "Kind: text" lines."""
    out: list[str] = []
    for section in ("ErrorList", "WarningList"):
        for kind, values in dict(rec.get(section) or {}).items():
            out.extend(f"{kind}: {v}" for v in values if str(v).strip())
    return out


def _read_post(body: bytes, url: str) -> _History:
    _checked_root(body, "epost", url, "ePostResult")
    rec = _entrez_read(body, "epost", url)
    if not rec.get("WebEnv") or not rec.get("QueryKey"):
        raise Retryable("epost reply has no WebEnv/QueryKey")
    return _History(str(rec["WebEnv"]), str(rec["QueryKey"]))


def _read_fetch(body: bytes, url: str) -> tuple[bytes, list[str]]:
    """Check an efetch reply is a whole PubmedArticleSet; return it and the PMIDs in it."""
    root = _checked_root(body, "efetch", url, "PubmedArticleSet")
    path = {"PubmedArticle": "MedlineCitation/PMID", "PubmedBookArticle": "BookDocument/PMID"}
    pmids = [(child.findtext(path[child.tag]) or "").strip() for child in root if child.tag in path]
    return body, [p for p in pmids if p]


def _opt_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


# --- the client ------------------------------------------------------------------------------


class EntrezClient:
    """Search and fetch PubMed through E-utilities; see the module docstring."""

    def __init__(
        self,
        config: EntrezConfig,
        *,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.transport = Transport(config, limiter=limiter, sleep=sleep)
        self.limiter = self.transport.limiter
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
        """All PMIDs matching ``query`` with a ``datetype`` date in [since, until].

        ``edat`` (the default) is the Entrez date, the day a record entered PubMed: new
        records appear by entry date (a record published in 2019 may enter in 2024), so
        "everything since my last update" is an edat range. ``mdat``, the modification
        date, also finds records revised in the range.

        PubMed returns at most 9,999 ids per esearch; beyond that the date range is
        halved until each slice fits. A single day over the cap is an EntrezError.
        """
        _check_dates(since, until)
        window = _Window(check_query(query), since, until, datetype)
        top = self._esearch(window, usehistory=True)
        found: dict[str, None] = {}  # an insertion-ordered set
        if top.count <= ESEARCH_CAP:
            found.update(dict.fromkeys(self._all_pages(window, top)))
        else:
            log.info("esearch: %d hits for %r; splitting the date range", top.count, query)
            self._split(_Window(window.term, since or EARLIEST, until or _tomorrow(), datetype), found, top)
        return self._result(top, list(found), expect=top.count)

    def count(self, query: str, *, since: date | None = None, until: date | None = None) -> tuple[int, list[str]]:
        """How many records match ``query`` entered (edat) in [since, until], and PubMed's
        warnings: one esearch with no ids (``medsearch ingest pubmed`` asks it before a new
        store file is created, so an unreachable PubMed writes nothing)."""
        _check_dates(since, until)
        page = self._esearch(_Window(check_query(query), since, until), retmax=0)
        return page.count, page.warnings

    def search_top(
        self,
        query: str,
        limit: int,
        *,
        sort: str = "recent",
        since: date | None = None,
        until: date | None = None,
    ) -> SearchResult:
        """The first ``limit`` PMIDs of ``query`` in ``sort`` order (a key of :data:`SORTS`).

        One esearch with ``retmax=limit`` when ``limit`` fits PubMed's cap; past the cap
        only "recent" can go on (newest date slices first), since a date split breaks
        any other order.
        """
        _check_dates(since, until)
        if sort not in SORTS:
            raise EntrezError(f"unknown sort {sort!r}", hint=f"use one of {', '.join(SORTS)}")
        if limit < 1:
            raise EntrezError(f"limit {limit} is not positive", hint="ask for 1 record or more")
        window = _Window(check_query(query), since, until, "edat", SORTS[sort])
        top = self._esearch(window, retmax=min(limit, self.config.esearch_page_size, ESEARCH_CAP))
        check_top(top.count, limit, sort)
        if top.count <= ESEARCH_CAP or limit <= ESEARCH_CAP:
            ids = self._all_pages(window, top, limit=limit)
        else:
            found: dict[str, None] = {}
            lo, hi = since or EARLIEST, until or _tomorrow()
            self._split(_Window(window.term, lo, hi), found, top, limit=limit, newest_first=True)
            ids = list(found)
        return self._result(top, ids[:limit], expect=min(limit, top.count))

    def _result(self, top: _Page, ids: list[str], *, expect: int) -> SearchResult:
        warnings = list(dict.fromkeys(top.warnings))
        if len(ids) != expect:
            warnings.append(
                f"PubMed reported {top.count} hits but returned {len(ids)} ids "
                "(records may have been added or removed during the search)"
            )
        return SearchResult(top.count, ids, top.webenv, top.query_key, top.translation, warnings)

    def _split(
        self,
        window: _Window,
        found: dict[str, None],
        page: _Page | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> None:
        """Collect the ids of ``window`` into ``found``, halving its dates while over the cap."""
        if limit is not None and len(found) >= limit:
            return
        page = page or self._esearch(window)
        if page.count <= ESEARCH_CAP:
            left = None if limit is None else limit - len(found)
            found.update(dict.fromkeys(self._all_pages(window, page, limit=left)))
            return
        lo, hi = window.lo or EARLIEST, window.hi or _tomorrow()
        if lo >= hi:
            raise EntrezError(
                f"{page.count:,} PubMed records dated {lo.isoformat()} ({window.datetype}) match "
                f"{window.term!r}; esearch returns at most {ESEARCH_CAP:,} ids per query and a "
                "day cannot be split",
                hint="narrow the query (more terms, a publication type or journal filter) "
                "so that no single day has more than 9,999 hits",
            )
        mid = lo + (hi - lo) // 2
        log.debug("esearch: %d hits in %s..%s; halving", page.count, lo, hi)
        halves = [(lo, mid), (mid + timedelta(days=1), hi)]
        for a, b in reversed(halves) if newest_first else halves:
            sub = _Window(window.term, a, b, window.datetype, window.sort, window.history)
            self._split(sub, found, limit=limit, newest_first=newest_first)

    def _all_pages(self, window: _Window, page: _Page, *, limit: int | None = None) -> list[str]:
        """The ids of ``page`` and of the pages after it, up to ``limit`` (count <= cap)."""
        ids = dict.fromkeys(page.ids)
        start, want = len(page.ids), min(page.count, ESEARCH_CAP, limit or ESEARCH_CAP)
        while page.ids and start < want:
            page = self._esearch(window, retstart=start, retmax=want - start)
            before = len(ids)
            ids.update(dict.fromkeys(page.ids))
            if len(ids) == before:  # a page with nothing new: stop rather than loop
                break
            start += len(page.ids)
        return list(ids)[:want] if limit else list(ids)

    def _esearch(
        self, window: _Window, *, usehistory: bool = False, retstart: int = 0, retmax: int | None = None
    ) -> _Page:
        page = min(ESEARCH_CAP if retmax is None else retmax, self.config.esearch_page_size,
                   ESEARCH_CAP - retstart)
        params: dict[str, object] = {
            "db": "pubmed", "term": window.term, "retstart": retstart, "retmax": page,
            "sort": window.sort,
        }  # fmt: skip
        if usehistory:
            params["usehistory"] = "y"
        if window.history:
            params.update(WebEnv=window.history.webenv)
        if window.lo or window.hi:
            params.update(
                datetype=window.datetype,
                mindate=(window.lo or EARLIEST).strftime("%Y/%m/%d"),
                maxdate=(window.hi or _tomorrow()).strftime("%Y/%m/%d"),
            )
        return self.transport.request("esearch", params, _read_search)

    # -- what changed, what is gone --

    def check_stored(self, ids: Sequence[str], since: date) -> StoredCheck:
        """Which of ``ids`` PubMed modified (mdat) on or after ``since``, and which it no
        longer lists.

        Per ``epost_chunk_size`` ids, however many changed: the chunk is posted, esearch
        ``#key`` restricted by mdat lists the modified ones, and a count of ``#key``
        (``retmax=0``) says whether all are still there; only when some are missing is
        the set listed to name them (a fourth request).
        """
        wanted = _clean_ids(ids)
        modified: dict[str, None] = {}
        unlisted: list[str] = []
        size = self.config.epost_chunk_size
        for start in range(0, len(wanted), size):
            chunk = wanted[start : start + size]
            history = self._epost(chunk)
            dated = _Window(f"#{history.query_key}", since, _tomorrow(), "mdat", history=history)
            members = set(chunk)
            found = self._all_pages(dated, self._esearch(dated))
            modified.update(dict.fromkeys(i for i in found if i in members))
            whole = _Window(f"#{history.query_key}", history=history)
            if self._esearch(whole, retmax=0).count < len(chunk):
                listed = set(self._all_pages(whole, self._esearch(whole, retmax=len(chunk))))
                unlisted.extend(i for i in chunk if i not in listed)
        return StoredCheck(tuple(modified), tuple(unlisted))

    def gone(self, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` that PubMed says it does not have (a ``[uid]`` search finds none).

        A PMID counts as gone only on a successful esearch reply that leaves it out; any
        failure raises, so that nothing is taken for deleted on a bad reply.
        """
        wanted = _clean_ids(ids)
        missing: list[str] = []
        for start in range(0, len(wanted), UID_CHECK_CHUNK):
            chunk = wanted[start : start + UID_CHECK_CHUNK]
            term = " OR ".join(f"{pmid}[uid]" for pmid in chunk)
            page = self._esearch(_Window(term), retmax=len(chunk))
            present = set(page.ids)
            missing.extend(p for p in chunk if p not in present)
        return missing

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
            got, missing = _settle(pending, pmids, last=retstart >= posted, index=index)
            yield FetchedBatch(got + missing, xml, index, missing)

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
        return self.transport.request("epost", {"db": "pubmed", "id": ids}, _read_post)

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
        return self.transport.request("efetch", params, _read_fetch)


def _settle(
    pending: dict[str, None], pmids: list[str], *, last: bool, index: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Take the received PMIDs out of ``pending``: (received, and on a chunk's last batch
    the requested ids never received)."""
    got = tuple(p for p in dict.fromkeys(pmids) if p in pending)
    for pmid in got:
        del pending[pmid]
    if len(got) < len(pmids):
        log.warning(
            "efetch batch %d: %d records not asked for, or repeated", index, len(pmids) - len(got)
        )
    if not last or not pending:
        return got, ()
    left = tuple(pending)
    pending.clear()
    shown = ", ".join(left[:10]) + (" ..." if len(left) > 10 else "")
    log.warning("efetch: NCBI returned nothing for %d PMIDs: %s", len(left), shown)
    return got, left


def check_top(count: int, limit: int, sort: str) -> None:
    """Refuse the first ``limit`` of ``count`` hits in an order other than "recent" past
    esearch's cap: only newest-first can go on by date slices (a date split breaks any other order)."""
    if count > ESEARCH_CAP and limit > ESEARCH_CAP and sort != "recent":
        raise EntrezError(
            f"{count:,} PubMed records match and {limit:,} were asked for in {sort} "
            f"order; esearch lists at most {ESEARCH_CAP:,} ids in one order",
            hint=f"ask for at most {ESEARCH_CAP:,} (--max), use --sort recent, or narrow the query",
        )


def check_query(query: str) -> str:
    """``query`` stripped; EntrezError when it is empty (not sent to NCBI)."""
    if not isinstance(query, str) or not query.strip():
        raise EntrezError(
            "the PubMed query is empty",
            hint='give a query, e.g. "metformin AND cancer[MeSH]" (all[sb] matches every record)',
        )
    return query.strip()


def _check_dates(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise EntrezError(f"since {since} is after until {until}", hint="swap the dates")


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
