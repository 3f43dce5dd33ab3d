"""The HTTP API served for real (uvicorn on a loopback port) over the demo records, talked to with
httpx: search with filters, paging, sorts, facets, highlights and explanations; record cards with
their retraction and errata links; similar articles; health and status; the OpenAPI schema;
problem+json errors (caps, syntax, unknown names, unknown endpoints); API keys; rate limits.

Expected values come from the records read back from the *store* (``tests/engine_snapshot.py``),
never from the API or the engine; every JSON body is also validated against the API's own
response model (``extra="forbid"``), so the published schema cannot drift from what is sent.
"""

from __future__ import annotations

import re

import pytest

httpx = pytest.importorskip("httpx")

from tests.api_server import KEYS, auth, key_entries, make_services, serve  # noqa: E402

QUERY = "sepsis mortality"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def api(real, tmp_path_factory):
    services = make_services(real.db, tmp_path_factory.mktemp("lib") / "library.duckdb")
    with serve(services) as base:
        with httpx.Client(base_url=base, timeout=60) as client:
            yield client


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    return body


def _valid(model, data):
    return model.model_validate(data)


# -- search ---------------------------------------------------------------------------------------------


def test_search_returns_the_engine_json_that_the_schema_describes(api):
    from search.api.schemas import SearchResponse

    r = api.get("/search", params={"q": QUERY, "k": 5})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = _valid(SearchResponse, r.json())
    assert 0 < len(data.hits) <= 5 and data.total >= len(data.hits)
    assert [h.rank for h in data.hits] == list(range(1, len(data.hits) + 1))
    assert data.facets is None and data.explanation is None


def test_every_hit_of_a_year_and_type_filter_passes_it_in_the_store(api, real):
    r = api.get("/search", params={"q": "treatment", "year_from": 2015, "year_to": 2020,
                                   "type": "Randomized Controlled Trial", "k": 50, "mode": "bm25"})
    hits = r.json()["hits"]
    assert hits, r.text
    for h in hits:
        a = real.articles[h["doc_id"]]
        years = {y for y in (a.pub_year, a.article_date.year if a.article_date else None) if y}
        assert any(2015 <= y <= 2020 for y in years), (h["doc_id"], years)
        assert "Randomized Controlled Trial" in {p.name for p in a.publication_types}


def test_paging_gives_the_next_results_of_the_same_order(api):
    whole = api.get("/search", params={"q": QUERY, "k": 20, "mode": "bm25"}).json()["hits"]
    second = api.get("/search", params={"q": QUERY, "k": 10, "offset": 10, "mode": "bm25"}).json()
    assert second["offset"] == 10
    assert [h["doc_id"] for h in second["hits"]] == [h["doc_id"] for h in whole[10:20]]


def _earliest_year(a) -> int:
    """The earliest year a record gives (its issue, or online ahead of print): what a date sort orders by."""
    return min((y for y in (a.pub_year, a.article_date.year if a.article_date else None) if y), default=0)


def test_a_date_sort_lists_the_newest_records_first(api, real):
    hits = api.get("/search", params={"q": "cancer", "sort": "date", "k": 30}).json()["hits"]
    years = [_earliest_year(real.articles[h["doc_id"]]) for h in hits]
    assert len(years) > 5 and years == sorted(years, reverse=True)


def test_facets_count_the_whole_result_set(api):
    from search.api.schemas import SearchResponse

    data = _valid(SearchResponse, api.get("/search", params={"q": QUERY, "facets": True, "k": 1}).json())
    facets = data.facets
    assert facets.total == data.total
    assert sum(y.count for y in facets.years) + facets.no_year == facets.total


def test_highlights_mark_the_query_words_and_can_be_left_out(api):
    hits = api.get("/search", params={"q": "sepsis", "k": 5}).json()["hits"]
    spans = [(h, s) for h in hits for s in h["highlights"]]
    assert spans
    for h, s in spans:
        text = h["title"] if s["field"] == "title" else h["abstract"]
        assert text[s["start"]:s["end"]].lower().startswith("seps")
    bare = api.get("/search", params={"q": "sepsis", "k": 5, "highlights": False}).json()["hits"]
    assert [h["doc_id"] for h in bare] == [h["doc_id"] for h in hits]
    assert all(h["highlights"] == [] for h in bare)


def test_explain_adds_the_matched_terms_and_how_the_query_was_read(api):
    plain = api.get("/search", params={"q": "sepsis AND 2010:2024[dp]", "k": 3}).json()
    assert plain["explanation"] is None and all(h["matched_terms"] == [] for h in plain["hits"])
    shown = api.get("/search", params={"q": "sepsis AND 2010:2024[dp]", "k": 3, "explain": True}).json()
    assert "2010" in shown["explanation"]
    assert all(any(t["term"].startswith("seps") for t in h["matched_terms"]) for h in shown["hits"])


