"""Parse PubMed XML into :mod:`ingest.records` values.

Reads what NCBI publishes: ``PubmedArticleSet`` documents (efetch responses,
baseline and update files) holding ``PubmedArticle``, ``PubmedBookArticle`` and
``DeleteCitation`` elements, and the older ``MedlineCitationSet`` baseline
(2016 and before) of bare ``MedlineCitation`` elements.

* :func:`iter_pubmed_xml` streams a path (``.gz`` or not: gzip is detected by
  its magic bytes), a binary file object or ``bytes``, and yields
  :class:`~ingest.records.Article`, :class:`~ingest.records.Deletion` and
  :class:`~ingest.records.Problem` values in document order.
* :func:`parse_pubmed_xml_bytes` does the same for one in-memory response.

Bad records never stop the rest: a record without a PMID, or whose content
cannot be read, becomes a ``Problem`` whose location names the file, the
record's index and its line. A document that is not well-formed XML is
re-read record by record, so only the broken records are lost. A document
that is not PubMed XML at all (an HTML page, an E-utilities ``ERROR``)
raises :class:`~ingest.errors.SourceError`.

Security: no network, no DTD loading, no entity expansion; the DOCTYPE that
PubMed files carry is never fetched.

Speed: records are read by a compiled walk over libxml2's nodes
(``ingest/_fastxml.pyx``, built where a C compiler is found), about 1.4 times as
fast as the pure-Python reader (6,585 against 4,830 records/s parsed, ``bench/bench_ingest.py``,
README: Performance); the pure-Python reader below (child
loops with a dict dispatch) reads what it declines and everything where it was
not built. A stream is read with ``iterparse`` (a tag filter, elements
cleared). For large files, :func:`split_pubmed_xml` cuts the decompressed
stream into chunks of whole records that worker processes parse with
:func:`parse_chunk`: one tree per chunk, cited-reference lists cut out first,
and the streaming reader as the fallback that isolates broken records.
"""

from __future__ import annotations

import functools
import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from os import PathLike, fspath
from pathlib import Path
from typing import IO, Any

from lxml import etree

from ingest.errors import SourceError
from ingest.pubmed_values import is_translated_title, month_number, orcid
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
from ingest.sources import xml_root_name

try:  # ISA-L inflates gzip about twice as fast as zlib, with the same API
    from isal import igzip as _gzip
    from isal import isal_zlib as _zlib

    _ZLIB_ERRORS: tuple[type[Exception], ...] = (zlib.error, _zlib.error)
except ImportError:  # pragma: no cover - a platform without isal wheels
    _gzip, _zlib = gzip, zlib
    _ZLIB_ERRORS = (zlib.error,)

__all__ = ["XmlChunk", "iter_pubmed_xml", "parse_chunk", "parse_pubmed_xml_bytes", "split_pubmed_xml"]

