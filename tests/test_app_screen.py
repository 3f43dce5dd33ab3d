"""The screen's rough edges (AppTest over the real records of tests/test_app.py): messages in
the app's own words, notes on list items, what is searched in the header, the landing
examples, filters and sort back to page 1, the year chart without zoom bindings."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.test_app import FAO, RETRACTED, app, cards, corpus, make_services, no_failure, text
from webapp.corpus_info import corpus_info

__all__ = ["corpus"]


@pytest.fixture
def services(corpus, tmp_path):
    db, _ = corpus
    return make_services(db, tmp_path / "lib.duckdb")


def test_a_taken_saved_search_name_says_pick_another_or_replace_in_the_apps_words(services):
    services.library.saved.add("Cancer", "protein expression")
    at = app(services, q="cancer")
    at.text_input(key="w_save_name").input("cancer")  # the same name, ignoring case
    at.button(key="w_save").click().run()
    said = text(at.error) + " " + " ".join(c.value for c in at.main.caption)
    assert "There is a saved search named \u201cCancer\u201d already" in said
    assert "another name" in said and "Replace" in said and "medsearch" not in said
    assert services.library.saved.get("Cancer").query == "protein expression"
    at.button(key="w_save_replace").click().run()
    no_failure(at)
    assert services.library.saved.get("Cancer").query == "cancer"
    assert [s.name for s in services.library.saved.all()] == ["Cancer"]


def test_a_taken_list_name_speaks_the_apps_language(services):
    services.library.lists.create("Sepsis")
    at = app(services, view="lists")
    at.text_input(key="w_new_list").input("SEPSIS")
    at.button(key="w_create_list").click().run()
    said = text(at.error) + " " + " ".join(c.value for c in at.main.caption)
    assert "There is a list named \u201cSepsis\u201d already" in said and "medsearch" not in said


def test_a_note_is_added_then_edited_on_a_list_item(services):
    services.library.lists.add("review", [FAO, RETRACTED], create=True)
    at = app(services, view="lists", list="review")
    at.text_area(key=f"note-{FAO}").input("Key <trial> for the review")
    at.button(key=f"save-note-{FAO}").click().run()
    no_failure(at)
    notes = {e.pmid: e.note for e in services.library.lists.entries("review")[1]}
    assert notes == {FAO: "Key <trial> for the review", RETRACTED: None}
    page = " ".join(h.value for h in at.html)
    assert "Note: Key &lt;trial&gt; for the review" in page
    at.text_area(key=f"note-{FAO}").input("Cited in the introduction")
    at.button(key=f"save-note-{FAO}").click().run()
    assert services.library.lists.entries("review")[1][0].note == "Cited in the introduction"
    assert [e.pmid for e in services.library.lists.entries("review")[1]] == [FAO, RETRACTED]  # order kept


def test_the_header_says_what_is_searched(services, corpus):
    _, articles = corpus
    at = app(services, q="cancer")
    line = next(h.value for h in at.html if "ms-corpus" in h.value)
    assert f"{len(articles):,} records searched" in line
    newest = max(a.pub_year for a in articles.values() if a.pub_year)
    assert f"newest published {newest}" in line
    assert "never updated from PubMed" in line  # the store was filled from files only
    sidebar = " ".join(m.value for m in at.sidebar.markdown) + " ".join(c.value for c in at.sidebar.caption)
    assert "medsearch update" in sidebar


def test_every_landing_example_searches_without_an_error(services):
    from webapp.search_view import EXAMPLES

    for example in EXAMPLES:
        at = app(services)
        at.button(key=f"ex-{example}").click().run()
        no_failure(at)
        assert at.query_params["q"] == example
        assert not at.error, (example, text(at.error))


def test_retracted_subset_finds_the_retracted_paper_in_the_app(services):
    at = app(services, q="retracted[sb]")
    no_failure(at)
    assert not at.error
    assert cards(at) == [RETRACTED]  # the one retracted record of the store


def test_changing_the_sort_or_a_filter_returns_to_page_one(services):
    at = app(services, q="cancer", page="2")
    assert at.query_params["page"] == "2"
    at.selectbox(key="w_sort").set_value("date").run()
    assert "page" not in at.query_params
    at.query_params["page"] = "2"
    at.run()
    at.checkbox(key="w_abstract").check().run()
    assert at.query_params["abstract"] == "1" and "page" not in at.query_params


def test_the_year_chart_has_no_scale_bindings_and_fixed_domains():
    from search.types import YearCount
    from webapp.widgets import year_chart

    spec = year_chart((YearCount(2019, 3), YearCount(2021, 5)))
    assert "params" not in json.dumps(spec) and "selection" not in json.dumps(spec)
    assert spec["data"]["values"] == [{"year": "2019", "records": 3}, {"year": "2021", "records": 5}]
    assert spec["encoding"]["x"]["scale"]["domain"] == ["2019", "2021"]
    assert spec["encoding"]["y"]["scale"]["domain"] == [0, 5]


def test_corpus_info_names_sources_newest_first_and_the_last_pubmed_update():
    manifest = {"doc_count": 1200, "stats": {"by_year": {"2019": 5, "2024": 7, "unknown": 1}, "last_runs": [
        {"kind": "files", "target": "/data/a.xml", "status": "completed", "finished_at": "2025-01-02T10:00:00"},
        {"kind": "pubmed", "target": "asthma AND children[mh]", "status": "completed",
         "finished_at": "2025-03-04T09:30:00"},
        {"kind": "update", "target": "PubMed", "status": "completed", "finished_at": "2025-05-06T08:00:00"},
        {"kind": "pubmed", "target": "never finished", "status": "failed", "finished_at": None},
    ]}}
    info = corpus_info(manifest)
    assert info.records == 1200 and info.newest_year == 2024
    assert info.last_pubmed == datetime(2025, 5, 6, 8, 0)
    assert info.from_text == "PubMed query \u201casthma AND children[mh]\u201d; files /data/a.xml"
    assert info.sentence() == ("1,200 records searched, from PubMed query \u201casthma AND children[mh]\u201d; files "
                               "/data/a.xml · newest published 2024 · last update from PubMed 2025-05-06 08:00")
    assert corpus_info({"doc_count": 3}).sentence() == ("3 records searched, from sources not recorded in this "
                                                        "index · never updated from PubMed")
