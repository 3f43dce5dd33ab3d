"""Typed values at the engine's boundary: what a search takes and what it gives back.

The CLI, the app and Python users all speak these; no dict whose shape depends
on a flag crosses the engine API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from search.query.clinical import AGE_FILTERS

#: The range of publication years a filter accepts.
MIN_YEAR, MAX_YEAR = 1000, 2100


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions applied *before* top-k: a filter that leaves 3 records returns those 3.

    Every field is optional; set fields combine with AND, values inside a tuple with OR.
    Matching of publication types, journals, languages and MeSH terms ignores case.

    The evidence filters are PubMed's published search strings (``search/query/clinical.py``
    cites each source), evaluated like a query restriction:

    - ``clinical``: a Clinical Queries filter, ``"category/scope"`` with category therapy,
      diagnosis, etiology, prognosis or prediction (clinical prediction guides) and scope
      broad (sensitive) or narrow (specific); a bare category means its broad scope. It
      is stored in that canonical form (``"Therapy"`` becomes ``"therapy/broad"``).
    - ``systematic_review``: PubMed's systematic review filter (``systematic[sb]``).
    - ``humans_only``: leaves out animal-only studies (``NOT (animals[mh] NOT humans[mh])``).
    - ``ages``: MeSH age check tags, any of them, e.g. ``("aged", "80-and-over")``.
    - ``free_full_text``: records with a PMCID (free to read in PubMed Central).

    ``include_notices`` widens instead: retraction notices, errata and expressions of concern
    are left out of free-text results unless it is set (or the query asks for them by type).
    """

    year_from: int | None = None
    year_to: int | None = None
    publication_types: tuple[str, ...] = ()  # e.g. ("Randomized Controlled Trial", "Meta-Analysis")
    journals: tuple[str, ...] = ()  # journal title or ISO abbreviation
    languages: tuple[str, ...] = ()  # ISO 639-2, e.g. ("eng",)
    mesh_terms: tuple[str, ...] = ()  # MeSH descriptor names
    has_abstract: bool | None = None
    clinical: str | None = None  # e.g. "therapy/narrow"
    systematic_review: bool = False
    humans_only: bool = False
    ages: tuple[str, ...] = ()  # e.g. ("child",); see AGE_GROUPS
    free_full_text: bool = False
    include_notices: bool = False

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
        for name in ("publication_types", "journals", "languages", "mesh_terms", "ages"):
            if any(not str(v).strip() for v in getattr(self, name)):
                raise ConfigError(f"An empty value was given in {name.replace('_', ' ')}.",
                                  hint="Leave the filter out, or give a value.")
        if self.clinical is not None:
            object.__setattr__(self, "clinical", _clinical_name(self.clinical))
        object.__setattr__(self, "ages", tuple(_age_group(a) for a in self.ages))

    @property
    def active(self) -> bool:
        return any(
            (self.year_from, self.year_to, self.publication_types, self.journals,
             self.languages, self.mesh_terms, self.has_abstract is not None, self.clinical,
             self.systematic_review, self.humans_only, self.ages, self.free_full_text)
        )

    @property
    def named_filters(self) -> tuple[str, ...]:
        """The names (``search.query.clinical.FILTERS``) of the evidence filters in effect."""
        names = [self.clinical] if self.clinical else []
        names += ["systematic-review"] * self.systematic_review + ["humans"] * self.humans_only
        names += [f"age/{a}" for a in self.ages]
        names += ["free-full-text"] * self.free_full_text
        return tuple(names)


def _clinical_name(value: str) -> str:
    """``value`` as a Clinical Queries filter name ``category/scope``, or a ConfigError."""
    from ingest.errors import ConfigError
    from search.query.clinical import CATEGORY_ALIASES, CLINICAL_NAMES

    key = " ".join(str(value).strip().lower().replace("_", "-").split())
    cat, _, scope = key.partition("/")
    name = f"{CATEGORY_ALIASES.get(cat.strip(), cat.strip())}/{scope.strip() or 'broad'}"
    if name not in CLINICAL_NAMES:
        raise ConfigError(f"Unknown Clinical Queries filter {value!r}.",
                          hint="Use CATEGORY/SCOPE, one of: " + ", ".join(CLINICAL_NAMES) + ".")
    return name


def _age_group(value: str) -> str:
    from ingest.errors import ConfigError

    key = "-".join(str(value).strip().lower().replace("_", "-").split())
    key = key.removeprefix("age/")
    if key not in AGE_GROUPS:
        raise ConfigError(f"Unknown age group {value!r}.", hint="Use one of: " + ", ".join(AGE_GROUPS) + ".")
    return key


#: The age groups of :attr:`Filters.ages` (MeSH check tags; ``search.query.clinical`` defines each).
AGE_GROUPS = tuple(f.name.removeprefix("age/") for f in AGE_FILTERS)