Source = str | PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
Fields = dict[str, Any]
Handler = Callable[[Any, Fields], None]

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 64 * 1024
_SECURE: dict[str, Any] = {
    "load_dtd": False,
    "no_network": True,
    "resolve_entities": False,
    "dtd_validation": False,
}
_ARTICLE_SET_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
_MEDLINE_SET_TAGS = ("MedlineCitation", "DeleteCitation")
_ROOTS: dict[str, tuple[str, ...]] = {
    "PubmedArticleSet": _ARTICLE_SET_TAGS,
    "PubmedBookArticleSet": _ARTICLE_SET_TAGS,
    "MedlineCitationSet": _MEDLINE_SET_TAGS,
    # a document holding one bare record
    "PubmedArticle": ("PubmedArticle",),
    "PubmedBookArticle": ("PubmedBookArticle",),
    "MedlineCitation": ("MedlineCitation",),
    "DeleteCitation": ("DeleteCitation",),
}
_ENCODING = re.compile(rb"""\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)""")
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.S | re.I)
_NCBI_ERROR = re.compile(rb"<ERROR>(.*?)</ERROR>", re.S)
_MONTH_ABBR = ("", *"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
_MEDLINE_DATE = re.compile(r"(\d{4})(?:\s+([A-Za-z]{3})[a-z]*\b)?")
_OTHER_ID_KIND = re.compile(r"(PMC|NIHMS)\d+")
_MATH_TOKENS = frozenset(("mi", "mn", "mo", "mtext", "ms", "mglyph"))
_MATH_ROOTS = frozenset(("{http://www.w3.org/1998/Math/MathML}math", "math"))


# --------------------------------------------------------------------------- text helpers


def _norm(s: str | None) -> str:
    """Collapse runs of whitespace to one space and strip."""
    return " ".join(s.split()) if s else ""


def _text(el: Any) -> str:
    """All descendant text of ``el`` (inline markup flattened), whitespace-normalised."""
    if len(el):
        return " ".join(_mixed(el).split())
    t = el.text
    return " ".join(t.split()) if t else ""


def _mixed(el: Any) -> str:
    """Text of an element with inline markup (``<i>``, ``<sup>``, MathML...)."""
    parts = [el.text or ""]
    for ch in el:
        tag = ch.tag
        if isinstance(tag, str):
            parts.append(_math(ch) if tag in _MATH_ROOTS else _mixed(ch))
        elif tag is etree.Entity:
            parts.append(ch.text or "")
        parts.append(ch.tail or "")
    return "".join(parts)


def _math(el: Any) -> str:
    """MathML as plain text: tokens joined, layout whitespace dropped, prescripts first."""
    tag = el.tag
    name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
    if name in _MATH_TOKENS:
        t = el.text or ""
        return t.strip() or (" " if t else "")
    kids = [ch for ch in el if isinstance(ch.tag, str)]
    if name == "mmultiscripts" and kids:
        names = [ch.tag.rpartition("}")[2] for ch in kids]
        cut = names.index("mprescripts") if "mprescripts" in names else len(kids)
        kids = kids[cut + 1 :] + kids[:cut]
    return "".join(_math(ch) for ch in kids)


def _opt(s: str) -> str | None:
    return s or None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _ymd(el: Any) -> date | None:
    """A ``Year``/``Month``/``Day`` element as a date, or None when incomplete or invalid."""
    y = m = d = None
    for ch in el:
        tag = ch.tag
        if tag == "Year":
            y = ch.text
        elif tag == "Month":
            m = ch.text
        elif tag == "Day":
            d = ch.text
    return _date_of(y, m, d)


def _date_of(y: str | None, m: str | None, d: str | None) -> date | None:
    """``Year``/``Month``/``Day`` texts as a date, or None when incomplete or invalid."""
    year, month, day = _int(y), month_number(m), _int(d)
    if year is None or month is None or day is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


#: The name the compiled reader binds the ORCID reader by (``_fastxml.bind``).
_orcid = orcid


# --------------------------------------------------------------------------- record parts


def _abstract_sections(el: Any, f: Fields | None) -> tuple[AbstractSection, ...]:
    """``AbstractText`` children as sections; ``CopyrightInformation`` goes to ``f``."""
    out = []
    for ch in el:
        tag = ch.tag
        if tag == "AbstractText":
            out.append(AbstractSection(_text(ch), ch.get("Label"), ch.get("NlmCategory")))
        elif tag == "CopyrightInformation" and f is not None:
            f["copyright"] = _opt(_text(ch))
    return tuple(out)


def _author(el: Any) -> Author:
    last = fore = initials = suffix = collective = orcid_value = None
    affiliations: list[str] = []
    for ch in el:
        tag = ch.tag
        if tag == "LastName":
            last = _text(ch)
        elif tag == "ForeName" or tag == "FirstName":
            fore = _text(ch)
        elif tag == "Initials":
            initials = _text(ch)
        elif tag == "AffiliationInfo":
            for a in ch:
                if a.tag == "Affiliation":
                    affiliations.append(_text(a))
        elif tag == "Identifier":
            if ch.get("Source") == "ORCID":
                orcid_value = orcid(ch.text)
        elif tag == "Suffix":
            suffix = _text(ch)
        elif tag == "CollectiveName":
            collective = _text(ch)
        elif tag == "Affiliation":  # pre-2014 DTD: directly in Author
            affiliations.append(_text(ch))
    return Author(
        last or None, fore or None, initials or None, suffix or None, collective or None,
        orcid_value, tuple(a for a in affiliations if a), el.get("EqualContrib") == "Y",
    )  # fmt: skip


def _author_list(el: Any, f: Fields) -> None:
    authors = [_author(a) for a in el if a.tag == "Author"]
    key = "_editors" if el.get("Type") == "editors" else "authors"
    f[key].extend(authors)


def _pub_date(el: Any, f: Fields) -> None:
    year = month = day = season = medline = None
    for ch in el:
        tag = ch.tag
        if tag == "Year":
            year = _norm(ch.text)
        elif tag == "Month":
            month = _norm(ch.text)
        elif tag == "Day":
            day = _norm(ch.text)
        elif tag == "MedlineDate":
            medline = _norm(ch.text)
        elif tag == "Season":
            season = _norm(ch.text)
    _set_pub_date(f, year, month, day, season, medline)


def _set_pub_date(
    f: Fields, year: str | None, month: str | None, day: str | None, season: str | None, medline: str | None
) -> None:
    """The publication date fields from ``PubDate``'s parts (whitespace-normalised texts)."""
    if medline:
        f["medline_date"] = f["pub_date_text"] = medline
        m = _MEDLINE_DATE.search(medline)
        if m:
            f["pub_year"] = int(m.group(1))
            f["pub_month"] = month_number(m.group(2))
        return
    f["pub_year"] = _int(year)
    f["pub_month"] = mon = month_number(month)
    f["pub_day"] = dnum = _int(day)
    parts = (year, _MONTH_ABBR[mon] if mon else month, str(dnum) if dnum else day, season)
    f["pub_date_text"] = " ".join(p for p in parts if p) or None


def _journal(el: Any, f: Fields) -> None:
    for ch in el:
        tag = ch.tag
        if tag == "JournalIssue":
            for j in ch:
                jt = j.tag
                if jt == "Volume":
                    f["volume"] = _opt(_text(j))
                elif jt == "Issue":
                    f["issue"] = _opt(_text(j))
                elif jt == "PubDate":
                    _pub_date(j, f)
        elif tag == "Title":
            f["journal_title"] = _opt(_text(ch))
        elif tag == "ISOAbbreviation":
            f["journal_iso"] = _opt(_text(ch))
        elif tag == "ISSN":
            f["issn"] = _opt(_text(ch))


def _pagination(el: Any, f: Fields) -> None:
    start = end = None
    for ch in el:
        tag = ch.tag
        if tag == "MedlinePgn":
            pgn = _text(ch)
            if pgn:
                f["pages"] = pgn
                return
        elif tag == "StartPage":
            start = _text(ch)
        elif tag == "EndPage":
            end = _text(ch)
    if start:
        f["pages"] = f"{start}-{end}" if end else start


def _elocation(el: Any, f: Fields) -> None:
    kind, value = el.get("EIdType") or "elocation", _text(el)
    if value:
        f["_eloc_ids"].append((kind, value))
        if el.get("ValidYN") != "N":
            f["_eloc"].setdefault(kind, value)


def _article_ids(el: Any, f: Fields) -> None:
    ids = f["_ids"]
    for ch in el:
        if ch.tag == "ArticleId":
            value = _text(ch)
            if value:
                ids.append((ch.get("IdType") or "unknown", value))


def _other_id(el: Any, f: Fields) -> None:
    """``OtherID`` (old baseline): "PMC4380289" or "NIHMS672708 [Available on ...]"."""
    value = _text(el)
    m = _OTHER_ID_KIND.match(value)
    if m:
        f["_ids"].append(("pmc" if m.group(1) == "PMC" else "mid", m.group(0)))
    elif value:
        f["_ids"].append((f"other:{el.get('Source') or 'unknown'}", value))


def _article_date(el: Any, f: Fields) -> None:
    if f["article_date"] is None or el.get("DateType") == "Electronic":
        d = _ymd(el)
        if d is not None:
            f["article_date"] = d


def _title(el: Any, f: Fields) -> None:
    f["title"] = _text(el)


def _vernacular(el: Any, f: Fields) -> None:
    f["vernacular_title"] = _opt(_text(el))


def _abstract(el: Any, f: Fields) -> None:
    f["abstract"] = _abstract_sections(el, f)


def _language(el: Any, f: Fields) -> None:
    lang = _text(el)
    if lang:
        f["languages"].append(lang)


def _pub_type(el: Any, f: Fields) -> None:
    f["publication_types"].append(PublicationType(_text(el), el.get("UI")))


def _pub_types(el: Any, f: Fields) -> None:
    out = f["publication_types"]
    for ch in el:
        if ch.tag == "PublicationType":
            out.append(PublicationType(_text(ch), ch.get("UI")))


def _old_affiliation(el: Any, f: Fields) -> None:
    """``Article/Affiliation`` (pre-2014 DTD): the first author's affiliation."""
    f["_affiliation"] = _opt(_text(el))


def _mesh_list(el: Any, f: Fields) -> None:
    out = f["mesh_headings"]
    for mh in el:
        if mh.tag != "MeshHeading":
            continue
        descriptor = None
        quals = []
        for ch in mh:
            tag = ch.tag
            if tag == "QualifierName":
                quals.append(MeshQualifier(_text(ch), ch.get("UI"), ch.get("MajorTopicYN") == "Y"))
            elif tag == "DescriptorName":
                descriptor = ch
        if descriptor is not None:
            out.append(
                MeshHeading(
                    _text(descriptor),
                    descriptor.get("UI"),
                    descriptor.get("MajorTopicYN") == "Y",
                    tuple(quals),
                )
            )


def _keyword_list(el: Any, f: Fields) -> None:
    owner = el.get("Owner")
    out = f["keywords"]
    for kw in el:
        if kw.tag == "Keyword":
            text = _text(kw)
            if text:
                out.append(Keyword(text, kw.get("MajorTopicYN") == "Y", owner))


def _chemical_list(el: Any, f: Fields) -> None:
    out = f["chemicals"]
    for chem in el:
        if chem.tag != "Chemical":
            continue
        name = ui = reg = None
        for ch in chem:
            tag = ch.tag
            if tag == "NameOfSubstance":
                name, ui = _text(ch), ch.get("UI")
            elif tag == "RegistryNumber":
                reg = _text(ch)
        if name:
            out.append(Chemical(name, ui, reg if reg and reg != "0" else None))


def _comments_corrections(el: Any, f: Fields) -> None:
    out = f["comments_corrections"]
    for cc in el:
        if cc.tag != "CommentsCorrections":
            continue
        source = pmid = None
        for ch in cc:
            tag = ch.tag
            if tag == "RefSource":
                source = _text(ch)
            elif tag == "PMID":
                pmid = _text(ch)
        out.append(CommentCorrection(cc.get("RefType") or "", source or None, pmid or None))


def _other_abstract(el: Any, f: Fields) -> None:
    sections = _abstract_sections(el, None)
    f["other_abstracts"].append(OtherAbstract(sections, el.get("Type"), el.get("Language")))


def _pmid(el: Any, f: Fields) -> None:
    f["pmid"] = _text(el)
    f["pmid_version"] = _int(el.get("Version")) or 1


def _date_revised(el: Any, f: Fields) -> None:
    f["date_revised"] = _ymd(el)


def _journal_info(el: Any, f: Fields) -> None:
    for ch in el:
        tag = ch.tag
        if tag == "ISSNLinking":
            f["issn_linking"] = _opt(_text(ch))
        elif tag == "MedlineTA":
            f["_extra"].append(("medline_ta", _text(ch)))
        elif tag == "NlmUniqueID":
            f["_extra"].append(("nlm_unique_id", _text(ch)))


def _article(el: Any, f: Fields) -> None:
    for ch in el:
        fn = _ARTICLE.get(ch.tag)
        if fn is not None:
            fn(ch, f)


def _medline_citation(el: Any, f: Fields) -> None:
    f["status"] = el.get("Status")
    for ch in el:
        fn = _CITATION.get(ch.tag)
        if fn is not None:
            fn(ch, f)


def _pubmed_data(el: Any, f: Fields) -> None:
    for ch in el:
        tag = ch.tag
        if tag == "ArticleIdList":
            _article_ids(ch, f)
        elif tag == "PublicationStatus":
            f["_extra"].append(("publication_status", _text(ch)))


def _publisher(el: Any, f: Fields) -> None:
    for ch in el:
        if ch.tag == "PublisherName":
            f["publisher"] = _opt(_text(ch))
        elif ch.tag == "PublisherLocation":
            f["_extra"].append(("publisher_location", _text(ch)))


def _book_title(el: Any, f: Fields) -> None:
    f["book_title"] = _opt(_text(el))


def _isbn(el: Any, f: Fields) -> None:
    value = _text(el)
    if value:
        f["_ids"].append(("isbn", value))


def _volume(el: Any, f: Fields) -> None:
    f["volume"] = _opt(_text(el))


def _book(el: Any, f: Fields) -> None:
    for ch in el:
        fn = _BOOK.get(ch.tag)
        if fn is not None:
            fn(ch, f)


def _book_document(el: Any, f: Fields) -> None:
    f["record_type"] = "book"
    for ch in el:
        fn = _BOOK_DOCUMENT.get(ch.tag)
        if fn is not None:
            fn(ch, f)


_ARTICLE: dict[str, Handler] = {
    "Journal": _journal,
    "ArticleTitle": _title,
    "Pagination": _pagination,
    "ELocationID": _elocation,
    "Abstract": _abstract,
    "AuthorList": _author_list,
    "Language": _language,
    "PublicationTypeList": _pub_types,
    "VernacularTitle": _vernacular,
    "ArticleDate": _article_date,
    "Affiliation": _old_affiliation,
}
_CITATION: dict[str, Handler] = {
    "PMID": _pmid,
    "Article": _article,
    "MeshHeadingList": _mesh_list,
    "CommentsCorrectionsList": _comments_corrections,
    "KeywordList": _keyword_list,
    "ChemicalList": _chemical_list,
    "DateRevised": _date_revised,
    "MedlineJournalInfo": _journal_info,
    "OtherAbstract": _other_abstract,
    "OtherID": _other_id,
}
_BOOK: dict[str, Handler] = {
    "Publisher": _publisher,
    "BookTitle": _book_title,
    "PubDate": _pub_date,
    "AuthorList": _author_list,
    "Volume": _volume,
    "Isbn": _isbn,
    "ELocationID": _elocation,
}
_BOOK_DOCUMENT: dict[str, Handler] = {
    "PMID": _pmid,
    "ArticleIdList": _article_ids,
    "Book": _book,
    "ArticleTitle": _title,
    "VernacularTitle": _vernacular,
    "Pagination": _pagination,
    "Language": _language,
    "AuthorList": _author_list,
    "PublicationType": _pub_type,
    "Abstract": _abstract,
    "KeywordList": _keyword_list,
    "DateRevised": _date_revised,
    "ELocationID": _elocation,
}
_RECORD: dict[str, Handler] = {
    "MedlineCitation": _medline_citation,
    "PubmedData": _pubmed_data,
    "BookDocument": _book_document,
    "PubmedBookData": _pubmed_data,
}


# --------------------------------------------------------------------------- one record


def _new_fields() -> Fields:
    return {
        "pmid": None,
        "article_date": None,
        "authors": [],
        "languages": [],
        "publication_types": [],
        "mesh_headings": [],
        "keywords": [],
        "chemicals": [],
        "comments_corrections": [],
        "other_abstracts": [],
        "_ids": [],
        "_eloc": {},
        "_eloc_ids": [],
        "_extra": [],
        "_editors": [],
    }


def _first_id(ids: list[tuple[str, str]], kind: str) -> str | None:
    for k, v in ids:
        if k == kind:
            return v
    return None


def _pmcid(ids: list[tuple[str, str]]) -> str | None:
    value = _first_id(ids, "pmc")
    if value and value.isdigit():
        return f"PMC{value}"
    return value


def _resolve_authors(f: Fields) -> None:
    """Editors stand in for a book without authors; an old ``Article/Affiliation`` goes to
    the first author."""
    authors: list[Author] = f["authors"]
    editors: list[Author] = f.pop("_editors")
    if not authors and editors:
        authors[:] = editors
        f["_extra"].append(("author_role", "editor"))
    affiliation: str | None = f.pop("_affiliation", None)
    if affiliation and authors and not authors[0].affiliations:
        a = authors[0]
        authors[0] = Author(
            a.last_name, a.fore_name, a.initials, a.suffix, a.collective_name,
            a.orcid, (affiliation,), a.equal_contrib,
        )  # fmt: skip


def _resolve_ids(f: Fields) -> None:
    """doi/pii/pmcid from ``ArticleIdList`` first, then from a valid ``ELocationID``."""
    ids: list[tuple[str, str]] = f.pop("_ids")
    eloc: dict[str, str] = f.pop("_eloc")
    f["doi"] = _first_id(ids, "doi") or eloc.get("doi")
    f["pii"] = _first_id(ids, "pii") or eloc.get("pii")
    f["pmcid"] = _pmcid(ids)
    f["other_ids"] = tuple(dict.fromkeys(ids + f.pop("_eloc_ids")))


def _finish(f: Fields) -> Article:
    """Turn the collected fields into an ``Article``."""
    _resolve_authors(f)
    _resolve_ids(f)
    if f["record_type"] == "book" and not f.get("title"):
        f["title"] = f.get("book_title") or ""
    f["title_translated"] = is_translated_title(f.get("title") or "")
    f["extra"] = tuple(f.pop("_extra"))
    for key in _TUPLE_FIELDS:
        f[key] = tuple(f[key])
    f["doc_id"] = f["pmid"]
    return Article(**f)


_TUPLE_FIELDS = (
    "authors",
    "languages",
    "publication_types",
    "mesh_headings",
    "keywords",
    "chemicals",
    "comments_corrections",
    "other_abstracts",
)


def _deletions(el: Any, where: str) -> list[Item]:
    pmids = [_text(p) for p in el if p.tag == "PMID"]
    if not any(pmids):
        return [Problem(where, "DeleteCitation without any PMID")]
    return [
        Deletion(p, where) if p else Problem(where, "empty PMID in DeleteCitation") for p in pmids
    ]


def _parse_record(el: Any, where: Callable[[], str]) -> list[Item]:
    """One record element as the items it stands for; never raises for bad content.

    ``where()`` names the record's location; it is called only when an item needs it.
    The compiled reader (``ingest/_fastxml.pyx``) reads the common records; the
    pure-Python one reads the rest, and everything where it was not built.
    """
    if _fast is not None:
        items = _fast.parse_record(el, where)
        if items is not None:
            return items
    return _parse_record_py(el, where)


def _parse_record_py(el: Any, where: Callable[[], str]) -> list[Item]:
    """:func:`_parse_record` in pure Python: every kind of record, every oddity."""
    tag = el.tag
    try:
        if tag == "DeleteCitation":
            return _deletions(el, where())
        f = _new_fields()
        f["record_type"] = "article"
        if tag == "MedlineCitation":
            _medline_citation(el, f)
        else:
            for ch in el:
                fn = _RECORD.get(ch.tag)
                if fn is not None:
                    fn(ch, f)
        if not f["pmid"]:
            return [Problem(where(), f"<{tag}> without a PMID; skipped")]
        return [_finish(f)]
    except Exception as exc:  # noqa: BLE001 - one bad record must not stop the file
        return [Problem(where(), f"cannot read <{tag}>: {type(exc).__name__}: {exc}")]


# --------------------------------------------------------------------------- the source


@dataclass(slots=True)
class _Input:
    """Where the XML comes from: a path (streamed) or bytes in memory (already gunzipped)."""

    label: str
    path: Path | None
    data: bytes | None
    gzipped: bool
    root: str
    encoding: str | None
    index_offset: int = 0  # records before this document (a chunk of a larger file)
    line_offset: int = 0  # lines before this document's first record, likewise
    damage: str | None = None  # why ``data`` stops early (a damaged gzip file)

    def open(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return _gzip.open(self.path, "rb") if self.gzipped else open(self.path, "rb")  # noqa: SIM115

    def read_all(self) -> tuple[bytes, str | None]:
        """The whole document, as much of it as can be decompressed, and why it stops early."""
        if self.data is not None:
            return self.data, self.damage
        assert self.path is not None
        raw = self.path.read_bytes()
        return _gunzip_report(raw) if self.gzipped else (raw, None)

    def where(self, index: int, line: int | None) -> str:
        index += self.index_offset
        line = line + self.line_offset if line else line
        return (
            f"{self.label}: record {index} (line {line})"
            if line
            else f"{self.label}: record {index}"
        )


def _gunzip_report(raw: bytes) -> tuple[bytes, str | None]:
    """Decompressed data (in 1 MiB steps, so a corrupt block loses only what follows it)
    and, where the data stopped early, why."""
    damage: list[str] = []
    steps = (raw[pos : pos + _READ_BLOCK] for pos in range(0, len(raw), _READ_BLOCK))
    data = b"".join(_inflate(steps, damage))
    return data, damage[0] if damage else None


_READ_BLOCK = 1 << 20


def _inflate(blocks: Iterable[bytes], damage: list[str]) -> Iterator[bytes]:
    """Decompress gzip data block by block (concatenated members too).

    What precedes a corruption or a truncation is yielded; then ``damage`` gets
    one message saying why the data stopped early.
    """
    unzip = _zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = False
    for raw in blocks:
        while raw:
            fed = True
            try:
                out = unzip.decompress(raw)
            except _ZLIB_ERRORS as exc:
                damage.append(f"the gzip data is corrupt ({exc}); records after that point are lost")
                return
            if out:
                yield out
            if not unzip.eof:
                break
            raw = unzip.unused_data  # the next member starts here
            unzip = _zlib.decompressobj(16 + zlib.MAX_WBITS)
            fed = False
    if fed and not unzip.eof:
        damage.append("the gzip file is truncated; records after the cut are lost")


def _head_of(path: Path, gzipped: bool) -> bytes:
    """The first bytes of the (decompressed) document, for sniffing its root."""
    with open(path, "rb") as raw:
        if not gzipped:
            return raw.read(_SNIFF_BYTES)
        unzip = _zlib.decompressobj(16 + zlib.MAX_WBITS)
        head = b""
        while len(head) < _SNIFF_BYTES and not unzip.eof:
            chunk = raw.read(16 * 1024)
            if not chunk:
                break
            try:
                head += unzip.decompress(chunk)
            except _ZLIB_ERRORS as exc:
                if head:
                    break
                raise SourceError(
                    f"{path}: cannot decompress this gzip file ({exc})",
                    hint="the download may be corrupt: fetch the file again",
                ) from exc
        return head


def _check_root(head: bytes, label: str) -> tuple[str, str | None]:
    """The document's root tag and declared encoding; SourceError unless it is PubMed XML."""
    if not head.strip():
        raise SourceError(
            f"{label}: the document is empty",
            hint="expected PubMed XML; check the download or the efetch request",
        )
    root = xml_root_name(head)
    if root is None:
        raise SourceError(
            f"{label}: not XML (it starts with {head[:60]!r})",
            hint="expected PubMed XML (efetch with db=pubmed&retmode=xml, or a baseline/update file)",
        )
    enc = _ENCODING.match(head)
    encoding = enc.group(1).decode("ascii") if enc else None
    if root in _ROOTS:
        return root, encoding
    raise _not_pubmed(head, root, label)


def _not_pubmed(head: bytes, root: str, label: str) -> SourceError:
    if root.lower() == "html":
        t = _HTML_TITLE.search(head)
        title = _norm(t.group(1).decode("utf-8", "replace")) if t else "no title"
        return SourceError(
            f"{label}: got an HTML page ({title!r}), not PubMed XML",
            hint="NCBI answered with a web page (outage, rate limit or a bad request): "
            "retry later and check the request's URL",
        )
    err = _NCBI_ERROR.search(head)
    detail = f" with the error {_norm(err.group(1).decode('utf-8', 'replace'))!r}" if err else ""
    return SourceError(
        f"{label}: got a <{root}> document{detail}, not PubMed XML",
        hint="expected a <PubmedArticleSet> or <MedlineCitationSet> "
        "(efetch with db=pubmed&retmode=xml, or a PubMed baseline/update file)",
    )


def _open_input(source: Source, location: str | None) -> _Input:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source), location or "<bytes>")
    if isinstance(source, (str, PathLike)):
        return _from_path(source, location)
    read = getattr(source, "read", None)
    if read is None:
        raise SourceError(
            f"cannot read PubMed XML from a {type(source).__name__}",
            hint="pass a path, a binary file object or bytes",
        )
    data = read()
    label = location or str(getattr(source, "name", "<stream>"))
    if not isinstance(data, bytes):
        raise SourceError(
            f"{label}: the file object is opened in text mode",
            hint="open it in binary mode ('rb'), or pass its path",
        )
    return _from_bytes(data, label)


