"""MEDLINE text (PubMed's .nbib, "Send to > Citation manager"), written by hand.

Written here because no maintained library writes this format: Biopython's
``Bio.Medline`` and the ``nbib`` package only read it. The layout is PubMed's:
the tag left-aligned in four columns and ``- ``, so values start in column 7;
long texts (title, abstract, affiliations...: ``WRAPPED``) wrap at word
boundaries near 88 columns onto continuation lines indented by six spaces; one
blank line between records. Tags appear in PubMed's
order. The store keeps no owner (``OWN``) or completion date (``DCOM``), so
those are not written rather than guessed. ``GN`` (general note) carries the
caller's note.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping, Sequence
from datetime import date

from ingest.pubmed_values import checked_doi
from ingest.records import Article, Author, MeshHeading
from search.citations.export import fields as f

WIDTH = 88
#: Tags whose long values wrap. Readers such as Bio.Medline join continuation lines only
#: for these (and PubMed wraps little else); names, ids and notes stay on one line.
WRAPPED = frozenset({"TI", "AB", "AD", "MH", "JT", "SO", "CI", "BTI", "TT", "PL", "DP", "PG"})

#: PubMed XML ``RefType`` -> MEDLINE tag (the inverse of ``ingest.medline_text.REF_TYPES``).
REF_TAGS: dict[str, str] = {
    "CommentIn": "CIN", "CommentOn": "CON", "ErratumIn": "EIN", "ErratumFor": "EFR",
    "CorrectedandRepublishedIn": "CRI", "CorrectedandRepublishedFrom": "CRF",
    "ExpressionOfConcernIn": "ECI", "ExpressionOfConcernFor": "ECF",
    "PartialRetractionIn": "PRIN", "PartialRetractionOf": "PROF",
    "RepublishedIn": "RPI", "RepublishedFrom": "RPF",
    "RetractedandRepublishedIn": "RRI", "RetractedandRepublishedFrom": "RRF",
    "RetractionIn": "RIN", "RetractionOf": "ROF", "UpdateIn": "UIN", "UpdateOf": "UOF",
    "SummaryForPatientsIn": "SPIN", "OriginalReportIn": "ORI",
}  # fmt: skip

_NOT_AID = {"pubmed", "pmc", "pmcid", "mid", "medline", "isbn"}

Field = tuple[str, str | None]


def lines(tag: str, value: str | None) -> list[str]:
    """One field as PubMed lays it out: ``"TI  - "`` then the value, wrapped."""
    text = f.one_line(value)
    if not text:
        return []
    if tag not in WRAPPED:
        return [f"{tag:<4}- {text}"]
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=f"{tag:<4}- ",
        subsequent_indent=" " * 6,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _ymd(day: date | None) -> str | None:
    return day.strftime("%Y%m%d") if day else None


def _head(a: Article) -> Iterator[Field]:
    yield "PMID", a.pmid or a.doc_id
    yield "STAT", a.status
    yield "LR", _ymd(a.date_revised)
    if not f.is_book(a):
        yield "IS", a.issn
        if a.issn_linking:
            yield "IS", f"{a.issn_linking} (Linking)"
        yield "VI", a.volume
        yield "IP", a.issue
    else:
        yield "PB", a.publisher
        yield "CY", f.extra(a, "publisher_location")
    yield "DP", f.pub_date_text(a)
    yield "TI", a.title
    if f.is_book(a):
        yield "BTI", a.book_title
    yield "PG", a.pages
    if a.doi:
        yield "LID", f"{a.doi} [doi]"
    elif a.pii:
        yield "LID", f"{a.pii} [pii]"
    yield "AB", a.abstract_text
    yield "CI", a.copyright


def _author(author: Author, editor: bool) -> Iterator[Field]:
    if author.collective_name:
        yield "CN", author.collective_name
        return
    yield ("FED" if editor else "FAU"), f.full_name(author)
    yield ("ED" if editor else "AU"), f.short_name(author)
    if author.orcid:
        yield "AUID", f"ORCID: {author.orcid}"
    for affiliation in author.affiliations:
        yield "AD", affiliation


def _mesh(h: MeshHeading) -> str:
    parts = [("*" if h.major_topic else "") + f.one_line(h.descriptor)]
    parts += [("*" if q.major_topic else "") + f.one_line(q.name) for q in h.qualifiers]
    return "/".join(parts)


def _body(a: Article) -> Iterator[Field]:
    editors = f.authors_are_editors(a)
    for author in a.authors:
        yield from _author(author, editors)
    for language in a.languages:
        yield "LA", language
    for pt in a.publication_types:
        yield "PT", pt.name
    yield "DEP", _ymd(a.article_date)
    yield "TT", a.vernacular_title
    if not f.is_book(a):
        yield "TA", f.journal_abbreviation(a)
        yield "JT", a.journal_title
        yield "JID", f.extra(a, "nlm_unique_id")
    for c in a.chemicals:
        yield "RN", f"{c.registry_number or '0'} ({f.one_line(c.name)})"
    for cc in a.comments_corrections:
        tag = REF_TAGS.get(cc.ref_type)
        if tag:
            yield tag, " ".join(p for p in (_sentence(cc.ref_source), cc.pmid and f"PMID: {cc.pmid}") if p)
    for h in a.mesh_headings:
        yield "MH", _mesh(h)
    yield "PMC", f.pmcid(a)
    yield from _keywords(a)


def _sentence(text: str | None) -> str:
    text = f.one_line(text)
    return text if not text or text.endswith(".") else text + "."


def _keywords(a: Article) -> Iterator[Field]:
    owner: str | None = None
    for k in a.keywords:
        if (k.owner or "NOTNLM") != owner:
            owner = k.owner or "NOTNLM"
            yield "OTO", owner
        yield "OT", ("*" if k.major_topic else "") + f.one_line(k.text)


def _tail(a: Article, note: str | None) -> Iterator[Field]:
    # an identifier ingest found malformed (kept among other_ids, reported as a record problem)
    # is not exported as one: a DOI only in DOI syntax
    ids = [*((k, v) for k, v in a.other_ids if k != "doi" or checked_doi(v)[0]), ("pii", a.pii), ("doi", a.doi)]
    for kind, value in dict.fromkeys((k, v) for k, v in ids if v):
        if kind == "isbn":
            yield "ISBN", value
        elif kind not in _NOT_AID:
            yield "AID", f"{value} [{kind}]"
    yield "PST", f.extra(a, "publication_status")
    yield "GN", note
    yield "SO", source(a)


def source(a: Article) -> str:
    """PubMed's ``SO`` line: "N Engl J Med. 2002 Jul 25;347(4):284-7. doi: 10.1056/NEJMsa020632."."""
    head = f.journal_abbreviation(a) if not f.is_book(a) else f.one_line(a.book_title or a.title)
    where = f.pub_date_text(a)
    if a.volume or a.issue:
        where += f";{f.one_line(a.volume)}" + (f"({f.one_line(a.issue)})" if a.issue else "")
    if a.pages:
        where += f":{f.one_line(a.pages)}"
    text = ". ".join(p for p in (head, where) if p) + "."
    return text + (f" doi: {f.one_line(a.doi)}." if a.doi else "")


def record(article: Article, note: str | None = None) -> str:
    """One record's lines joined, without the blank separator line."""
    out: list[str] = []
    for tag, value in (*_head(article), *_body(article), *_tail(article, note)):
        out += lines(tag, value)
    return "\n".join(out)


def write(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    return "".join(record(a, notes.get(a.doc_id)) + "\n\n" for a in articles)
