"""MEDLINE text reader: real PubMed exports, a modern .nbib record, bad input, a round trip."""

from __future__ import annotations

import io
import re
import textwrap
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import SourceError
from ingest.medline_text import (
    iter_medline_text,
    parse_chemical,
    parse_mesh,
    parse_pub_date,
    parse_reference,
    split_abstract,
)
from ingest.pubmed_values import is_translated_title
from ingest.records import (
    AbstractSection,
    Article,
    Chemical,
    CommentCorrection,
    MeshHeading,
    MeshQualifier,
    Problem,
)
from tests.conftest import SHARED_DATA, needs_data

DATA = SHARED_DATA
PUBMED = DATA / "pubmed"
REAL_FILES = [
    "biopython/medline_pubmed_result1.txt",
    "biopython/medline_pubmed_result2.txt",
    "biopython/medline_pubmed_result3.txt",
    "neilfws_retractions.medline",
]

_cache: dict[str, dict[str, Article]] = {}


def _by_pmid(name: str) -> dict[str, Article]:
    if name not in _cache:
        _cache[name] = {a.pmid: a for a in iter_medline_text(PUBMED / name) if isinstance(a, Article)}
    return _cache[name]


# --- real files -------------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize("name", REAL_FILES)
def test_real_file_parses_every_record(name: str) -> None:
    path = PUBMED / name
    expected = sum(line.startswith("PMID- ") for line in path.read_text("utf-8").splitlines())
    items = list(iter_medline_text(path))
    problems = [i for i in items if isinstance(i, Problem)]
    # no record is skipped; a record with a DOI of another syntax is stored without it (issue 23, row 9)
    assert all(not p.skipped and "does not have DOI syntax" in p.message for p in problems)
    assert {re.search(r"PMID (\d+)", p.message)[1] for p in problems} == BAD_DOI.get(name, set())
    items = [i for i in items if not isinstance(i, Problem)]
    assert len(items) == expected
    assert all(a.title and a.doc_id == a.pmid and a.source == "pubmed" for a in items)


#: Real records whose DOI is not one ("06.2009/JCPSP.398398", "2003/45/smw-10515", "10.231/...").
BAD_DOI = {"neilfws_retractions.medline": {"19486588", "19149983", "18382269", "14745671"}}


@needs_data
def test_retractions_file_counts() -> None:
    articles = _by_pmid("neilfws_retractions.medline").values()
    assert len(articles) == 1621
    notices = [a for a in articles if any(p.name == "Retraction of Publication"
                                          for p in a.publication_types)]
    assert len(notices) == 1621
    linked = [a for a in articles if any(c.ref_type == "RetractionOf" for c in a.comments_corrections)]
    assert len(linked) > 1500


@needs_data
def test_retraction_notice_links_to_retracted_article() -> None:
    a = _by_pmid("neilfws_retractions.medline")["20931257"]
    assert a.title.startswith("Erratum to: NCL-CD30 staining")
    assert [p.name for p in a.publication_types] == ["Retraction of Publication"]
    assert a.comments_corrections == (
        CommentCorrection(
            "RetractionOf",
            "Tamiolakis D, Papadopoulos N, Venizelos J, Lambropoulou M, Tsikouras P, "
            "Koutsougeras G, Bolioti S, Tsiapali M, Menegaki M, Kouskoukis C. Clin Exp Med. "
            "2005 Dec;5(4):184-9",
            "16362798",
        ),
    )
    assert (a.issn, a.issn_linking) == ("1591-9528", "1591-8890")
    assert (a.journal_iso, a.journal_title) == ("Clin Exp Med", "Clinical and experimental medicine")
    assert (a.volume, a.issue, a.pages, a.pub_year, a.pub_month) == ("10", "4", "273", 2010, 12)
    assert a.doi == "10.1007/s10238-010-0111-8"
    assert not a.is_retracted


