"""CSL-JSON (the Citation Style Language's data format), written with the json module.

One object per record: ``type`` ``article-journal``, ``book`` or ``chapter``;
``author`` (or ``editor``) as ``family``/``given``/``suffix``, a group as
``literal``; ``issued`` as ``date-parts`` (a MedlineDate such as "1998 Dec-1999
Jan" keeps its text in ``raw``); ``container-title`` and
``container-title-short``; ``page`` with the last page written out; ``DOI``,
``PMID``, ``PMCID``, ``ISSN``, ``URL`` (PubMed); ``note`` the caller's note.
Readers: Zotero, citeproc-js, pandoc, citeproc-py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ingest.records import Article, Author
from search.citations.export import fields as f


def _type(article: Article) -> str:
    if f.is_chapter(article):
        return "chapter"
    return "book" if f.is_book(article) else "article-journal"


def _name(author: Author) -> dict[str, str]:
    if author.collective_name:
        return {"literal": f.one_line(author.collective_name)}
    name = {
        "family": f.one_line(author.last_name),
        "given": f.one_line(author.fore_name) or f.initials(author),
        "suffix": f.one_line(author.suffix),
    }
    return {k: v for k, v in name.items() if v}


def _issued(article: Article) -> dict | None:
    parts = f.date_parts(article)
    if not parts:
        return None
    issued: dict = {"date-parts": [list(parts)]}
    if article.medline_date:
        issued["raw"] = f.one_line(article.medline_date)
    return issued


def _container(article: Article) -> dict[str, str]:
    if f.is_book(article):
        return {
            "container-title": f.one_line(article.book_title) if f.is_chapter(article) else "",
            "publisher": f.one_line(article.publisher),
            "publisher-place": f.one_line(f.extra(article, "publisher_location")),
        }
    return {
        "container-title": f.one_line(article.journal_title),
        "container-title-short": f.journal_abbreviation(article),
        "volume": f.one_line(article.volume),
        "issue": f.one_line(article.issue),
        "ISSN": f.one_line(article.issn or article.issn_linking),
    }


def item(article: Article, note: str | None = None) -> dict:
    """The CSL-JSON object of one record (empty fields left out)."""
    names = [_name(a) for a in article.authors if a.collective_name or a.last_name]
    pages = f.page_range(article.pages)
    data: dict = {
        "id": article.pmid or article.doc_id,
        "type": _type(article),
        "title": f.one_line(article.title),
        "editor" if f.authors_are_editors(article) else "author": names,
        "issued": _issued(article),
        **_container(article),
        "page": pages.expanded if pages else "",
        "DOI": f.one_line(article.doi),
        "PMID": article.pmid or "",
        "PMCID": f.pmcid(article) or "",
        "URL": f.pubmed_url(article) or "",
        "abstract": f.abstract(article),
        "keyword": ", ".join(f.keywords(article)),
        "language": ", ".join(article.languages),
        "note": f.one_line(note),
    }
    return {k: v for k, v in data.items() if v}


def write(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    items = [item(a, notes.get(a.doc_id)) for a in articles]
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"
