"""The Streamlit app driven through Streamlit's AppTest: search, filters, Clinical Queries,
paging, the URL, result cards, similar articles, saved searches, citation lists and their
exports, summaries, errors, two sessions, and an index rebuilt while the app serves.

The app runs over a real store of real PubMed records (metapub's 163, plus two records
made from one of them: a hostile one full of HTML and Markdown, and a retracted one),
indexed with BM25 and the small fake embedder (hybrid search without model files); the
engine reads the index's snapshots through the same snapshot source the app uses. The
library is a real DuckDB file per test. Expected values are hand-checked facts of the
records or come from the parsed records read from the *store*, never from the app.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.conftest import PUBMED_DATA
from tests.fake_embedder import FakeEmbedder

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = streamlit_testing.AppTest

METAPUB = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
#: Hand-checked: Cell Rep 2022 May 31, DOI 10.1016/j.celrep.2022.110870, ten authors (Li YJ,
#: Fahrmann JF, Aftabizadeh M, ...), an erratum (PMID 35767954), MeSH Humans.
FAO = "35649368"
FAO_QUERY = "fatty acid oxidation chemoresistance mitochondrial membrane"
HOSTILE, RETRACTED, NOTICE = "99999901", "99999902", "99999990"
HOSTILE_TITLE = ('<script>alert("t")</script> **Bold** [click](javascript:alert(1)) '
                 '![pixel](http://evil.example/x.png) <img src=x onerror=alert(2)> :red[red] $x^2$ '
                 "zebrafishhostile")
HOSTILE_ABSTRACT = ('<b>bold</b> <a href="http://evil.example/">link</a> <iframe src="http://evil.example/">'
                    "</iframe> __under__ &amp; `code` zebrafishhostile outcomes")
HOSTILE_AUTHOR = "<i>Evil</i>"
TIMEOUT = 120


# -- the corpus -------------------------------------------------------------------------------


def _variant(pmid: str, title: str | None = None, abstract: str | None = None,
             author: str | None = None, retracted_by: str | None = None) -> bytes:
    """A copy of the real record FAO under another PMID, with some fields replaced."""
    xml = (METAPUB / f"{FAO}.xml").read_text(encoding="utf-8").replace(FAO, pmid)
    if title is not None:
        xml = re.sub(r"<ArticleTitle>.*?</ArticleTitle>", f"<ArticleTitle>{escape(title)}</ArticleTitle>", xml)
    if abstract is not None:
        xml = re.sub(r"<AbstractText>.*?</AbstractText>", f"<AbstractText>{escape(abstract)}</AbstractText>", xml)
    if author is not None:
        xml = xml.replace("<LastName>Li</LastName>", f"<LastName>{escape(author)}</LastName>", 1)
    if retracted_by is not None:  # as PubMed sends a retracted record (the DTD's shape)
        xml = re.sub(r"<DateRevised>.*?</DateRevised>",
                     "<DateRevised><Year>2099</Year><Month>01</Month><Day>01</Day></DateRevised>", xml, count=1)
        xml = xml.replace('<CommentsCorrections RefType="ErratumIn">',
                          f'<CommentsCorrections RefType="RetractionIn"><RefSource>Retraction notice</RefSource>'
                          f'<PMID Version="1">{retracted_by}</PMID></CommentsCorrections>'
                          '<CommentsCorrections RefType="ErratumIn">', 1)
    return xml.encode("utf-8")


class FakeSource:
    """The engine's snapshot source over an index folder, embedding queries with the fake
    embedder the index was built with (the real source would load that model by name)."""

    @staticmethod
    def make(index_dir: Path):
        from search.engine import SnapshotSource
        from search.index.build import IndexSettings

        class Source(SnapshotSource):
            def _embedder_once(self):
                if self._embedder is None:
                    self._embedder = FakeEmbedder()
                return self._embedder

        return Source(index_dir, IndexSettings(embedder=FakeEmbedder.name))


def index(db: Path) -> None:
    from ingest.store import Store
    from search.index.build import IndexManager, IndexSettings

    with Store(db) as store:
        IndexManager(store, settings=IndexSettings(embedder=FakeEmbedder.name),
                     embedder=FakeEmbedder()).build_or_update(progress=False)


def ingest(db: Path, paths: list[Path]) -> None:
    from ingest.pipeline import ingest_files
    from ingest.store import Store

    with Store(db) as store:
        ingest_files(store, paths, progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A store of the metapub records and the two made ones, indexed; and its records."""
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    from ingest.store import Store

    folder = tmp_path_factory.mktemp("app")
    made = folder / "made"
    made.mkdir()
    (made / "hostile.xml").write_bytes(_variant(HOSTILE, HOSTILE_TITLE, HOSTILE_ABSTRACT, HOSTILE_AUTHOR))
    (made / "retracted.xml").write_bytes(_variant(RETRACTED, retracted_by=NOTICE))
    db = folder / "m.duckdb"
    ingest(db, [METAPUB, made])
    index(db)
    with Store(db, read_only=True) as store:
        ids = [d for (d,) in store.con.execute("SELECT doc_id FROM articles").fetchall()]
        articles = {d: store.get_article(d) for d in ids}
    return db, articles