@needs_data
def test_reference_without_pmid_and_many_references() -> None:
    recs = _by_pmid("neilfws_retractions.medline")
    a = recs["20679414"]
    assert a.comments_corrections == (
        CommentCorrection("RetractionOf", "Cardiovasc Res. doi: 10.1093/cvr/cvq253", None),
    )
    assert a.article_date == date(2010, 8, 2)
    assert (a.pub_year, a.pub_month, a.pub_day) == (2010, 12, 1)
    b = recs["19299812"]
    kinds = [c.ref_type for c in b.comments_corrections]
    assert kinds == ["CommentIn"] + ["RetractionOf"] * 10
    assert b.comments_corrections[0].pmid == "19299814"
    # the PMID of the fifth ROF is wrapped onto a continuation line
    assert b.comments_corrections[5].pmid == "10357331"
    assert [c.pmid for c in b.comments_corrections[1:3]] == ["10910852", "11049912"]


@needs_data
def test_retracted_retraction_notice() -> None:
    a = _by_pmid("neilfws_retractions.medline")["17047255"]
    assert [c.ref_type for c in a.comments_corrections] == ["PartialRetractionOf", "RetractionIn"]
    assert a.comments_corrections[1].pmid == "19474393"
    assert a.is_retracted
    assert a.pmcid == "PMC1636729"
    # old-style record: one AD before the authors goes to the first author
    assert a.authors[0].affiliations[0].startswith("Craniofacial Developmental Biology")
    assert all(not au.affiliations for au in a.authors[1:])
    assert len(a.authors) == 7


@needs_data
def test_date_range_is_a_medline_date() -> None:
    a = _by_pmid("neilfws_retractions.medline")["18942186"]
    assert a.pub_date_text == "2008 Jul 24-Aug 13"
    assert a.medline_date == "2008 Jul 24-Aug 13"
    assert (a.pub_year, a.pub_month, a.pub_day) == (2008, 7, None)  # as pubmed_xml reads it
    assert a.comments_corrections[0].pmid == "18073653"


@needs_data
def test_translated_title_and_vernacular_title() -> None:
    a = _by_pmid("neilfws_retractions.medline")["16967080"]
    assert a.title == "[Retraction of: Chemoprevention of oral cancer]"
    assert a.title_translated
    assert a.vernacular_title == "Tilbaketrekking av: Kjemoprevensjon av munnhulekreft."
    assert a.languages == ("nor",)
    assert a.journal_title == (
        "Tidsskrift for den Norske laegeforening : tidsskrift for praktisk medicin, ny raekke"
    )
    assert a.date_revised == date(2008, 7, 16)


@needs_data
def test_biopython_structured_abstract_authors_and_mesh() -> None:
    a = _by_pmid("biopython/medline_pubmed_result2.txt")["16403221"]
    assert [(s.label, s.nlm_category) for s in a.abstract] == [
        ("BACKGROUND", "BACKGROUND"), ("RESULTS", "RESULTS"), ("CONCLUSION", "CONCLUSIONS")]
    assert a.abstract[1].text.startswith("We have designed a set of python modules")
    assert a.abstract[2].text.endswith("easier and more principled.")
    assert [(au.last_name, au.fore_name, au.initials) for au in a.authors] == [
        ("Casbon", "James A", "JA"), ("Crooks", "Gavin E", "GE"), ("Saqi", "Mansoor A S", "MA")]
    assert a.authors[0].affiliations == (
        "Bioinformatics, Institute of Cell and Molecular Science, School of Medicine and "
        "Dentistry, Queen Mary, University of London, London EC1 6BQ, UK. j.a.casbon@qmul.ac.uk",
    )
    assert a.mesh_headings[0] == MeshHeading("Database Management Systems", major_topic=True)
    assert a.mesh_headings[2] == MeshHeading(
        "Information Storage and Retrieval", qualifiers=(MeshQualifier("methods", major_topic=True),)
    )
    assert a.mesh_headings[2].is_major and not a.mesh_headings[6].is_major
    assert (a.pmcid, a.doi, a.pii) == ("PMC1373603", "10.1186/1471-2105-7-10", "1471-2105-7-10")
    assert (a.pub_year, a.pub_month, a.article_date) == (2006, None, date(2006, 1, 10))
    assert a.issn == "1471-2105" and a.issn_linking is None


