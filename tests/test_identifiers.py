"""Identifiers (issue 23, row 9): ingest keeps a PMCID or DOI only in its own form and
reports a bad one as a record problem (the record is stored without it); BibTeX escapes every
field it writes, identifiers included, so no value can open a field of its own."""

from __future__ import annotations

import gzip
import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.medline_text import iter_medline_text
from ingest.pubmed_values import checked_doi, checked_pmcid
from ingest.pubmed_xml import iter_pubmed_xml
from ingest.records import Article, Problem
from search.citations.export import export
from tests.conftest import PUBMED_DATA
from tests.test_export import _bibtex_decoder

METAPUB = PUBMED_DATA / "metapub" / "fixtures" / "pmid_xml"
HOSTILE_PMCID = "PMC1}, note={X"


@pytest.mark.parametrize(("value", "kept"), [("PMC123", "PMC123"), ("123", "PMC123"), ("pmc77", "PMC77"),
                                             (HOSTILE_PMCID, None), ("PMC12a", None), ("PMC", None)])
def test_a_pmcid_is_pmc_and_digits(value, kept):
    assert checked_pmcid(value)[0] == kept
    assert (checked_pmcid(value)[1] is None) == (kept is not None)


@pytest.mark.parametrize(("value", "ok"), [("10.1000/xyz", True), ("10.1002/(SICI)1097-0258(19980815/30)17:15/16<1661::AID-SIM968>3.0.CO;2-2", True),
                                           ("10.1000/x y", False), ("10.1000/x}, note={y", False), ("doi:10.1/x", False),
                                           ("11.1000/x", False)])
def test_a_doi_has_doi_syntax(value, ok):
    assert (checked_doi(value)[0] == value) == ok


def _record_with_ids(pmcid: str, doi: str) -> bytes:
    """A real record (the first metapub file) carrying the given PMCID and DOI in its ArticleIdList."""
    path = sorted(METAPUB.glob("*.xml"))[0]
    xml = path.read_bytes()
    xml = re.sub(rb'<ArticleId IdType="(pmc|doi)">[^<]*</ArticleId>', b"", xml)
    ids = (f'<ArticleId IdType="pmc">{pmcid}</ArticleId><ArticleId IdType="doi">{doi}</ArticleId>'
           .replace("&", "&amp;").encode())
    return xml.replace(b"<ArticleIdList>", b"<ArticleIdList>" + ids, 1)


def test_ingest_keeps_a_bad_pmcid_out_and_reports_it_as_a_record_problem(tmp_path):
    if not METAPUB.is_dir():
        pytest.skip("real data not found")
    path = tmp_path / "bad.xml.gz"
    path.write_bytes(gzip.compress(_record_with_ids(HOSTILE_PMCID, "10.1000/x y}")))
    items = list(iter_pubmed_xml(path))
    (article,) = [i for i in items if isinstance(i, Article)]
    problems = [i for i in items if isinstance(i, Problem)]
    assert article.pmcid is None and article.doi is None
    assert len(problems) == 2 and not any(p.skipped for p in problems)
    assert any(HOSTILE_PMCID in p.message for p in problems) and all("stored without it" in p.message for p in problems)


def test_the_medline_reader_checks_the_same_identifiers():
    text = "PMID- 1\nTI  - A title.\nPMC - PMC1}, note={X\nLID - 10.1000/ok [doi]\n"
    items = list(iter_medline_text(io.BytesIO(text.encode()), location="t.nbib"))
    (article,) = [i for i in items if isinstance(i, Article)]
    assert article.pmcid is None and article.doi == "10.1000/ok"
    assert [p.skipped for p in items if isinstance(p, Problem)] == [False]


FIELDS = ("doi", "pmid", "pmcid", "volume", "issue", "issn", "language")
hostile = st.one_of(st.sampled_from(["}", "{", "}, note={X", "\\", "%", "@comment{", "\n", "=", ",", "\"", "#"]),
                    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), max_size=12))
values = st.lists(hostile, min_size=1, max_size=5).map("".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doi=values, pmcid=values, volume=values, issue=values, issn=values, language=values, keyword=values)
def test_no_value_of_any_field_opens_another_bibtex_field(doi, pmcid, volume, issue, issn, language, keyword):
    import bibtexparser

    a = Article(doc_id="12345", pmid="12345", title="T", journal_title="J", pub_year=2020, doi=doi,
                pmcid=f"PMC{pmcid}", volume=volume, issue=issue, issn=issn, languages=(language,),
                keywords=())
    library = bibtexparser.parse_string(export([a], "bibtex"))
    assert not library.failed_blocks and len(library.entries) == 1
    fields = {k: v.value for k, v in library.entries[0].fields_dict.items()}
    assert "note" not in fields  # nothing but the caller's note writes a note
    decode = _bibtex_decoder().latex_to_text
    one_line = " ".join
    for name, value in (("doi", doi), ("pmcid", f"PMC{pmcid}")):
        if one_line(value.split()):
            assert decode(fields[name]) == one_line(value.split()), name
