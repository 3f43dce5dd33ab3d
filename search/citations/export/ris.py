"""RIS, written by rispy from one dict of RIS field names per record.

Tags follow the RIS specification as EndNote, Zotero and Mendeley read it:
``TY`` JOUR, BOOK (a whole book) or CHAP (a part of a book, ``T2`` its book);
``AU`` "Last, Fore" (", Suffix" when there is one); ``T2`` the journal's full title and ``J2`` its abbreviation;
``AN`` the PMID with ``DB`` PubMed; ``C2`` the PMCID (EndNote's field for it);
``KW`` MeSH descriptors then author keywords; ``N1`` the caller's note.
Every value is one line (RIS has no continuation lines that all readers accept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ingest.records import Article, Author
from search.citations.export import fields as f


def _writer():
    import rispy

    class _Writer(rispy.RisWriter):
        """rispy's writer without its "1." line before each record, which RIS does not define."""

        def set_header(self, count: int) -> str:
            return ""

    return _Writer()


def _type(article: Article) -> str:
    if f.is_chapter(article):
        return "CHAP"
    return "BOOK" if f.is_book(article) else "JOUR"


def _name(author: Author) -> str:
    """"Last, Fore" or "Last, Fore, Suffix" (RIS's own order); "Last," for a person known
    by one name, so that readers do not take it for a group; a group by its name."""
    if author.collective_name:
        return f.one_line(author.collective_name)
    last = f.one_line(author.last_name)
    rest = [p for p in (f.one_line(author.fore_name) or f.initials(author), f.one_line(author.suffix)) if p]
    return ", ".join([last, *rest]) if rest else f"{last},"


def _names(article: Article) -> dict[str, list[str]]:
    names = [_name(a) for a in article.authors]
    names = [n for n in names if n]
    if not names:
        return {}
    return {"secondary_authors" if f.authors_are_editors(article) else "authors": names}


def _date(article: Article) -> str | None:
    """RIS dates are "YYYY/MM/DD/other": "2002/07/25/", "2004///"."""
    parts = f.date_parts(article)
    if not parts:
        return None
    cells = [f"{parts[0]:04d}", *(f"{p:02d}" for p in parts[1:])]
    return "/".join(cells + [""] * (4 - len(cells)))


def _journal(article: Article) -> dict[str, str]:
    if f.is_book(article):
        out = {"publisher": f.one_line(article.publisher), "place_published": f.one_line(f.extra(article, "publisher_location"))}
        if f.is_chapter(article):
            out["secondary_title"] = f.one_line(article.book_title)
        return out
    return {
        "secondary_title": f.one_line(article.journal_title),
        "alternate_title1": f.journal_abbreviation(article),
        "volume": f.one_line(article.volume),
        "number": f.one_line(article.issue),
        "issn": f.one_line(article.issn or article.issn_linking),
    }


def _pages(article: Article) -> dict[str, str]:
    pages = f.page_range(article.pages)
    if pages is None:
        return {}
    return {"start_page": pages.first, "end_page": pages.last or ""}


def record(article: Article, note: str | None = None) -> dict:
    """The rispy dict of one record (empty fields left out)."""
    entry: dict = {"type_of_reference": _type(article)}
    entry.update(_names(article))
    entry["title"] = f.one_line(article.title)
    entry.update(_journal(article))
    entry.update(_pages(article))
    entry["year"] = str(article.pub_year) if article.pub_year else ""
    entry["date"] = _date(article) or ""
    entry["doi"] = f.one_line(article.doi)
    entry["accession_number"] = article.pmid or ""
    if article.pmid:
        entry["name_of_database"] = "PubMed"
        entry["urls"] = [f.pubmed_url(article)]
    entry["custom2"] = f.pmcid(article) or ""
    entry["abstract"] = f.abstract(article)
    entry["keywords"] = list(f.keywords(article))
    entry["language"] = "; ".join(article.languages)
    entry["notes"] = [f.one_line(note)] if f.one_line(note) else []
    return {k: v for k, v in entry.items() if v}


def write(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    return _writer().formats([record(a, notes.get(a.doc_id)) for a in articles])