@needs_data
def test_biopython_unstructured_abstract_and_chemical() -> None:
    a = _by_pmid("biopython/medline_pubmed_result2.txt")["14630660"]
    # "AVAILABILITY:" mid-text is not enough to call the abstract structured
    assert len(a.abstract) == 1 and a.abstract[0].label is None
    assert a.chemicals == (Chemical("Macromolecular Substances"),)
    assert a.mesh_headings[3].qualifiers == (
        MeshQualifier("methods", major_topic=True), MeshQualifier("standards", major_topic=True))


@needs_data
def test_affiliation_after_author_and_wrapped_mesh() -> None:
    a = _by_pmid("biopython/medline_pubmed_result3.txt")["23039619"]
    assert a.authors[0].affiliations == (
        "School of Biomedical Engineering, Shanghai Jiao Tong University, Shanghai, "
        "People's Republic of China.",)
    assert all(not au.affiliations for au in a.authors[1:])
    heading = a.mesh_headings[1]
    assert heading.descriptor == "High-Intensity Focused Ultrasound Ablation"
    assert [(q.name, q.major_topic) for q in heading.qualifiers] == [
        ("adverse effects", False), ("instrumentation", False), ("methods", True)]
    assert [s.label for s in a.abstract] == ["PURPOSE", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert a.doi == "10.1118/1.4748329"
    assert (a.issn, a.issn_linking) == ("0094-2405", "0094-2405")


# --- a modern .nbib record (shape of a 2024 PubMed export), BOM + CRLF ----------------------

NBIB = textwrap.dedent("""\
    PMID- 38000001
    OWN - NLM
    STAT- MEDLINE
    DCOM- 20240105
    LR  - 20240210
    IS  - 1234-5678 (Electronic)
    IS  - 1234-0000 (Linking)
    VI  - 12
    IP  - 3
    DP  - 2024 Jan 15
    TI  - Statins and survival in breast cancer: a cohort study.
    PG  - e0123
    LID - e0123 [pii]
    LID - 10.1000/xyz.123 [doi]
    AB  - BACKGROUND: Statins may delay recurrence. METHODS: We followed 31,236 women.
          RESULTS: Users had lower mortality (HR 0.54). CONCLUSIONS: Worth a trial.
    CI  - (c) 2024 The Authors.
    FAU - Smith, John A Jr
    AU  - Smith JA Jr
    AUID- ORCID: 0000-0002-1825-009X
    AD  - Department of Oncology, Example University, Helsinki, Finland.
    AD  - Cancer Registry, Helsinki, Finland.
    FAU - van der Berg, Anna
    AU  - van der Berg A
    AUID- ORCID: https://orcid.org/0000-0001-5109-3700
    CN  - Finnish Statin Study Group
    AD  - Group address, Turku, Finland.
    LA  - eng
    LA  - fin
    PT  - Journal Article
    PT  - Research Support, Non-U.S. Gov't
    DEP - 20240110
    PL  - United States
    TA  - Example J
    JT  - Example journal of oncology
    JID - 101234567
    RN  - 0 (Hydroxymethylglutaryl-CoA Reductase Inhibitors)
    RN  - EC 1.1.1.34 (Hydroxymethylglutaryl CoA Reductases)
    SB  - IM
    EIN - Example J. 2024 Mar;12(5):e0200. PMID: 38000099
    CON - N Engl J Med. 2020;382(2):e5
    MH  - *Breast Neoplasms/*drug therapy/mortality
    MH  - Female
    OAB - Statiinit voivat viivastyttaa uusiutumista.
    OABL- fin
    OTO - NOTNLM
    OT  - statins
    OT  - *survival
    COIS- None declared.
    EDAT- 2024/01/16 06:00
    PMC - PMC10000001
    AID - 10.1000/xyz.123 [doi]
    AID - S1234-5678(24)00001-2 [pii]
    PST - epublish
    SO  - Example J. 2024 Jan 15;12(3):e0123. doi: 10.1000/xyz.123.
    """)


def _nbib_article(tmp_path: Path) -> Article:
    path = tmp_path / "citation.nbib"
    path.write_bytes(b"\xef\xbb\xbf" + NBIB.replace("\n", "\r\n").encode("utf-8"))
    (article,) = iter_medline_text(path)
    assert isinstance(article, Article)
    return article


def test_nbib_authors_orcid_affiliations_collective(tmp_path: Path) -> None:
    a = _nbib_article(tmp_path)
    first, second, group = a.authors
    assert (first.last_name, first.fore_name, first.initials, first.suffix) == (
        "Smith", "John A", "JA", "Jr")
    assert first.orcid == "0000-0002-1825-009X"
    assert first.affiliations == (
        "Department of Oncology, Example University, Helsinki, Finland.",
        "Cancer Registry, Helsinki, Finland.")
    assert (second.last_name, second.initials, second.orcid) == (
        "van der Berg", "A", "0000-0001-5109-3700")
    assert second.affiliations == ()
    assert group.collective_name == "Finnish Statin Study Group"
    assert group.affiliations == ("Group address, Turku, Finland.",)
    assert [au.display_name for au in a.authors] == [
        "Smith JA", "van der Berg A", "Finnish Statin Study Group"]


def test_nbib_fields(tmp_path: Path) -> None:
    a = _nbib_article(tmp_path)
    assert a.doc_id == a.pmid == "38000001" and a.status == "MEDLINE"
    assert [s.label for s in a.abstract] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert a.abstract[2] == AbstractSection("Users had lower mortality (HR 0.54).", "RESULTS",
                                            "RESULTS")
    assert a.abstract_text.startswith("BACKGROUND: Statins may delay recurrence.\nMETHODS:")
    assert a.copyright == "(c) 2024 The Authors."
    assert a.other_abstracts[0].language == "fin"
    assert a.other_abstracts[0].sections[0].text == "Statiinit voivat viivastyttaa uusiutumista."
    assert (a.pub_year, a.pub_month, a.pub_day, a.medline_date) == (2024, 1, 15, None)
    assert (a.article_date, a.date_revised) == (date(2024, 1, 10), date(2024, 2, 10))
    assert (a.doi, a.pii, a.pmcid) == ("10.1000/xyz.123", "e0123", "PMC10000001")
    assert ("pii", "S1234-5678(24)00001-2") in a.other_ids
    assert a.other_ids.count(("doi", "10.1000/xyz.123")) == 1
    assert a.languages == ("eng", "fin")
    assert [(k.text, k.major_topic, k.owner) for k in a.keywords] == [
        ("statins", False, "NOTNLM"), ("survival", True, "NOTNLM")]
    assert a.chemicals == (
        Chemical("Hydroxymethylglutaryl-CoA Reductase Inhibitors"),  # "0": no number
        Chemical("Hydroxymethylglutaryl CoA Reductases", registry_number="EC 1.1.1.34"))
    assert a.comments_corrections == (
        CommentCorrection("ErratumIn", "Example J. 2024 Mar;12(5):e0200", "38000099"),
        CommentCorrection("CommentOn", "N Engl J Med. 2020;382(2):e5", None))
    assert a.mesh_headings[0] == MeshHeading(
        "Breast Neoplasms", major_topic=True,
        qualifiers=(MeshQualifier("drug therapy", major_topic=True), MeshQualifier("mortality")))
    assert (a.issn, a.issn_linking, a.pages) == ("1234-5678", "1234-0000", "e0123")
    assert a.extra == (("medline_ta", "Example J"), ("nlm_unique_id", "101234567"),
                       ("publication_status", "epublish"))


def test_text_and_binary_handles() -> None:
    text_items = list(iter_medline_text(io.StringIO(NBIB), location="mem.nbib"))
    binary_items = list(iter_medline_text(io.BytesIO(NBIB.encode("utf-8"))))
    assert text_items == binary_items and len(text_items) == 1


# --- bad input ----------------------------------------------------------------------------------

BROKEN = """\
PMID- 1
TI  - First.

OWN - NLM
TI  - A record that lost its PMID.

PMID- 3
TI  - Third, no blank line after it.
PMID- 4
TI  - Fourth.
"""


def test_record_without_pmid_is_a_problem_and_not_fatal() -> None:
    items = list(iter_medline_text(io.StringIO(BROKEN), location="export.txt"))
    assert [type(i).__name__ for i in items] == ["Article", "Problem", "Article", "Article"]
    problem = items[1]
    assert isinstance(problem, Problem)
    assert problem.location == "export.txt: record 2 (line 4)"
    assert "no PMID" in problem.message
    assert [i.title for i in items if isinstance(i, Article)] == [
        "First.", "Third, no blank line after it.", "Fourth."]


def test_stray_text_and_odd_pmid_are_problems() -> None:
    text = "some junk\nPMID- 5\nTI  - Five.\n\nPMID- 12a\nTI  - Bad id.\n"
    items = list(iter_medline_text(io.StringIO(text), location="x.txt"))
    assert isinstance(items[0], Problem) and "line 1" in items[0].message
    assert isinstance(items[1], Article) and items[1].pmid == "5"
    assert isinstance(items[2], Problem) and "'12a'" in items[2].message


def test_orphan_affiliation_and_investigators() -> None:
    text = textwrap.dedent("""\
        PMID- 9
        TI  - Group paper.
        AD  - Somewhere without an author.
        PMID- 10
        TI  - With investigators.
        FAU - Roe, Richard
        AU  - Roe R
        IR  - Doe J
        FIR - Doe, Jane
        AUID- ORCID: 0000-0002-1825-0097
        IRAD- Investigator address.
        """)
    first, second = iter_medline_text(io.StringIO(text))
    assert isinstance(first, Article) and first.authors == ()
    assert ("affiliation", "Somewhere without an author.") in first.extra
    assert isinstance(second, Article) and len(second.authors) == 1
    assert second.authors[0].orcid is None and second.authors[0].affiliations == ()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["FAU - Müller, Hans", "AU  - Muller H"], ("Müller", "Hans", "H", None)),
        (["FAU - Hanson, Carl Jr", "AU  - Hanson C Jr"], ("Hanson", "Carl", "C", "Jr")),
        (["AU  - van der Berg JA"], ("van der Berg", None, "JA", None)),
        (["AU  - Smith JA 3rd"], ("Smith", None, "JA", "3rd")),
        (["FAU - Plato", "AU  - Plato"], ("Plato", None, None, None)),
    ],
)
def test_author_names(lines: list[str], expected: tuple[object, ...]) -> None:
    (a,) = iter_medline_text(io.StringIO("\n".join(["PMID- 1", "TI  - T.", *lines]) + "\n"))
    assert isinstance(a, Article)
    (author,) = a.authors
    assert (author.last_name, author.fore_name, author.initials, author.suffix) == expected


