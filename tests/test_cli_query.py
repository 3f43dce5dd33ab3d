"""`medsearch search` with PubMed syntax, evidence filters, sorts, facets and explanations, and
`medsearch similar`, run for real over real records (a BM25-only index: no model to load)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PUBMED_DATA, run_cli

ENV = {"MEDSEARCH_EMBEDDING_MODEL": "none", "MEDSEARCH_RERANKER": "none"}
RECORDS = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    if not RECORDS.is_dir():
        pytest.skip("real data not found")
    path = tmp_path_factory.mktemp("cliq") / "q.duckdb"
    assert run_cli("--db", str(path), "ingest", "files", str(RECORDS), env=ENV).returncode == 0
    out = run_cli("--db", str(path), "index", env=ENV)
    assert out.returncode == 0, out.stderr
    return path


def search(db, *args: str):
    return run_cli("--db", str(db), "search", *args, env=ENV)


def test_explain_query_says_what_ranks_and_what_restricts_without_an_index(tmp_path):
    out = run_cli("--db", str(tmp_path / "none.duckdb"), "search", "metformin cancer AND 2015:2020[dp]",
                  "--explain-query", "--clinical", "therapy/narrow", env=ENV)
    assert out.returncode == 0, out.stderr
    assert "Ranked by the free text 'metformin cancer'" in out.stdout
    assert "from 2015-01-01 to 2020-12-31" in out.stdout
    assert "Therapy, narrow (specific): (randomized controlled trial[Publication Type]" in out.stdout


@pytest.mark.slow
def test_a_malformed_query_exits_2_with_a_caret_under_the_error(db):
    out = search(db, "asthma AND (trial[pt]")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.splitlines()
    query_line = next(i for i, line in enumerate(lines) if line.strip() == "asthma AND (trial[pt]")
    assert lines[query_line + 1].index("^") == lines[query_line].index("(")
    assert "never closed" in out.stderr and "->" in out.stderr


def test_an_unknown_clinical_filter_exits_2_listing_the_valid_ones(db):
    out = search(db, "cancer", "--clinical", "harm/narrow")
    assert out.returncode == 2 and "therapy/narrow" in out.stderr and "prognosis/broad" in out.stderr


@pytest.mark.slow
def test_a_boolean_query_lists_its_matches_newest_first_as_json(db):
    out = search(db, "review[pt]", "--json", "-k", "100")
    js = json.loads(out.stdout)
    assert js["sort"] == "date" and js["free_text"] == "" and js["total"] == len(js["hits"]) > 3
    assert all("Review" in h["publication_types"] for h in js["hits"])


@pytest.mark.slow
def test_pages_sorts_and_facets(db):
    whole = json.loads(search(db, "cancer", "--json", "-k", "6", "--sort", "date").stdout)
    second = json.loads(search(db, "cancer", "--json", "-k", "3", "--offset", "3", "--sort", "date",
                               "--facets").stdout)
    assert [h["doc_id"] for h in second["hits"]] == [h["doc_id"] for h in whole["hits"][3:]]
    assert [h["rank"] for h in second["hits"]] == [4, 5, 6]
    facets = second["facets"]
    assert facets["total"] == second["total"] == whole["total"]
    assert sum(y["count"] for y in facets["timeline"]) == facets["total"] - facets["no_year"]
    text = search(db, "cancer", "-k", "3", "--facets").stdout
    assert "Facets of the" in text and "publication type: Journal Article (" in text


@pytest.mark.slow
def test_explain_prints_evidence_matched_terms_and_marked_words(db):
    out = search(db, "breast cancer", "-k", "2", "--explain")
    assert out.returncode == 0, out.stderr
    assert "evidence: level" in out.stdout and "matched: " in out.stdout and "«" in out.stdout
    assert "scores: bm25" in out.stdout


@pytest.mark.slow
def test_evidence_filter_flags_restrict_the_results(db):
    js = json.loads(search(db, "all[sb]", "--humans", "--age", "aged", "--json", "-k", "100").stdout)
    assert js["hits"] and js["filters"]["humans_only"] and js["filters"]["ages"] == ["aged"]
    everyone = json.loads(search(db, "all[sb]", "--json", "-k", "1").stdout)
    assert js["total"] < everyone["total"]


@pytest.mark.slow
def test_similar_lists_neighbours_and_refuses_an_unknown_pmid(db):
    out = run_cli("--db", str(db), "similar", "31588070", "-k", "4", "--json", env=ENV)
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    assert js["source"]["doc_id"] == "31588070" and len(js["hits"]) == 4
    assert "31588070" not in [h["doc_id"] for h in js["hits"]]
    text = run_cli("--db", str(db), "similar", "31588070", "-k", "2", env=ENV).stdout
    assert text.startswith("Similar to 31588070")
    missing = run_cli("--db", str(db), "similar", "12", env=ENV)
    assert missing.returncode == 2 and "not in the search index" in missing.stderr