def make_services(db: Path, library: Path, model=None, *, cache: bool = False):
    from search.config import Settings
    from search.engine import Engine, EngineConfig
    from search.library import Library
    from search.summarize import Summarizer
    from webapp.services import Services

    source = FakeSource.make(db.with_name(db.stem + ".index"))
    engine = Engine(source.get(), EngineConfig(mode="hybrid", fusion="weighted"), source=source, db_path=db)
    settings = Settings.from_env({"MEDSEARCH_DB": str(db), "MEDSEARCH_LIBRARY_DB": str(library),
                                  "MEDSEARCH_EMBEDDING_MODEL": FakeEmbedder.name, "MEDSEARCH_RERANKER": "none"})
    from search.summarize.cache import SummaryCache

    summarizer = Summarizer(model, SummaryCache(library) if cache else None,
                            unavailable=None if model else "MEDSEARCH_LLM=none")
    return Services(settings, engine, summarizer, Library(library), summary_papers=3)


@pytest.fixture(scope="module")
def shared_engine_services(corpus, tmp_path_factory):
    db, _ = corpus
    return make_services(db, tmp_path_factory.mktemp("lib") / "library.duckdb")


@pytest.fixture
def services(shared_engine_services, tmp_path):
    """The module's engine with a fresh library file for each test."""
    from dataclasses import replace

    from search.library import Library

    return replace(shared_engine_services, library=Library(tmp_path / "library.duckdb"))


def _script(services):
    from webapp.main import main

    main(services)