# -- records --------------------------------------------------------------------------------------------


def _linked(real, kind: str):
    for _, a in sorted(real.articles.items()):
        pmids = [c.pmid for c in a.comments_corrections if c.ref_type == kind and c.pmid]
        if pmids:
            return a, pmids
    pytest.fail(f"the demo records have no {kind} link")


def test_a_record_card_carries_the_stores_fields_and_its_retraction_links(api, real):
    from search.api.schemas import HitModel

    article, notices = _linked(real, "RetractionIn")
    r = api.get(f"/records/{article.pmid}")
    card = _valid(HitModel, r.json())
    assert card.pmid == article.pmid and card.title == article.title and card.doi == article.doi
    assert card.is_retracted is True and set(card.retracted_by) == set(notices)
    assert len(card.authors) == len(article.authors)


def test_a_record_card_names_its_errata(api, real):
    article, errata = _linked(real, "ErratumIn")
    card = api.get(f"/records/{article.pmid}").json()
    assert set(card["errata"]) == set(errata)


def test_similar_articles_leave_out_the_paper_and_keep_k(api, real):
    from search.api.schemas import SimilarResponse

    pmid = next(a.pmid for a in real.articles.values() if a.pmid and a.abstract and not a.is_retracted)
    data = _valid(SimilarResponse, api.get(f"/records/{pmid}/similar", params={"k": 4}).json())
    assert data.source.pmid == pmid and len(data.hits) == 4
    assert pmid not in {h.pmid for h in data.hits}


def test_an_unknown_record_is_a_404_that_says_how_to_fetch_it(api):
    for path in ("/records/99999999999", "/records/99999999999/similar"):
        body = _problem(api.get(path), 404)
        assert "not in the search index" in body["detail"] and "medsearch ingest pubmed" in body["hint"]


# -- health, status, schema -------------------------------------------------------------------------------


def test_health_and_status_describe_the_snapshot(api, real):
    from search.api.schemas import StatusResponse

    assert api.get("/health").json() == {"status": "ok"}
    status = _valid(StatusResponse, api.get("/status").json())
    assert status.records == len(real.articles)
    assert re.fullmatch(r"v\d{6}", status.snapshot)
    assert status.index.fresh is True and status.index.writer is None


def test_the_openapi_schema_lists_every_endpoint_and_the_docs_page_serves(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/search", "/records/{pmid}", "/records/{pmid}/similar", "/summaries", "/saved",
                 "/saved/{name}", "/saved/{name}/run", "/saved/{name}/runs", "/saved/{name}/feed", "/lists",
                 "/lists/{name}", "/lists/{name}/papers", "/lists/{name}/papers/{pmid}",
                 "/lists/{name}/papers/{pmid}/position", "/lists/{name}/papers/{pmid}/note",
                 "/lists/{name}/export", "/health", "/status"):
        assert path in paths, path
    assert "k" in {p["name"] for p in paths["/search"]["get"]["parameters"]}
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# -- errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "named"), [
    ({"q": "a " * 1001}, "2,000"),  # the query's length cap
    ({"q": QUERY, "k": 1001}, "1000"),  # the k cap
    ({"q": QUERY, "k": 10, "offset": 995}, "1,000"),  # results beyond the relevance order's end
    ({"q": " ".join(f"word{i}" for i in range(70))}, "64"),  # distinct terms
])
def test_a_search_beyond_a_cap_is_a_422_naming_the_cap(api, params, named):
    body = _problem(api.get("/search", params=params), 422)
    assert named in body["detail"] and body["hint"]


def test_filters_the_engine_refuses_are_a_422_with_its_message(api):
    body = _problem(api.get("/search", params={"q": QUERY, "year_from": 2020, "year_to": 2010}), 422)
    assert "2020-2010 is empty" in body["detail"] and body["hint"] == "Swap the two years."
    body = _problem(api.get("/search", params={"q": QUERY, "clinical": "astrology"}), 422)
    assert "Clinical Queries" in body["detail"] and "therapy/broad" in body["hint"]


def test_a_malformed_query_is_a_400_that_says_what_is_wrong(api):
    body = _problem(api.get("/search", params={"q": "(sepsis AND"}), 400)
    assert body["type"].endswith("QuerySyntaxError")


