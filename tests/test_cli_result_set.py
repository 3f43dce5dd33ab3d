"""The issue's table, re-run through the command line with the packaged models on the demo
records: what a result list means for a clinician and a librarian. What "mentions the topic"
means is a regular expression over the records read back from the store, not the engine's
matcher."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tests.conftest import PUBMED_DATA, run_cli

pytestmark = pytest.mark.slow  # the packaged embedder and reranker over 2,410 records

NOTICE_TYPES = {"Retraction of Publication", "Published Erratum", "Expression of Concern"}
CANCER = r"cancer|carcinom|neoplas|tumou?r|malignan|oncolog|lymphoma|leuk(a)?emia|sarcoma|melanoma|metasta"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    db = tmp_path_factory.mktemp("result-set") / "demo.duckdb"
    env = {"MEDSEARCH_DEMO_DATA": str(PUBMED_DATA)}
    assert run_cli("--db", str(db), "ingest", "demo", env=env, timeout=1800).returncode == 0
    out = run_cli("--db", str(db), "index", env=env, timeout=3600)
    assert out.returncode == 0, out.stderr
    from ingest.store import Store

    with Store(db, read_only=True) as store:
        ids = [d for (d,) in store.con.execute("SELECT doc_id FROM articles").fetchall()]
        articles = store.get_articles(ids)
    return db, articles


def search(db, *args: str) -> dict:
    out = run_cli("--db", str(db), "search", *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def text_of(a) -> str:
    return " ".join([a.title or "", a.abstract_text, " ".join(m.descriptor for m in a.mesh_headings),
                     " ".join(k.text for k in a.keywords)]).lower()


def mentions(a, pattern: str) -> bool:
    return re.search(pattern, text_of(a)) is not None


def is_notice(a) -> bool:
    return bool({p.name for p in a.publication_types} & NOTICE_TYPES) and not a.is_retracted


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid", "rerank"])
def test_words_no_record_has_find_nothing(demo, mode):
    db, _ = demo
    js = search(db, "xyzzyqq", "--mode", mode)
    assert js["total"] == 0 and js["hits"] == []
    assert any("xyzzyqq" in w for w in js["warnings"])


def test_cancer_under_therapy_narrow_lists_only_papers_about_cancer(demo):
    db, articles = demo
    js = search(db, "cancer", "--clinical", "therapy/narrow", "-k", "100")
    assert js["hits"] and js["total"] == len(js["hits"])
    assert all(mentions(articles[h["doc_id"]], CANCER) for h in js["hits"])


def test_systematic_reviews_of_type_2_diabetes_are_about_diabetes(demo):
    db, articles = demo
    js = search(db, "type 2 diabetes", "--systematic-review", "-k", "100")
    assert js["hits"] and all(mentions(articles[h["doc_id"]], r"diabet") for h in js["hits"])


def test_asthma_newest_first_lists_the_papers_about_asthma(demo):
    db, articles = demo
    about = {d for d, a in articles.items() if mentions(a, r"\basthma") and not is_notice(a)}
    literal = search(db, "asthma", "--sort", "date", "-k", "100", "--mode", "bm25")
    assert {h["doc_id"] for h in literal["hits"]} == about
    ranked = search(db, "asthma", "--sort", "date", "-k", "100")
    ids = [h["doc_id"] for h in ranked["hits"]]
    assert about <= set(ids) and ranked["total"] == len(ids)
    assert sum(mentions(articles[d], r"asthma") for d in ids) * 2 >= len(ids)  # the relevance side adds few


def test_no_notice_among_the_first_results_of_a_clinical_question(demo):
    db, articles = demo
    js = search(db, "inhaled corticosteroids in children with asthma", "-k", "10")
    assert js["hits"] and not any(is_notice(articles[h["doc_id"]]) for h in js["hits"])
    plain = search(db, "breast cancer", "-k", "100")
    asked = search(db, "breast cancer", "-k", "100", "--include-notices")
    assert not any(is_notice(articles[h["doc_id"]]) for h in plain["hits"])
    noticed = [h["doc_id"] for h in asked["hits"] if is_notice(articles[h["doc_id"]])]
    assert noticed and asked["total"] == plain["total"] + len(noticed)  # the notices come on top


def test_the_count_of_a_metformin_question_is_about_metformin(demo):
    db, articles = demo
    metformin = [d for d, a in articles.items() if mentions(a, r"metformin")]
    literal = search(db, "metformin dosing in renal impairment", "--mode", "bm25", "-k", "100")
    assert literal["total"] <= len(metformin)
    ranked = search(db, "metformin dosing in renal impairment", "-k", "5")
    assert mentions(articles[ranked["hits"][0]["doc_id"]], r"metformin")


def test_a_mesh_term_the_collection_lacks_names_its_headings(demo):
    db, articles = demo
    js = search(db, "diabetes[mh] AND randomized controlled trial[pt]")
    assert js["total"] == 0
    counts = Counter(m.descriptor for a in articles.values() for m in a.mesh_headings
                     if "diabetes" in m.descriptor.lower())
    name, n = counts.most_common(1)[0]
    assert any(f"{name} ({n:,})" in w for w in js["warnings"]), js["warnings"]


def test_a_misspelling_gets_the_collections_word(demo):
    db, _ = demo
    out = run_cli("--db", str(db), "search", "asthama")
    assert out.returncode == 0
    assert "did you mean asthma?" in out.stderr and "Did you mean: asthma" in out.stderr