def app(services, **params) -> AppTest:
    at = AppTest.from_function(_script, kwargs={"services": services}, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


# -- reading the page ---------------------------------------------------------------------------


def cards(at) -> list[str]:
    """PMIDs of the result cards, in page order."""
    return [m.group(1) for h in at.html for m in [re.search(r'class="ms-card" id="pmid-(\d+)"', h.value)] if m]


def card(at, pmid: str) -> str:
    return next(h.value for h in at.html if f'id="pmid-{pmid}"' in h.value)


def header(at) -> str:
    return next(h.value for h in at.html if 'class="ms-head"' in h.value)


def text(elements) -> str:
    """The text of Markdown elements, their backslash escapes read (the app escapes Markdown)."""
    return " ".join(re.sub(r"\\(.)", r"\1", e.value) for e in elements)


def summary_of(at) -> str | None:
    """The finished summary on the page (its HTML), if one is shown."""
    return next((h.value for h in at.html if "ms-machine" in h.value and re.search("Made on|Written by", h.value)),
                None)


def ask_for_summary(at, wait_s: float = 60) -> str:
    """Press the summary button, then run the page (as its polling fragment would) until the
    summary written in the background is shown; its HTML."""
    import time

    next(b for b in at.button if (b.key or "").startswith("ask-")).click().run()
    deadline = time.monotonic() + wait_s
    while (found := summary_of(at)) is None:
        assert time.monotonic() < deadline, "the summary was not written"
        time.sleep(0.1)
        at.run()
    return found


def no_failure(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error], [e.value for e in at.error]


def years_of(article) -> list[int]:
    """The years a record gives (its issue's and its electronic publication's); a year range
    matches a record when any of them falls in it."""
    return [y for y in (article.pub_year, article.article_date.year if article.article_date else None) if y]


# -- search and the URL ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_query_in_the_url_shows_its_ranked_cards_with_their_links(services):
    at = app(services, q=FAO_QUERY)
    no_failure(at)
    assert cards(at)[0] == FAO
    html = card(at, FAO)
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/35649368/"' in html
    assert 'href="https://doi.org/10.1016/j.celrep.2022.110870"' in html
    assert "Cell Rep" in html and "2022 May 31" in html
    assert "Li YJ, Fahrmann JF, Aftabizadeh M, et al." in html  # short form, full list on demand
    assert "Hanash S" in html  # the tenth author, inside <details>
    assert "Erratum published" in html and 'href="https://pubmed.ncbi.nlm.nih.gov/35767954/"' in html
    assert re.search(r"<mark>[Ff]atty</mark>", html), "the query's terms are highlighted"
    assert "Why this rank" in html and "BM25" in html and "Dense" in html


def test_typing_a_query_puts_it_in_the_url_and_searches(services):
    at = app(services)
    no_failure(at)
    assert not cards(at)
    at.text_input(key="w_q").input("  zebrafishhostile   outcomes ").run()
    assert at.query_params["q"] == "zebrafishhostile outcomes"
    assert cards(at)[0] == HOSTILE


def test_the_year_filter_writes_the_url_and_every_card_falls_in_the_range(services, corpus):
    _, articles = corpus
    at = app(services, q="cancer")
    at.number_input(key="w_from").set_value(2021).run()
    at.number_input(key="w_to").set_value(2022).run()
    no_failure(at)
    assert at.query_params["from"] == "2021" and at.query_params["to"] == "2022"
    shown = cards(at)
    assert shown
    assert all(any(2021 <= y <= 2022 for y in years_of(articles[p])) for p in shown)
    assert "2021-2022" in text(at.caption)  # the filter state is shown


def test_article_types_show_counts_and_filter_to_that_type(services, corpus):
    from search.engine import TYPE_ALIASES

    _, articles = corpus
    at = app(services, q="cancer")
    types = at.multiselect(key="w_types")
    counted = {m.group(1): int(m.group(2).replace(",", "")) for o in types.options
               for m in [re.fullmatch(r"(.+) \(([\d,]+)\)", o)] if m}
    # a type without a short name (the engine widens "Review" to systematic and scoping reviews)
    pick = next(t for t in counted if t.lower() not in TYPE_ALIASES and t != "Journal Article")
    assert counted[pick] > 0
    types.select(pick).run()
    no_failure(at)
    assert at.query_params["type"] == pick
    shown = cards(at)
    assert shown and all(pick in {t.name for t in articles[p].publication_types} for p in shown)


def _prognosis_narrow(article) -> bool:
    """PubMed's Clinical Queries prognosis/narrow filter, read off the parsed record:
    prognos*[tiab] OR (first[tiab] AND episode[tiab]) OR cohort[tiab]."""
    words = set(re.findall(r"[a-z0-9]+", f"{article.title} {article.abstract_text}".lower()))
    return any(w.startswith("prognos") for w in words) or "cohort" in words or {"first", "episode"} <= words


def test_clinical_queries_filter_keeps_only_what_pubmeds_filter_finds(services, corpus):
    _, articles = corpus
    at = app(services, q="patients")
    at.selectbox(key="w_cq").select("prognosis").run()
    at.radio(key="w_cq_scope").set_value("narrow").run()
    no_failure(at)
    assert at.query_params["clinical"] == "prognosis/narrow"
    shown = cards(at)
    wanted = {d for d, a in articles.items() if _prognosis_narrow(a)}
    assert shown and set(shown) <= wanted
    assert "Clinical Queries: Prognosis, narrow" in text(at.caption)


def test_reset_clears_every_filter_and_keeps_the_query(services):
    at = app(services, q="cancer", **{"from": "2021", "humans": "1", "type": "Review"})
    assert at.checkbox(key="w_humans").value and at.number_input(key="w_from").value == 2021
    at.button(key="reset-side").click().run()
    no_failure(at)
    assert dict(at.query_params) == {"q": "cancer"}
    assert not at.checkbox(key="w_humans").value and at.number_input(key="w_from").value is None
    assert at.multiselect(key="w_types").value == []


def test_a_shared_link_restores_the_search_and_names_what_it_ignored(services):
    at = app(services, q="cancer", sort="date", page="2", to="abc", age="toddlers")
    assert not at.exception
    warnings = text(at.warning)
    assert "abc" in warnings and "toddlers" in warnings
    assert at.selectbox(key="w_sort").value == "date" and at.text_input(key="w_q").value == "cancer"
    assert re.search(r"<b>11-20 of [\d,]+ results</b>", header(at))


def test_paging_moves_to_the_next_ten_and_records_the_page(services):
    at = app(services, q="cancer")
    first = cards(at)
    assert len(first) == 10
    at.get("pagination")[0].set_value(2).run()
    no_failure(at)
    assert at.query_params["page"] == "2"
    second = cards(at)
    assert second and not set(first) & set(second)
    assert re.search(r"<b>11-\d+ of", header(at))


# -- untrusted text ---------------------------------------------------------------------------------


def test_a_record_full_of_html_and_markdown_renders_as_text(services):
    at = app(services, q="zebrafishhostile")
    no_failure(at)
    html = card(at, HOSTILE)
    for raw in ("<script", "<img", "<iframe", "<b>bold", "<a href=\"http://evil", 'href="javascript', "<i>Evil"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in html
    assert "**Bold** [click](" in html and "![pixel](" in html  # Markdown stays characters
    assert "&lt;i&gt;Evil&lt;/i&gt;" in html
    # record text reaches the page through st.html (which reads no Markdown), escaped; nothing of
    # it stands unescaped in an element that reads Markdown
    for element in [*at.markdown, *at.caption, *at.error, *at.warning, *at.info]:
        for raw in ("**Bold**", "](javascript", "![pixel]", "<script", ":red["):
            assert raw not in element.value, (raw, element.value)


def test_a_retracted_paper_carries_a_warning_that_links_its_notice(services):
    at = app(services, q=f"{RETRACTED}[pmid]")
    no_failure(at)
    html = card(at, RETRACTED)
    assert "RETRACTED" in html and f'href="https://pubmed.ncbi.nlm.nih.gov/{NOTICE}/"' in html


# -- errors ---------------------------------------------------------------------------------------


def test_a_malformed_query_says_where_it_is_wrong_without_a_traceback(services):
    at = app(services, q='cancer AND (chemotherapy OR "radiation')
    assert not at.exception
    assert at.error and "at character" in at.error[0].value
    assert "^" in at.code[0].value
    assert "What to do" in text(at.caption)


def test_filters_that_leave_nothing_say_so(services):
    at = app(services, q="cancer", **{"from": "2099"})
    assert not at.exception
    assert not cards(at)
    assert "No results with these filters" in text(at.info)


def test_an_impossible_year_range_is_refused_with_what_to_do(services):
    at = app(services, q="cancer")
    at.number_input(key="w_from").set_value(2022).run()
    at.number_input(key="w_to").set_value(2000).run()
    assert not at.exception
    assert "to" not in at.query_params  # the filter was not applied
    assert "Swap the two years" in text(at.sidebar.error)


def test_an_index_that_cannot_be_opened_is_a_message_with_the_command_to_run(tmp_path, monkeypatch):
    """(An empty store opens the first-run screen instead: tests/test_first_run.py.)"""
    from webapp.services import shared_services

    snapshot = tmp_path / "empty.index" / "v000001"  # a snapshot that names records, and has none of its files
    snapshot.mkdir(parents=True)
    (snapshot / "manifest.json").write_text(json.dumps({"fingerprint": "f", "doc_count": 5}))
    (snapshot.parent / "CURRENT").write_text("v000001")
    monkeypatch.setenv("MEDSEARCH_DB", str(tmp_path / "empty.duckdb"))
    monkeypatch.setenv("MEDSEARCH_EMBEDDING_MODEL", "none")
    monkeypatch.setenv("MEDSEARCH_RERANKER", "none")
    shared_services.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error and "medsearch index" in text(at.caption)
    shared_services.clear()


# -- similar articles ---------------------------------------------------------------------------------


def test_similar_articles_show_the_papers_neighbours_and_go_back(services):
    at = app(services, q=FAO_QUERY)
    at.button(key=f"sim-r-{FAO}").click().run()
    no_failure(at)
    assert at.query_params["similar"] == FAO
    assert "Similar articles" in text(at.subheader)
    shown = cards(at)
    assert shown[0] == FAO  # the paper itself, on top, without a rank
    assert FAO not in shown[1:] and len(shown) > 1
    assert {HOSTILE, RETRACTED} & set(shown[1:]), "its two copies are its nearest neighbours"
    at.button[0].click().run()  # "Back to the results"
    assert "similar" not in at.query_params and cards(at)[0] == FAO


# -- saved searches ------------------------------------------------------------------------------------


def test_save_a_search_then_run_it_from_the_saved_view(services):
    at = app(services, q="cancer", humans="1")
    at.text_input(key="w_save_name").input("My <b>cancer</b> search")
    at.button(key="w_save").click().run()
    no_failure(at)
    saved = services.library.saved.get("My <b>cancer</b> search")
    assert saved.query == "cancer" and saved.filters.humans_only
    at.radio(key="w_view").set_value("saved").run()
    assert at.query_params["view"] == "saved"
    page = " ".join(h.value for h in at.html)
    assert "My &lt;b&gt;cancer&lt;/b&gt; search" in page and "Not run yet." in page
    at.button(key=f"run-{saved.id}").click().run()
    no_failure(at)
    run = services.library.saved.get(saved.name).last_run
    assert run is not None and run.n_new == 0 and run.n_results > 0  # the first run is the baseline
    assert not [h for h in at.html if 'class="ms-badge ms-new">NEW' in h.value]
    assert "the first run" in " ".join(c.value for c in at.caption)
    at.run()
    assert "0 new results since the last run" in " ".join(h.value for h in at.html)


def test_rename_and_delete_a_saved_search(services):
    services.library.saved.add("old name", "cancer")
    at = app(services, view="saved")
    item = services.library.saved.get("old name")
    at.text_input(key=f"new-name-{item.id}").input("new name")
    at.button(key=f"do-rename-{item.id}").click().run()
    no_failure(at)
    assert [s.name for s in services.library.saved.all()] == ["new name"]
    at.button(key=f"do-delete-{item.id}").click().run()
    assert services.library.saved.all() == []


def test_open_a_saved_search_in_the_search_view(services):
    from search.types import Filters

    services.library.saved.add("recent", "cancer", filters=Filters(year_from=2021, mesh_terms=("Humans",)))
    at = app(services, view="saved")
    at.button(key=f"open-{services.library.saved.get('recent').id}").click().run()
    no_failure(at)
    assert at.query_params["q"] == "cancer" and at.query_params["from"] == "2021"
    assert at.query_params["mesh"] == "Humans" and "view" not in at.query_params
    assert at.number_input(key="w_from").value == 2021 and cards(at)


# -- citation lists and exports -------------------------------------------------------------------------


def test_add_to_list_creates_it_and_the_card_says_so(services):
    at = app(services, q=FAO_QUERY)
    at.button(key=f"add-r-{FAO}-Reading list").click().run()
    no_failure(at)
    lst, entries = services.library.lists.entries("Reading list")
    assert [e.pmid for e in entries] == [FAO]
    assert "Reading list" in card(at, FAO)
    assert at.button(key=f"rm-r-{FAO}-Reading list").label.startswith("Remove from")


def test_the_card_picks_the_list_to_add_to_or_names_a_new_one(services):
    services.library.lists.create("Sepsis")
    services.library.lists.create("Oncology")
    at = app(services, q=FAO_QUERY)
    at.button(key=f"add-r-{FAO}-Oncology").click().run()  # not the first list: the one picked
    no_failure(at)
    assert [e.pmid for e in services.library.lists.entries("Oncology")[1]] == [FAO]
    assert services.library.lists.entries("Sepsis")[1] == ()
    at.text_input(key=f"new-r-{FAO}").input("Chemoresistance")
    at.button(key=f"create-r-{FAO}").click().run()
    no_failure(at)
    assert [e.pmid for e in services.library.lists.entries("Chemoresistance")[1]] == [FAO]
    at.text_input(key=f"new-r-{FAO}").input("sepsis")  # the name of a list that exists (ignoring case)
    at.button(key=f"create-r-{FAO}").click().run()
    assert "There is a list named \u201cSepsis\u201d already" in text(at.error)
    assert services.library.lists.entries("Sepsis")[1] == ()


class _Media:
    """Keeps AppTest's in-memory media storage, where download buttons put their bytes."""

    stores: list = []

    @classmethod
    def install(cls, monkeypatch):
        from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
        from streamlit.testing.v1 import app_test

        class Kept(MemoryMediaFileStorage):
            def __init__(self, endpoint):
                super().__init__(endpoint)
                cls.stores.append(self)

        cls.stores = []
        monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Kept)

    @classmethod
    def file_of(cls, url: str):
        return cls.stores[-1].get_file(url.rsplit("/", 1)[-1])


def test_a_list_downloads_in_every_format_and_each_file_reads_back(services, corpus, monkeypatch):
    from search.citations.export import FORMATS
    from search.citations.importers import read_citations

    _, articles = corpus
    _Media.install(monkeypatch)
    services.library.lists.add("review", [FAO, RETRACTED, "1"], create=True, note="read <b>first</b>")
    at = app(services, view="lists", list="review")
    no_failure(at)
    page = " ".join(h.value for h in at.html)
    assert "RETRACTED" in page and "Not in the index" in page  # the retracted and the missing paper
    assert "read &lt;b&gt;first&lt;/b&gt;" in page
    for fmt in FORMATS:
        at.selectbox(key="w_export_format").select(fmt).run()
        stored = _Media.file_of(at.get("download_button")[0].proto.url)
        assert stored.filename == f"review{FORMATS[fmt].extension}" and stored.mimetype == FORMATS[fmt].mime
        data = stored.content
        text = data.decode("utf-8-sig")
        if fmt in ("ris", "bibtex", "medline", "csljson"):
            assert read_citations(data).pmids == (FAO, RETRACTED), fmt
        elif fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(text)))
            assert [r["pmid"] for r in rows] == [FAO, RETRACTED]
        else:
            assert articles[FAO].title.rstrip(".") in text, fmt
    assert json.loads(_csljson(at, _Media))[0]["title"].startswith("Fatty acid oxidation")
    assert articles[FAO].title.rstrip(".") in at.code[0].value  # references to copy


