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
from tests.conftest import PUBMED_DATA, run_cli
from tests.eutils_server import LARGE_COUNT, LARGE_QUERY, EUtilsServer


@pytest.fixture(scope="module")
def server():
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    with EUtilsServer() as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh(server):
    server.reset()


def _env(server, **extra):
    return {"NCBI_EUTILS_URL": server.url, "NCBI_EMAIL": "librarian@example.org", **extra}


def _fetched_ids(server) -> set[str]:
    """Every PMID the client asked for (epost id lists)."""
    ids: set[str] = set()
    for r in server.requests_to("epost"):
        ids.update(r.params["id"].split(","))
    return ids


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


def test_html_instead_of_xml_is_a_clear_error_and_loses_nothing(server, tmp_path):
    db = tmp_path / "m.duckdb"
    server.inject("esearch", "html")
    out = run_cli("--db", str(db), "ingest", "pubmed", "all[sb]", env=_env(server))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "HTML" in out.stderr
    with Store(db) as store:
        assert store.runs(1)[0].status == "failed"


def test_transient_faults_are_retried_through_the_pipeline(server, tmp_path):
    client = EntrezClient(EntrezConfig(email="x@example.org", base_url=server.url, backoff_base=0.01,
                                       backoff_cap=0.05, efetch_batch_size=20, api_key="test-key"))
    server.inject("efetch", "503", times=1)
    server.inject("efetch", "truncate", times=1)
    with Store(tmp_path / "m.duckdb") as store:
        report = pipeline.ingest_pubmed(store, client, "all[sb]", max_records=60, progress=False)
        assert report.result.stored == 60 and report.problems == []


def test_interrupted_run_resumes_without_refetching(server, tmp_path):
    client = EntrezClient(EntrezConfig(email="x@example.org", base_url=server.url, backoff_base=0.01,
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
