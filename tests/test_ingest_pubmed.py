"""`medsearch ingest pubmed` end to end: the real CLI and Biopython's HTTP path against a local
E-utilities server that replays real PubMed responses. Nothing here touches the internet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest

from ingest import pipeline
from ingest.entrez import EntrezClient, EntrezConfig
from ingest.store import Store
from tests.conftest import run_cli
from tests.eutils_server import BROAD_COUNT, BROAD_QUERY, LARGE_COUNT, LARGE_QUERY


def _env(server, **extra):
    return {"NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "librarian@example.org", **extra}


def _fetched_ids(server) -> set[str]:
    """Every PMID the client asked for (epost id lists)."""
    ids: set[str] = set()
    for r in server.requests_to("epost"):
        ids.update(r.params["id"].split(","))
    return ids


@pytest.mark.slow
def test_query_then_rerun_adds_only_what_is_new(server, tmp_path):
    db = tmp_path / "m.duckdb"
    first = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "50", env=_env(server))
    assert first.returncode == 0, first.stderr
    assert "50 stored" in first.stdout
    n_pool = len(server.search_ids("all[sb]", None, None))
    first_ids = _fetched_ids(server)
    assert len(first_ids) == 50

    server.reset()
    second = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", env=_env(server))
    assert second.returncode == 0, second.stderr
    assert f"{n_pool} records match; 50 already stored" in second.stdout
    assert f"{n_pool - 50} stored" in second.stdout
    assert _fetched_ids(server).isdisjoint(first_ids)  # stored records are not fetched again

    server.reset()
    third = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", env=_env(server))
    assert "0 stored" in third.stdout and server.requests_to("efetch") == []
    stats = json.loads(run_cli("--db", str(db), "stats", "--json").stdout)
    assert stats["records"] == n_pool
    assert all(r.params.get("tool") == "medsearch" for r in server.requests)
    assert all(r.params.get("email") == "librarian@example.org" for r in server.requests)


def test_stored_record_equals_the_served_xml(server, tmp_path):
    from ingest.pubmed_xml import parse_pubmed_xml_bytes

    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "5", env=_env(server)).returncode == 0
    with Store(db) as store:
        for pmid in _fetched_ids(server):
            served = parse_pubmed_xml_bytes(b"<PubmedArticleSet>" + server.record_xml(pmid) + b"</PubmedArticleSet>", location="x")
            assert store.get_article(pmid) == served[0]


@pytest.mark.slow
def test_an_html_page_instead_of_xml_is_retried(server, tmp_path):
    db = tmp_path / "m.duckdb"
    server.inject("esearch", "html")  # NCBI's "Service unavailable" page, with status 200
    out = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "5", env=_env(server))
    assert out.returncode == 0, out.stderr
    assert "5 stored" in out.stdout and "HTML page" in out.stderr  # the retry is logged
    # the new store's count (its HTML page retried), then the search
    assert [r.fault for r in server.requests_to("esearch")] == ["html", None, None]


def test_html_on_every_try_fails_the_run_with_a_clear_error(server, tmp_path):
    from ingest.errors import EntrezError

    server.inject("esearch", "html", times=10)
    client = EntrezClient(EntrezConfig(email="x@example.org", base_url=server.url, max_tries=3,
                                       backoff_factor=0.01), sleep=lambda s: None)
    with Store(tmp_path / "m.duckdb") as store:
        with pytest.raises(EntrezError, match="sent an HTML page .*where XML was expected"):
            pipeline.ingest_pubmed(store, client, "all[sb]", progress=False)
        run = store.runs(1)[0]
        assert run.status == "failed" and "HTML page" in run.message
    assert len(server.requests_to("esearch")) == 3


def test_transient_faults_are_retried_through_the_pipeline(server, tmp_path):
    client = EntrezClient(EntrezConfig(email="x@example.org", base_url=server.url, backoff_factor=0.01,
                                       efetch_batch_size=20, api_key="test-key"))
    server.inject("efetch", "503", times=1)
    server.inject("efetch", "truncate", times=1)
    with Store(tmp_path / "m.duckdb") as store:
        report = pipeline.ingest_pubmed(store, client, "all[sb]", max_records=60, progress=False)
        assert report.result.stored == 60 and report.problems == []


def test_interrupted_run_resumes_without_refetching(server, tmp_path):
    client = EntrezClient(EntrezConfig(email="x@example.org", base_url=server.url, backoff_factor=0.01,
                                       efetch_batch_size=20, api_key="test-key"))
    real_fetch = client.fetch

    def fetch_then_interrupt(ids):
        for n, batch in enumerate(real_fetch(ids)):
            if n == 2:
                raise KeyboardInterrupt
            yield batch

    with Store(tmp_path / "m.duckdb") as store:
        client.fetch = fetch_then_interrupt
        with pytest.raises(KeyboardInterrupt):
            pipeline.ingest_pubmed(store, client, "all[sb]", progress=False)
        assert store.runs(1)[0].status == "interrupted"
        stored_before = {r[0] for r in store.con.execute("SELECT doc_id FROM articles").fetchall()}
        assert len(stored_before) == 40

        client.fetch = real_fetch
        server.reset()
        report = pipeline.ingest_pubmed(store, client, "all[sb]", progress=False)
        assert report.already_stored == 40
        assert _fetched_ids(server).isdisjoint(stored_before)
        assert store.count() == report.found


def test_since_until_restrict_by_entry_date(server, tmp_path):
    db = tmp_path / "m.duckdb"
    out = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--since", "2015-01-01",
                  "--until", "2016-12-31", env=_env(server))
    assert out.returncode == 0, out.stderr
    esearch = server.requests_to("esearch")[0].params
    assert esearch["mindate"] == "2015/01/01" and esearch["maxdate"] == "2016/12/31"
    expected = server.search_ids("all[sb]", date(2015, 1, 1), date(2016, 12, 31))
    with Store(db) as store:
        assert store.count() == len(expected) > 0


@pytest.mark.slow
def test_tens_of_thousands_of_records_with_a_kill_in_the_middle(server, tmp_path):
    """25,000 hits: split by date for esearch, fetched in batches; SIGINT mid-run, then resume."""
    db = tmp_path / "large.duckdb"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))},
           **_env(server, NCBI_API_KEY="test-key")}
    exe = os.path.join(os.path.dirname(sys.executable), "medsearch")
    proc = subprocess.Popen([exe, "--db", str(db), "ingest", "pubmed", LARGE_QUERY], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while len(server.requests_to("efetch")) < 30 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "run the same command again" in err
    with Store(db) as store:
        done = store.count()
        assert 0 < done < LARGE_COUNT
    server.reset()
    out = run_cli("--db", str(db), "ingest", "pubmed", LARGE_QUERY, env=_env(server, NCBI_API_KEY="test-key"),
                  timeout=600)
    assert out.returncode == 0, out.stderr
    assert f"{LARGE_COUNT} records match; {done} already stored" in out.stdout
    assert len(_fetched_ids(server)) == LARGE_COUNT - done
    with Store(db) as store:
        assert store.count() == LARGE_COUNT
        assert [r.status for r in store.runs(2)] == ["completed", "interrupted"]


# --- bounded pulls ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("n", "efetches"), [(50, 1), (500, 3)])
def test_max_n_on_a_million_hits_costs_requests_in_proportion_to_n(server, tmp_path, n, efetches):
    db = tmp_path / "m.duckdb"
    out = run_cli("--db", str(db), "ingest", "pubmed", BROAD_QUERY, "--max", str(n), env=_env(server))
    assert out.returncode == 0, out.stderr
    assert f"PubMed: {BROAD_COUNT} records match; 0 already stored." in out.stdout
    # a new store's count (no ids), then one esearch: no listing of the million
    count, search = server.requests_to("esearch")
    assert count.params["retmax"] == "0"
    assert search.params["retmax"] == str(n) and "sort" not in search.params
    assert len(server.requests_to("epost")) == 1 and len(server.requests_to("efetch")) == efetches
    newest = server.search_ids(BROAD_QUERY)[:n]  # PubMed's default order: newest entry first
    with Store(db) as store:
        stored = [r[0] for r in store.con.execute("SELECT doc_id FROM articles").fetchall()]
    assert sorted(stored) == sorted(newest)


@pytest.mark.slow
@pytest.mark.parametrize("sort", ["pub_date", "relevance"])
def test_max_keeps_the_first_n_in_the_sort_asked_for(server, tmp_path, sort):
    db = tmp_path / "m.duckdb"
    out = run_cli("--db", str(db), "ingest", "pubmed", "cancer", "--max", "7", "--sort", sort,
                  env=_env(server))
    assert out.returncode == 0, out.stderr
    assert server.requests_to("esearch")[-1].params["sort"] == sort  # after the new store's count
    expected = server.search_ids("cancer", sort=sort)[:7]
    assert expected != server.search_ids("cancer")[:7]  # the sort makes a difference here
    with Store(db) as store:
        assert store.stored_ids(server.search_ids("cancer")) == [
            i for i in server.search_ids("cancer") if i in set(expected)
        ]


@pytest.mark.slow
def test_pub_date_order_keeps_the_most_recently_published(server, tmp_path):
    """Oracle: publication years as our own parser stores them, not the server's ordering."""
    db = tmp_path / "m.duckdb"
    assert run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", "--max", "40", env=_env(server)).returncode == 0
    with Store(db) as store:
        years = dict(store.con.execute("SELECT doc_id, pub_year FROM articles").fetchall())
    server.reset()
    db2 = tmp_path / "top.duckdb"
    out = run_cli("--db", str(db2), "ingest", "pubmed", "all[sb]", "--max", "5", "--sort", "pub_date",
                  env=_env(server))
    assert out.returncode == 0, out.stderr
    with Store(db2) as store:
        top = [r[0] for r in store.con.execute("SELECT pub_year FROM articles").fetchall()]
    others = [y for y in years.values() if y is not None]
    assert len(top) == 5 and min(top) >= sorted(others, reverse=True)[4]


def test_more_than_9999_in_relevance_order_is_refused_before_fetching(server, tmp_path):
    out = run_cli("--db", str(tmp_path / "m.duckdb"), "ingest", "pubmed", BROAD_QUERY, "--max", "20000",
                  "--sort", "relevance", env=_env(server))
    assert out.returncode == 2 and "at most 9,999" in out.stderr and "--sort recent" in out.stderr
    assert len(server.requests) == 1 and not (tmp_path / "m.duckdb").exists()


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_query_is_an_error_before_any_request(server, tmp_path, query):
    out = run_cli("--db", str(tmp_path / "m.duckdb"), "ingest", "pubmed", query, env=_env(server))
    assert out.returncode == 2 and "query is empty" in out.stderr and "Traceback" not in out.stderr
    assert server.requests == []


@pytest.mark.slow
def test_without_an_email_no_email_parameter_is_sent(server, tmp_path):
    env = {"NCBI_EUTILS_URL": server.url}
    out = run_cli("--db", str(tmp_path / "m.duckdb"), "ingest", "pubmed", "cancer", "--max", "3", env=env)
    assert out.returncode == 0, out.stderr
    assert "no e-mail" in out.stderr
    assert server.requests and all("email" not in r.params for r in server.requests)