def _csljson(at, media) -> str:
    at.selectbox(key="w_export_format").select("csljson").run()
    return media.file_of(at.get("download_button")[0].proto.url).content.decode("utf-8")


def test_reorder_and_remove_papers_of_a_list(services):
    services.library.lists.add("review", [FAO, RETRACTED, HOSTILE], create=True)
    at = app(services, view="lists", list="review")
    at.button(key=f"down-{FAO}").click().run()
    no_failure(at)
    assert [e.pmid for e in services.library.lists.entries("review")[1]] == [RETRACTED, FAO, HOSTILE]
    at.button(key=f"remove-{HOSTILE}").click().run()
    assert [e.pmid for e in services.library.lists.entries("review")[1]] == [RETRACTED, FAO]


def test_create_rename_and_delete_a_list(services):
    at = app(services, view="lists")
    at.text_input(key="w_new_list").input("Sepsis [draft]")
    at.button(key="w_create_list").click().run()
    no_failure(at)
    assert at.query_params["list"] == "Sepsis [draft]"
    at.text_input(key="w_list_new_name").input("Sepsis")
    at.button(key="w_list_rename").click().run()
    assert [x.name for x in services.library.lists.all()] == ["Sepsis"]
    at.button(key="w_list_delete").click().run()
    assert services.library.lists.all() == []


