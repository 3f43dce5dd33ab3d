"""The library over HTTP, served for real: saved searches (create, rename, delete, run, runs) and
their Atom / RSS feeds read back by feedparser, with new records arriving through an ingest and an
index run while the server runs; citation lists (create, rename, delete, add, remove, move, notes)
and their exports in every format, parsed back by the same independent readers as the export
tests (rispy, bibtexparser, Bio.Medline, json, csv).

The corpus is the 163 metapub records (BM25 and the fake embedder); expected values come from the
records read back from the store, or from the files the test ingests.
"""

from __future__ import annotations

import shutil

import pytest

httpx = pytest.importorskip("httpx")
feedparser = pytest.importorskip("feedparser")

from tests.api_server import auth, make_services, serve  # noqa: E402
from tests.conftest import PUBMED_DATA  # noqa: E402
from tests.fake_embedder import FakeEmbedder  # noqa: E402

METAPUB = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
EXTRA = PUBMED_DATA / "biopython" / "pubmed4.xml"  # 50 records, several about cancer
FAO = "35649368"  # hand-checked in tests/test_app.py: a real metapub record
PROBLEM = "application/problem+json"


def _ingest_and_index(db, paths) -> None:
    from ingest.pipeline import ingest_files
    from ingest.store import Store
    from search.index.build import IndexManager, IndexSettings

    with Store(db) as store:
        ingest_files(store, paths, progress=False)
        IndexManager(store, settings=IndexSettings(embedder=FakeEmbedder.name),
                     embedder=FakeEmbedder()).build_or_update(progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    from ingest.store import Store

    db = tmp_path_factory.mktemp("corpus") / "m.duckdb"
    _ingest_and_index(db, [METAPUB])
    with Store(db, read_only=True) as store:
        ids = [d for (d,) in store.con.execute("SELECT doc_id FROM articles ORDER BY doc_id").fetchall()]
        articles = store.get_articles(ids)
    return db, articles


@pytest.fixture(scope="module")
def api(corpus, tmp_path_factory):
    db, _ = corpus
    with serve(make_services(db, tmp_path_factory.mktemp("lib") / "library.duckdb")) as base:
        with httpx.Client(base_url=base, timeout=60, headers=auth()) as client:
            yield client


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    return r.json()


# -- saved searches ---------------------------------------------------------------------------------


def test_a_saved_search_is_created_read_renamed_and_deleted(api):
    from search.api.schemas import SavedOut

    r = api.post("/saved", json={"name": "Cancer watch", "query": "cancer", "filters": {"year_from": 2010},
                                 "mode": "bm25", "k": 20})
    assert r.status_code == 201
    saved = SavedOut.model_validate(r.json())
    assert (saved.query, saved.filters.year_from, saved.mode, saved.k, saved.runs) == ("cancer", 2010, "bm25", 20, 0)
    assert "Cancer watch" in [s["name"] for s in api.get("/saved").json()]
    clash = _problem(api.post("/saved", json={"name": "CANCER WATCH", "query": "x"}), 409)
    assert "exists already" in clash["detail"]
    assert api.patch("/saved/cancer watch", json={"name": "Tumours"}).json()["name"] == "Tumours"
    missing = _problem(api.get("/saved/Cancer watch"), 404)
    assert "no saved query named 'Cancer watch'" in missing["detail"] and missing["hint"]
    assert api.delete("/saved/Tumours").status_code == 204
    _problem(api.get("/saved/Tumours"), 404)


def test_a_saved_search_the_engine_would_refuse_is_refused_at_once(api):
    body = _problem(api.post("/saved", json={"name": "long", "query": "x " * 1001}), 422)
    assert "2,000" in body["detail"]
    _problem(api.post("/saved", json={"name": "bad", "query": "x", "filters": {"year_from": 5}}), 422)


def test_a_run_is_recorded_and_the_first_run_is_the_baseline(api):
    from search.api.schemas import RunOut

    api.post("/saved", json={"name": "baseline", "query": "cancer", "k": 10})
    first = RunOut.model_validate(api.post("/saved/baseline/run").json())
    assert first.run.run_no == 1 and first.run.n_new == 0 and first.hits and not any(h.is_new for h in first.hits)
    second = api.post("/saved/baseline/run").json()
    assert second["previous_run_at"] == first.run.ran_at
    assert [r["run_no"] for r in api.get("/saved/baseline/runs").json()] == [2, 1]


def _ids(feed) -> list[str]:
    return [e.id for e in feed.entries]


def test_the_feed_puts_what_a_new_ingest_added_first_and_reading_it_records_nothing(corpus, tmp_path):
    """A saved search runs (its baseline); an ingest and an index run bring new records while the
    server runs; the Atom feed, read by feedparser, lists them first as NEW, from the new snapshot
    without a restart. Reading the feed records no run; the next run takes them in."""
    from ingest.store import Store

    db0, _ = corpus
    db = tmp_path / "m.duckdb"
    shutil.copy(db0, db)
    shutil.copytree(db0.with_name("m.index"), tmp_path / "m.index")
    services = make_services(db, tmp_path / "library.duckdb")
    with serve(services) as base, httpx.Client(base_url=base, timeout=60, headers=auth()) as api:
        api.post("/saved", json={"name": "cancer", "query": "cancer", "k": 1000})
        api.post("/saved/cancer/run")
        quiet = feedparser.parse(api.get("/saved/cancer/feed").content)
        assert quiet.version == "atom10" and quiet.entries
        assert not any(e.title.startswith("NEW: ") for e in quiet.entries)

        with Store(db) as store:
            before = {r[0] for r in store.con.execute("SELECT doc_id FROM articles").fetchall()}
        _ingest_and_index(db, [EXTRA])
        with Store(db, read_only=True) as store:
            brought = {r[0] for r in store.con.execute("SELECT doc_id FROM articles").fetchall()} - before
        r = api.get("/saved/cancer/feed")
        assert r.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(r.content)
        assert not feed.bozo, feed.get("bozo_exception")
        new = [e for e in feed.entries if e.title.startswith("NEW: ")]
        assert new and len(new) < len(feed.entries)
        assert feed.entries[: len(new)] == new  # the new ones first
        new_pmids = {e.id.rstrip("/").rsplit("/", 1)[1] for e in new}
        assert new_pmids <= brought  # new results are records the ingest brought
        assert all(any(t.term == "new" for t in e.tags) for e in new)
        assert api.get("/saved/cancer").json()["runs"] == 1  # the feed recorded nothing

        rss = feedparser.parse(api.get("/saved/cancer/feed", params={"format": "rss"}).content)
        assert rss.version == "rss20" and _ids(rss) == _ids(feed)

        run = api.post("/saved/cancer/run").json()
        assert {h["pmid"] for h in run["hits"] if h["is_new"]} == new_pmids
        after = feedparser.parse(api.get("/saved/cancer/feed").content)
        assert not any(e.title.startswith("NEW: ") for e in after.entries)


# -- citation lists -------------------------------------------------------------------------------------


def _pmids(view) -> list[str]:
    return [e["pmid"] for e in view["entries"]]


def test_a_list_is_built_reordered_annotated_and_trimmed(api, corpus):
    from search.api.schemas import ListViewOut

    _, articles = corpus
    a, b, c = sorted(articles)[:3]
    assert api.post("/lists", json={"name": "review"}).status_code == 201
    added = api.post("/lists/review/papers", json={"pmids": [a, b, c, "1"], "note": "screen"}).json()
    assert added == {"added": [a, b, c, "1"], "already": []}
    view = ListViewOut.model_validate(api.get("/lists/review").json())
    assert [e.pmid for e in view.entries] == [a, b, c, "1"] and view.missing == 1
    assert view.entries[0].title == articles[a].title
    moved = api.put(f"/lists/review/papers/{c}/position", json={"position": 1}).json()
    assert _pmids(moved) == [c, a, b, "1"]
    noted = api.put(f"/lists/review/papers/{a}/note", json={"note": "key trial"}).json()
    assert {e["pmid"]: e["note"] for e in noted["entries"]}[a] == "key trial"
    assert _pmids(api.delete("/lists/review/papers/1").json()) == [c, a, b]
    _problem(api.put("/lists/review/papers/1/note", json={"note": "x"}), 404)
    _problem(api.put(f"/lists/review/papers/{a}/position", json={"position": 9}), 422)
    bad = _problem(api.post("/lists/review/papers", json={"pmids": [a, "not-a-pmid"]}), 422)
    assert "not-a-pmid" in bad["detail"]
    assert _pmids(api.get("/lists/review").json()) == [c, a, b]  # nothing changed


def test_a_list_is_renamed_and_deleted_only_with_consent_when_it_holds_papers(api, corpus):
    _, articles = corpus
    api.post("/lists/papers-to-go/papers", json={"pmids": [sorted(articles)[0]], "create": True})
    assert api.patch("/lists/papers-to-go", json={"name": "gone"}).json()["name"] == "gone"
    body = _problem(api.delete("/lists/gone"), 422)
    assert "holds 1 papers" in body["detail"]
    assert api.delete("/lists/gone", params={"force": True}).status_code == 204
    _problem(api.get("/lists/gone"), 404)


def test_a_list_exports_in_every_format_with_its_media_type_and_file_name(api, corpus):
    from search.citations.export import FORMATS
    from tests.test_export import read_bibtex, read_csljson, read_csv, read_medline, read_ris

    _, articles = corpus
    second = next(d for d in sorted(articles) if d != FAO)
    api.post("/lists/My review: 2024/papers", json={"pmids": [FAO, second, "1"], "create": True})
    api.put(f"/lists/My review: 2024/papers/{FAO}/note", json={"note": "read first"})
    readers = {"ris": read_ris, "bibtex": read_bibtex, "medline": read_medline, "csljson": read_csljson}
    for name, fmt in FORMATS.items():
        r = api.get("/lists/My review: 2024/export", params={"format": name})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].split(";")[0] == fmt.mime
        assert r.headers["content-disposition"] == f'attachment; filename="My-review-2024{fmt.extension}"'
        assert r.headers["x-medsearch-missing"] == "1" and r.headers["x-medsearch-missing-count"] == "1"
        if name in readers:
            views = readers[name](r.content.decode("utf-8"))
        elif name == "csv":
            views = read_csv(r.content)
        else:  # formatted references: each paper's title, in list order
            text = r.content.decode("utf-8")
            titles = [articles[p].title.rstrip(".") for p in (FAO, second)]
            assert all(t in text for t in titles) and text.index(titles[0]) < text.index(titles[1]), name
            continue
        assert [v.pmid for v in views] == [FAO, second], name
        assert [v.title.rstrip(".") for v in views] == [articles[p].title.rstrip(".") for p in (FAO, second)], name
        assert "read first" in views[0].note, name
    body = _problem(api.get("/lists/My review: 2024/export", params={"format": "docx"}), 422)
    assert "ris" in body["hint"]


def test_library_writes_need_a_key_and_reads_do_not(api):
    anonymous = {"Authorization": ""}
    assert api.post("/lists", json={"name": "nokey"}, headers=anonymous).status_code == 401
    assert api.post("/saved", json={"name": "nokey", "query": "x"}, headers=anonymous).status_code == 401
    assert api.get("/lists", headers=anonymous).status_code == 200
    assert api.get("/saved", headers=anonymous).status_code == 200
