"""Untagged truncation (issue 23, row 7): ``randomiz*`` means what PubMed gives it, records
with a word starting ``randomiz`` in any field; never an empty or an unrelated result.
The oracle reads the records' XML with a regular expression, apart from the engine."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from search.library import open_searcher
from search.query.syntax import Term, parse
from tests.test_library import METAPUB, corpus_settings, ingest_and_index

PREFIX = re.compile(r"\brandomiz", re.IGNORECASE)


def test_an_untagged_truncated_word_restricts_in_every_field_and_does_not_rank():
    parsed = parse("randomiz*")
    assert parsed.restriction == Term("randomiz*") and parsed.free_clauses == () and parsed.boolean_only
    mixed = parse("metformin randomiz* cancer")
    assert mixed.free_text == "metformin cancer" and mixed.restriction == Term("randomiz*")
    assert parse('"randomiz* trial" metformin').restriction == Term("randomiz* trial", quoted=True)
    assert parse("(metformin OR randomiz*)").free_text == "metformin"
    assert parse("metformin randomiz*").to_pubmed() == "metformin randomiz*"  # the query itself is unchanged


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    s = corpus_settings(tmp_path_factory.mktemp("trunc-corpus"))
    ingest_and_index(s, [METAPUB])
    return s


def _oracle() -> tuple[set[str], set[str]]:
    """PMIDs with a word starting "randomiz" in the title or abstract, and anywhere in the record."""
    in_tiab, anywhere = set(), set()
    for path in METAPUB.glob("*.xml"):
        root = ElementTree.parse(path).getroot()
        pmid = root.findtext(".//MedlineCitation/PMID")
        tiab = " ".join(e.text or "" for e in root.iter() if e.tag in ("ArticleTitle", "AbstractText"))
        tiab += " ".join("".join(e.itertext()) for e in root.iter() if e.tag in ("ArticleTitle", "AbstractText"))
        if PREFIX.search(tiab):
            in_tiab.add(pmid)
        if PREFIX.search(" ".join(root.itertext())):
            anywhere.add(pmid)
    return in_tiab, anywhere


def _pmids(engine, query: str, mode: str | None = None) -> set[str]:
    return {h.pmid for h in engine.search(query, k=1000, mode=mode).hits}


def test_untagged_randomiz_star_finds_every_record_with_such_a_word(corpus):
    in_tiab, anywhere = _oracle()
    assert in_tiab  # the data holds some
    with open_searcher(corpus) as engine:
        untagged = _pmids(engine, "randomiz*", mode="bm25")
        tagged = _pmids(engine, "randomiz*[tiab]", mode="bm25")
        mixed = _pmids(engine, "study randomiz*", mode="bm25")
    assert tagged == in_tiab
    assert in_tiab <= untagged <= anywhere
    assert mixed and mixed <= untagged  # the free text ranks within the restriction