def test_not_utf8_raises_source_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("PMID- 1\nTI  - Caf\xe9.\n".encode("latin-1"))
    with pytest.raises(SourceError, match="latin1.txt is not UTF-8"):
        list(iter_medline_text(path))


def test_missing_file_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nope.nbib"):
        list(iter_medline_text(tmp_path / "nope.nbib"))


# --- field helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dp", "expected"),
    [
        ("2006", (2006, None, None, None)),
        ("2002 Sep", (2002, 9, None, None)),
        ("2006 Mar 1", (2006, 3, 1, None)),
        ("2005 Summer", (2005, None, None, None)),
        ("1998 Dec-1999 Jan", (1998, 12, None, "1998 Dec-1999 Jan")),
        ("2009 Nov-Dec", (2009, 11, None, "2009 Nov-Dec")),
        ("1995 Dec 21-28", (1995, 12, None, "1995 Dec 21-28")),
        ("2000 Jan-2001", (2000, 1, None, "2000 Jan-2001")),
        ("Spring", (None, None, None, "Spring")),
    ],
)
def test_parse_pub_date(dp: str, expected: tuple[object, ...]) -> None:
    assert parse_pub_date(dp) == expected


def test_parse_mesh_chemical_reference() -> None:
    assert parse_mesh("Neoplasms/*drug therapy/pathology") == MeshHeading(
        "Neoplasms",
        qualifiers=(MeshQualifier("drug therapy", major_topic=True), MeshQualifier("pathology")))
    assert parse_mesh("*Humans") == MeshHeading("Humans", major_topic=True)
    assert parse_chemical("EC 1.1.1.1 (Alcohol Dehydrogenase)") == Chemical(
        "Alcohol Dehydrogenase", registry_number="EC 1.1.1.1")
    assert parse_chemical("9007-49-2 (DNA)") == Chemical("DNA", registry_number="9007-49-2")
    assert parse_chemical("Oddity") == Chemical("Oddity")
    assert parse_reference("RetractionIn", "Nature. 2009;458:660. PMID: 19340000") == (
        CommentCorrection("RetractionIn", "Nature. 2009;458:660", "19340000"))


