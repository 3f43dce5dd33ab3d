"""The E-utilities client against a local server replaying real NCBI responses.

urllib3's real HTTP path and Biopython's parsing run against ``tests/eutils_server.py``
on 127.0.0.1; nothing here reaches the internet (an autouse guard refuses any other
address). Waits are not measured on the clock: the client's sleep is injected and
recorded (backoff, Retry-After), the rate limiter runs on a fake clock, and a "slow"
reply is held until the client has given up on it and asked again.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from email.utils import formatdate

import pytest
from Bio import Entrez
from eutils_server import (
    BROAD_COUNT,
    BROAD_QUERY,
    LARGE_COUNT,
    LARGE_QUERY,
    EUtilsServer,
)
from lxml import etree

from ingest.entrez import (
    EntrezClient,
    EntrezConfig,
    FetchedBatch,
    RateLimiter,
    _read_search,
)
from ingest.errors import ConfigError, EntrezError, EntrezHTTPError

KEY = "secret-test-key-123"


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that is not to this machine."""
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else "local"
        if host not in ("127.0.0.1", "::1", "localhost", "local"):
            raise AssertionError(f"a test tried to reach {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


class Sleeps(list):
    """An injected sleep: records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(
    server: EUtilsServer, *, sleep: Sleeps | None = None, **overrides: object
) -> EntrezClient:
    settings: dict = dict(
        email="tests@example.org",
        api_key=KEY,
        base_url=server.url,
        timeout=5.0,
        max_tries=3,
        backoff_factor=0.01,
        backoff_max=0.05,
        retry_after_max=5.0,
        efetch_batch_size=7,
        epost_chunk_size=20,
    )
    settings.update(overrides)
    return EntrezClient(EntrezConfig(**settings), sleep=sleep if sleep is not None else Sleeps())


def records_in(xml: bytes) -> dict[str, bytes]:
    """PMID -> serialized PubmedArticle of one efetch document (which must be whole)."""
    root = etree.fromstring(xml)
    assert root.tag == "PubmedArticleSet"
    out = {}
    for el in root:
        el.tail = None
        out[el.findtext("MedlineCitation/PMID") or el.findtext("BookDocument/PMID")] = (
            etree.tostring(el)
        )
    return out


def check_batches(server: EUtilsServer, batches: list[FetchedBatch], wanted: list[str]) -> None:
    """Every wanted id in exactly one batch; every record byte-equal to the server's."""
    listed = [pmid for b in batches for pmid in b.ids]
    assert sorted(listed) == sorted(set(wanted))
    assert [b.index for b in batches] == list(range(1, len(batches) + 1))
    for batch in batches:
        records = records_in(batch.xml)
        assert set(records) <= set(batch.ids)
        for pmid, xml in records.items():
            assert xml == etree.tostring(etree.fromstring(server.record_xml(pmid)))


def round_trip(server: EUtilsServer, client: EntrezClient, n: int = 10) -> list[FetchedBatch]:
    ids = client.search("all[sb]").ids[:n]
    assert len(ids) == n
    batches = list(client.fetch(ids))
    check_batches(server, batches, ids)
    return batches


def max_per_window(times: list[float], window: float = 1.0) -> int:
    """Most events within any ``window`` seconds (half-open: [t, t + window))."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u - t < window) for i, t in enumerate(times))


# --- the happy path ---------------------------------------------------------------------------


def test_search_then_fetch_returns_exactly_the_requested_records(server: EUtilsServer) -> None:
    client = client_for(server)
    found = client.search("all[sb]")
    assert found.count == len(server.pool) == len(found.ids) == len(set(found.ids))
    assert found.webenv and found.query_key and found.warnings == []
    wanted = found.ids[:45] + ["1"]  # PMID 1 is not in the pool: NCBI sends nothing for it

    batches = list(client.fetch(wanted + wanted[:5]))  # duplicates are fetched once

    check_batches(server, batches, wanted)
    returned = {pmid for b in batches for pmid in records_in(b.xml)}
    assert returned == set(wanted) - {"1"}
    assert "1" in batches[-1].ids and all(len(records_in(b.xml)) <= 7 for b in batches)
    assert len(server.requests_to("epost")) == 3  # chunks of 20, 20, 6
    assert len(server.requests_to("efetch")) == 3 + 3 + 1  # batches of 7
    fetch = server.requests_to("efetch")[1].params
    assert fetch["rettype"] == fetch["retmode"] == "xml" and fetch["retstart"] == "7"
    assert fetch["retmax"] == "7" and fetch["WebEnv"].startswith("MCID_") and fetch["query_key"]


def test_fetch_parses_with_the_pubmed_parser(server: EUtilsServer) -> None:
    pubmed_xml = pytest.importorskip("ingest.pubmed_xml")
    client = client_for(server)
    ids = client.search("all[sb]").ids[:30]
    for batch in client.fetch(ids):
        items = pubmed_xml.parse_pubmed_xml_bytes(batch.xml, location=f"batch {batch.index}")
        assert {i.doc_id for i in items} == set(records_in(batch.xml))


def test_every_request_carries_tool_email_and_api_key(server: EUtilsServer) -> None:
    round_trip(server, client_for(server))
    assert {r.endpoint for r in server.requests} == {"esearch", "epost", "efetch"}
    for r in server.requests:
        assert (r.params["tool"], r.params["email"], r.params["api_key"]) == (
            "medsearch",
            "tests@example.org",
            KEY,
        )
    assert {r.method for r in server.requests_to("epost")} == {"POST"}


def test_no_api_key_is_sent_without_one(
    server: EUtilsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Entrez, "api_key", "biopython-global-key")  # must not leak in
    monkeypatch.setattr(Entrez, "email", "global@example.org")
    client_for(server, api_key=None).search("cancer")
    (request,) = server.requests
    assert "api_key" not in request.params and request.params["email"] == "tests@example.org"


def test_no_email_is_allowed_and_not_sent(
    server: EUtilsServer, recwarn: pytest.WarningsRecorder
) -> None:
    client_for(server, email=None).search("cancer")
    (request,) = server.requests
    assert "email" not in request.params and request.params["tool"] == "medsearch"
    assert not [w for w in recwarn if "mail" in str(w.message)]


def test_since_until_filter_on_entrez_date(server: EUtilsServer) -> None:
    since, until = date(2020, 1, 1), date(2021, 12, 31)
    found = client_for(server).search("all[sb]", since=since, until=until)
    params = server.requests[0].params
    assert (params["datetype"], params["mindate"], params["maxdate"]) == (
        "edat",
        "2020/01/01",
        "2021/12/31",
    )
    assert params["usehistory"] == "y"
    assert found.ids == server.search_ids("all[sb]", since, until) and 0 < found.count < 178


# --- faults that are retried ------------------------------------------------------------------

RETRIED = [
    *[("efetch", f) for f in ("429", "500", "502", "503", "truncate", "truncate_xml")],
    *[("efetch", f) for f in ("slow", "drop", "reset", "html")],
    *[("esearch", f) for f in ("429", "503", "truncate", "truncate_xml", "slow", "drop", "reset")],
    *[("esearch", "html"), ("epost", "html")],
    *[("epost", f) for f in ("429", "500", "truncate", "truncate_xml", "slow", "drop", "reset")],
]


@pytest.mark.slow
@pytest.mark.parametrize(("endpoint", "fault"), RETRIED)
def test_fault_is_retried_then_succeeds(server: EUtilsServer, endpoint: str, fault: str) -> None:
    server.inject(endpoint, fault, times=2, retry_after=0)
    client = client_for(server, timeout=0.5 if fault == "slow" else 5.0)

    round_trip(server, client)

    hits = [r for r in server.requests if r.fault]
    assert [(r.endpoint, r.fault) for r in hits] == [(endpoint, fault)] * 2
    normal = {"esearch": 1, "epost": 1, "efetch": 2}
    assert len(server.requests_to(endpoint)) == normal[endpoint] + 2


def test_transient_error_text_in_a_400_is_retried(server: EUtilsServer) -> None:
    body = (
        b"<eFetchResult><ERROR> Error: External viewer error: Empty Response. "
        b"Bytes read: 0 Status: Timeout</ERROR></eFetchResult>"
    )
    server.inject("efetch", "status", status=400, body=body, content_type="text/xml")
    round_trip(server, client_for(server))
    assert len(server.requests_to("efetch")) == 3


def test_retry_after_seconds_is_the_wait(server: EUtilsServer) -> None:
    server.inject("esearch", "429", retry_after="3")
    sleeps = Sleeps()
    client_for(server, sleep=sleeps).search("cancer")
    first, second = server.requests_to("esearch")
    assert first.fault == "429" and second.fault is None and sleeps == [3]


def test_retry_after_http_date_is_the_wait(server: EUtilsServer, monkeypatch) -> None:
    """An HTTP-date is read against the clock (urllib3's Retry reads ``time.time()``): the
    clock is fixed here, so the wait is exactly the 4 s between it and the date."""
    import types

    import urllib3.util.retry

    now = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC, a whole second as HTTP-dates are
    monkeypatch.setattr(urllib3.util.retry, "time", types.SimpleNamespace(time=lambda: now))
    server.inject("esearch", "503", retry_after=formatdate(now + 4, usegmt=True))
    sleeps = Sleeps()
    client_for(server, sleep=sleeps).search("cancer")
    assert len(server.requests_to("esearch")) == 2 and sleeps == [4]


def test_a_long_retry_after_is_capped(server: EUtilsServer) -> None:
    server.inject("efetch", "429", retry_after="86400")
    sleeps = Sleeps()
    round_trip(server, client_for(server, sleep=sleeps, retry_after_max=7))
    assert sleeps == [7]


def test_backoff_grows_between_tries_and_stays_under_the_cap(server: EUtilsServer) -> None:
    server.inject("esearch", "500", times=5)
    sleeps = Sleeps()
    client = client_for(server, sleep=sleeps, max_tries=6, backoff_factor=1.0, backoff_max=5.0)
    client.search("cancer")
    assert len(server.requests_to("esearch")) == 6
    # urllib3's schedule: none before the first retry, then factor * 2**(n-1) plus
    # jitter (up to factor/2), never above backoff_max
    assert len(sleeps) == 4 and 2 <= sleeps[0] <= 2.5 and 4 <= sleeps[1] <= 4.5
    assert sleeps[2] == sleeps[3] == 5.0


def test_expired_webenv_mid_fetch_is_reposted(server: EUtilsServer) -> None:
    client = client_for(server)
    wanted = client.search("all[sb]").ids[:30]
    batches = []
    for batch in client.fetch(wanted):
        batches.append(batch)
        if batch.index == 1:
            server.inject("efetch", "expire")  # NCBI forgets every WebEnv before the next efetch

    check_batches(server, batches, wanted)
    posts = server.requests_to("epost")
    assert len(posts) == 3  # chunk 1, chunk 1 again (its 13 unfetched ids), chunk 2
    first_batch = set(batches[0].ids)
    reposted = posts[1].params["id"].split(",")
    assert len(reposted) == 13 and set(reposted) == set(wanted[:20]) - first_batch
    efetch = server.requests_to("efetch")
    assert efetch[1].fault == "expire" and efetch[2].params["retstart"] == "0"
    assert efetch[2].params["WebEnv"] != efetch[1].params["WebEnv"]


def test_history_lost_for_good_is_an_error(server: EUtilsServer) -> None:
    server.inject("efetch", "error_xml", times=10, text="Unable to obtain query #1")
    client = client_for(server)
    with pytest.raises(EntrezError, match="Unable to obtain query #1"):
        list(client.fetch(["11618220", "11636720"]))
    assert len(server.requests_to("epost")) == 3  # the first post and two re-posts


# --- failures that are reported ---------------------------------------------------------------


def test_persistent_500_gives_up_with_a_helpful_error(server: EUtilsServer) -> None:
    server.inject("esearch", "500", times=10)
    with pytest.raises(EntrezHTTPError) as caught:
        client_for(server).search("cancer")
    err = caught.value
    assert err.status == 500 and len(server.requests) == 3
    assert "NCBI esearch failed after 3 tries: HTTP 500" in err.message
    assert err.url.startswith(server.url + "esearch.fcgi?") and "term=cancer" in err.url
    assert KEY not in str(err) and "api_key" not in str(err)
    assert "network connection" in err.hint and "ncbi.nlm.nih.gov/Status" in err.hint
    assert "batch size" in err.hint


def test_persistent_429_suggests_an_api_key(server: EUtilsServer) -> None:
    server.inject("efetch", "429", times=10, retry_after="0")
    client = client_for(server, api_key=None, max_tries=2)
    with pytest.raises(EntrezHTTPError) as caught:
        list(client.fetch(["11618220"]))
    assert caught.value.status == 429 and "API key" in caught.value.hint


def test_a_refused_request_is_not_retried(server: EUtilsServer) -> None:
    body = b'{"error":"API key invalid","api-key":"x","type":"invalid","status":"unknown"}'
    server.inject("esearch", "status", status=400, body=body, content_type="application/json")
    with pytest.raises(EntrezHTTPError, match='HTTP 400.*"API key invalid"') as caught:
        client_for(server).search("cancer")
    assert caught.value.status == 400 and len(server.requests) == 1
    assert "API key" in caught.value.hint


@pytest.mark.parametrize("endpoint", ["esearch", "efetch"])
def test_html_page_after_every_try_is_a_clear_error(server: EUtilsServer, endpoint: str) -> None:
    server.inject(endpoint, "html", times=10)
    with pytest.raises(EntrezError, match="HTML page \\('PmFetch response'\\)") as caught:
        round_trip(server, client_for(server))
    assert not isinstance(caught.value, EntrezHTTPError)
    assert len(server.requests_to(endpoint)) == 3 and "maintenance" in caught.value.hint


def test_html_then_a_503_then_xml_share_one_budget(server: EUtilsServer) -> None:
    server.inject("esearch", "html")
    server.inject("esearch", "503", retry_after=None)
    found = client_for(server).search("cancer")
    assert found.count > 0
    assert [r.fault for r in server.requests_to("esearch")] == ["html", "503", None]


ERROR_DOCS = [
    ("esearch", None, '"Invalid db name specified: fleegle"'),
    ("esearch", "eutils-json/esummary.error.xml", '"Invalid db name specified: fleegle"'),
    ("epost", None, '"Invalid db name specified: nothing"'),
    ("epost", "biopython/epost3.xml", '"Empty ID list; Nothing to store"; "Some IDs have'),
    ("efetch", None, "'retstart' cannot be larger than 9998"),
    ("efetch", "eutils-json/einfo.error.xml", '"Can not retrieve DbInfo for db=fleegle"'),
]


@pytest.mark.parametrize(("endpoint", "file", "quoted"), ERROR_DOCS)
def test_ncbi_error_documents_are_quoted(
    server: EUtilsServer, endpoint: str, file: str | None, quoted: str
) -> None:
    server.inject(endpoint, "error_xml", **({"file": file} if file else {}))
    with pytest.raises(EntrezError) as caught:
        round_trip(server, client_for(server))
    assert quoted in caught.value.message and f"NCBI {endpoint}" in caught.value.message
    assert len(server.requests_to(endpoint)) == 1


def test_phrase_not_found_is_a_warning_with_no_hits(server: EUtilsServer) -> None:
    found = client_for(server).search("abcXYZ")
    assert (found.count, found.ids) == (0, [])
    assert found.warnings == ["PhraseNotFound: abcXYZ", "OutputMessage: No items found."]
    assert found.query_translation == "(abcXYZ[All Fields])"


def test_unknown_words_are_dropped_with_a_warning(server: EUtilsServer) -> None:
    client = client_for(server)
    plain = client.search("cancer")
    found = client.search("cancer AND qwertyuiop")
    assert found.ids == plain.ids and found.count == plain.count > 0
    assert found.warnings == ["PhraseNotFound: qwertyuiop"]


def test_an_old_esearch_reply_with_an_http_dtd_reads(server: EUtilsServer) -> None:
    body = (server.pubmed_dir / "eutils-json" / "esearch.error.xml").read_bytes()
    page = _read_search(body, "esearch.fcgi")
    assert (page.count, len(page.ids), page.ids[0]) == (5163, 20, "101595451")
    assert page.warnings == ["PhraseNotFound: fleegle[MeSH Terms]"]


# --- rate limit -------------------------------------------------------------------------------


class FakeClock:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_allows_3_calls_in_any_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(10):
        limiter.wait()
        starts.append(clock.now)
    assert max_per_window(starts) == 3 and starts[0] == 100.0


def test_rate_limiter_gives_threads_distinct_slots() -> None:
    waits = Sleeps()
    limiter = RateLimiter(10, clock=lambda: 0.0, sleep=waits)  # time stands still
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: limiter.wait(), range(22)))
    # each call got its own slot 0.105 s after the previous one (the first needs no wait)
    assert sorted(waits) == pytest.approx([k * 1.05 / 10 for k in range(1, 22)])


class CountingLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__(10, clock=lambda: 0.0, sleep=lambda s: None)
        self.calls = 0

    def wait(self) -> float:
        self.calls += 1
        return 0.0


def test_every_request_and_every_retry_passes_the_rate_limiter(server: EUtilsServer) -> None:
    server.inject("efetch", "503", retry_after=None)
    server.inject("esearch", "drop")
    server.inject("epost", "html")
    limiter = CountingLimiter()
    config = EntrezConfig(email="a@example.org", base_url=server.url, backoff_factor=0)
    round_trip(server, EntrezClient(config, limiter=limiter, sleep=Sleeps()))
    assert limiter.calls == len(server.requests) == 3 + 3  # one of each, three retried


@pytest.mark.parametrize(("key", "rate"), [(None, 3.0), (KEY, 10.0)])
def test_the_default_rate_is_ncbis(key: str | None, rate: float) -> None:
    client = EntrezClient(EntrezConfig(email="a@example.org", api_key=key))
    assert client.limiter.interval == pytest.approx(1.05 / rate)


# --- more than 9,999 hits ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_large_result_is_split_by_entry_date(server: EUtilsServer) -> None:
    client = client_for(server)
    found = client.search(LARGE_QUERY)
    assert found.count == LARGE_COUNT == len(found.ids) == len(set(found.ids))
    assert set(found.ids) == set(server.search_ids(LARGE_QUERY)) and found.warnings == []
    first, *slices = server.requests_to("esearch")
    assert first.params["usehistory"] == "y" and "mindate" not in first.params
    assert slices and all(r.params["datetype"] == "edat" for r in slices)
    assert all(int(r.params["retstart"]) + int(r.params["retmax"]) <= 9_999 for r in slices)

    sample = found.ids[::1000]  # synthetic ids: real records with their PMID rewritten
    batches = list(client.fetch(sample))
    check_batches(server, batches, sample)
    assert {p for b in batches for p in records_in(b.xml)} == set(sample)


def test_a_large_dated_result_matches_the_server(server: EUtilsServer) -> None:
    since, until = date(2016, 1, 1), date(2018, 6, 30)
    found = client_for(server).search(LARGE_QUERY, since=since, until=until)
    expected = server.search_ids(LARGE_QUERY, since, until)
    assert len(expected) > 9_999 and sorted(found.ids) == sorted(expected)
    for r in server.requests_to("esearch"):
        assert since <= date(*map(int, r.params["mindate"].split("/"))) <= until


def test_one_day_over_the_cap_is_a_clear_error(server: EUtilsServer) -> None:
    day = date(2021, 6, 1)
    if "one busy day" not in server.synthetic:
        server.add_synthetic("one busy day", 12_000, day, day)
    with pytest.raises(EntrezError, match="12,000 PubMed records dated 2021-06-01") as caught:
        client_for(server).search("one busy day", since=day - timedelta(days=3), until=day)
    assert "narrow the query" in caught.value.hint


# --- input and settings -----------------------------------------------------------------------


def test_fetch_checks_ids_before_any_request(server: EUtilsServer) -> None:
    client = client_for(server)
    with pytest.raises(EntrezError, match="not PubMed ids: 'abc'"):
        list(client.fetch(["123", "abc"]))
    assert list(client.fetch([])) == [] and server.requests == []


@pytest.mark.parametrize(
    "bad",
    [
        {"email": "not-an-address"},
        {"base_url": "ftp://example.org/"},
        {"efetch_batch_size": 0},
        {"epost_chunk_size": 20_000},
        {"max_tries": 0},
        {"api_key": None, "requests_per_second": 5},
    ],
)
def test_bad_settings_are_config_errors(bad: dict) -> None:
    settings = {"email": "a@example.org", **bad}
    with pytest.raises(ConfigError):
        EntrezConfig(**settings)


# --- bounded searches -----------------------------------------------------------------------


def test_the_first_n_of_a_million_hits_take_one_esearch(server: EUtilsServer) -> None:
    found = client_for(server).search_top(BROAD_QUERY, 500)
    assert found.count == BROAD_COUNT and found.ids == server.search_ids(BROAD_QUERY)[:500]
    (request,) = server.requests
    assert request.params["retmax"] == "500" and "usehistory" not in request.params


@pytest.mark.slow
def test_past_the_cap_the_newest_date_slices_come_first(server: EUtilsServer) -> None:
    found = client_for(server).search_top(BROAD_QUERY, 12_000)
    assert found.ids == server.search_ids(BROAD_QUERY)[:12_000]  # newest entry first
    assert len(server.requests) < 20  # date halving down to the newest slices, not a listing


def test_modified_records_are_found_among_posted_ids(server: EUtilsServer) -> None:
    ids = server.search_ids("all[sb]")[:30]
    server.revise(ids[4], server.record_xml(ids[4]), modified=date.today())
    server.delete(ids[7])
    check = client_for(server).check_stored(ids, date.today() - timedelta(days=1))
    assert check.modified == (ids[4],) and check.unlisted == (ids[7],)
    terms = [r.params["term"] for r in server.requests_to("esearch")]
    assert all(t.startswith("#") for t in terms) and len(server.requests_to("epost")) == 2


def test_gone_names_only_the_pmids_pubmed_does_not_find(server: EUtilsServer) -> None:
    ids = server.search_ids("all[sb]")[:5]
    server.delete(ids[2])
    assert client_for(server).gone(ids) == [ids[2]]
    (request,) = server.requests
    assert request.params["term"] == " OR ".join(f"{i}[uid]" for i in ids)
