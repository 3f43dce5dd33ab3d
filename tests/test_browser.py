"""The app in a real browser: `streamlit run app.py` on 127.0.0.1 over the demo corpus with the
default retrieval models (packaged MiniLM embeddings, the packaged reranker: mode rerank),
driven by headless Chromium (Debian's `chromium`, through Playwright's Python package).

Search by typing and Enter (the time from Enter to the first page is measured and written
to ``timings.json``; never asserted), a filter, add to list, download of exports parsed
back, a hostile record rendered as text, two browser contexts searching at the same
time, and a search while a CLI ingest runs, then the new records after `medsearch index`
without a restart. Screenshots are saved beside the timings (``MEDSEARCH_TEST_CACHE``,
default ``data/test-cache``, under ``browser/``).

The demo store and its index are built once into that cache folder (minutes: embedding
~2,400 records) and copied for each run, so the tests never change the cached one.
Summaries are written by a scripted model behind a local OpenAI-compatible server
(tests/chat_server.py): the packaged language model would take both cores for a minute per
search, and what is tested here is the app (only on request, cancelled, streamed while the
page stays live); the summary tests run the real model. Also driven here: no request leaves
127.0.0.1, the search box's focus and ``/``, sort and filters back to page 1, a new page at the
top, the card's list menu, notes on list items, the phone-width layout, a quiet console.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests.app_server import streamlit_app
from tests.conftest import PUBMED_DATA, REPO, run_cli

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("MEDSEARCH_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
CACHE = Path(os.environ.get("MEDSEARCH_TEST_CACHE", REPO / "data" / "test-cache")) / "browser"
QUERIES = ("metformin breast cancer", "statins for primary prevention of cardiovascular disease",
           "inhaled corticosteroids in children with asthma", "research misconduct retraction",
           "vitamin D supplementation and fractures")
HOSTILE = ('<script>alert("t")</script> **Bold** [click](javascript:alert(1)) <img src=x onerror=alert(2)> '
           "zebrafishhostile")
WAIT_MS = 120_000

playwright_api = pytest.importorskip("playwright.sync_api")


# -- the corpus and the server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_cache():
    """The demo store indexed with the default models, built once and kept in the cache folder."""
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / "demo.duckdb"
    env = {"MEDSEARCH_DEMO_DATA": str(PUBMED_DATA)}
    out = run_cli("--db", str(db), "ingest", "demo", "--if-empty", env=env, timeout=1800)
    assert out.returncode == 0, out.stderr
    out = run_cli("--db", str(db), "index", env=env, timeout=3600)
    assert out.returncode == 0, out.stderr
    return db


def _copy_store(db: Path, folder: Path) -> Path:
    copy = folder / db.name
    shutil.copy(db, copy)
    for suffix in (".state.json",):
        if db.with_name(db.name + suffix).exists():
            shutil.copy(db.with_name(db.name + suffix), folder / (db.name + suffix))
    shutil.copytree(db.with_name(db.stem + ".index"), folder / (db.stem + ".index"))
    return copy


def _hostile_record(folder: Path) -> Path:
    """A real record (PMID 35649368) under another PMID, its title full of HTML and Markdown."""
    from xml.sax.saxutils import escape

    xml = (PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml" / "35649368.xml").read_text(encoding="utf-8")
    xml = xml.replace("35649368", "99999901")
    start, end = xml.index("<ArticleTitle>") + len("<ArticleTitle>"), xml.index("</ArticleTitle>")
    out = folder / "hostile.xml"
    out.write_text(xml[:start] + escape(HOSTILE) + xml[end:], encoding="utf-8")
    return out


@dataclass
class Server:
    url: str
    db: Path
    env: dict[str, str]
    proc: subprocess.Popen
    log: Path
    chat: object  # the ChatServer that writes the summaries


def _answer(messages: list[dict]) -> str:
    """The scripted summary model: a finding per paper; an overview citing the first finding."""
    if messages and str(messages[0].get("content", "")).startswith("You answer"):
        pmid = re.search(r"\[PMID (\d+)\]", str(messages[-1].get("content", "")))
        return f"The papers studied this question [PMID {pmid.group(1) if pmid else '0'}]."
    return "The study reported its main outcome in the patients it enrolled."


@pytest.fixture(scope="module")
def chat():
    from tests.chat_server import ChatServer

    with ChatServer(_answer, model="scripted-summaries") as server:
        yield server


@pytest.fixture(scope="module")
def server(demo_cache, tmp_path_factory, chat):
    folder = tmp_path_factory.mktemp("served")
    db = _copy_store(demo_cache, folder)
    env = {"MEDSEARCH_DB": str(db), "MEDSEARCH_LIBRARY_DB": str(folder / "library.duckdb"),
           "MEDSEARCH_LLM_URL": chat.url, "MEDSEARCH_LLM_MODEL_NAME": "scripted-summaries"}
    assert run_cli("ingest", "files", str(_hostile_record(folder)), env=env).returncode == 0
    assert run_cli("index", env=env, timeout=1800).returncode == 0
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}
    with streamlit_app({**full_env, **env}, folder / "server.log") as app:
        yield Server(app.url, db, env, app.proc, app.log, chat)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    out = CACHE / "screenshots" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    return out


# -- reading the page -----------------------------------------------------------------------------

#: Records, as mutations happen, which query's header and which first card are on the page
#: (elements Streamlit marks stale, left from the previous run, do not count).
_WATCH = """() => {
  const log = window.__msLog = [];
  const fresh = sel => [...document.querySelectorAll(sel)].find(e => !e.closest('[data-stale="true"]'));
  const note = () => {
    const head = fresh('.ms-head'), card = fresh('.ms-card');
    log.push([performance.now(), head ? head.dataset.query : null, card ? card.dataset.pmid : null]);
  };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true});
  const box = document.querySelector('input[aria-label="Search PubMed records"]');
  box.addEventListener('keydown', e => { if (e.key === 'Enter') window.__msEnter = performance.now(); }, true);
}"""


def wait_for_results(page, query: str) -> str:
    """Wait until the page shows ``query``'s results (fresh); the first card's PMID."""
    found = page.wait_for_function(
        """q => { const ok = e => e && !e.closest('[data-stale="true"]');
                  const h = [...document.querySelectorAll('.ms-head')].find(ok);
                  const c = [...document.querySelectorAll('.ms-card')].find(ok);
                  return h && h.dataset.query === q && c && c.dataset.pmid; }""", arg=query)
    return found.json_value()


def search(page, query: str) -> tuple[str, float]:
    """Type ``query``, press Enter; (first PMID, ms from Enter to the first page on screen)."""
    box = page.get_by_label("Search PubMed records")
    box.fill(query)
    page.evaluate(_WATCH)
    box.press("Enter")
    first = wait_for_results(page, query)
    enter, log = page.evaluate("() => [window.__msEnter, window.__msLog]")
    shown = min(t for t, q, pmid in log if q == query and pmid == first)
    return first, shown - enter


def settled(page) -> None:
    """Wait until the run is over: nothing stale on the page, the summary panel drawn (a summary,
    or the button that asks for one)."""
    page.wait_for_function("""() => !document.querySelector('[data-stale="true"]') &&
        ([...document.querySelectorAll('.ms-machine')].some(e => /Made on|Written by/.test(e.innerText)) ||
         [...document.querySelectorAll('button')].some(b => /Summarize the top/.test(b.innerText)))""")


def written(page) -> None:
    """Wait until the summary is written and labelled."""
    page.wait_for_function("""() => [...document.querySelectorAll('.ms-machine')]
        .some(e => !e.closest('[data-stale="true"]') && /Written by|Made on/.test(e.innerText))""")


def cpu_ms(pid: int) -> float:
    """CPU time a process has used (user + system, all its threads), in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def _reading_list(server: Server) -> set[str]:
    """The PMIDs on the app's "Reading list", read from the library file."""
    from search.library import Library

    lists = Library(server.env["MEDSEARCH_LIBRARY_DB"]).lists
    if "Reading list" not in {lst.name for lst in lists.all()}:
        return set()
    return {e.pmid for e in lists.entries("Reading list")[1]}