def _from_bytes(data: bytes, label: str) -> _Input:
    damage = None
    if data[:2] == _GZIP_MAGIC:
        data, damage = _gunzip_report(data)
    root, encoding = _check_root(data[:_SNIFF_BYTES], label)
    return _Input(label, None, data, False, root, encoding, damage=damage)


def _from_path(source: str | PathLike[str], location: str | None) -> _Input:
    text = fspath(source)
    if isinstance(text, str) and text.lstrip().startswith("<"):
        raise SourceError(
            "got XML text where a path was expected",
            hint="pass the document as bytes (text.encode()) or write it to a file",
        )
    path = Path(text)
    label = location or str(path)
    if not path.is_file():
        raise SourceError(f"{label}: no such file", hint="check the path")
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == _GZIP_MAGIC
    root, encoding = _check_root(_head_of(path, gzipped), label)
    return _Input(label, path, None, gzipped, root, encoding)


# --------------------------------------------------------------------------- iteration

_POSITION = re.compile(r",? line \d+, column \d+$")
_STREAM_ERRORS = (etree.XMLSyntaxError, EOFError, OSError, *_ZLIB_ERRORS)


def _stream(src: _Input) -> Iterator[Item]:
    """Stream the records with iterparse; on malformed XML re-read the rest record by record."""
    done = 0
    tags = _ROOTS[src.root]
    try:
        with src.open() as fh:
            pending: list[Item] = []
            for _, el in etree.iterparse(fh, events=("end",), tag=tags, **_SECURE):
                parent = el.getparent()
                if parent is not None and parent.getparent() is not None:
                    # a record inside a record: an end tag is missing somewhere
                    pending.append(_nested(src, el))
                    continue
                done += 1
                items = _parse_record(el, lambda el=el, i=done: src.where(i, _line(el)))
                el.clear()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
                yield from items
                if pending:
                    yield from pending
                    pending.clear()
    except _STREAM_ERRORS as exc:
        yield from _recover(src, done, exc)


