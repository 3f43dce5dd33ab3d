"""Typed values at the engine's boundary: what a search takes and what it gives back.

The CLI, the app and Python users all speak these; no dict whose shape depends
on a flag crosses the engine API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


#: The range of publication years a filter accepts.
MIN_YEAR, MAX_YEAR = 1000, 2100


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions applied *before* top-k: a filter that leaves 3 records returns those 3.

    Every field is optional; set fields combine with AND, values inside a tuple with OR.
    Matching of publication types, journals, languages and MeSH terms ignores case.
    """

    year_from: int | None = None
    year_to: int | None = None
    publication_types: tuple[str, ...] = ()  # e.g. ("Randomized Controlled Trial", "Meta-Analysis")
    journals: tuple[str, ...] = ()  # journal title or ISO abbreviation
    languages: tuple[str, ...] = ()  # ISO 639-2, e.g. ("eng",)
    mesh_terms: tuple[str, ...] = ()  # MeSH descriptor names
    has_abstract: bool | None = None

    def __post_init__(self) -> None:
        from ingest.errors import ConfigError

        for name in ("year_from", "year_to"):
            year = getattr(self, name)
            if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
                raise ConfigError(f"{name.replace('_', ' ')} {year} is not a publication year.",
                                  hint=f"Use a year between {MIN_YEAR} and {MAX_YEAR}.")
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise ConfigError(f"The year range {self.year_from}-{self.year_to} is empty: it starts after it ends.",
                              hint="Swap the two years.")
        for name in ("publication_types", "journals", "languages", "mesh_terms"):
            if any(not str(v).strip() for v in getattr(self, name)):
                raise ConfigError(f"An empty value was given in {name.replace('_', ' ')}.",
                                  hint="Leave the filter out, or give a value.")

    @property
    def active(self) -> bool:
        return any(
            (self.year_from, self.year_to, self.publication_types, self.journals,
             self.languages, self.mesh_terms, self.has_abstract is not None)
        )


@dataclass(frozen=True, slots=True)
class StageScore:
    """A document's score and 1-based rank in one stage; ``None`` where the stage did not list it."""

    score: float | None = None
    rank: int | None = None


@dataclass(frozen=True, slots=True)
class Section:
    """A labelled section of an abstract, as offsets into :attr:`Hit.abstract`."""

    label: str | None  # the author's label, e.g. "METHODS"
    category: str | None  # NLM category: BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS
    start: int  # 0-based character offset of the section's text in the abstract
    length: int


@dataclass(frozen=True, slots=True)
class Link:
    """A link of a record to another one: a retraction notice, an erratum, a comment ..."""

    kind: str  # PubMed's RefType: RetractionIn, ErratumIn, CommentIn, UpdateIn, ...
    pmid: str | None  # the linked record's PMID, when PubMed gives one
    citation: str | None  # PubMed's citation text of the linked record


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked paper: the per-stage scores that explain its rank, and its result card."""

    doc_id: str
    rank: int
    score: float  # the score the final order is sorted by
    bm25: StageScore = field(default_factory=StageScore)
    dense: StageScore = field(default_factory=StageScore)
    fused: StageScore = field(default_factory=StageScore)
    rerank: StageScore = field(default_factory=StageScore)
    title: str = ""
    year: int | None = None
    journal: str | None = None  # ISO abbreviation where known, else the title
    journal_title: str | None = None
    pub_date: str | None = None  # as a citation shows it: "2020 Jan 15"
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    pmid: str | None = None
    doi: str | None = None
    pmcid: str | None = None
    publication_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # "Smith JA" per person, the group's name for a collective
    abstract: str = ""
    sections: tuple[Section, ...] = ()
    links: tuple[Link, ...] = ()
    is_retracted: bool = False

    @property
    def authors_short(self) -> str:
        """Up to three authors, then "et al." (PubMed's short form)."""
        if len(self.authors) <= 3:
            return ", ".join(self.authors)
        return ", ".join(self.authors[:3]) + ", et al."

    @property
    def retracted_by(self) -> tuple[str, ...]:
        """PMIDs of the retraction notices of this paper."""
        return tuple(x.pmid for x in self.links if x.kind == "RetractionIn" and x.pmid)

    @property
    def errata(self) -> tuple[str, ...]:
        """PMIDs of the errata published for this paper."""
        return tuple(x.pmid for x in self.links if x.kind == "ErratumIn" and x.pmid)

    def to_json(self) -> dict:
        return {**asdict(self), "authors_short": self.authors_short,
                "retracted_by": list(self.retracted_by), "errata": list(self.errata)}


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str
    mode: str  # bm25 | dense | hybrid | rerank
    filters: Filters
    hits: tuple[Hit, ...]
    candidates: int  # documents passing the filters
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()
    snapshot: str = ""  # the index snapshot that answered, e.g. "v000007"
    documents: int = 0  # documents in that snapshot

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "mode": self.mode,
            "snapshot": self.snapshot,
            "documents": self.documents,
            "filters": asdict(self.filters),
            "candidates": self.candidates,
            "timings_ms": self.timings_ms,
            "warnings": list(self.warnings),
            "hits": [h.to_json() for h in self.hits],
        }