def add_to_list(page, pmid: str, name: str) -> None:
    """Open the list menu of ``pmid``'s card and press "Add to ``name``"."""
    menu = page.locator(f'.st-key-lists-r-{pmid}')
    menu.get_by_role("button").first.click()
    page.get_by_role("button", name=f"Add to {name}", exact=True).click()
    page.get_by_text(f"Added PMID {pmid} to {name}.").wait_for()


def ask_for_summary(page) -> float:
    """Press the summary button; ms from the click to the first finding on screen."""
    button = page.get_by_role("button", name=re.compile("Summarize the top"))
    button.wait_for()
    page.evaluate("""() => {
      window.__msFirst = null;
      const seen = () => [...document.querySelectorAll('.st-key-ms-summary li')].some(e => !e.closest('[data-stale="true"]'));
      new MutationObserver(() => { if (window.__msFirst === null && seen()) window.__msFirst = performance.now(); })
        .observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")
    start = page.evaluate("() => performance.now()")
    button.click()
    page.wait_for_function("() => window.__msFirst !== null")
    return page.evaluate("() => window.__msFirst") - start


def open_app(page, server: Server, query: str = "") -> None:
    page.goto(server.url + (f"/?q={urllib.request.quote(query)}" if query else "/"))
    page.get_by_label("Search PubMed records").wait_for()


# -- the tests ---------------------------------------------------------------------------------------------


def test_search_filter_add_to_list_and_download_exports(page, server):
    from search.citations.importers import read_citations

    open_app(page, server)
    timings = []
    for query in QUERIES:
        cpu = cpu_ms(server.proc.pid)
        first, ms = search(page, query)
        settled(page)  # and the summary after it (extractive: quick)
        timings.append({"query": query, "first_pmid": first, "enter_to_first_page_ms": round(ms, 1),
                        "server_cpu_ms_whole_run": round(cpu_ms(server.proc.pid) - cpu, 1)})
    record = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": os.cpu_count(), "load_average": os.getloadavg(),
              "median_ms": statistics.median(t["enter_to_first_page_ms"] for t in timings),
              "median_server_cpu_ms": statistics.median(t["server_cpu_ms_whole_run"] for t in timings),
              "searches": timings}
    (CACHE / "timings.json").write_text(json.dumps(record, indent=2))
    print("\nEnter -> first page:", json.dumps(record, indent=2))
    open_app(page, server, QUERIES[2])  # the README's picture: a search, its summary written
    settled(page)
    ask_for_summary(page)
    written(page)
    screenshot(page, "search")

    page.get_by_label("Humans only").check(force=True)
    page.wait_for_url("**humans=1**")
    page.get_by_text("Filters: humans").wait_for()
    first = wait_for_results(page, QUERIES[2])
    add_to_list(page, first, "Reading list")
    page.get_by_text("Citation lists", exact=True).click()
    page.wait_for_url("**view=lists**")
    screenshot(page, "list")
    for label, extension in ((None, ".ris"), ("BibTeX", ".bib"), ("MEDLINE / PubMed .nbib", ".nbib")):
        if label:  # RIS is the first format, chosen already
            page.get_by_label("Format").click()
            page.get_by_role("option", name=label).click()
        with page.expect_download() as download:
            page.get_by_role("button", name=f"Download {extension}").click()
        assert download.value.suggested_filename == f"Reading-list{extension}"
        assert read_citations(Path(download.value.path()).read_bytes()).pmids == (first,)
    assert not page.dialogs


def test_a_hostile_record_shows_its_markup_as_text(page, server):
    open_app(page, server, "zebrafishhostile")
    wait_for_results(page, "zebrafishhostile")
    card = page.locator('.ms-card[data-pmid="99999901"]')
    assert '<script>alert("t")</script> **Bold** [click](javascript:alert(1))' in card.locator(".ms-title").inner_text()
    assert card.locator("script, img, iframe").count() == 0
    assert page.locator('a[href^="javascript"]').count() == 0
    settled(page)
    ask_for_summary(page)
    written(page)  # the whole run rendered, the summary of the hostile record included
    assert not page.dialogs, page.dialogs


def test_two_browser_sessions_search_at_the_same_time_each_with_its_own_state(browser, server):
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pages.append(context.new_page())
        pages[-1].set_default_timeout(WAIT_MS)
    one, two = pages
    for p in pages:
        open_app(p, server)
    for p, query in zip(pages, QUERIES[:2], strict=True):  # both Enters before either answer
        box = p.get_by_label("Search PubMed records")
        box.fill(query)
        box.press("Enter")
    firsts = [wait_for_results(p, q) for p, q in zip(pages, QUERIES[:2], strict=True)]
    assert firsts[0] != firsts[1]
    one.get_by_label("Humans only").check(force=True)
    one.wait_for_url("**humans=1**")
    two.get_by_role("button", name="Search", exact=True).click()
    wait_for_results(two, QUERIES[1])
    assert "humans" not in two.url and not two.get_by_label("Humans only").is_checked()
    assert two.get_by_label("Search PubMed records").input_value() == QUERIES[1]
    for p in pages:
        p.context.close()


def test_search_while_a_cli_ingest_runs_then_new_records_after_index(page, server):
    from ingest.lock import active_writer
    from tests.eutils_server import EUtilsServer

    with EUtilsServer() as eutils:
        synthetic = eutils.add_synthetic("browser synthetic set", 20, date(2024, 1, 1), date(2024, 1, 20))
        eutils.inject("efetch", "slow", delay=20)  # the ingest holds the store while it waits
        env = {**server.env, "NCBI_EUTILS_URL": eutils.url, "NCBI_EMAIL": "test@example.org"}
        ingest = subprocess.Popen(
            [str(Path(sys.executable).parent / "medsearch"), "ingest", "pubmed", "browser synthetic set",
             "--max", "20"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith(("MEDSEARCH_", "NCBI_"))}, **env},
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        listed_before = _reading_list(server)
        try:
            deadline = time.monotonic() + 60
            while active_writer(server.db) is None:
                assert ingest.poll() is None, ingest.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.1)
            open_app(page, server)
            search(page, QUERIES[0])
            # the library is not blocked: the first hit not listed yet (a listed one offers
            # "Remove from" in place of "Add to") is added
            shown = page.locator(".ms-card").evaluate_all("cards => cards.map(c => c.dataset.pmid)")
            saved = next(pmid for pmid in shown if pmid not in listed_before)
            add_to_list(page, saved, "Reading list")
            page.get_by_text("An ingest or index run is at work").wait_for()
            assert ingest.poll() is None, "the search must have run while the ingest held the store"
            screenshot(page, "during-ingest")
        finally:
            out, err = ingest.communicate(timeout=600)
        assert ingest.returncode == 0, err
    new = synthetic.pmid(0)
    query = f"{new}[pmid]"
    open_app(page, server, query)
    page.wait_for_function("q => [...document.querySelectorAll('.ms-head')].some(h => h.dataset.query === q)",
                           arg=query)
    assert page.locator(f'.ms-card[data-pmid="{new}"]').count() == 0  # not indexed yet
    page.get_by_text("The index is behind the store").wait_for()
    assert run_cli("index", env=server.env, timeout=1800).returncode == 0
    page.get_by_role("button", name="Search", exact=True).click()  # the same server and session, searching again
    page.locator(f'.ms-card[data-pmid="{new}"]').wait_for()
    page.get_by_text("Citation lists", exact=True).click()
    page.wait_for_url("**view=lists**")
    page.locator(f'.ms-card[data-pmid="{saved}"]').wait_for()  # what was saved during the ingest is there
    assert _reading_list(server) == {*listed_before, saved}


def test_the_count_and_the_newest_first_list_are_the_engines_result_set(page, server):
    """The header's count and the sorted cards are those of the engine's result set, as the CLI
    (another process, same index) reports them: the records that match, newest first."""
    query = "asthma"
    cli = json.loads(run_cli("search", query, "--sort", "date", "-k", "10", "--json", env=server.env).stdout)
    assert cli["total"] > 0
    open_app(page, server)
    page.goto(f"{server.url}/?q={query}&sort=date")
    wait_for_results(page, query)
    head = page.locator('.ms-head:not([data-stale="true"])').first
    assert int(head.get_attribute("data-total")) == cli["total"]
    page.wait_for_function(  # every card of the page drawn, none of them stale
        """n => [...document.querySelectorAll('.ms-card')].filter(c => !c.closest('[data-stale="true"]')).length >= n""",
        arg=len(cli["hits"]))
    shown = page.locator(".ms-card").evaluate_all(
        """cs => cs.filter(c => !c.closest('[data-stale="true"]')).map(c => c.dataset.pmid)""")
    assert shown[: len(cli["hits"])] == [h["pmid"] for h in cli["hits"]]
    years = [h["year"] for h in cli["hits"] if h.get("year")]
    assert years == sorted(years, reverse=True)
    nothing = json.loads(run_cli("search", "xyzzyqq", "--json", env=server.env).stdout)
    assert nothing["total"] == 0
    page.goto(f"{server.url}/?q=asthama")
    page.get_by_role("button", name="Search for: asthma").wait_for()


# -- the screen: on request, cancelled, local, keyboard, paging, lists, phone width ------------------------


def _outside(requests: list[str]) -> list[str]:
    return sorted({u for u in requests if not u.startswith(("http://127.0.0.1:", "data:", "blob:", "about:"))})


def test_the_summary_is_written_only_on_request_and_nothing_leaves_the_machine(page, server):
    """Every request of the page goes to 127.0.0.1 (no font, icon or script from elsewhere); the
    summary model is asked nothing until the button is pressed; the console stays quiet."""
    requests: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    open_app(page, server)
    asked = len(server.chat.requests)
    search(page, QUERIES[0])
    settled(page)
    assert len(server.chat.requests) == asked  # the search alone sends nothing to the model
    page.get_by_text("Matching records by year").wait_for()  # the chart of the sidebar drawn
    ms = ask_for_summary(page)
    written(page)
    assert len(server.chat.requests) > asked
    page.get_by_role("button", name="Similar articles").first.click()  # another screen, icons included
    page.get_by_role("button", name="Back to the results").wait_for()
    assert requests and not _outside(requests), _outside(requests)
    assert not [c for c in console if c.startswith(("warning", "error"))], console  # e.g. Vega-Lite's scale bindings
    timings = json.loads((CACHE / "timings.json").read_text()) if (CACHE / "timings.json").exists() else {}
    timings["click_to_first_finding_ms_scripted_model"] = round(ms, 1)  # what the app adds to the model's time
    (CACHE / "timings.json").write_text(json.dumps(timings, indent=2))
    print(f"\nclick -> first finding (scripted model, no model time): {ms:.0f} ms")


def quiet(page) -> None:
    """Wait until the run is over (nothing stale on the page)."""
    page.wait_for_function("""() => !document.querySelector('[data-stale="true"]')""")


def test_stop_and_a_new_query_cancel_the_summary_being_written(page, server):
    server.chat.behaviour = "endless"  # the model writes and writes: only a cancel ends it
    ask = page.get_by_role("button", name=re.compile("Summarize the top"))
    stop = page.get_by_role("button", name="Stop")
    try:
        open_app(page, server, QUERIES[1])
        settled(page)
        asked = len(server.chat.requests)
        ask.click()
        stop.wait_for()
        page.get_by_text(re.compile(r"Reading the abstracts \(\d+ s\)")).wait_for()
        page.get_by_label("Sort by").click()  # the page stays live while it writes: a new order
        page.get_by_role("option", name="Newest first").click()
        page.wait_for_url("**sort=date**")
        quiet(page)
        stop.wait_for()  # the same set of papers: the same summary goes on
        assert ask.count() == 0
        stop.click()
        ask.wait_for()
        quiet(page)
        assert stop.count() == 0 and len(server.chat.requests) == asked + 1  # one answer begun, then stopped
        ask.click()  # again, then a new query
        stop.wait_for()
        search(page, QUERIES[4])  # a query whose summary no test wrote (a written one shows at once)
        settled(page)
        assert stop.count() == 0
        ask.wait_for()
    finally:
        server.chat.behaviour = "normal"


def test_focus_slash_paging_to_the_top_and_sort_back_to_page_one(page, server):
    open_app(page, server)
    focused = "() => document.activeElement && document.activeElement.getAttribute('aria-label')"
    page.wait_for_function(f"() => ({focused})() === 'Search PubMed records'")  # focus on load
    page.locator(".ms-brand").click()
    assert page.evaluate(focused) != "Search PubMed records"
    page.keyboard.press("/")
    page.wait_for_function(f"() => ({focused})() === 'Search PubMed records'")
    assert page.get_by_label("Search PubMed records").input_value() == ""  # the "/" was not typed

    page.goto(f"{server.url}/?q=patients")  # several pages of results
    wait_for_results(page, "patients")
    settled(page)
    main = '[data-testid="stMain"]'
    page.get_by_label("Page 2", exact=True).scroll_into_view_if_needed()
    assert page.evaluate(f"() => document.querySelector('{main}').scrollTop") > 0
    page.get_by_label("Page 2", exact=True).click()
    page.wait_for_url("**page=2**")
    page.wait_for_function(f"() => document.querySelector('{main}').scrollTop === 0")
    page.get_by_label("Sort by").click()
    page.get_by_role("option", name="Newest first").click()
    page.wait_for_url("**sort=date**")
    assert "page=" not in page.url


def test_the_card_picks_the_list_and_a_note_is_added_then_edited(page, server):
    from search.library import Library

    lists = Library(server.env["MEDSEARCH_LIBRARY_DB"]).lists
    if "Asthma review" not in {x.name for x in lists.all()}:
        lists.create("Asthma review")
    open_app(page, server, QUERIES[2])
    first = wait_for_results(page, QUERIES[2])
    add_to_list(page, first, "Asthma review")
    assert first in {e.pmid for e in lists.entries("Asthma review")[1]}
    page.goto(f"{server.url}/?view=lists&list=Asthma%20review")
    page.locator(f'.ms-card[data-pmid="{first}"]').wait_for()
    for note in ("First read: the primary outcome", "Cited in the introduction"):
        page.get_by_role("button", name=re.compile("(Add|Edit) note")).first.click()
        box = page.get_by_label("Note", exact=True)
        box.fill(note)
        page.get_by_role("button", name="Save note").click()
        page.get_by_text(f"Note: {note}").wait_for()
        assert {e.pmid: e.note for e in lists.entries("Asthma review")[1]}[first] == note
    screenshot(page, "list-notes")


def test_at_phone_width_the_summary_and_the_filters_come_before_the_cards(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        open_app(page, server, QUERIES[2])
        wait_for_results(page, QUERIES[2])
        settled(page)
        summary = page.locator(".st-key-ms-summary").bounding_box()
        card = page.locator(".ms-card").first.bounding_box()
        assert summary is not None and card is not None and summary["y"] < card["y"]
        toggle = page.locator('[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"]')
        box = toggle.first.bounding_box()
        assert box is not None and box["y"] < 844  # the filters' menu is on the first screen
        toggle.first.click()
        page.get_by_label("Humans only").wait_for()
        screenshot(page, "phone")
    finally:
        context.close()