# -- summaries ---------------------------------------------------------------------------------------------


def _scripted(messages) -> str:
    """Findings carry a number no abstract has; the overview cites the first finding's paper."""
    if messages[0].content.startswith("You answer"):
        pmid = re.search(r"\[PMID (\d+)\]", messages[-1].content).group(1)
        return f"Fatty acid oxidation protects cancer cells from chemotherapy [PMID {pmid}]."
    return "Cancer cells resisted chemotherapy in 97.3% of the experiments."


def test_the_summary_streams_cited_flagged_labelled_and_says_where_text_goes(corpus, tmp_path):
    from tests.scripted_model import ScriptedModel

    db, _ = corpus
    model = ScriptedModel(_scripted, name="scripted-llm", destination="llm.example.org")
    at = app(make_services(db, tmp_path / "lib.duckdb", model), q=FAO_QUERY)
    no_failure(at)
    assert "llm.example.org" in text(at.warning) and "sent there" in text(at.warning)
    assert not model.requests  # nothing is sent before the user asks
    summary = ask_for_summary(at)
    assert f'<a href="#pmid-{FAO}">PMID {FAO}</a>' in summary  # citation -> the card on the page
    assert "number not found in the cited abstract" in summary and "97.3" in summary
    assert "Written by scripted-llm" in summary and "Machine-written" in summary
    calls = len(model.requests)
    assert calls >= 2  # a finding per usable paper (the retracted copy is left out) and the overview
    at.run()  # a rerun shows the finished summary without writing it again
    assert len(model.requests) == calls