def _line(el: Any) -> int | None:
    """``el.sourceline``, exact past line 65535 too.

    There libxml2 stores line numbers on text nodes only, taken where the text
    ends, and reports an element's line from its first text: take the newlines
    of that text back off.
    """
    line = el.sourceline
    if line is None or line < 65535:
        return line
    node = el
    while node is not None:
        text = node.text
        if text:
            return line - text.count("\n")
        node = next(iter(node), None)
    return line


def _nested(src: _Input, el: Any) -> Problem:
    return Problem(
        f"{src.label}: line {(_line(el) or 0) + src.line_offset}",
        f"<{el.tag}> nested inside another record (an end tag is missing?); not read",
    )


@functools.cache
def _start_tags(root: str) -> re.Pattern[bytes]:
    """The start tags of the top-level records under ``root``: what files are cut on."""
    return re.compile(rb"<(?:%s)[\s>/]" % b"|".join(t.encode() for t in _ROOTS[root]))


def _record_chunks(data: bytes, root: str) -> list[tuple[int, bytes]]:
    """Each top-level record's raw bytes with its offset, split on the records' start tags."""
    tags = _ROOTS[root]
    if root in tags:
        return [(0, data)]
    starts = [m.start() for m in _start_tags(root).finditer(data)]
    if not starts:
        return []
    close = data.rfind(f"</{root}".encode())
    bounds = starts[1:] + [close if close > starts[-1] else len(data)]
    chunks = []
    for start, end in zip(starts, bounds, strict=True):
        chunk = data[start:end]
        tag = re.match(rb"<([\w]+)", chunk).group(1)  # type: ignore[union-attr]
        last = chunk.rfind(b"</" + tag + b">")
        chunks.append((start, chunk[: last + len(tag) + 3] if last >= 0 else chunk))
    return chunks


