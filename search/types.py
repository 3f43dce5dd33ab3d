"""Typed values at the engine's boundary: what a search takes and what it gives back.

The CLI, the app and Python users all speak these; no dict whose shape depends
on a flag crosses the engine API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
class Hit:
    """One ranked paper with the per-stage scores that explain its rank."""

    doc_id: str
    rank: int
    score: float  # the score the final order is sorted by
    bm25: StageScore = field(default_factory=StageScore)
    dense: StageScore = field(default_factory=StageScore)
    fused: StageScore = field(default_factory=StageScore)
    rerank: StageScore = field(default_factory=StageScore)
    title: str = ""
    year: int | None = None
    journal: str | None = None
    pmid: str | None = None
    doi: str | None = None
    publication_types: tuple[str, ...] = ()
    is_retracted: bool = False

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str
    mode: str  # bm25 | dense | hybrid | rerank
    filters: Filters
    hits: tuple[Hit, ...]
    candidates: int  # documents passing the filters
    timings_ms: dict[str, float]
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "mode": self.mode,
            "filters": asdict(self.filters),
            "candidates": self.candidates,
            "timings_ms": self.timings_ms,
            "warnings": list(self.warnings),
            "hits": [h.to_json() for h in self.hits],
        }