def test_tldr_of_one_paper_appears_under_its_card(services):
    at = app(services, q=FAO_QUERY)
    at.button(key=f"tldr-r-{FAO}").click().run()
    no_failure(at)
    tldrs = [h.value for h in at.html if "Extractive summary" in h.value and "Reading" not in h.value]
    assert any("This study demonstrates a critical mechanism underlying tumor cell chemoresistance" in t
               for t in tldrs)


def test_without_a_model_the_summary_quotes_conclusions_and_says_so(services):
    at = app(services, q=FAO_QUERY)
    summary = next(h.value for h in at.html if "ms-machine" in h.value)
    assert "Conclusions quoted from the abstracts" in summary and "no language model wrote it" in summary
    assert not at.warning  # nothing leaves the machine: no note


# -- sessions and a live index -------------------------------------------------------------------------------


def test_two_sessions_keep_their_own_search_and_filters(services):
    one = app(services, q="cancer", humans="1")
    two = app(services, q=FAO_QUERY)
    one.number_input(key="w_from").set_value(2021).run()
    two.run()
    assert two.number_input(key="w_from").value is None and not two.checkbox(key="w_humans").value
    assert one.text_input(key="w_q").value == "cancer" and two.text_input(key="w_q").value == FAO_QUERY
    assert one.query_params["from"] == "2021" and "from" not in two.query_params


