"""Citation exports: full records (``ingest.records.Article``) to the formats reference
managers and manuscripts take.

    from search.citations.export import FORMATS, export, export_bytes
    text = export(articles, "ris", notes={"12140106": "read this first"})
    FORMATS["ris"].extension, FORMATS["ris"].mime  # ".ris", "application/x-research-info-systems"

Each format lives in its own module (``ris``, ``bibtex``, ``medline``, ``csljson``,
``table`` for CSV, ``references`` for Vancouver and AMA); docs/exports.md says
what each writes and which library writes it. Exports take only records: the
caller reports PMIDs that have no record. ``notes`` (by ``doc_id``) go where a
format has a place for them (RIS ``N1``, BibTeX and CSL-JSON ``note``, MEDLINE
``GN``, the CSV ``note`` column); formatted references have none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ingest.errors import ConfigError
from ingest.records import Article

Writer = Callable[[Sequence[Article], Mapping[str, str]], str]


@dataclass(frozen=True, slots=True)
class Format:
    """One export format: its name (``--format``), what it is, and how to save it."""

    name: str
    label: str
    extension: str  # with the dot: ".ris"
    mime: str
    encoding: str  # how export_bytes encodes the text ("utf-8-sig": with a BOM, for Excel)
    write: Writer

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding)


def _ris(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    from search.citations.export import ris

    return ris.write(articles, notes)


def _bibtex(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    from search.citations.export import bibtex

    return bibtex.write(articles, notes)


def _medline(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    from search.citations.export import medline

    return medline.write(articles, notes)


def _csljson(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    from search.citations.export import csljson

    return csljson.write(articles, notes)


def _csv(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
    from search.citations.export import table

    return table.write(articles, notes)


def _references(style: str, html: bool) -> Writer:
    def write(articles: Sequence[Article], notes: Mapping[str, str]) -> str:
        from search.citations.export import references

        return references.write_html(articles, style) if html else references.write_text(articles, style)

    return write


#: Every export format by name, in the order a menu should list them.
FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("ris", "RIS (EndNote, Zotero, Mendeley)", ".ris", "application/x-research-info-systems", "utf-8", _ris),
        Format("bibtex", "BibTeX", ".bib", "application/x-bibtex", "utf-8", _bibtex),
        Format("medline", "MEDLINE / PubMed .nbib", ".nbib", "application/nbib", "utf-8", _medline),
        Format("csljson", "CSL-JSON", ".json", "application/vnd.citationstyles.csl+json", "utf-8", _csljson),
        Format("csv", "CSV (one row per paper)", ".csv", "text/csv", "utf-8-sig", _csv),
        Format("vancouver", "Vancouver / NLM references (text)", ".txt", "text/plain", "utf-8",
               _references("vancouver", html=False)),
        Format("ama", "AMA references (text)", ".txt", "text/plain", "utf-8", _references("ama", html=False)),
        Format("vancouver-html", "Vancouver / NLM references (HTML)", ".html", "text/html", "utf-8",
               _references("vancouver", html=True)),
        Format("ama-html", "AMA references (HTML)", ".html", "text/html", "utf-8", _references("ama", html=True)),
    )
}


def get_format(name: str) -> Format:
    """The format called ``name`` (case-insensitive); ``ConfigError`` naming the valid ones."""
    fmt = FORMATS.get(name.strip().lower()) if isinstance(name, str) else None
    if fmt is None:
        raise ConfigError(
            f"Unknown export format {name!r}.",
            hint=f"Use one of: {', '.join(FORMATS)}.",
        )
    return fmt


def export(articles: Sequence[Article], fmt: str, *, notes: Mapping[str, str] | None = None) -> str:
    """``articles`` in format ``fmt`` (a name of ``FORMATS``), as text, in the given order."""
    return get_format(fmt).write(list(articles), notes or {})


def export_bytes(articles: Sequence[Article], fmt: str, *, notes: Mapping[str, str] | None = None) -> bytes:
    """``export`` encoded as the format's file is written (UTF-8; CSV with a byte-order mark)."""
    chosen = get_format(fmt)
    return chosen.encode(chosen.write(list(articles), notes or {}))


__all__ = ["FORMATS", "Format", "export", "export_bytes", "get_format"]