@pytest.mark.parametrize(
    "text",
    [
        "Plain abstract with a colon: not structured.",
        "Our aim was simple. RESULTS: only one label, not at the start.",
        "HIV: one label at the start only.",
    ],
)
def test_split_abstract_leaves_unstructured_text_whole(text: str) -> None:
    assert split_abstract(text) == (AbstractSection(text),)


@pytest.mark.parametrize(
    ("title", "translated"),
    [("[Retraction]", True), ("[Nested [inner] title].", True), ("[A] and [B].", False),
     ("Plain [bracketed] word.", False), ("[Unclosed title.", False)],
)
def test_translated_title(title: str, translated: bool) -> None:
    assert is_translated_title(title) is translated


# --- round trip ---------------------------------------------------------------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü0123456789-'(),.", min_size=1, max_size=12)
_PHRASE = st.lists(_WORD, min_size=1, max_size=30).map(" ".join)
_NAME = st.from_regex(r"[A-Z][a-z]{1,10}( [a-z]{2,5} [A-Z][a-z]{2,8})?", fullmatch=True)
_AUTHOR = st.tuples(_NAME, _NAME, st.from_regex(r"[A-Z]{1,3}", fullmatch=True),
                    st.lists(_PHRASE, max_size=2))
_MESH = st.tuples(st.booleans(), _NAME, st.lists(st.tuples(st.booleans(), _PHRASE), max_size=3))