def test_bad_parameters_and_unknown_endpoints_are_problems_too(api):
    body = _problem(api.get("/search", params={"q": QUERY, "k": "ten"}), 422)
    assert "query parameter k" in body["detail"]
    _problem(api.get("/search", params={"q": QUERY, "mode": "telepathy"}), 422)
    _problem(api.get("/search"), 422)
    body = _problem(api.get("/nowhere"), 404)
    assert "/nowhere" in body["detail"]
    _problem(api.put("/search"), 405)


# -- auth and rate limits -----------------------------------------------------------------------------------


def test_writes_need_a_valid_key_and_reads_do_not_on_loopback(api):
    body = _problem(api.post("/lists", json={"name": "auth-check"}), 401)
    assert "API key" in body["detail"] and "Bearer" in body["hint"]
    assert api.post("/lists", json={"name": "auth-check"}).headers["www-authenticate"].startswith("Bearer")
    _problem(api.post("/lists", json={"name": "auth-check"}, headers={"Authorization": "Bearer msk_wrong"}), 401)
    assert api.post("/lists", json={"name": "auth-check"}, headers=auth()).status_code == 201
    assert api.get("/lists/auth-check").status_code == 200  # a read, no key
    _problem(api.get("/search", params={"q": QUERY}, headers={"Authorization": "Bearer msk_wrong"}), 401)


def test_closed_reads_need_a_key_and_a_server_without_keys_says_how_to_make_one(real, tmp_path):
    closed = make_services(real.db, tmp_path / "a.duckdb", open_reads=False)
    with serve(closed) as base:
        _problem(httpx.get(f"{base}/search", params={"q": QUERY}), 401)
        assert httpx.get(f"{base}/search", params={"q": QUERY}, headers=auth("bob")).status_code == 200
        assert httpx.get(f"{base}/health").status_code == 200
    keyless = make_services(real.db, tmp_path / "b.duckdb", keys="")
    with serve(keyless) as base:
        body = _problem(httpx.post(f"{base}/lists", json={"name": "x"}), 403)
        assert "MEDSEARCH_API_KEYS" in body["hint"] and "--new-key" in body["hint"]


def test_each_key_has_its_own_rate_limit_and_a_429_says_when_to_retry(real, tmp_path):
    limited = make_services(real.db, tmp_path / "lib.duckdb", rate=3)
    with serve(limited) as base, httpx.Client(base_url=base, timeout=60) as client:
        codes = [client.get("/lists", headers=auth("alice")).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = client.get("/lists", headers=auth("alice"))
        body = _problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1 and "3 a minute" in body["detail"]
        assert body["type"] == "urn:medsearch:problem:rate-limited"
        assert client.get("/lists", headers=auth("bob")).status_code == 200  # bob's own bucket
        assert client.get("/health").status_code == 200  # never limited


def test_the_key_ring_accepts_only_its_keys_and_refuses_raw_keys_in_the_setting():
    from ingest.errors import ConfigError
    from search.api.keys import KeyRing
    from search.config import Settings

    ring = KeyRing.parse(key_entries())
    assert ring.name_of(KEYS["alice"]) == "alice" and ring.name_of(KEYS["bob"]) == "bob"
    assert ring.name_of(KEYS["alice"] + "x") is None and ring.name_of("") is None
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"MEDSEARCH_API_KEYS": "alice:" + KEYS["alice"]})
    assert KEYS["alice"] not in str(err.value) and "--new-key" in err.value.hint


def test_the_rate_limiter_refills_at_its_rate_and_its_wait_is_enough():
    from search.api.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(6, clock=lambda: now[0])  # 6 a minute: one token every 10 s, bursts of 6
    assert [limiter.take("a") for _ in range(6)] == [None] * 6
    wait = limiter.take("a")
    assert wait == 10
    now[0] += wait - 1
    assert limiter.take("a") is not None  # a second early: still refused
    now[0] += 1
    assert limiter.take("a") is None and limiter.take("a") is not None  # one token, once
    assert limiter.take("b") is None  # another client's bucket is full


def test_an_unexpected_failure_is_a_500_problem_without_a_traceback(real, tmp_path):
    from dataclasses import replace

    services = make_services(real.db, tmp_path / "lib.duckdb")

    class Broken:
        def __getattr__(self, name):
            return getattr(services.engine, name)

        def search(self, *args, **kwargs):
            raise RuntimeError("secret internals /home/user/x.py line 3")

    with serve(replace(services, engine=Broken())) as base:
        r = httpx.get(f"{base}/search", params={"q": QUERY})
    body = _problem(r, 500)
    assert "log" in body["detail"] and "secret internals" not in r.text