def _syntax_message(err: etree.XMLSyntaxError, first_line: int) -> str:
    """lxml's message with its position made absolute (it counts from the record's start)."""
    msg = _POSITION.sub("", err.msg or str(err))
    where = f" at line {first_line + err.lineno - 1}" if err.lineno else ""
    return f"not well-formed XML{where}: {msg}; record skipped"


def _recover(src: _Input, done: int, exc: Exception) -> Iterator[Item]:
    """Parse each record after the first ``done`` on its own; only broken ones become Problems."""
    data, damage = src.read_all()
    parser = etree.XMLParser(encoding=src.encoding, **_SECURE)
    line, prev, failed = 1, 0, False
    for index, (start, chunk) in enumerate(_record_chunks(data, src.root)[done:], done + 1):
        line += data.count(b"\n", prev, start)
        prev = start
        try:
            el = etree.fromstring(chunk, parser)
        except etree.XMLSyntaxError as err:
            failed = True
            yield Problem(src.where(index, line), _syntax_message(err, line + src.line_offset))
            continue
        yield from _parse_record(el, lambda el=el, i=index, n=line: src.where(i, n + el.sourceline - 1))
    if damage:
        yield Problem(src.label, damage)
    elif not failed:
        yield Problem(src.label, f"the file is not well-formed XML ({_where_broken(src, exc)}); read record by record")