#: The orders :meth:`search.engine.Engine.search` can list hits in.
#: The retrieval modes, in the order the CLI and the app list them (``search.engine.MODES``).
MODES = ("bm25", "dense", "hybrid", "rerank")
SORTS = ("relevance", "date", "author", "evidence")


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
class EvidenceSource:
    """A field value that gave a record its evidence level."""

    field: str  # "publication_type", "mesh", "filter" (the systematic review filter) or "retraction"
    value: str  # e.g. "Randomized Controlled Trial", "Cohort Studies"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a record's study design stands in the evidence ordering of ``search/results/evidence.py``.

    ``level`` 1 is the strongest (guidelines, systematic reviews, meta-analyses); a badge
    shows ``label``; ``sources`` are the publication types or MeSH headings it came from
    (none for level :data:`search.results.evidence.UNCLASSIFIED`).
    """

    level: int
    label: str
    sources: tuple[EvidenceSource, ...] = ()


@dataclass(frozen=True, slots=True)
class Span:
    """A highlighted stretch of a hit's text: ``Hit.title[start:end]`` or ``Hit.abstract[start:end]``."""

    field: str  # "title" or "abstract"
    start: int  # 0-based character offset into the stored text
    end: int  # exclusive
    term: str  # the query term it matched: a BM25 token (stemmed) or a restriction's word


@dataclass(frozen=True, slots=True)
class TermScore:
    """One query term that matched a hit, and its share of the hit's BM25 score."""

    term: str  # the BM25 token, after tokenising and stemming (e.g. "diabet")
    words: tuple[str, ...]  # the query's words it came from (e.g. ("diabetic",))
    bm25: float  # its contribution, from the BM25 index's matrix (summed over repeats in the query)


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked paper: the per-stage scores that explain its rank, and its result card."""

    doc_id: str
    rank: int
    score: float  # relevance: the fused or reranked score; date/author sorts: the BM25 score (dense: cosine)
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
    mesh_terms: tuple[str, ...] = ()
    evidence: Evidence | None = None  # the study design's level, for a badge
    highlights: tuple[Span, ...] = ()  # the query's terms in title and abstract, in text order
    matched_terms: tuple[TermScore, ...] = ()  # BM25 terms that matched, largest share first

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
    candidates: int  # documents passing the filters and the query's restriction
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()
    snapshot: str = ""  # the index snapshot that answered, e.g. "v000007"
    documents: int = 0  # documents in that snapshot
    total: int = 0  # records that match: the candidates the free text matches (see docs/search.md)
    offset: int = 0  # hits are results offset+1 .. offset+len(hits)
    sort: str = "relevance"  # the order hits are in (see SORTS)
    free_text: str = ""  # what ranked (the query's free text)
    restriction: str = ""  # the query's restriction, as PubMed syntax ("" when none)
    did_you_mean: str = ""  # the query with unknown words replaced by the collection's closest words

    def to_json(self) -> dict:
        return {
            "did_you_mean": self.did_you_mean,
            "query": self.query,
            "mode": self.mode,
            "snapshot": self.snapshot,
            "documents": self.documents,
            "filters": asdict(self.filters),
            "free_text": self.free_text,
            "restriction": self.restriction,
            "candidates": self.candidates,
            "total": self.total,
            "offset": self.offset,
            "sort": self.sort,
            "timings_ms": self.timings_ms,
            "warnings": list(self.warnings),
            "hits": [h.to_json() for h in self.hits],
        }


@dataclass(frozen=True, slots=True)
class FacetCount:
    """One value of a facet and how many matching records have it."""

    value: str
    count: int


@dataclass(frozen=True, slots=True)
class YearCount:
    year: int
    count: int


@dataclass(frozen=True, slots=True)
class Facets:
    """Counts over the records that match a query and its filters (``Engine.facets``).

    Lists are most frequent first (ties by value), cut at the engine's facet limit;
    ``years`` is newest first, ``timeline`` oldest first with every year between the
    first and the last (zeros included), for a chart.
    """

    total: int  # matching records
    publication_types: tuple[FacetCount, ...]
    years: tuple[YearCount, ...]
    journals: tuple[FacetCount, ...]
    languages: tuple[FacetCount, ...]
    has_abstract: int  # matching records with an abstract (total - has_abstract without)
    retracted: int  # matching records that are retracted
    timeline: tuple[YearCount, ...]
    no_year: int = 0  # matching records without a publication year
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SimilarResults:
    """The nearest records to one paper (``Engine.similar``)."""

    source: Hit  # the paper itself, with its result card
    query: str  # the text BM25 searched for: its title and MeSH major topics
    hits: tuple[Hit, ...]
    candidates: int  # records the filters leave (the paper and retraction notices excluded)
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()
    snapshot: str = ""
    documents: int = 0

    def to_json(self) -> dict:
        return {
            "source": self.source.to_json(),
            "query": self.query,
            "snapshot": self.snapshot,
            "documents": self.documents,
            "candidates": self.candidates,
            "timings_ms": self.timings_ms,
            "warnings": list(self.warnings),
            "hits": [h.to_json() for h in self.hits],
        }
