"""Formatted references: Vancouver (NLM's Citing Medicine, 2nd ed.) and AMA (11th ed.).

Written by hand because citeproc-py 0.11.1, the Python CSL processor, renders the
official CSL styles (``nlm-citation-sequence.csl``, ``american-medical-association.csl``)
wrongly for these records: it ignores the styles' own date format ("2002Jul25"),
their hyphen page-range delimiter (an en dash), AMA's expanded page ranges, and
prints an author-less AMA reference's title twice (docs/exports.md shows the
outputs). PubMed records are journal articles and a few books, so the two
styles reduce to the rules below; the tests check them against the guides'
own examples.

Vancouver (journal article), as NLM's "Samples of Formatted References" and
Citing Medicine chapter 1: up to six authors, then "et al."; a group after the
persons, separated by a semicolon; the NLM title abbreviation; the date as
PubMed prints it; pages as printed ("284-7"); a non-English article ends with
its language. AMA: up to six authors, else the first three and "et al"; the
year only; the journal abbreviation in italics; pages written out
("510-517"); "doi:" and the DOI last.

Each reference is a sequence of ``Piece`` (text, italic) so that one layout
serves plain text and HTML.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ingest.records import Article
from search.citations.export import fields as f

#: ISO 639-2 codes -> English names, for Citing Medicine's closing language note.
LANGUAGES: dict[str, str] = {
    "afr": "Afrikaans", "ara": "Arabic", "bul": "Bulgarian", "cat": "Catalan", "chi": "Chinese",
    "cze": "Czech", "dan": "Danish", "dut": "Dutch", "est": "Estonian", "fin": "Finnish",
    "fre": "French", "ger": "German", "gre": "Greek", "heb": "Hebrew", "hrv": "Croatian",
    "hun": "Hungarian", "ice": "Icelandic", "ita": "Italian", "jpn": "Japanese", "kor": "Korean",
    "lav": "Latvian", "lit": "Lithuanian", "nor": "Norwegian", "per": "Persian", "pol": "Polish",
    "por": "Portuguese", "rum": "Romanian", "rus": "Russian", "slo": "Slovak", "slv": "Slovenian",
    "spa": "Spanish", "srp": "Serbian", "swe": "Swedish", "tur": "Turkish", "ukr": "Ukrainian",
}  # fmt: skip


class Piece(NamedTuple):
    text: str
    italic: bool = False


def sentence(text: str) -> str:
    """``text`` closed by a period unless it already ends with ``. ? !``."""
    text = f.one_line(text)
    return text if not text or text[-1] in ".?!" else text + "."


def _authors(article: Article, keep: int, shown: int, role: tuple[str, str]) -> str:
    """"A, B, C, et al; Group." in record order: persons run together with commas,
    a group set off by semicolons; past ``keep`` persons only the first ``shown``."""
    cut = len(f.persons(article)) > keep
    segments: list[list[str]] = [[]]
    n = 0
    for author in article.authors:
        if author.collective_name:
            segments += [[f.short_name(author)], []]
        elif author.last_name:
            n += 1
            if not cut or n <= shown:
                segments[-1].append(f.short_name(author))
            if cut and n == shown:
                segments[-1].append("et al")
    text = "; ".join(", ".join(s) for s in segments if s)
    if text and f.authors_are_editors(article):
        text += ", " + (role[1] if len(article.authors) > 1 else role[0])
    return sentence(text)


def _volume_issue_pages(article: Article, pages: str) -> str:
    text = f.one_line(article.volume)
    if article.issue:
        text += f"({f.one_line(article.issue)})"
    out = f";{text}" if text else ""
    return out + (f":{pages}" if pages else "")


def _language(article: Article) -> str:
    if not article.languages or "eng" in article.languages:
        return ""
    names = [LANGUAGES[code] for code in article.languages if code in LANGUAGES]
    return sentence(", ".join(names))


def vancouver(article: Article) -> list[Piece]:
    """A reference in Citing Medicine's (NLM, "Vancouver") style."""
    head = [_authors(article, 6, 6, ("editor", "editors")), sentence(article.title)]
    if f.is_book(article):
        return [Piece(" ".join(p for p in head if p) + " " + _vancouver_book(article))]
    where = f.pub_date_text(article) + _volume_issue_pages(article, f.abbreviated_pages(article.pages))
    parts = [*head, sentence(f.journal_abbreviation(article)), sentence(where), _language(article)]
    return [Piece(" ".join(p for p in parts if p))]