def _where_broken(src: _Input, exc: Exception) -> str:
    """What broke the stream, with a line counted from the start of the file."""
    if isinstance(exc, etree.XMLSyntaxError):
        msg = _POSITION.sub("", exc.msg or str(exc))
        return f"line {exc.lineno + src.line_offset}: {msg}" if exc.lineno else msg
    return str(exc)


def iter_pubmed_xml(source: Source, *, location: str | None = None) -> Iterator[Item]:
    """Yield the ``Article``, ``Deletion`` and ``Problem`` values of a PubMed XML document.

    ``source`` is a path (``str`` or ``Path``; gzip detected by its magic bytes),
    a binary file object (read whole) or ``bytes``. ``location`` names it in
    Problems (default: the path, the file object's name, or ``<bytes>``).
    Raises :class:`SourceError` at once when the document is not PubMed XML.
    """
    return _stream(_open_input(source, location))


def parse_pubmed_xml_bytes(data: bytes, *, location: str) -> list[Item]:
    """All items of one in-memory PubMed XML document (an efetch response)."""
    return list(iter_pubmed_xml(data, location=location))


# --------------------------------------------------------------------------- chunks for parallel parsing


@dataclass(frozen=True, slots=True)
class XmlChunk:
    """A self-contained slice of a PubMed XML file: some whole top-level records, re-wrapped.

    Made by :func:`split_pubmed_xml` in one process and parsed by
    :func:`parse_chunk` in another; Problems still name the file, the record's
    index in the file and its line.
    """

    label: str
    root: str
    encoding: str | None
    data: bytes
    first_index: int
    line_offset: int
    records: int  # record start tags the splitter found in ``data``
    problem: str | None = None  # a file-level problem to report with this chunk


