"""BibTeX, written by bibtexparser (v2) with LaTeX escaping by pylatexenc.

Entry types: ``@article``; ``@book`` for a whole book, ``@incollection`` for a part
of one. Keys are "Lastname" + year ("Halpern2002"), ASCII only, made unique with
a, b, c... Every text is LaTeX-encoded: accented letters become ``{\\'e}`` where pylatexenc
knows them exactly, the specials ``# $ % & _ ~ ^ \\`` their escaped forms, braces
``\\textbraceleft``/``\\textbraceright`` (BibTeX counts every brace, escaped or not,
so ``\\{`` alone would unbalance the field). Other characters (CJK, emoji, letters
pylatexenc only approximates) stay UTF-8, which LaTeX (2018 on), biber and
XeLaTeX/LuaLaTeX read. Title words with a capital after
their first letter ("HIV", "mRNA") are braced so that styles do not lowercase them.
``pmid``, ``pmcid`` and ``doi`` are fields of their own; ``note`` holds the
caller's note.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache

from ingest.records import Article, Author
from search.citations.export import fields as f

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE",
                       "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D", "þ": "th", "ı": "i"})
_NEEDS_ENCODING = re.compile(r"[#$%&<>\\^_{}~\"]|--|''|``|[?!]`")
_NAME_AND = re.compile(r"\band\b", re.IGNORECASE)


#: Written by our own rule rather than pylatexenc's: BibTeX counts every brace, escaped
#: or not, so "\\{" alone would unbalance the field; ``^`` has no reversible default.
_OVERRIDES = {"{": r"{\textbraceleft}", "}": r"{\textbraceright}", "^": r"{\textasciicircum}",
              "\\": r"{\textbackslash}"}
_ASCII_SPECIALS = frozenset('#$%&_~<>"')


@cache
def _codecs():
    from pylatexenc.latex2text import LatexNodes2Text
    from pylatexenc.latexencode import UnicodeToLatexEncoder

    encoder = UnicodeToLatexEncoder(replacement_latex_protection="braces-all",
                                    unknown_char_policy="keep", unknown_char_warning=False)
    return encoder, LatexNodes2Text()


@cache
def _char(c: str) -> str:
    """One character for a BibTeX field: pylatexenc's LaTeX for it when pylatexenc also
    reads that LaTeX back as the same character, else the character itself (UTF-8).

    The check matters: some of pylatexenc's names are approximations ("ű" comes out
    as the macro for "ú"), and a wrong letter in an author's name is worse than UTF-8.
    """
    if c in _OVERRIDES:
        return _OVERRIDES[c]
    if c.isascii() and c not in _ASCII_SPECIALS:
        return c
    encoder, decoder = _codecs()
    encoded = encoder.unicode_to_latex(c)
    if encoded == c or encoded in _OVERRIDES.values():
        return c
    return encoded if _quietly(decoder.latex_to_text, encoded) == c else c


def _quietly(fn, arg: str) -> str:
    """``fn(arg)`` without pylatexenc's warnings about macros it cannot render (they go
    to stderr otherwise); the logger's level is restored afterwards."""
    log = logging.getLogger("pylatexenc")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return fn(arg)
    finally:
        log.setLevel(level)


def latex(text: str | None) -> str:
    """``text`` on one line, encoded for a braced BibTeX field."""
    text = f.one_line(text)
    if text.isascii() and not _NEEDS_ENCODING.search(text):
        return text  # nothing to encode
    out = []
    for i, c in enumerate(text):
        out.append(_char(c))
        following = text[i + 1 : i + 2]
        # "--", "''", "``" and "?`", "!`" (Spanish inverted marks) are LaTeX ligatures
        if (c in "-'`" and following == c) or (c in "?!" and following == "`"):
            out.append("{}")
    return "".join(out)


def _title(text: str | None) -> str:
    words = f.one_line(text).split(" ")
    return " ".join("{" + latex(w) + "}" if _inner_capital(w) else latex(w) for w in words)


def _inner_capital(word: str) -> bool:
    """"HIV", "mRNA", "COVID-19": a capital after the word's first letter."""
    return any(c.isupper() for c in word.lstrip("([{\"'")[1:])


def _name_part(text: str | None) -> str:
    """A name part that cannot be split: a comma or a word "and" inside it is braced."""
    encoded = latex(text)
    if "," in encoded or _NAME_AND.search(encoded):
        return "{" + encoded + "}"
    return encoded


