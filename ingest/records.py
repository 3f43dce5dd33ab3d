"""Typed values for one bibliographic record and its parts.

Parsers (``pubmed_xml``, ``medline_text``, ``beir``) produce these; the store
(``store``) writes them; nothing else defines the shape of a record. All are
immutable, with tuples for sequences, so they hash, compare and cannot be
changed behind the store's back.

A record and its parts are named tuples: a parser makes dozens per record, and
a named tuple is built four times faster than a frozen dataclass, which sets
each field through ``object.__setattr__``. Their equality and hash respect the
kind (:func:`_by_kind`): ``Chemical("a")`` and ``CommentCorrection("a")`` are
not equal, and no part equals a plain tuple of its values. ``Deletion`` and
``Problem``, rare, are frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, TypeVar

_T = TypeVar("_T", bound=type)


def _same_kind_eq(self: tuple, other: object) -> bool:
    if type(other) is type(self):
        return tuple.__eq__(self, other)
    return False if isinstance(other, tuple) else NotImplemented


def _same_kind_ne(self: tuple, other: object) -> bool:
    equal = _same_kind_eq(self, other)
    return equal if equal is NotImplemented else not equal


def _kind_hash(self: tuple) -> int:
    return hash((type(self), tuple.__hash__(self)))


def _by_kind(cls: _T) -> _T:
    """Make a named tuple class compare and hash as its kind and values, not its values alone.

    Building one stays the plain tuple construction; only ``==``, ``!=`` and ``hash``
    (rare on the hot path) go through these Python functions.
    """
    cls.__eq__ = _same_kind_eq  # type: ignore[assignment]
    cls.__ne__ = _same_kind_ne  # type: ignore[assignment]
    cls.__hash__ = _kind_hash  # type: ignore[assignment]
    return cls


@_by_kind
class AbstractSection(NamedTuple):
    """One paragraph of an abstract; ``label``/``nlm_category`` are set for structured abstracts."""

    text: str
    label: str | None = None  # e.g. "METHODS" (the author's label)
    nlm_category: str | None = None  # BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS, UNASSIGNED


@_by_kind
class OtherAbstract(NamedTuple):
    """An ``OtherAbstract``: another abstract (other language, plain-language summary...)."""

    sections: tuple[AbstractSection, ...]
    type: str | None = None  # AAMC, AIDS, KIE, PIP, NASA, Publisher, plain-language-summary
    language: str | None = None  # ISO 639-2 code, e.g. "spa"


@_by_kind
class Author(NamedTuple):
    """A personal author (``last_name`` set) or a group (``collective_name`` set)."""

    last_name: str | None = None
    fore_name: str | None = None
    initials: str | None = None
    suffix: str | None = None
    collective_name: str | None = None
    orcid: str | None = None  # bare 16-char form "0000-0002-1825-0097"
    affiliations: tuple[str, ...] = ()
    equal_contrib: bool = False

    @property
    def display_name(self) -> str:
        """"Smith JA" for a person, the group name for a collective."""
        if self.collective_name:
            return self.collective_name
        return " ".join(p for p in (self.last_name, self.initials or self.fore_name) if p)


@_by_kind
class MeshQualifier(NamedTuple):
    name: str
    ui: str | None = None
    major_topic: bool = False


@_by_kind
class MeshHeading(NamedTuple):
    descriptor: str
    descriptor_ui: str | None = None
    major_topic: bool = False  # the descriptor itself is starred
    qualifiers: tuple[MeshQualifier, ...] = ()

    @property
    def is_major(self) -> bool:
        """Major topic through the descriptor or any of its qualifiers."""
        return self.major_topic or any(q.major_topic for q in self.qualifiers)


@_by_kind
class PublicationType(NamedTuple):
    name: str  # e.g. "Randomized Controlled Trial"
    ui: str | None = None  # e.g. "D016449"


@_by_kind
class Keyword(NamedTuple):
    text: str
    major_topic: bool = False
    owner: str | None = None  # NOTNLM, NLM, ...


@_by_kind
class Chemical(NamedTuple):
    name: str
    ui: str | None = None
    registry_number: str | None = None


@_by_kind
class CommentCorrection(NamedTuple):
    """A link to another record: ``ref_type`` as PubMed spells it (``RetractionIn``, ``ErratumIn``...)."""

    ref_type: str
    ref_source: str | None = None  # citation text, e.g. "N Engl J Med. 2020;382(2):e5"
    pmid: str | None = None


@_by_kind
class Article(NamedTuple):
    """One bibliographic record, as every parser returns it.

    ``doc_id`` is the store's key: the PMID for PubMed records, the corpus
    ``_id`` for BEIR documents. ``source`` says which ("pubmed", "beir").
    Text fields are plain text: inline markup (``<i>``, ``<sup>``, MathML...)
    is flattened; bracketed translated titles keep their brackets and set
    ``title_translated``.
    """

    doc_id: str
    source: str = "pubmed"
    pmid: str | None = None
    pmid_version: int = 1
    status: str | None = None  # MEDLINE, PubMed-not-MEDLINE, In-Process, Publisher, ...
    record_type: str = "article"  # "article" (PubmedArticle / MedlineCitation) or "book" (PubmedBookArticle)
    title: str = ""
    title_translated: bool = False  # PubMed puts translated titles in [brackets]
    vernacular_title: str | None = None
    abstract: tuple[AbstractSection, ...] = ()
    other_abstracts: tuple[OtherAbstract, ...] = ()
    copyright: str | None = None
    authors: tuple[Author, ...] = ()
    journal_title: str | None = None
    journal_iso: str | None = None  # ISO abbreviation, e.g. "N Engl J Med"
    issn: str | None = None
    issn_linking: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None  # MedlinePgn, e.g. "123-9" or "e0123"
    pub_year: int | None = None
    pub_month: int | None = None
    pub_day: int | None = None
    pub_date_text: str | None = None  # as shown in a citation: "2020 Jan 15", "1998 Dec-1999 Jan"
    medline_date: str | None = None  # raw MedlineDate when PubDate has one
    article_date: date | None = None  # electronic publication date (ArticleDate)
    date_revised: date | None = None
    doi: str | None = None
    pmcid: str | None = None  # "PMC1234567"
    pii: str | None = None
    other_ids: tuple[tuple[str, str], ...] = ()  # every ArticleId/ELocationID as (type, value)
    languages: tuple[str, ...] = ()  # ISO 639-2, e.g. ("eng",)
    publication_types: tuple[PublicationType, ...] = ()
    mesh_headings: tuple[MeshHeading, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    chemicals: tuple[Chemical, ...] = ()
    comments_corrections: tuple[CommentCorrection, ...] = ()
    book_title: str | None = None  # PubmedBookArticle: the book's title
    publisher: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # source-specific leftovers (BEIR metadata...)

    @property
    def abstract_text(self) -> str:
        """The abstract as one string; labelled sections read "LABEL: text"."""
        return "\n".join(
            f"{s.label}: {s.text}" if s.label else s.text for s in self.abstract if s.text
        )

    @property
    def has_abstract(self) -> bool:
        return any(s.text.strip() for s in self.abstract)

    @property
    def is_retracted(self) -> bool:
        return any(c.ref_type == "RetractionIn" for c in self.comments_corrections) or any(
            p.name == "Retracted Publication" for p in self.publication_types
        )


@dataclass(frozen=True, slots=True)
class Deletion:
    """A ``DeleteCitation`` entry: the record ``doc_id`` must be removed from the store."""

    doc_id: str
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that was skipped, or a part of one left out (``skipped`` False), and why; ingest
    reports these, it never drops silently."""

    location: str  # "path/to/file.xml.gz: record 17 (line 2301)" or "efetch batch 3"
    message: str
    skipped: bool = True  # False: the record was stored, without the part the message names


#: What a reader yields, in document order.
Item = Article | Deletion | Problem