def split_pubmed_xml(path: str | Path, records_per_chunk: int) -> Iterator[XmlChunk]:
    """Cut a PubMed XML file (gzip or not) into chunks of ``records_per_chunk`` records.

    Streams: the file is decompressed block by block and a chunk goes out as
    soon as its records are read. Splits on the start tags of top-level
    records, as the record-by-record recovery does; a malformed record stays
    inside one chunk, whose own parse then isolates it.
    """
    src = _from_path(path, None)
    assert src.path is not None
    damage: list[str] = []
    with open(src.path, "rb") as fh:
        blocks: Iterator[bytes] = iter(lambda: fh.read(_READ_BLOCK), b"")
        if src.gzipped:
            blocks = _inflate(blocks, damage)
        tags = _ROOTS[src.root]
        if src.root in tags:  # a lone record as the root: nothing to split
            data = b"".join(blocks)
            yield XmlChunk(src.label, src.root, src.encoding, data, 0, 0, 1, damage[0] if damage else None)
            return
        yield from _split_blocks(src, blocks, damage, records_per_chunk)


def _split_blocks(src: _Input, blocks: Iterator[bytes], damage: list[str], size: int) -> Iterator[XmlChunk]:
    tags = _ROOTS[src.root]
    pattern = _start_tags(src.root)
    guard = max(len(t) for t in tags) + 2  # a start tag cut by a block boundary waits for the next
    close_tag = f"</{src.root}".encode()
    head = f'<?xml version="1.0" encoding="{src.encoding or "utf-8"}"?><{src.root}>'.encode()
    tail = f"</{src.root}>".encode()
    buf = bytearray()
    starts: list[int] = []  # offsets in buf of the record start tags found so far
    scan = 0  # where in buf the search for start tags goes on
    newlines = 0  # newlines before buf[0]
    first = 0  # index in the file of the record at starts[0]
    eof = False
    while not eof:
        block = next(blocks, None)
        if block is None:
            eof = True
        else:
            buf += block
        limit = len(buf) if eof else len(buf) - guard
        for m in pattern.finditer(buf, scan):
            if m.start() >= limit:
                break
            starts.append(m.start())
        scan = max(scan, limit)
        while len(starts) > size or (eof and starts):
            n = min(size, len(starts))
            begin = starts[0]
            if n < len(starts):
                stop = starts[n]
            else:  # the file's last records end where the root closes
                close = buf.rfind(close_tag)
                stop = close if close > starts[-1] else len(buf)
            newlines += buf.count(b"\n", 0, begin)
            with memoryview(buf) as view:
                data = b"".join((head, view[begin:stop], tail))
            last = eof and n == len(starts)
            yield XmlChunk(src.label, src.root, src.encoding, data, first, newlines, n,
                           damage[0] if last and damage else None)
            newlines += buf.count(b"\n", begin, stop)
            del buf[:stop]
            starts = [s - stop for s in starts[n:]]
            scan = max(0, scan - stop)
            first += n
    if first == 0 and damage:
        yield XmlChunk(src.label, src.root, src.encoding, head + tail, 0, 0, 0, damage[0])


