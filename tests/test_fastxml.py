"""The compiled record reader (``ingest/_fastxml.pyx``) against the pure-Python one, the oracle.

Where the compiled reader reads a record, its items must equal the pure-Python
reader's; where it declines (returns None), the pure-Python reader reads it.
Checked on every real record, on hand-made odd records and on generated ones.
"""

from __future__ import annotations

from html import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from ingest import pubmed_fields, pubmed_xml
from ingest.pubmed_values import with_id_problems
from ingest.records import Article
from tests.test_chunks import real_files
from tests.test_pubmed_xml import doc, needs_data, record

fast = pubmed_fields._fast
needs_fast = pytest.mark.skipif(fast is None, reason="the compiled reader is not built")


def where() -> str:
    return "here"


def records_of(data: bytes) -> list:
    """The top-level record elements of a document, as the tree reader finds them."""
    src = pubmed_xml._from_bytes(data, "test")
    root = etree.fromstring(data, etree.XMLParser(**pubmed_xml._SECURE))
    tags = pubmed_xml._ROOTS[src.root]
    return [root] if src.root in tags else [el for el in root if el.tag in tags]


def compare(el) -> bool:
    """Assert the compiled reader reads ``el`` as the pure-Python one does; True if it read it."""
    got = fast.parse_record(el, where)
    want = pubmed_fields._parse_record_py(el, where)
    if got is not None:
        assert got == want
        assert [type(i) for i in got] == [type(i) for i in want]
    assert pubmed_fields._parse_record(el, where) == with_id_problems(want, where)  # both readers, one check
    return got is not None


@needs_fast
@needs_data
def test_every_real_record_reads_the_same() -> None:
    read = declined = 0
    for path in real_files():
        data, _ = pubmed_xml._from_path(path, None).read_all()
        try:
            elements = records_of(data)
        except etree.XMLSyntaxError:
            continue  # damaged on purpose; test_chunks covers those files
        for el in elements:
            if compare(el):
                read += 1
            else:
                declined += 1
    assert read > 700
    assert declined <= 10  # books, deletions and MathML; everything else is read compiled


ODD = {
    "cdata": "<![CDATA[Aβ < 5 & ok]]> tail",
    "comment": "before <!-- note --> after",
    "pi": "before <?x y?> after",
    "inline markup": "a <i>b</i><sup>2</sup> <b>c <u>d</u></b>e",
    "unicode spaces": "a\u00a0b\u2009c\u3000d\u2028e\u0085f\u200bg",
    "tabs and newlines": "\n\t  lead   and\ttrail \n ",
    "character references": "&#160;x&#x2009;y&#233;",
    "empty": "",
    "only spaces": "   \n  ",
    "escaped": "&lt;tag&gt; &amp; &quot;",
    "namespaced inline": '<x:i xmlns:x="urn:x">ns</x:i> text',
}


@needs_fast
@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_odd_text_reads_the_same_and_compiled(text: str) -> None:
    extra = (
        f'<Abstract><AbstractText Label="L">{text}</AbstractText></Abstract>'
        f"<AuthorList><Author><LastName>{text}</LastName><ForeName>F</ForeName>"
        f"<AffiliationInfo><Affiliation>{text}</Affiliation></AffiliationInfo></Author></AuthorList>"
    )
    (el,) = records_of(doc(record("1", title=text, extra=extra)))
    assert compare(el)


DECLINED = {
    "mathml": '<AbstractText>x <mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML">'
    "<mml:mi>a</mml:mi></mml:math></AbstractText>",
    "bare math": "<AbstractText>x <math><mi>a</mi><mo>+</mo></math></AbstractText>",
    "no pmid": None,
}


@needs_fast
@pytest.mark.parametrize("case", DECLINED.keys())
def test_what_the_compiled_reader_declines_the_python_one_reads(case: str) -> None:
    body = DECLINED[case]
    rec = record(None) if body is None else record("1", extra=f"<Abstract>{body}</Abstract>")
    (el,) = records_of(doc(rec))
    assert not compare(el)
    items = pubmed_fields._parse_record(el, where)
    assert len(items) == 1
    assert isinstance(items[0], Article) == (body is not None)


@needs_fast
def test_a_namespaced_field_is_left_alone_as_lxml_does() -> None:
    extra = '<x:Abstract xmlns:x="urn:x"><x:AbstractText>hidden</x:AbstractText></x:Abstract>'
    (el,) = records_of(doc(record("1", extra=extra)))
    assert compare(el)
    assert pubmed_fields._parse_record(el, where)[0].abstract == ()


# --------------------------------------------------------------------------- generated records

_CHARS = st.sampled_from(
    list("abcXYZ09 .,;:-()[]/'\"&<>") + ["  ", "\t", "\n", "\u00a0", "\u2009", "\u3000", "é", "β", "µ", "漢"]
)
_RAW = st.lists(_CHARS, max_size=12).map("".join)


