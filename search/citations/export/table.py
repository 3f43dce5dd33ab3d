"""CSV: one row per paper, the columns of ``COLUMNS``, written with the csv module.

Lists inside a cell (authors, publication types, MeSH terms, keywords) are
joined with "; ". A text cell that a spreadsheet would run as a formula (it
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a
leading apostrophe, as OWASP advises against CSV injection (so does a cell that
starts with apostrophes and then one of those, so that dropping one leading
apostrophe always restores the value). Every text is on one line. ``FORMATS["csv"]`` writes the file with a
UTF-8 byte-order mark so that Excel reads accents right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from ingest.records import Article
from search.citations.export import fields as f

#: (column, what it holds), in file order; docs/exports.md lists the same.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("pmid", "PubMed id"),
    ("doi", "DOI"),
    ("pmcid", "PubMed Central id (PMC...)"),
    ("title", "article title (a book's title for a book)"),
    ("authors", 'authors as "Halpern SD; Ubel PA"; groups by name'),
    ("journal", "journal's full title (the book's title for a chapter)"),
    ("journal_abbrev", 'NLM abbreviation, e.g. "N Engl J Med"'),
    ("year", "publication year"),
    ("date", 'publication date as PubMed cites it, e.g. "2002 Jul 25"'),
    ("volume", "volume"),
    ("issue", "issue"),
    ("pages", 'pages as PubMed prints them, e.g. "284-7"'),
    ("publication_types", 'e.g. "Journal Article; Review"'),
    ("mesh_terms", "MeSH descriptors, major topics starred"),
    ("keywords", "author keywords"),
    ("languages", "ISO 639-2 codes, e.g. eng"),
    ("retracted", "yes when PubMed links a retraction or types it Retracted Publication"),
    ("abstract", "the abstract, labelled sections as LABEL: text"),
    ("url", "the PubMed page"),
    ("note", "your note on the paper"),
)
FIELDNAMES = tuple(name for name, _ in COLUMNS)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """The value, with an apostrophe in front when it (after any apostrophes) starts a
    formula, so that a reader can strip exactly one apostrophe back off."""
    return "'" + value if value.lstrip("'").startswith(_FORMULA_START) else value


def row(article: Article, note: str | None = None) -> dict[str, str]:
    """The cells of one paper, keyed by column name."""
    source = article.book_title if f.is_chapter(article) else article.journal_title
    values = {
        "pmid": article.pmid or "",
        "doi": article.doi or "",
        "pmcid": f.pmcid(article) or "",
        "title": f.one_line(article.title),
        "authors": "; ".join(f.short_name(a) for a in article.authors if a.collective_name or a.last_name),
        "journal": f.one_line(source),
        "journal_abbrev": "" if f.is_book(article) else f.journal_abbreviation(article),
        "year": str(article.pub_year or ""),
        "date": f.pub_date_text(article),
        "volume": f.one_line(article.volume),
        "issue": f.one_line(article.issue),
        "pages": f.one_line(article.pages),
        "publication_types": "; ".join(f.one_line(p.name) for p in article.publication_types),
        "mesh_terms": "; ".join(("*" if h.is_major else "") + f.one_line(h.descriptor) for h in article.mesh_headings),
        "keywords": "; ".join(f.one_line(k.text) for k in article.keywords),
        "languages": "; ".join(article.languages),
        "retracted": "yes" if article.is_retracted else "",
        "abstract": f.abstract(article),
        "url": f.pubmed_url(article) or "",
        "note": f.one_line(note),
    }
    return {k: _cell(v) for k, v in values.items()}


def write(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDNAMES, lineterminator="\r\n")
    writer.writeheader()
    for article in articles:
        writer.writerow(row(article, notes.get(article.doc_id)))
    return out.getvalue()