def _field(tag: str, value: str) -> list[str]:
    """One field the way PubMed writes it: wrapped at spaces, continuations indented six."""
    lines = textwrap.wrap(value, width=82, break_long_words=False, break_on_hyphens=False)
    return [f"{tag:<4}- {lines[0]}"] + [f"      {line}" for line in lines[1:]]


@settings(max_examples=60, deadline=None)
@given(pmid=st.integers(1, 99_999_999), title=_PHRASE, abstract=_PHRASE,
       authors=st.lists(_AUTHOR, max_size=4), mesh=st.lists(_MESH, max_size=4),
       year=st.integers(1900, 2030), month=st.integers(1, 12))
def test_round_trip(pmid: int, title: str, abstract: str, authors: list, mesh: list,
                    year: int, month: int) -> None:
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    lines = _field("PMID", str(pmid)) + _field("TI", title) + _field("DP", f"{year} {months[month - 1]}")
    lines += _field("AB", abstract)
    for last, fore, initials, affiliations in authors:
        lines += _field("FAU", f"{last}, {fore}") + _field("AU", f"{last} {initials}")
        for affiliation in affiliations:
            lines += _field("AD", affiliation)
    for major, descriptor, qualifiers in mesh:
        quals = "".join(f"/{'*' if m else ''}{q}" for m, q in qualifiers)
        lines += _field("MH", f"{'*' if major else ''}{descriptor}{quals}")
    (a,) = iter_medline_text(io.StringIO("\n".join(lines) + "\n\n"))
    assert isinstance(a, Article)
    assert (a.pmid, a.title, a.abstract_text) == (str(pmid), title, abstract)
    assert (a.pub_year, a.pub_month) == (year, month)
    assert [(x.last_name, x.fore_name, x.initials, list(x.affiliations)) for x in a.authors] == [
        (last, fore, initials, affs) for last, fore, initials, affs in authors]
    assert [(h.major_topic, h.descriptor, [(q.major_topic, q.name) for q in h.qualifiers])
            for h in a.mesh_headings] == [(m, d, list(q)) for m, d, q in mesh]