@st.composite
def _text(draw: st.DrawFn) -> str:
    """Escaped XML content: text, inline markup, CDATA and comments mixed."""
    parts = []
    for kind in draw(st.lists(st.sampled_from(["t", "t", "t", "i", "cdata", "comment"]), max_size=4)):
        raw = draw(_RAW)
        if kind == "i":
            tag = draw(st.sampled_from(["i", "sup", "b"]))
            parts.append(f"<{tag}>{escape(raw, quote=False)}</{tag}>")
        elif kind == "cdata":
            parts.append(f"<![CDATA[{raw.replace(']]>', ']] >')}]]>")  # "]]>" would end it early
        elif kind == "comment":
            parts.append(f"<!--{raw.replace('-', '')}-->")
        else:
            parts.append(escape(raw, quote=False))
    return "".join(parts)


def _attr(name: str, values: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.sampled_from(values).map(lambda v: f' {name}="{escape(v)}"'))


def _el(tag: str, attrs: str = "") -> st.SearchStrategy[str]:
    return _text().map(lambda t: f"<{tag}{attrs}>{t}</{tag}>")


_YEAR = st.sampled_from(["2020", " 1998 ", "abc", "", "0"])
_MONTH = st.sampled_from(["Jan", "feb", "02", "2", "13", "Sept", ""])
_DAY = st.sampled_from(["1", "31", "30", "x", ""])


@st.composite
def _date(draw: st.DrawFn, tag: str) -> str:
    attrs = draw(_attr("DateType", ["Electronic", "Print"]))
    if draw(st.booleans()) and tag == "PubDate":
        return f"<{tag}><MedlineDate>{draw(st.sampled_from(['1998 Dec-1999 Jan', 'Spring 2001', 'x']))}</MedlineDate></{tag}>"
    kids = [f"<Year>{draw(_YEAR)}</Year>", f"<Month>{draw(_MONTH)}</Month>", f"<Day>{draw(_DAY)}</Day>"]
    if tag == "PubDate" and draw(st.booleans()):
        kids.append("<Season>Summer</Season>")
    return f"<{tag}{attrs}>{''.join(draw(st.permutations(kids))[: draw(st.integers(0, len(kids)))])}</{tag}>"


@st.composite
def _author(draw: st.DrawFn) -> str:
    kids = []
    for tag in draw(st.lists(st.sampled_from(
        ["LastName", "ForeName", "FirstName", "Initials", "Suffix", "CollectiveName", "Affiliation"]
    ), max_size=5)):
        kids.append(draw(_el(tag)))
    for _ in range(draw(st.integers(0, 2))):
        kids.append(f"<AffiliationInfo>{draw(_el('Affiliation'))}</AffiliationInfo>")
    if draw(st.booleans()):
        src = draw(st.sampled_from(["ORCID", "GRID"]))
        orcid = draw(st.sampled_from(["0000-0002-1825-0097", "https://orcid.org/0000000218250097/", "x"]))
        kids.append(f'<Identifier Source="{src}">{orcid}</Identifier>')
    return f"<Author{draw(_attr('EqualContrib', ['Y', 'N']))}>{''.join(kids)}</Author>"