def _name(author: Author) -> str:
    if author.collective_name:
        return "{" + latex(author.collective_name) + "}"
    last = _name_part(author.last_name)
    first = _name_part(f.one_line(author.fore_name) or f.initials(author))
    if not first:
        return last
    if author.suffix:
        return f"{last}, {_name_part(author.suffix)}, {first}"
    return f"{last}, {first}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in folded if c.isascii() and c.isalnum())


def base_key(article: Article) -> str:
    """"Halpern2002": first author's last name (or group, or title word) + year, ASCII only."""
    first = article.authors[0] if article.authors else None
    if first is not None and first.last_name:
        stem = _ascii(first.last_name)
    elif first is not None and first.collective_name:
        stem = _ascii(f.first_word(first.collective_name))
    else:
        stem = _ascii(f.first_word(article.title))
    stem = stem[:40] or (f"pmid{article.pmid}" if article.pmid else "ref")
    return stem + (str(article.pub_year) if article.pub_year else "")


def unique_keys(articles: Sequence[Article]) -> list[str]:
    """One key per article; a key already taken gets a, b, ..., z, aa, ab... appended."""
    used: set[str] = set()
    keys = []
    for article in articles:
        base = key = base_key(article)
        n = 0
        while key in used:
            n += 1
            key = base + _letters(n)
        used.add(key)
        keys.append(key)
    return keys


def _letters(n: int) -> str:
    """1 -> a, 26 -> z, 27 -> aa."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def _keyword(word: str) -> str:
    """A keyword for the comma-separated list; one with a comma of its own ("Microscopy,
    Electron") is braced, which keeps it whole for biblatex and JabRef."""
    encoded = latex(word)
    return "{" + encoded + "}" if "," in encoded else encoded


def _entry_type(article: Article) -> str:
    if f.is_chapter(article):
        return "incollection"
    return "book" if f.is_book(article) else "article"


def _source_fields(article: Article) -> list[tuple[str, str]]:
    if f.is_book(article):
        out = [("booktitle", latex(article.book_title))] if f.is_chapter(article) else []
        return out + [("publisher", latex(article.publisher)),
                      ("address", latex(f.extra(article, "publisher_location")))]
    return [
        ("journal", latex(article.journal_title or f.journal_abbreviation(article))),
        ("shortjournal", latex(f.journal_abbreviation(article))),
        ("volume", latex(article.volume)),
        ("number", latex(article.issue)),
        ("issn", latex(article.issn or article.issn_linking)),
    ]


def _pages(article: Article) -> str:
    pages = f.page_range(article.pages)
    if pages is None:
        return ""
    return f"{latex(pages.first)}--{latex(pages.last)}" if pages.last else latex(pages.text)


def entry_fields(article: Article, note: str | None = None) -> list[tuple[str, str]]:
    """``(field, encoded value)`` pairs of one entry, empty ones left out."""
    names = " and ".join(_name(a) for a in article.authors if a.collective_name or a.last_name)
    pairs = [("editor" if f.authors_are_editors(article) else "author", names),
             ("title", _title(article.title))]
    pairs += _source_fields(article)
    pairs += [
        ("year", latex(str(article.pub_year)) if article.pub_year else ""),
        ("pages", _pages(article)),
        ("doi", latex(article.doi)),
        ("pmid", latex(article.pmid)),
        ("pmcid", latex(f.pmcid(article))),
        ("abstract", latex(f.abstract(article))),
        ("keywords", ", ".join(_keyword(k) for k in f.keywords(article))),
        ("language", latex(", ".join(article.languages))),
        ("note", latex(note)),
    ]
    return [(k, v) for k, v in pairs if v]


def write(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    import bibtexparser
    from bibtexparser.middlewares import AddEnclosingMiddleware
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    for article, key in zip(articles, unique_keys(articles), strict=True):
        fields = [Field(k, v) for k, v in entry_fields(article, notes.get(article.doc_id))]
        if article.pub_month and 1 <= article.pub_month <= 12:  # the month macro, unbraced
            fields.insert(_after(fields, "year"), Field("month", _MONTHS[article.pub_month - 1], enclosing="no-enclosing"))
        library.add(Entry(_entry_type(article), key, fields))
    stack = [AddEnclosingMiddleware(allow_inplace_modification=True, default_enclosing="{",
                                    reuse_previous_enclosing=False, enclose_integers=True)]
    return bibtexparser.write_string(library, unparse_stack=stack)


def _after(fields: list, key: str) -> int:
    for i, field in enumerate(fields):
        if field.key == key:
            return i + 1
    return len(fields)
