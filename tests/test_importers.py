"""Citation imports: PMIDs out of real PubMed MEDLINE files, our own exports, files as other
tools write them (typed here by hand), and plain PMID lists; unknown input is a clear error."""

from __future__ import annotations

import json
import re

import pytest

from ingest.errors import SourceError
from ingest.records import Article, Author
from search.citations.export import export, export_bytes
from search.citations.importers import read_citations, sniff
from tests.conftest import PUBMED_DATA, needs_data


def _pmid_lines(text: str) -> list[str]:
    """The oracle: PMIDs as PubMed writes them, one "PMID- n" line per record."""
    return re.findall(r"^PMID- (\d+)", text, flags=re.MULTILINE)


@needs_data
@pytest.mark.parametrize("name", ["biopython/medline_pubmed_result2.txt", "neilfws_retractions.medline"])
def test_pubmeds_own_medline_files_give_every_pmid_in_order(name):
    path = PUBMED_DATA / name
    want = _pmid_lines(path.read_text(encoding="utf-8"))
    result = read_citations(path)
    assert result.format == "medline"
    assert list(result.pmids) == list(dict.fromkeys(want)) and len(want) > 3
    assert result.entries == len(want) and not result.without_pmid


@pytest.fixture(scope="module")
def retractions() -> list[Article]:
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    from ingest.medline_text import iter_medline_text

    items = iter_medline_text(PUBMED_DATA / "neilfws_retractions.medline")
    return [a for a in items if isinstance(a, Article)][:300]


@needs_data
@pytest.mark.parametrize("fmt, want_format", [("ris", "ris"), ("medline", "medline"), ("csljson", "csljson"),
                                              ("bibtex", "bibtex")])
def test_our_exports_of_real_records_import_back_to_the_same_pmids(retractions, fmt, want_format):
    result = read_citations(export_bytes(retractions, fmt))
    assert result.format == want_format
    assert result.pmids == tuple(a.pmid for a in retractions)
    assert result.entries == len(retractions) and not result.without_pmid


def test_ris_as_reference_managers_write_it():
    text = """\ufeff
TY  - JOUR\r
AU  - Halpern, Scott D\r
TI  - Solid-organ transplantation in HIV-infected patients\r
DB  - PubMed\r
AN  - 12140106\r
ER  - \r
\r
TY  - JOUR
TI  - Found through a link
UR  - https://pubmed.ncbi.nlm.nih.gov/15630012/
ER  -

TY  - JOUR
TI  - Zotero keeps it in a note
N1  - PMID: 9997
ER  -

TY  - JOUR
TI  - A Web of Science record
AN  - WOS:000178001400011
DO  - 10.1056/NEJMsa020632
ER  -

TY  - JOUR
TI  - A CINAHL accession number is not a PMID
DB  - CINAHL
AN  - 106542317
ER  -
"""
    result = read_citations(text)
    assert result.format == "ris"
    assert result.pmids == ("12140106", "15630012", "9997")
    assert [(u.position, u.title, u.doi) for u in result.without_pmid] == [
        (4, "A Web of Science record", "10.1056/NEJMsa020632"),
        (5, "A CINAHL accession number is not a PMID", None),
    ]
    assert result.without_pmid[0].label == "A Web of Science record (doi:10.1056/NEJMsa020632)"


def test_csl_json_from_other_tools_and_entries_without_pmid():
    items = [
        {"id": "a", "type": "article-journal", "title": "With the field", "PMID": "12140106"},
        {"id": "b", "type": "article-journal", "title": "Zotero's extra field", "note": "PMID: 15630012\nPMCID: PMC1"},
        {"id": "c", "type": "article-journal", "title": "Only a DOI", "DOI": "10.1000/xyz"},
        {"id": "d", "type": "article-journal", "title": "With the field again", "pmid": 12140106},
    ]
    result = read_citations(json.dumps(items))
    assert result.format == "csljson" and result.pmids == ("12140106", "15630012")
    assert result.duplicates == 1 and result.entries == 4
    assert [(u.title, u.doi) for u in result.without_pmid] == [("Only a DOI", "10.1000/xyz")]
    assert read_citations(json.dumps(items[0])).pmids == ("12140106",)  # one object, not a list


def test_bibtex_pmid_field_eprint_and_note():
    text = """
@article{a, title = {One}, pmid = {12140106}}
@article{b, title = {Two}, eprint = {15630012}, eprinttype = {pubmed}}
@article{c, title = {Three}, note = {PMID: 9997}}
@article{d, title = {{No} identifier}, doi = {10.1000/abc}}
"""
    result = read_citations(text)
    assert result.format == "bibtex" and result.pmids == ("12140106", "15630012", "9997")
    assert [(u.title, u.doi) for u in result.without_pmid] == [("No identifier", "10.1000/abc")]


def test_pmid_lists_take_spaces_commas_lines_links_and_drop_repeats():
    text = "PMID\n12140106, 15630012;9997\n  https://pubmed.ncbi.nlm.nih.gov/111/ PMID: 222\n" \
           "http://www.ncbi.nlm.nih.gov/pubmed/333\n12140106\n"
    result = read_citations(text)
    assert result.format == "pmids"
    assert result.pmids == ("12140106", "15630012", "9997", "111", "222", "333")
    assert result.duplicates == 1 and result.entries == 7


def test_a_path_a_file_name_and_bytes_read_the_same(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbf123\n456\n")
    assert read_citations(path).pmids == read_citations(str(path)).pmids == ("123", "456")
    assert read_citations(path.read_bytes()).pmids == ("123", "456")


def test_text_that_is_no_known_format_is_a_source_error_naming_the_formats():
    with pytest.raises(SourceError) as err:
        read_citations("Halpern SD, Ubel PA. Solid-organ transplantation. N Engl J Med. 2002;347:284-7.")
    assert "nor a list of PMIDs" in err.value.message and "'Halpern'" in err.value.message
    assert "RIS" in err.value.hint and "MEDLINE" in err.value.hint


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (b"   \n\n", "is empty"),
    (b"\xff\xfe\x00T\x00Y", "not UTF-8"),
    (b"[{\"title\": ", "not valid JSON"),
    (b"{\"a\": 1, \"items\": 3}", "not CSL-JSON"),
    (b"123\n0\n", "'0'"),
    (b"12345678901", "'12345678901'"),
])
def test_bad_input_says_what_is_wrong(data, words):
    with pytest.raises(SourceError) as err:
        read_citations(data)
    assert words in err.value.message


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SourceError) as err:
        read_citations(str(tmp_path / "refs.ris"))
    assert "refs.ris does not exist" in err.value.message


def test_sniffing_looks_at_content_not_names():
    article = Article(doc_id="1", pmid="1", title="T", journal_title="J",
                      authors=(Author(last_name="Smith", fore_name="A"),))
    assert sniff(export([article], "ris")) == "ris"
    assert sniff(export([article], "medline")) == "medline"
    assert sniff(export([article], "csljson")) == "csljson"
    assert sniff(export([article], "bibtex")) == "bibtex"
    assert sniff("1 2 3") == "pmids" and sniff(" \n") is None