def _vancouver_book(article: Article) -> str:
    place = f.one_line(f.extra(article, "publisher_location"))
    publisher = f.one_line(article.publisher)
    imprint = ": ".join(p for p in (place, publisher) if p)
    year = str(article.pub_year or "")
    text = "; ".join(p for p in (imprint, year) if p)
    if f.is_chapter(article):
        text = f"In: {sentence(article.book_title or '')} " + text  # is_chapter: a title
    pages = f.abbreviated_pages(article.pages)
    return sentence(text) + (f" p. {sentence(pages)}" if pages else "")


def ama(article: Article) -> list[Piece]:
    """A reference in the AMA Manual of Style's (11th ed.) style."""
    authors = _authors(article, 6, 3, ("ed", "eds"))
    pieces = [Piece(authors + " ")] if authors else []
    if f.is_book(article):
        return pieces + _ama_book(article)
    pages = f.page_range(article.pages)
    where = f"{article.pub_year or ''}" + _volume_issue_pages(article, pages.expanded if pages else "")
    pieces += [Piece(sentence(article.title) + " "), *_italic_sentence(f.journal_abbreviation(article)),
               Piece(" " + sentence(where))]
    return pieces + _ama_doi(article)


def _ama_book(article: Article) -> list[Piece]:
    """Book title in italics; a chapter's title first, then "In:" and its book."""
    if f.is_chapter(article):
        pieces = [Piece(sentence(article.title) + " In: "), *_italic_sentence(article.book_title)]
    else:
        pieces = _italic_sentence(article.title)
    pages = f.page_range(article.pages)
    imprint = "; ".join(p for p in (f.one_line(article.publisher), str(article.pub_year or "")) if p)
    if pages and f.is_chapter(article):
        imprint += f":{pages.expanded}"
    return pieces + [Piece(" " + sentence(imprint))] + _ama_doi(article)


def _italic_sentence(text: str | None) -> list[Piece]:
    """``text`` in italics, the period that closes it after the italics."""
    closed = sentence(text or "")
    if closed.endswith(".") and not f.one_line(text).endswith("."):
        return [Piece(closed[:-1], italic=True), Piece(".")]
    return [Piece(closed, italic=True)]


def _ama_doi(article: Article) -> list[Piece]:
    return [Piece(f" doi:{f.one_line(article.doi)}")] if article.doi else []


STYLES: dict[str, Callable[[Article], list[Piece]]] = {"vancouver": vancouver, "ama": ama}


def as_text(pieces: Sequence[Piece]) -> str:
    return "".join(p.text for p in pieces).strip()


def as_html(pieces: Sequence[Piece]) -> str:
    """The pieces HTML-escaped, italic ones in ``<i>``."""
    out = []
    for p in pieces:
        text = html.escape(p.text, quote=True)
        out.append(f"<i>{text}</i>" if p.italic else text)
    return "".join(out).strip()


def format_reference(article: Article, style: str) -> str:
    """One reference as plain text, without a number."""
    return as_text(STYLES[style](article))


def write_text(articles: Sequence[Article], style: str) -> str:
    """A numbered reference list, one reference a line: "1. Halpern SD, ..."."""
    return "".join(f"{i}. {format_reference(a, style)}\n" for i, a in enumerate(articles, 1))


def write_html(articles: Sequence[Article], style: str) -> str:
    """An HTML ordered list (a fragment to embed), one ``<li>`` per reference."""
    items = "".join(f"<li>{as_html(STYLES[style](a))}</li>\n" for a in articles)
    return f'<ol class="references {style}">\n{items}</ol>\n'
