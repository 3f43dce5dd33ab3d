"""What every export format reads from an ``Article``, computed one way for all of them.

Names, page ranges, the journal abbreviation, dates and links are derived here
so that RIS, BibTeX, MEDLINE, CSL-JSON, CSV and the formatted references agree
on them. Pure functions of the record; no format-specific escaping.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ingest.records import Article, Author

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s+")
#: "123-9", "S12-5", "e101-4": a numeric range whose end PubMed abbreviates ("MedlinePgn").
_NUMERIC_RANGE = re.compile(r"([A-Za-z]*)(\d+)-([A-Za-z]*)(\d+)(\S*)")
_SIMPLE_RANGE = re.compile(r"([^\s,;-]+)-([^\s,;-]+)")
_WORD_START = re.compile(r"[^\W\d_]+", re.UNICODE)

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
DOI_URL = "https://doi.org/{doi}"


def one_line(text: str | None) -> str:
    """``text`` on one line: control characters and line breaks become spaces, runs of
    white space one space. Line-based formats (RIS, MEDLINE) need it; the others use it
    so that every format carries the same text."""
    if not text:
        return ""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


class PageRange(NamedTuple):
    """Pages as printed (``text``) and, for a plain range, its first and (expanded) last page."""

    text: str
    first: str
    last: str | None

    @property
    def expanded(self) -> str:
        """"123-129" for "123-9"; the text unchanged when it is not a plain range."""
        return f"{self.first}-{self.last}" if self.last else self.text


def page_range(pages: str | None) -> PageRange | None:
    """Split PubMed's pagination into first and last page, expanding "123-9" to 123-129.

    PubMed abbreviates the last page of a range by the digits it shares with the
    first ("1199-201" is 1199-1201); a letter prefix ("S12-5") is kept on both.
    Anything that is not one range ("e0123", "123-9; discussion 130",
    "following 100") keeps its text as the first page and has no last page.
    """
    text = one_line(pages)
    if not text:
        return None
    m = _NUMERIC_RANGE.fullmatch(text)
    if m and (not m[3] or m[3] == m[1]):
        prefix, first, last, tail = m[1], m[2], m[4], m[5]
        if len(last) < len(first):
            last = first[: len(first) - len(last)] + last
        return PageRange(text, prefix + first, prefix + last + tail)
    m = _SIMPLE_RANGE.fullmatch(text)
    if m:
        return PageRange(text, m[1], m[2])
    return PageRange(text, text, None)


def abbreviated_pages(pages: str | None) -> str:
    """Pages as Citing Medicine prints them: "123-9", "1199-201" (digits not repeated)."""
    r = page_range(pages)
    if r is None:
        return ""
    if r.last is None:
        return r.text
    m1, m2 = re.fullmatch(r"(\D*)(\d+)", r.first), re.fullmatch(r"(\D*)(\d+)", r.last)
    if not (m1 and m2) or m1[1] != m2[1] or len(m1[2]) != len(m2[2]) or int(m2[2]) < int(m1[2]):
        return r.expanded
    a, b = m1[2], m2[2]
    common = 0
    while common < len(a) - 1 and a[common] == b[common]:
        common += 1
    return f"{r.first}-{b[common:]}"


def initials(author: Author) -> str:
    """"SD" for Scott D: the record's initials as PubMed gives them (rarely with a space,
    "do Y"), or else the first letters of the fore name's words."""
    if author.initials:
        return one_line(author.initials)
    words = re.split(r"[\s\-.]+", author.fore_name or "")
    return "".join(w[0].upper() for w in words if w)


def short_name(author: Author) -> str:
    """"Halpern SD", "Smith AB Jr", or the group name: the ``AU`` form, also Vancouver's and AMA's."""
    if author.collective_name:
        return one_line(author.collective_name)
    parts = [one_line(author.last_name), initials(author), one_line(author.suffix)]
    return " ".join(p for p in parts if p)


def full_name(author: Author) -> str:
    """"Halpern, Scott D" (with a trailing suffix: "Wright, John T Jr"), the ``FAU`` form."""
    if author.collective_name:
        return one_line(author.collective_name)
    given = " ".join(p for p in (one_line(author.fore_name) or initials(author), one_line(author.suffix)) if p)
    last = one_line(author.last_name)
    return f"{last}, {given}" if given else last


def persons(article: Article) -> tuple[Author, ...]:
    return tuple(a for a in article.authors if not a.collective_name and a.last_name)


def groups(article: Article) -> tuple[Author, ...]:
    return tuple(a for a in article.authors if a.collective_name)


def extra(article: Article, key: str) -> str | None:
    """The first value of ``key`` in the record's source-specific leftovers."""
    return next((v for k, v in article.extra if k == key and v), None)


def authors_are_editors(article: Article) -> bool:
    """True for a book whose only names are its editors (PubMed books such as GeneReviews)."""
    return extra(article, "author_role") == "editor"


def journal_abbreviation(article: Article) -> str:
    """NLM's title abbreviation ("N Engl J Med"): MedlineTA, else the ISO one without
    periods, else the full title."""
    ta = extra(article, "medline_ta")
    if ta:
        return one_line(ta)
    if article.journal_iso:
        return one_line(article.journal_iso.replace(".", ""))
    return one_line(article.journal_title or article.book_title)


def is_book(article: Article) -> bool:
    return article.record_type == "book"


def is_chapter(article: Article) -> bool:
    """A book record whose title is a part of the book, not the book itself."""
    return is_book(article) and bool(article.book_title) and one_line(article.title) != one_line(
        article.book_title
    )


def pub_date_text(article: Article) -> str:
    """The date as PubMed cites it: "2002 Jul 25", "1998 Dec-1999 Jan", "2004"."""
    return one_line(article.pub_date_text or article.medline_date) or (
        str(article.pub_year) if article.pub_year else ""
    )


def date_parts(article: Article) -> tuple[int, ...]:
    """(year, month, day) as far as known; () without a year."""
    parts: list[int] = []
    for value in (article.pub_year, article.pub_month, article.pub_day):
        if value is None:
            break
        parts.append(value)
    return tuple(parts)


def pubmed_url(article: Article) -> str | None:
    return PUBMED_URL.format(pmid=article.pmid) if article.pmid else None


def pmcid(article: Article) -> str | None:
    if not article.pmcid:
        return None
    return article.pmcid if article.pmcid.upper().startswith("PMC") else f"PMC{article.pmcid}"


def abstract(article: Article) -> str:
    """The abstract on one line, labelled sections as "LABEL: text"."""
    return one_line(article.abstract_text)


def keywords(article: Article) -> tuple[str, ...]:
    """MeSH descriptors, then author keywords, each once, in record order."""
    words = [one_line(h.descriptor) for h in article.mesh_headings]
    words += [one_line(k.text) for k in article.keywords]
    return tuple(dict.fromkeys(w for w in words if w))


def first_word(text: str) -> str:
    """The first word of letters in ``text`` ("" when there is none), for citation keys."""
    m = _WORD_START.search(text or "")
    return m[0] if m else ""
