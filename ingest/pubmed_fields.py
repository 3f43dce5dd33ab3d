"""The fields of one PubMed record: each element's handler, and a record element read into
the items it stands for (an ``Article``, deletions, or a ``Problem``), never raising for bad
content. :mod:`ingest.pubmed_xml` finds the record elements in a document.

One reader, in Python: child loops with a dict dispatch. (A compiled copy of it, in Cython,
was removed: it made ``ingest files`` only about 1.2 times faster end to end, see
docs/ingest.md.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from lxml import etree

from ingest.pubmed_values import (
    INVALID_ID,
    checked_doi,
    checked_pmcid,
    is_translated_title,
    month_number,
    orcid,
    with_id_problems,
)
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

Fields = dict[str, Any]
Handler = Callable[[Any, Fields], None]

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
    for ch in el:  # six authors a record: ``_text`` written out, it is read 10% faster
        tag = ch.tag
        if tag == "AffiliationInfo":
            for a in ch:
                if a.tag == "Affiliation":
                    affiliation = " ".join((_mixed(a) if len(a) else a.text or "").split())
                    if affiliation:
                        affiliations.append(affiliation)
            continue
        if tag == "Identifier":
            if ch.get("Source") == "ORCID":
                orcid_value = orcid(ch.text)
            continue
        text = " ".join((_mixed(ch) if len(ch) else ch.text or "").split()) or None
        if tag == "LastName":
            last = text
        elif tag == "ForeName" or tag == "FirstName":
            fore = text
        elif tag == "Initials":
            initials = text
        elif tag == "Suffix":
            suffix = text
        elif tag == "CollectiveName":
            collective = text
        elif tag == "Affiliation" and text:  # pre-2014 DTD: directly in Author
            affiliations.append(text)
    return Author(
        last, fore, initials, suffix, collective, orcid_value, tuple(affiliations),
        el.get("EqualContrib") == "Y",
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
            if tag == "QualifierName":  # ``_text`` written out: ten headings a record
                name = " ".join((_mixed(ch) if len(ch) else ch.text or "").split())
                quals.append(MeshQualifier(name, ch.get("UI"), ch.get("MajorTopicYN") == "Y"))
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
        for ch in cc:  # ``_text`` written out: some records list hundreds of these
            tag = ch.tag
            if tag == "RefSource":
                source = " ".join((_mixed(ch) if len(ch) else ch.text or "").split())
            elif tag == "PMID":
                pmid = " ".join((_mixed(ch) if len(ch) else ch.text or "").split())
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
    f["doi"], bad_doi = checked_doi(_first_id(ids, "doi") or eloc.get("doi"))
    f["pii"] = _first_id(ids, "pii") or eloc.get("pii")
    f["pmcid"], bad_pmcid = checked_pmcid(_first_id(ids, "pmc"))
    f["_extra"] += [(INVALID_ID, why) for why in (bad_doi, bad_pmcid) if why]
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
    """
    return with_id_problems(_read_record(el, where), where)


def _read_record(el: Any, where: Callable[[], str]) -> list[Item]:
    """The items of one record element, before the identifier checks of ``with_id_problems``."""
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