def parse_chunk(chunk: XmlChunk) -> list[Item]:
    """The items of one chunk, located in the original file.

    A chunk is parsed as one tree, which is faster than streaming it; when that
    fails (malformed XML) or finds records other than the ``chunk.records`` the
    splitter counted (a record nested in another), the chunk is streamed
    instead, whose recovery isolates the broken records.
    """
    src = _Input(chunk.label, None, chunk.data, False, chunk.root, chunk.encoding,
                 index_offset=chunk.first_index, line_offset=chunk.line_offset)
    items = _parse_tree(src, chunk.records)
    if items is None:
        items = list(_stream(src))
    if chunk.problem:
        items.append(Problem(chunk.label, chunk.problem))
    return items


_REFS_OPEN = b"<ReferenceList"
_REFS_CLOSE = b"</ReferenceList>"


def _without_references(data: bytes) -> bytes:
    """``data`` with each ``ReferenceList`` element cut down to its newlines.

    No field is read from a record's cited references, yet they are most of a
    modern record's elements: cut out, the tree builds a third faster. Lines
    keep their numbers. A list that does not close, or closes in another record,
    takes the next record's start tag with it, so ``_parse_tree`` finds fewer
    records than it expects and streams the chunk, uncut, instead.
    """
    parts: list[bytes] = []
    pos = 0  # copied up to here
    search = 0
    while (start := data.find(_REFS_OPEN, search)) >= 0:
        gt = data.find(b">", start)
        if gt < 0:
            break
        after = data[start + len(_REFS_OPEN) : start + len(_REFS_OPEN) + 1]
        if after not in (b">", b" ", b"\t", b"\n", b"\r") or data[gt - 1 : gt] == b"/":
            search = gt  # another tag, or an empty list: left as it is
            continue
        end, depth = gt, 1
        while depth:  # lists nest
            close = data.find(_REFS_CLOSE, end)
            if close < 0:
                break
            depth += data.count(_REFS_OPEN, end, close) - 1
            end = close + len(_REFS_CLOSE)
        if depth:
            break
        parts += (data[pos:start], b"\n" * data.count(b"\n", start, end))
        pos = search = end
    if not parts:
        return data
    parts.append(data[pos:])
    return b"".join(parts)


def _parse_tree(src: _Input, expected: int) -> list[Item] | None:
    """The items of an in-memory document parsed whole, or None where it must be streamed."""
    assert src.data is not None
    tags = _ROOTS[src.root]
    try:
        root = etree.fromstring(_without_references(src.data), etree.XMLParser(**_SECURE))
    except etree.XMLSyntaxError:
        return None
    records = [root] if src.root in tags else [el for el in root if el.tag in tags]
    if len(records) != expected:
        return None
    items: list[Item] = []
    for index, el in enumerate(records, 1):
        items.extend(_parse_record(el, lambda el=el, i=index: src.where(i, _line(el))))
    return items


try:  # the compiled record reader, built by setup.py where a C compiler was found
    from ingest import _fastxml as _fast
except ImportError:  # pragma: no cover - installed without it
    _fast = None
else:
    _fast.bind(globals())

#: Whether records are read by the compiled reader (see ``_parse_record``).
COMPILED = _fast is not None
