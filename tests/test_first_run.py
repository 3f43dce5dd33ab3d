"""The app's first-run screen with Streamlit's AppTest (the real app.py, real files, real jobs):
an empty store shows it instead of the search screen; offline it says so; bad input is a
message and starts nothing; a store with records and no index is offered the index alone, whose
job opens the search screen. The browser tests (tests/test_browser_first_run.py) load from the
replay E-utilities server in Chromium."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from ingest.lock import WriterLock
from search import jobs
from tests.conftest import REPO, run_cli

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = streamlit_testing.AppTest
TIMEOUT = 120


def text(elements) -> str:
    """The text of Markdown elements, their backslash escapes read (the app escapes Markdown)."""
    return " ".join(re.sub(r"\\(.)", r"\1", str(e.value)) for e in elements)


def closed_url() -> str:
    """An E-utilities URL on this machine where nothing listens: PubMed unreachable."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/entrez/eutils/"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Settings of an app over an empty store, BM25 only; PubMed unreachable unless a test says otherwise."""
    for name in ("MEDSEARCH_DEMO_DATA", "NCBI_EMAIL", "NCBI_API_KEY", "MEDSEARCH_INDEX_DIR", "MEDSEARCH_SEARCH_MODE"):
        monkeypatch.delenv(name, raising=False)
    values = {"MEDSEARCH_DB": str(tmp_path / "store.duckdb"), "MEDSEARCH_LIBRARY_DB": str(tmp_path / "library.duckdb"),
              "MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none", "MEDSEARCH_LLM": "none",
              "MEDSEARCH_DEMO_DATA": str(tmp_path / "no-demo"), "NCBI_EUTILS_URL": closed_url()}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    from webapp.services import shared_services

    shared_services.clear()
    yield values
    shared_services.clear()


def app() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_an_empty_store_offline_shows_the_first_run_screen_saying_pubmed_cannot_be_reached(env):
    at = app()
    assert not at.exception, [e.value for e in at.exception]
    assert "Welcome to medsearch" in text(at.header)
    said = text(at.warning)
    assert "PubMed cannot be reached from this machine" in said and "From files on this machine" in said
    assert "Connection refused" in text(at.caption)  # what failed, under the plain message
    assert "Demo records" not in said  # no demo folder configured: not offered
    assert [t.label for t in at.tabs] == ["From PubMed", "From files on this machine"]
    assert button(at, "Load from PubMed").disabled
    assert "w_q" not in [w.key for w in at.text_input]  # no search box


def test_a_configured_demo_folder_is_offered_and_loads_then_indexes(env, shared_data, monkeypatch):
    db = Path(env["MEDSEARCH_DB"])
    monkeypatch.setenv("MEDSEARCH_DEMO_DATA", str(shared_data / "pubmed" / "biopython"))
    at = app()
    assert [t.label for t in at.tabs] == ["From PubMed", "From files on this machine", "Demo records"]
    assert "load the demo records" in text(at.warning)
    button(at, "Load the demo records").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = jobs.current(db)
    assert job is not None and [s.args for s in job.steps] == [("ingest", "demo"), ("index",)]
    deadline = time.monotonic() + 120
    while (job := jobs.current(db)) is not None and job.running:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job is not None and job.status == jobs.DONE, job
    at.run()
    assert "Welcome to medsearch" not in text(at.header) and at.text_input(key="w_q").value == ""


def test_loading_from_pubmed_without_an_email_is_a_message_and_starts_nothing(env, server, monkeypatch):
    monkeypatch.setenv("NCBI_EUTILS_URL", server.url)  # reachable
    at = app()
    assert not at.warning
    at.text_input(key="fr_query").set_value("asthma")
    button(at, "Load from PubMed").click().run()
    assert "An e-mail address is needed to load records from PubMed" in text(at.error)
    assert "NCBI asks every program" in text(at.caption)
    assert jobs.current(Path(env["MEDSEARCH_DB"])) is None


def test_a_folder_without_records_is_a_message_and_starts_nothing(env, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no records here\n")
    at = app()
    at.text_area(key="fr_paths").set_value(str(folder))
    button(at, "Load the files").click().run()
    assert f"No record files in {folder} (1 other files skipped)" in text(at.error)
    assert jobs.current(Path(env["MEDSEARCH_DB"])) is None
    assert not Path(env["MEDSEARCH_DB"]).exists()


def test_records_without_an_index_are_offered_the_index_whose_job_opens_the_search_screen(env, shared_data):
    db = Path(env["MEDSEARCH_DB"])
    assert run_cli("--db", str(db), "ingest", "files", str(shared_data / "pubmed" / "biopython")).returncode == 0
    at = app()
    assert "Welcome to medsearch" in text(at.header)
    assert "no search index yet" in text(at.markdown)
    button(at, "Build the search index").click().run()
    job = jobs.current(db)
    assert job is not None and [s.args for s in job.steps] == [("index",)]
    deadline = time.monotonic() + 120
    while (job := jobs.current(db)) is not None and job.running:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job is not None and job.status == jobs.DONE, job
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Welcome to medsearch" not in text(at.header)  # the search screen
    assert at.text_input(key="w_q").value == ""  # the search box


def test_update_from_pubmed_in_the_status_panel_runs_update_then_index_as_a_job(env, server, shared_data, monkeypatch):
    db = Path(env["MEDSEARCH_DB"])
    monkeypatch.setenv("NCBI_EUTILS_URL", server.url)
    cli_env = {k: v for k, v in env.items() if k != "NCBI_EUTILS_URL"}
    assert run_cli("ingest", "files", str(shared_data / "pubmed" / "biopython"), env=cli_env).returncode == 0
    assert run_cli("index", env=cli_env).returncode == 0
    at = app()
    assert "Welcome to medsearch" not in text(at.header)
    button(at, "Update from PubMed").click().run()  # no e-mail: refused, nothing starts
    assert "An e-mail address is needed" in text(at.sidebar.error)
    assert jobs.current(db) is None
    with WriterLock(db, "a test holding the store"):  # the job waits: seen running in the panel
        at.sidebar.text_input[-1].set_value("librarian@example.org")
        button(at, "Update from PubMed").click().run()
        job = jobs.current(db)
        assert job is not None and job.kind == "update" and [s.args[0] for s in job.steps] == ["update", "index"]
        assert not at.exception, [e.value for e in at.exception]
        bars = " ".join(re.sub(r"\\(.)", r"\1", p.proto.text) for p in at.get("progress"))
        assert "Step 1 of 2: Fetching what PubMed added or revised" in bars
        assert "Background job" in text(at.sidebar.markdown)
    deadline = time.monotonic() + 120
    while (job := jobs.current(db)) is not None and job.running:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job is not None and job.status == jobs.DONE, job
    assert {r.params.get("email") for r in server.requests_to("epost")} == {"librarian@example.org"}
    at.run()
    assert "Updating from PubMed, then the search index: done" in text(at.sidebar.success)


def test_a_query_pubmed_finds_nothing_for_ends_the_job_with_the_commands_message(env, server, monkeypatch):
    db = Path(env["MEDSEARCH_DB"])
    monkeypatch.setenv("NCBI_EUTILS_URL", server.url)
    at = app()
    at.text_input(key="fr_query").set_value("qwertyuiopzzz")
    at.text_input(key="fr_email").set_value("librarian@example.org")
    button(at, "Load from PubMed").click().run()
    deadline = time.monotonic() + 120
    while (job := jobs.current(db)) is not None and job.running:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job is not None and job.status == jobs.FAILED and job.exit_code == 2 and job.step == 0, job
    at.run()
    said = text(at.error)
    assert "failed at step 1 (Loading records from PubMed)" in said
    assert "PubMed finds no records for 'qwertyuiopzzz'" in said
    assert "Check the query in PubMed's own search" in text(at.caption)
    assert "Welcome to medsearch" in text(at.header) and button(at, "Load from PubMed")  # try again
    assert server.requests_to("efetch") == []