@st.composite
def _article_xml(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(f'<Journal><JournalIssue>{draw(_el("Volume"))}{draw(_el("Issue"))}'
                     f'{draw(_date("PubDate"))}</JournalIssue>{draw(_el("Title"))}'
                     f'{draw(_el("ISOAbbreviation"))}{draw(_el("ISSN"))}</Journal>')
    parts.append(draw(_el("ArticleTitle")))
    if draw(st.booleans()):
        parts.append(f"<Pagination>{draw(_el(draw(st.sampled_from(['MedlinePgn', 'StartPage', 'EndPage']))))}</Pagination>")
    for _ in range(draw(st.integers(0, 2))):
        attrs = draw(_attr("EIdType", ["doi", "pii"])) + draw(_attr("ValidYN", ["Y", "N"]))
        parts.append(draw(_el("ELocationID", attrs)))
    if draw(st.booleans()):
        sections = [draw(_el("AbstractText", draw(_attr("Label", ["METHODS", "", "A & B"]))
                                             + draw(_attr("NlmCategory", ["RESULTS"]))))
                    for _ in range(draw(st.integers(0, 3)))]
        if draw(st.booleans()):
            sections.append(draw(_el("CopyrightInformation")))
        parts.append(f"<Abstract>{''.join(sections)}</Abstract>")
    if draw(st.booleans()):
        authors = "".join(draw(_author()) for _ in range(draw(st.integers(0, 3))))
        parts.append(f"<AuthorList{draw(_attr('Type', ['editors', 'authors']))}>{authors}</AuthorList>")
    parts += [draw(_el("Language")) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        types = "".join(draw(_el("PublicationType", draw(_attr("UI", ["D016428"]))))
                        for _ in range(draw(st.integers(0, 2))))
        parts.append(f"<PublicationTypeList>{types}</PublicationTypeList>")
    if draw(st.booleans()):
        parts.append(draw(_el("VernacularTitle")))
    parts += [draw(_date("ArticleDate")) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        parts.append(draw(_el("Affiliation")))
    return f"<Article>{''.join(draw(st.permutations(parts)))}</Article>"


@st.composite
def _pubmed_article(draw: st.DrawFn) -> str:
    cit = []
    if draw(st.integers(0, 9)) < 9:  # a record without a PMID is declined: rare, and not the simplest
        pmid = draw(st.sampled_from(["123", " 456 ", "7<i>8</i>", "89", ""]))
        cit.append(f"<PMID{draw(_attr('Version', ['1', '2', 'x']))}>{pmid}</PMID>")
    cit.append(draw(_article_xml()))
    if draw(st.booleans()):
        heads = []
        for _ in range(draw(st.integers(0, 3))):
            quals = "".join(draw(_el("QualifierName", draw(_attr("UI", ["Q1"])) + draw(_attr("MajorTopicYN", ["Y", "N"]))))
                            for _ in range(draw(st.integers(0, 2))))
            desc = draw(st.one_of(st.just(""), _el("DescriptorName", draw(_attr("MajorTopicYN", ["Y", "N"])))))
            heads.append(f"<MeshHeading>{desc}{quals}</MeshHeading>")
        cit.append(f"<MeshHeadingList>{''.join(heads)}</MeshHeadingList>")
    if draw(st.booleans()):
        kws = "".join(draw(_el("Keyword", draw(_attr("MajorTopicYN", ["Y", "N"])))) for _ in range(draw(st.integers(0, 3))))
        cit.append(f"<KeywordList{draw(_attr('Owner', ['NOTNLM', 'NLM']))}>{kws}</KeywordList>")
    if draw(st.booleans()):
        chems = "".join(f"<Chemical>{draw(_el('RegistryNumber'))}{draw(_el('NameOfSubstance', draw(_attr('UI', ['D1']))))}</Chemical>"
                        for _ in range(draw(st.integers(0, 2))))
        cit.append(f"<ChemicalList>{chems}</ChemicalList>")
    if draw(st.booleans()):
        ccs = "".join(f"<CommentsCorrections{draw(_attr('RefType', ['ErratumIn', 'RetractionIn']))}>"
                      f"{draw(_el('RefSource'))}{draw(_el('PMID'))}</CommentsCorrections>"
                      for _ in range(draw(st.integers(0, 2))))
        cit.append(f"<CommentsCorrectionsList>{ccs}</CommentsCorrectionsList>")
    if draw(st.booleans()):
        cit.append(draw(_date("DateRevised")))
    if draw(st.booleans()):
        cit.append(f"<MedlineJournalInfo>{draw(_el('MedlineTA'))}{draw(_el('NlmUniqueID'))}{draw(_el('ISSNLinking'))}</MedlineJournalInfo>")
    if draw(st.booleans()):
        cit.append(f"<OtherAbstract{draw(_attr('Type', ['Publisher']))}{draw(_attr('Language', ['spa']))}>"
                   f"{draw(_el('AbstractText'))}</OtherAbstract>")
    if draw(st.booleans()):
        cit.append(draw(_el("OtherID", draw(_attr("Source", ["NLM"])))))
    medline = f"<MedlineCitation{draw(_attr('Status', ['MEDLINE', 'Publisher']))}>{''.join(cit)}</MedlineCitation>"
    data = ""
    if draw(st.booleans()):
        ids = "".join(draw(_el("ArticleId", draw(_attr("IdType", ["doi", "pmc", "pii", "pubmed"]))))
                      for _ in range(draw(st.integers(0, 3))))
        data = f"<PubmedData><ArticleIdList>{ids}</ArticleIdList>{draw(_el('PublicationStatus'))}</PubmedData>"
    return f"<PubmedArticle>{medline}{data}</PubmedArticle>"


@pytest.mark.slow
@needs_fast
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pubmed_article())
def test_generated_records_read_the_same(xml: str) -> None:
    (el,) = records_of(doc(xml))
    compare(el)


@needs_fast
def test_generated_records_are_mostly_read_compiled() -> None:
    """The generator above makes records the compiled reader reads (else the test above proves little)."""
    examples: list[str] = []

    # a fixed draw: 60 random ones read 16 to 59 compiled, so the share alone made it flaky
    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_pubmed_article())
    def collect(xml: str) -> None:
        examples.append(xml)

    collect()
    read = sum(compare(records_of(doc(xml))[0]) for xml in examples)
    assert read >= len(examples) // 3
