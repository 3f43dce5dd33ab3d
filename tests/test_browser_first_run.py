"""The first-run screen in a real browser: `streamlit run app.py` over an empty store, Debian's
Chromium through Playwright, PubMed replayed by the local E-utilities server (tests/eutils_server.py,
NCBI_EUTILS_URL). BM25 only (MEDSEARCH_EMBEDDING_MODEL=none), so the index step takes seconds.

Loading by query: the job waits for the store's writer lock (held by this test, as a terminal
`medsearch ingest` would) and the page, reloaded, still shows it; then the second efetch reply is
held 10 s so that the progress bar's count after the first batch is seen; then the search screen opens on the
loaded records. Offline (nothing listens at the E-utilities URL): the screen says so.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.lock import WriterLock
from search import jobs
from tests.app_server import streamlit_app
from tests.eutils_server import LARGE_QUERY
from tests.test_browser import ARGS, CHROMIUM, WAIT_MS, screenshot, wait_for_results
from tests.test_first_run import closed_url

pytestmark = pytest.mark.slow
playwright_api = pytest.importorskip("playwright.sync_api")

#: Records asked for: two efetch batches of NCBI's 200 (the first 200, then 100), of the replay
#: server's 25,000 synthetic hits (real records under other PMIDs).
MAX = 300


@contextmanager
def app_server(folder: Path, eutils_url: str, page):
    """`streamlit run app.py` on an empty store in ``folder``; (url, db). ``page`` leaves before
    the server stops, as in tests/test_browser.py, where each page closes before the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}
    env.update({"MEDSEARCH_DB": str(folder / "store.duckdb"), "MEDSEARCH_LIBRARY_DB": str(folder / "library.duckdb"),
                "MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none", "MEDSEARCH_LLM": "none",
                "MEDSEARCH_DEMO_DATA": str(folder / "no-demo"), "NCBI_EUTILS_URL": eutils_url})
    with streamlit_app(env, folder / "server.log") as app:
        try:
            yield app.url, folder / "store.duckdb"
        finally:
            job = jobs.current(folder / "store.duckdb")
            if job is not None and job.running:  # a failed test leaves no job behind
                jobs.stop(job)
            page.context.close()


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def test_load_by_query_survives_a_reload_shows_progress_and_opens_the_search_screen(page, server, tmp_path):
    with app_server(tmp_path, server.url, page) as (url, db):
        page.goto(url)
        page.get_by_role("heading", name="Welcome to medsearch").wait_for()
        page.get_by_role("textbox", name="PubMed query").fill(LARGE_QUERY)
        page.get_by_role("textbox", name="Your e-mail").fill("librarian@example.org")
        page.get_by_role("spinbutton", name="How many records").fill(str(MAX))
        screenshot(page, "first-run")
        with WriterLock(db, "a test holding the store"):  # as a terminal `medsearch ingest` would
            page.get_by_role("button", name="Load from PubMed").click()
            page.get_by_text("Step 1 of 2: Loading records from PubMed").wait_for()
            page.get_by_text("a test holding the store").wait_for()  # whom the job waits for
            page.reload()
            page.get_by_text("Step 1 of 2: Loading records from PubMed").wait_for()  # found again
            page.get_by_text("waiting for").wait_for()
            server.inject("efetch", "slow", times=1, delay=0)  # the first batch at once,
            server.inject("efetch", "slow", times=1, delay=10)  # the second held 10 s: time to see the count
        page.get_by_text(f"efetch: 200 of {MAX} rec").wait_for()  # the bar's count, between the two batches
        screenshot(page, "first-run-progress")
        page.get_by_label("Search PubMed records").wait_for()  # the search screen opened by itself
        job = jobs.current(db)
        assert job is not None and job.status == jobs.DONE, job
        assert {r.params.get("email") for r in server.requests_to("efetch")} == {"librarian@example.org"}
        from ingest.store import Store

        with Store(db, read_only=True) as store:
            assert store.count() == MAX
            pmid = store.con.execute("SELECT pmid FROM articles ORDER BY pmid LIMIT 1").fetchone()[0]
        box = page.get_by_label("Search PubMed records")
        box.fill(f"{pmid}[pmid]")
        box.press("Enter")
        assert wait_for_results(page, f"{pmid}[pmid]") == pmid
        page.get_by_text("Update from PubMed").first.wait_for()  # the status panel offers the next step
        screenshot(page, "first-run-then-search")


def test_offline_with_nothing_to_load_says_so_and_how_to_go_on(page, tmp_path):
    with app_server(tmp_path, closed_url(), page) as (url, db):
        page.goto(url)
        page.get_by_text("PubMed cannot be reached from this machine").wait_for()
        screenshot(page, "first-run-offline")
        said = page.get_by_text("PubMed cannot be reached from this machine").inner_text()
        assert "From files on this machine" in said and "reload this page" in said
        assert page.get_by_role("button", name="Load from PubMed").is_disabled()
        assert jobs.current(db) is None