def test_new_records_show_after_index_without_a_restart_and_saved_data_stays(corpus, tmp_path):
    db0, _ = corpus
    db = tmp_path / "m.duckdb"
    shutil.copy(db0, db)
    shutil.copytree(db0.with_name("m.index"), tmp_path / "m.index")
    shutil.copy(db0.with_name("m.duckdb.state.json"), tmp_path / "m.duckdb.state.json")
    services = make_services(db, tmp_path / "library.duckdb")
    services.library.lists.add("keep", [FAO], create=True)
    at = app(services, q="zebrafishnewcomer")
    assert "99999903" not in cards(at)
    made = tmp_path / "new.xml"
    made.write_bytes(_variant("99999903", title="A zebrafishnewcomer trial of outcomes"))
    ingest(db, [made])
    at.run()
    assert "behind the store" in text(at.sidebar.warning)
    assert "99999903" not in cards(at)  # still the last complete index
    index(db)
    at.run()
    no_failure(at)
    assert cards(at)[0] == "99999903"
    assert "behind the store" not in text(at.sidebar.warning)
    assert [e.pmid for e in services.library.lists.entries("keep")[1]] == [FAO]


@pytest.mark.slow
def test_the_engine_and_models_load_once_for_every_session(tmp_path, monkeypatch):
    """app.py as served: two sessions, several runs, one engine (st.cache_resource)."""
    import search.assembly
    from ingest.store import Store
    from search.index.build import IndexManager, IndexSettings
    from webapp.services import shared_services

    db = tmp_path / "m.duckdb"
    ingest(db, [METAPUB])
    with Store(db) as store:
        IndexManager(store, settings=IndexSettings(embedder=None)).build_or_update(progress=False)
    for name, value in {"MEDSEARCH_DB": str(db), "MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none",
                        "MEDSEARCH_LLM": "none", "MEDSEARCH_LIBRARY_DB": str(tmp_path / "lib.duckdb")}.items():
        monkeypatch.setenv(name, value)
    opened = []
    real = search.assembly.open_engine
    monkeypatch.setattr(search.assembly, "open_engine", lambda settings: opened.append(1) or real(settings))
    shared_services.clear()
    try:
        script = str(Path(__file__).resolve().parents[1] / "app.py")
        sessions = [AppTest.from_file(script, default_timeout=TIMEOUT) for _ in range(2)]
        for at, query in zip(sessions, ("cancer", "protein expression"), strict=True):
            at.query_params["q"] = query
            at.run()
            no_failure(at)
            assert cards(at)
        sessions[0].run()
        assert len(opened) == 1
    finally:
        shared_services.clear()
